"""Talking to a live API server for the RBAC tools: kubeconfig, raw JSON calls, clear errors.

The tools read whole RBAC listings and post many access reviews, so they skip the generated
models (``json.loads`` on the raw body is 5-10x cheaper). TLS verification is always on: a
kubeconfig that disables it is refused rather than silently trusted. Connection and TLS
failures become one line naming the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..errors import ConfigurationError, ImpersonationError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ApiError", "KubeClient", "add_cluster_arguments", "kube_from_args", "load_client"]


class ApiError(ImpersonationError):
    """The API server answered with an error status (the message is the server's)."""

    def __init__(self, status: int, body: Mapping[str, Any] | None, what: str) -> None:
        self.status = status
        self.body = dict(body) if body else {}
        message = str(self.body.get("message") or f"HTTP {status}")
        super().__init__(f"{what}: {message}")


def load_client(kubeconfig: str | None = None, context: str | None = None) -> ApiClient:
    """An ``ApiClient`` from a kubeconfig (default ``$KUBECONFIG`` / ``~/.kube/config``, or the
    in-cluster service account when neither exists), with TLS verification enforced."""
    import os

    import yaml
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    # $KUBECONFIG may list several files (merged, as kubectl does); the client merges them.
    defaults = [
        os.path.expanduser(p)
        for p in os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)
        if p
    ]
    source = kubeconfig or ", ".join(defaults)
    try:
        if kubeconfig is not None and not os.path.exists(kubeconfig):
            raise ConfigurationError(f"kubeconfig {kubeconfig}: no such file")
        if kubeconfig is None and not any(os.path.exists(p) for p in defaults):
            if context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                raise ConfigurationError(
                    f"no kubeconfig ({source}: no such file) and not running in a pod; "
                    "pass --kubeconfig"
                )
            source = "in-cluster configuration"
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
    except ConfigurationError:
        raise
    except (
        ConfigException,
        yaml.YAMLError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:
        # A malformed kubeconfig is the user's input: one line, never the loader's traceback.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(f"cannot load {source}: {first}") from None
    if not configuration.verify_ssl:
        raise ConfigurationError(
            f"{configuration.host}: the kubeconfig disables TLS verification "
            "(insecure-skip-tls-verify); cimp always verifies the server, so set "
            "certificate-authority instead"
        )
    configuration.retries = 0
    return client.ApiClient(configuration)


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "TLS verification failed (the server's certificate is not trusted by the CA)"
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text.strip().splitlines()[-1] if text.strip() else type(exc).__name__


class KubeClient:
    """Raw JSON requests through an ``ApiClient`` (its auth, CA and proxy settings)."""

    def __init__(self, api_client: ApiClient) -> None:
        self.api = api_client

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Sequence[tuple[str, str]] = (),
        *,
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, Any]]:
        """``(status, JSON body)``; raises one-line errors for transport and TLS failures."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        url = path + ("?" + urlencode(list(query)) if query else "")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            method, full_url, headers, _, _ = self.api.param_serialize(
                method, url, header_params=headers, auth_settings=["BearerToken"]
            )
            response = self.api.call_api(
                method,
                full_url,
                header_params=headers,
                body=body,
                _request_timeout=timeout,
            )
            raw = response.read()
        except ApiException as exc:
            raise ConfigurationError(f"{self.host}: {_one_line(exc)}") from None
        except (HTTPError, OSError) as exc:
            raise ConfigurationError(f"cannot reach {self.host}: {_one_line(exc)}") from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw[:200].decode("utf-8", "replace")}
        return response.status, data if isinstance(data, dict) else {}

    def get(self, path: str, query: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        status, data = self.request("GET", path, query=query)
        if status >= 400:
            raise ApiError(status, data, f"GET {path}")
        return data

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, data = self.request("POST", path, body=dict(body))
        if status >= 400:
            raise ApiError(status, data, f"POST {path}")
        return data

    def list_all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a collection, following ``continue`` tokens."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", "500")] + ([("continue", token)] if token else [])
            data = self.get(path, query)
            items.extend(i for i in data.get("items") or () if isinstance(i, dict))
            token = str((data.get("metadata") or {}).get("continue") or "")
            if not token:
                return items


def add_cluster_arguments(parser: Any) -> None:
    """``--kubeconfig`` and ``--context``, as kubectl spells them."""
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig to use (default $KUBECONFIG, ~/.kube/config, then in-cluster)",
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")


def kube_from_args(args: Any) -> KubeClient:
    return KubeClient(load_client(args.kubeconfig, args.context))
