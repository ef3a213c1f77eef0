"""One embedded API server: storage, authenticators, authorizers, impersonation, audit, HTTPS.

Assembles the pieces in kube-apiserver's order and runs them on the caller's event loop;
``constrained_impersonation.testing.APIServer`` runs it on a background thread.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import resources
from .admission import NodeRestriction, PodTopologyLabels, taint_new_nodes_not_ready
from .apiservices import local_api_services
from .authn import Authenticator, ServiceAccountTokens, StaticTokens
from .authz import RBACAuthorizer, bootstrap_objects, new_authorizer
from .certs import ServingCerts
from .config import ServerConfig
from .context import RequestContext
from .crd.install import install as install_crds
from .escalation import RBACEscalation
from .faults import FaultInjector
from .filters import (
    AuditSink,
    audit_filter,
    audit_response_started,
    authentication_filter,
    authorization_filter,
    impersonation_filter,
)
from .hooks import AdmissionHook, Extensions, ReviewHandler
from .impersonation import Impersonator
from .kubevirt.aggregator import install as install_aggregation
from .metrics import Registry
from .podsecurity import admission_hook as pod_security
from .reviews import REVIEW_HANDLERS
from .status import StatusError
from .storage import ADDED, open_store
from .token_api import TokenEndpoints
from .warnings import write_warnings

__all__ = ["Server"]

MAX_HEADER_BYTES = 1 << 20
MAX_HEADER_LINES = 32768
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _OneLineProtocolErrors(logging.Filter):
    """Malformed HTTP from a client is the client's problem: log one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            record.msg = f"rejected malformed request: {record.exc_info[1]}".replace("\n", " ")
            record.args = ()
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("aiohttp.server").addFilter(_OneLineProtocolErrors())

# asyncio gives every TLS connection a 256 KiB read buffer, which made 2,000 watches cost
# 500 MB. A TLS record carries at most 16 KiB, so reading one record at a time loses nothing.
asyncio.sslproto.SSLProtocol.max_size = min(asyncio.sslproto.SSLProtocol.max_size, 16 * 1024)


