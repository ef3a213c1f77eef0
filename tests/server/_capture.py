"""A recording HTTPS server for learning and pinning down what kubectl sends.

It serves the real discovery and OpenAPI routes, records every request, and answers writes by
echoing the (protobuf-decoded) body back as JSON with enough status for kubectl to print its
usual line (``namespace/foo created``, ``yes``, a token...). kubectl sends no bearer token over
plain HTTP, hence TLS with a throw-away self-signed certificate.

Run as a script to refresh the fixtures the protobuf tests use without kubectl::

    .venv/bin/python -m tests.server._capture tests/server/data/kubectl-1.33-protobuf.json
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from cimp_apiserver import discovery, openapi, protobuf
from cimp_apiserver.resources import REGISTRY, TABLE, Registry, ResourceType
from cimp_apiserver.status import StatusError, status_response

from .._tls import serving_files

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")


def find_kubectl(version: str = "1.33") -> str | None:
    """The kubectl binary of ``version`` (``kubectl.<version>`` or a plain ``kubectl``)."""
    for name in (f"kubectl.{version}",):
        found = shutil.which(name) or shutil.which(name, path=str(KUBECTL_DIR))
        if found:
            return found
    plain = shutil.which("kubectl")
    if plain:
        out = subprocess.run(
            [plain, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            info = json.loads(out.stdout)["clientVersion"]
        except (ValueError, KeyError):
            return None
        if f"{info.get('major')}.{info.get('minor')}" == version:
            return plain
    return None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def accept(self) -> str:
        return self.headers.get("Accept", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    return serving_files(directory)


def _answer(obj: dict[str, Any], path: str) -> dict[str, Any]:
    """What a server would plausibly return for a created ``obj``."""
    reply = dict(obj)
    kind = reply.get("kind", "")
    reply.setdefault("metadata", {})
    if kind == "SelfSubjectAccessReview":
        reply["status"] = {"allowed": True}
    elif kind == "SelfSubjectRulesReview":
        reply["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif kind == "SelfSubjectReview":
        reply["status"] = {"userInfo": {"username": "capture", "groups": ["system:masters"]}}
    elif kind == "TokenRequest":
        reply["metadata"] = {"name": path.rstrip("/").split("/")[-2]}
        reply["status"] = {"token": "captured-token", "expirationTimestamp": "2030-01-01T00:00:00Z"}
    return reply


# A custom resource for kubectl to meet: KubeVirt's VMI, with an open schema (the embedded
# server serves it once KubeVirt's CRD is applied).
VMI = ResourceType(
    "kubevirt.io",
    "v1",
    "virtualmachineinstances",
    "VirtualMachineInstance",
    True,
    short_names=("vmi", "vmis"),
    categories=("all",),
)


@dataclass
class CaptureServer:
    """Run with ``with CaptureServer() as server:``; ``server.kubeconfig`` for kubectl."""

    requests: list[Recorded] = field(default_factory=list)
    # Objects answered to GET by exact path (for re-apply: the "current" object).
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    _dir: tempfile.TemporaryDirectory[str] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def directory(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name)

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        """Answer a write by echoing its body, a GET from ``objects``; anything else is a 404."""
        if request.method == "GET" and request.path in self.objects:
            return web.json_response(self.objects[request.path])
        if request.method == "PUT" and request.path in self.objects:
            pass  # echoed below, like a successful update
        elif request.method in ("PATCH", "DELETE") and request.path in self.objects:
            return web.json_response(self.objects[request.path])
        if request.method not in ("POST", "PUT", "PATCH"):
            return status_response(StatusError(404, "NotFound", "not recorded here"))
        body = await request.read()
        try:
            if protobuf.is_protobuf(request.headers.get("Content-Type")):
                obj = protobuf.decode(body)
            else:
                obj = json.loads(body or b"{}")
        except StatusError as err:
            return status_response(err)
        status = 200 if request.method == "PUT" else 201
        return web.json_response(_answer(obj, request.path), status=status)

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path_qs, dict(request.headers), body))
        response: web.StreamResponse = await handler(request)
        return response

    def __enter__(self) -> CaptureServer:
        self._dir = tempfile.TemporaryDirectory(prefix="kubectl-capture-")
        cert, key = _self_signed(self.directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        app = web.Application(middlewares=[self._log])
        app[REGISTRY] = Registry((*TABLE, VMI))
        app.router.add_routes(discovery.routes())
        app.router.add_routes(openapi.routes())
        app.router.add_route("*", "/{tail:.*}", self._reply)
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
            await site.start()
            self.port = self._runner.addresses[0][1]

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "capture",
                            "cluster": {
                                "server": f"https://127.0.0.1:{self.port}",
                                "certificate-authority": str(cert),
                            },
                        }
                    ],
                    "users": [{"name": "capture", "user": {"token": "capture-token"}}],
                    "contexts": [
                        {
                            "name": "capture",
                            "context": {
                                "cluster": "capture",
                                "user": "capture",
                                "namespace": "default",
                            },
                        }
                    ],
                    "current-context": "capture",
                }
            )
        )
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None:
            if self._runner is not None:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            loop.close()
        if self._dir is not None:
            self._dir.cleanup()

    def run(
        self, kubectl: str, *args: str, timeout: float = 30, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this server with a fresh cache; requests start empty."""
        self.requests.clear()
        cache = self.directory / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.directory)}
        return subprocess.run(
            [kubectl, f"--cache-dir={cache}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=stdin,
            check=False,
        )

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH")]


# Commands whose protobuf bodies are pinned in the fixture file.
PROTOBUF_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("create-namespace", ("create", "namespace", "team-a")),
    ("create-serviceaccount", ("create", "serviceaccount", "bob", "-n", "team-a")),
    (
        "create-secret-generic",
        (
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=user=admin",
            "--from-literal=pw=p@ss",
        ),
    ),
    (
        "create-secret-docker",
        (
            "create",
            "secret",
            "docker-registry",
            "reg",
            "--docker-server=registry.example",
            "--docker-username=u",
            "--docker-password=p",
        ),
    ),
    (
        "create-secret-tls-like",
        ("create", "secret", "generic", "bin", "--type=Opaque", "--from-literal=k=\u00e9\u00e8"),
    ),
    (
        "create-configmap",
        ("create", "configmap", "c1", "--from-literal=a=b", "--from-literal=empty="),
    ),
    (
        "create-role",
        (
            "create",
            "role",
            "pod-reader",
            "--verb=get,list,watch",
            "--resource=pods,pods/status,daemonsets.apps",
            "--resource-name=web",
        ),
    ),
    (
        "create-clusterrole",
        ("create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz"),
    ),
    (
        "create-clusterrole-aggregated",
        ("create", "clusterrole", "agg", "--aggregation-rule=rbac.example/aggregate=true"),
    ),
    (
        "create-rolebinding",
        (
            "create",
            "rolebinding",
            "rb",
            "--role=pod-reader",
            "--user=alice",
            "--group=devs",
            "--serviceaccount=team-a:bob",
        ),
    ),
    (
        "create-clusterrolebinding",
        ("create", "clusterrolebinding", "crb", "--clusterrole=health", "--user=alice"),
    ),
    (
        "create-token",
        ("create", "token", "bob", "--duration=1h", "--audience=a1", "--audience=a2"),
    ),
    (
        "create-token-bound",
        (
            "create",
            "token",
            "bob",
            "--bound-object-kind=Pod",
            "--bound-object-name=p1",
            "--bound-object-uid=0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        ),
    ),
    ("auth-can-i", ("auth", "can-i", "get", "pods", "-n", "team-a")),
    (
        "auth-can-i-subresource",
        ("auth", "can-i", "create", "serviceaccounts/bob", "--subresource=token", "-n", "team-a"),
    ),
    ("auth-can-i-nonresource", ("auth", "can-i", "get", "/healthz")),
    ("auth-can-i-list", ("auth", "can-i", "--list", "-n", "team-a")),
    ("auth-whoami", ("auth", "whoami")),
)


def record_fixtures(kubectl: str, commands: Sequence[tuple[str, tuple[str, ...]]]) -> list[Any]:
    """Run ``commands`` and keep every protobuf write with its decoded form."""
    fixtures: list[Any] = []
    with CaptureServer() as server:
        for name, args in commands:
            result = server.run(kubectl, *args)
            for req in server.writes():
                if not protobuf.is_protobuf(req.content_type):
                    continue
                fixtures.append(
                    {
                        "name": name,
                        "command": ["kubectl", *args],
                        "exit": result.returncode,
                        "method": req.method,
                        "path": req.path,
                        "contentType": req.content_type,
                        "accept": req.accept,
                        "body": req.body.hex(),
                        "decoded": protobuf.decode(req.body),
                    }
                )
    return fixtures


if __name__ == "__main__":
    binary = find_kubectl()
    if binary is None:
        sys.exit("kubectl 1.33 not found")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "kubectl-1.33-protobuf.json")
    out.write_text(json.dumps(record_fixtures(binary, PROTOBUF_COMMANDS), indent=1) + "\n")
    print(f"wrote {out}")
