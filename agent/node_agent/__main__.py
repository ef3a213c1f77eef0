"""``cimp-node-agent``: run the node agent until SIGTERM.

Start-up order matters for a DaemonSet: signals first (a pod deleted during start-up still
exits cleanly), then configuration errors fail fast with exit status 2 and one log line
(visible in ``kubectl logs`` of a crash-looping pod), then the endpoints come up so the
kubelet's probes get answers while the first list is in flight.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from .config import AgentConfig, parse_args
from .logs import configure, log

if TYPE_CHECKING:
    from constrained_impersonation import NodeSession

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


class _ConfigError(Exception):
    """A configuration problem to report in one line before exiting with status 2."""


def agent_scope() -> Any:
    """Only ``list`` and ``watch`` on pods: anything else is refused before it is sent."""
    from constrained_impersonation import Rule, Scope

    return Scope(Rule(verbs=["list", "watch"], resources=["pods"]))


def open_session(config: AgentConfig) -> NodeSession:
    """The node session: kubeconfig credentials if given, else in-cluster ones."""
    from constrained_impersonation import ConfigurationError, InvalidIdentityError, NodeSession
    from constrained_impersonation.settings import Settings

    try:
        overrides: dict[str, Any] = {"node_name": config.node} if config.node else {}
        settings = Settings(**overrides)
        if not settings.node_name:
            raise _ConfigError(
                "NODE_NAME is not set: expose it with the downward API (env NODE_NAME from "
                "fieldRef spec.nodeName) or pass --node NAME"
            )
        base = None
        if config.kubeconfig:
            from kubernetes import config as kube_config

            try:
                base = kube_config.new_client_from_config(
                    config_file=config.kubeconfig, context=config.context
                )
            except (OSError, kube_config.ConfigException) as exc:
                raise _ConfigError(f"cannot load kubeconfig {config.kubeconfig!r}: {exc}") from None
        return NodeSession.from_downward_api(agent_scope(), api_client=base, settings=settings)
    except (ConfigurationError, InvalidIdentityError) as exc:
        raise _ConfigError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point; returns the exit status."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log(logging.WARNING, "second signal: exiting now", signal=signal.Signals(signum).name)
            raise SystemExit(EXIT_OK)
        log(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    config = parse_args(argv)
    configure(config.log_level)
    try:
        return _run(config, stop)
    except _ConfigError as exc:
        log(logging.ERROR, "invalid configuration", error=str(exc))
        return EXIT_CONFIG
    except Exception as exc:
        logging.getLogger("node_agent").exception(
            "agent failed", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}}
        )
        return EXIT_FAILURE


def _run(config: AgentConfig, stop: threading.Event) -> int:
    from .agent import Agent
    from .output import check_writable
    from .sync import SyncOptions

    if config.output is not None:
        problem = check_writable(config.output)
        if problem is not None:
            raise _ConfigError(
                f"--output {str(config.output)!r}: {problem}; mount a writable volume there, "
                "choose another path, or pass --output '' to disable the file"
            )
    session = open_session(config)
    settings = session.settings
    options = SyncOptions(
        watch_timeout=config.watch_timeout,
        watch_idle_timeout=config.watch_idle_timeout,
        backoff_base=settings.retry_backoff_base,
        backoff_max=settings.retry_backoff_max,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.request_timeout,
    )
    try:
        agent = Agent(
            session.api_client,
            session.node,
            listen=config.listen,
            metrics_listen=config.metrics_listen,
            output=config.output,
            options=options,
            labels=config.labels,
        )
    except OSError as exc:
        session.close()
        raise _ConfigError(f"cannot listen: {exc.strerror or exc}") from None
    log(
        logging.INFO,
        "impersonating this node",
        user=session.identity.user,
        mode=session.mode,
        scope=str(session.scope),
        credentials="kubeconfig" if config.kubeconfig else "in-cluster",
    )
    agent.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        agent.stop()
        session.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