class Server:
    """The server's components and lifecycle (``await start()`` / ``await stop()``)."""

    def __init__(
        self, config: ServerConfig, *, certs: ServingCerts, static_tokens: StaticTokens
    ) -> None:
        self.config = config
        self.certs = certs
        self.metrics = Registry()
        self.audit = AuditSink(config.audit_log_path)
        self.store = open_store(config.data_dir)
        self.authorizer = new_authorizer(self.store.list_objects, self.store.revision)
        self.service_account_tokens = ServiceAccountTokens(certs.sa_private_key(), self.get_object)
        self.authenticator = Authenticator(static_tokens, self.service_account_tokens)
        self.impersonator = Impersonator(
            self.authorizer.authorize,
            constrained_filter=config.constrained_impersonation,
            metrics=self.metrics,
        )
        self.token_endpoints = TokenEndpoints(
            self.authenticator, self.service_account_tokens, self.get_object, time.time
        )
        self.faults = FaultInjector()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._controllers: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ object access

    def get_object(
        self, group: str, resource: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        record = self.store.get(group, resource, namespace, name)
        return record.obj if record is not None else None

    def _ensure(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if self.store.get(group, resource, meta.get("namespace", ""), meta["name"]) is None:
            with contextlib.suppress(StatusError):  # created concurrently: fine
                self.store.create(group, resource, obj)

    def _seed(self) -> None:
        """What a fresh kube cluster has: bootstrap RBAC and the system namespaces."""
        with self.store.transaction():
            for group, resource, obj in bootstrap_objects():
                self._ensure(group, resource, obj)
            for service in local_api_services(resources.DEFAULT.groups()):
                self._ensure("apiregistration.k8s.io", "apiservices", service)
            for name in SYSTEM_NAMESPACES:
                self._ensure(
                    "",
                    "namespaces",
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    },
                )
                self._ensure_default_service_account(name)

    def _ensure_default_service_account(self, namespace: str) -> None:
        self._ensure(
            "",
            "serviceaccounts",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace},
            },
        )

    async def _service_account_controller(self) -> None:
        """kube's service-account controller: every namespace gets a ``default`` account."""
        while True:
            watcher = self.store.watch("", "namespaces", since=self.store.revision())
            try:
                while (item := await watcher.next()) is not None:
                    kind, record = item
                    meta = record.obj.get("metadata", {})
                    if kind == ADDED and meta.get("name") and not meta.get("deletionTimestamp"):
                        self._ensure_default_service_account(meta["name"])
            finally:
                watcher.close()
            # The watch ended (history overflow): catch up on anything missed, watch again.
            for ns in self.store.list_objects("", "namespaces"):
                name = ns.get("metadata", {}).get("name")
                if name and not ns.get("metadata", {}).get("deletionTimestamp"):
                    self._ensure_default_service_account(name)

    # ------------------------------------------------------------------ HTTP

    def extensions(self) -> Extensions:
        """Reviews and token endpoints this module answers (the REST layer routes to them)."""
        ext = Extensions()
        authorizer = self.authorizer

        def review(fn: Any) -> ReviewHandler:
            async def handle(
                request: web.Request, ctx: RequestContext, body: dict[str, Any]
            ) -> dict[str, Any]:
                assert ctx.user is not None
                result: dict[str, Any] = await fn(ctx.user, body, authorizer, ctx.info.namespace)
                return result

            return handle

        for key, fn in REVIEW_HANDLERS.items():
            ext.reviews[key] = review(fn)

        async def token_review(
            request: web.Request, ctx: RequestContext, body: dict[str, Any]
        ) -> dict[str, Any]:
            return self.token_endpoints.token_review(body)

        async def token_request(
            request: web.Request,
            ctx: RequestContext,
            namespace: str,
            name: str,
            body: dict[str, Any],
        ) -> dict[str, Any]:
            return self.token_endpoints.token_request(namespace, name, body, ctx.annotations)

        ext.reviews[("authentication.k8s.io", "tokenreviews")] = token_review
        ext.subresources[("", "serviceaccounts", "token")] = token_request
        return ext

    def _health_routes(self) -> list[web.RouteDef]:
        async def metrics(request: web.Request) -> web.Response:
            return web.Response(
                text=self.metrics.render(), content_type="text/plain", charset="utf-8"
            )

        async def ok(request: web.Request) -> web.Response:
            return web.Response(text="ok", content_type="text/plain")

        routes = [web.get("/metrics", metrics)]
        # kube's checks (any other /healthz/<x> is Go's plain-text 404, as there).
        checks = ("ping", "log", "etcd", "poststarthook/rbac/bootstrap-roles")
        ready = ("etcd-readiness", "informer-sync", "shutdown")
        for path in ("/healthz", "/livez", "/readyz"):
            routes.append(web.get(path, ok))
            for check in checks + (ready if path == "/readyz" else ()):
                routes.append(web.get(f"{path}/{check}", ok))
        return routes

    def build_app(self) -> web.Application:
        from . import discovery, openapi
        from .app import build_app

        filters = [
            self.faults.middleware(),
            authentication_filter(self.authenticator, self.audit),
            audit_filter(self.audit),
            impersonation_filter(self.impersonator),
            authorization_filter(self.authorizer.authorize),
        ]
        ext = self.extensions()
        authorize = self.authorizer.authorize
        rbac = next(a for _, a in self.authorizer.chain if isinstance(a, RBACAuthorizer))
        # kube's order (NodeRestriction, TaintNodesByCondition, PodTopologyLabels), then the RBAC
        # registry's.
        admission: list[AdmissionHook] = [
            NodeRestriction(self.get_object, authorize),
            taint_new_nodes_not_ready,
            PodTopologyLabels(self.get_object),
            pod_security(self.store),  # validating: runs last, sees the validated object
            RBACEscalation(authorize, rbac),
        ]
        app = build_app(
            self.store,
            filters=filters,
            routes=[*discovery.routes(), *openapi.routes(), *self._health_routes()],
            reviews=ext.reviews,
            subresources=ext.subresources,
            admission=admission,
            authorize=authorize,
        )
        app.on_response_prepare.append(audit_response_started(self.audit))
        app.on_response_prepare.append(write_warnings)
        install_crds(app, self.store)  # CustomResourceDefinitions and their resources
        install_aggregation(app, self.store)  # APIServices with a service (KubeVirt's stand-in)
        return app

    async def start(self) -> None:
        self._seed()
        app = self.build_app()
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=1.0,
            # kube-apiserver (Go's net/http) accepts up to 1 MiB of headers in total.
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
            max_headers=MAX_HEADER_LINES,
        )
        await runner.setup()
        ssl_context = self.certs.ssl_context(self.config.work_dir / "pki")
        site = web.TCPSite(
            runner, self.config.host, self.config.port, ssl_context=ssl_context, reuse_address=True
        )
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        from .services import kubernetes_service  # bootstrap controller: default/kubernetes
        from .storage import now_rfc3339

        self._ensure("", "services", kubernetes_service(self.port, now_rfc3339()))
        self._controllers.append(asyncio.create_task(self._service_account_controller()))

    async def stop(self) -> None:
        for task in self._controllers:
            task.cancel()
        for task in self._controllers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._controllers.clear()
        self.store.close_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.close()
        self.audit.close()
