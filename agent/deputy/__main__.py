"""``cimp-deputy`` / ``python -m deputy``: serve VM consoles until SIGTERM.

Configuration errors (flags, TLS files, credentials) are one log line and exit status 2, so a
crash-looping pod says what is wrong in ``kubectl logs``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence

from kubernetes.client import ApiClient

from .config import DeputyConfig, parse_args
from .logs import configure

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

_log = logging.getLogger("deputy")


class _ConfigError(Exception):
    """A configuration problem reported in one line before exiting with status 2."""


def base_client(config: DeputyConfig) -> ApiClient:
    """The deputy's own credentials: ``--kubeconfig``, else the in-cluster service account."""
    from kubernetes import config as kube_config
    from kubernetes.client import Configuration

    from constrained_impersonation import ConfigurationError
    from constrained_impersonation.kubeconfig import incluster_configuration
    from constrained_impersonation.settings import Settings

    if config.kubeconfig:
        try:
            client: ApiClient = kube_config.new_client_from_config(
                config_file=config.kubeconfig, context=config.context
            )
        except (OSError, kube_config.ConfigException) as exc:
            raise _ConfigError(f"cannot load kubeconfig {config.kubeconfig!r}: {exc}") from None
        return client
    try:
        configuration = incluster_configuration(Configuration, Settings(), environ=os.environ)
    except ConfigurationError as exc:
        raise _ConfigError(f"{exc} (or pass --kubeconfig PATH)") from None
    return ApiClient(configuration)


async def _serve(config: DeputyConfig, base: ApiClient) -> None:
    from .server import Deputy

    deputy = Deputy(config, base)
    try:
        deputy.ssl_context()
    except (OSError, ssl.SSLError) as exc:
        raise _ConfigError(
            f"cannot load --tls-cert-file {str(config.tls_cert_file)!r} / "
            f"--tls-private-key-file {str(config.tls_private_key_file)!r}: {exc}"
        ) from None
    try:
        await deputy.start()
    except OSError as exc:
        await deputy.stop()
        raise _ConfigError(
            f"cannot serve on {config.listen[0]}:{config.listen[1]}: {exc}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        _log.info("stopping")
    finally:
        await deputy.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point; returns the exit status."""
    config, args = parse_args(argv)
    configure(config.log_level if config else "info")  # JSON lines on stderr
    if config is None:  # --print-rbac
        from .rbac import render_yaml

        try:
            sys.stdout.write(render_yaml(args.service_account, args.forward, args.namespaces))
        except ValueError as exc:
            _log.error("%s", exc)
            return EXIT_CONFIG
        return EXIT_OK
    try:
        base = base_client(config)
        try:
            asyncio.run(_serve(config, base))
        finally:
            base.close()
    except _ConfigError as exc:
        _log.error("%s", exc)
        return EXIT_CONFIG
    except Exception:
        _log.exception("cimp-deputy failed")
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
