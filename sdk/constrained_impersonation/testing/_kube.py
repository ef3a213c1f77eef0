"""A real kube-apiserver (and its etcd) for tests, behind the same API as ``APIServer``.

Identities with uid, groups and extras are needed at run time (``add_user``); a static token
file is read once at start and carries no extras. kube-apiserver's webhook token
authenticator does both, so the harness serves the webhook itself (HTTPS on loopback, the
harness's own CA, cache TTL 0): clients keep talking straight to kube-apiserver with bearer
tokens, exactly as in a cluster. Requestheader authentication would have put a front proxy
between every client and the server, which is the thing under test.

API aggregation is set up as in a cluster: kube-apiserver has a front-proxy CA
(``--requestheader-client-ca-file``, published in the ConfigMap
``kube-system/extension-apiserver-authentication``) and a proxy client certificate it signed,
so an extension server registered with an ``APIService`` (KubeVirt's stand-in in the deputy's
tests) receives requests with the user in ``X-Remote-*`` headers. Services are reached by
their cluster IP, or by an ``ExternalName`` service's name (``localhost`` for an extension
server the test runs itself: kube refuses loopback addresses in EndpointSlices).

The processes die with the Python process that started them (``PR_SET_PDEATHSIG``), and
``stop``/``close`` leave no process, port or temporary file behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from cryptography.hazmat.primitives import serialization

from cimp_apiserver.certs import load_or_create
from cimp_apiserver.config import parse_feature_gates
from cimp_apiserver.kubevirt.frontproxy import FRONT_PROXY_CLIENT, load_or_create_front_proxy

from .._private_files import create_private, private_dir, write_private
from ..identity import Identity
from ._assets import KUBE_VERSION, KubeAssets, find_assets
from ._client import ClientSide
from ._etcd_reset import (
    APISERVICES,
    CRDS,
    Diff,
    Etcd,
    EtcdKV,
    Snapshot,
    diff,
    needs_fresh_server,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["KubeAPIServer", "KubeAPIServerError"]

ADMIN_USER = "kubernetes-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_READY_TIMEOUT = 90.0

_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    # The server's own loopback requests (bootstrap, lease renewals) are not what a test
    # asks about: without this rule they interleave with the test's events.
    "rules": [{"level": "None", "users": ["system:apiserver"]}, {"level": "Metadata"}],
}


class KubeAPIServerError(RuntimeError):
    """kube-apiserver or etcd did not start; the message carries the tail of its log."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL the child when the test process dies, however it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setpgid(0, 0)


class _TokenWebhook:
    """The TokenReview webhook kube-apiserver asks about every bearer token it does not know."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        users = self.users

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length) or b"{}")
                user = users.get(str((review.get("spec") or {}).get("token", "")))
                status: dict[str, Any] = {"authenticated": user is not None}
                if user is not None:
                    status["user"] = user
                body = json.dumps(
                    {
                        "apiVersion": review.get("apiVersion", "authentication.k8s.io/v1"),
                        "kind": "TokenReview",
                        "status": status,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tokens must not reach logs."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_file), str(key_file))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cimp-token-webhook", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class KubeAPIServer(ClientSide):
    """A real kube-apiserver with etcd on loopback: ``APIServer``'s API, upstream's behaviour.

    ``--authorization-mode=Node,RBAC``, NodeRestriction admission, service-account tokens
    (TokenRequest, ES256), audit at level Metadata, ``feature_gates`` as given (the
    ConstrainedImpersonation gate is on by default from 1.36). ``assets``: a directory with
    ``kube-apiserver`` and ``etcd`` (default: ``$CIMP_KUBE_ASSETS``, ``$KUBEBUILDER_ASSETS``,
    then the checkout's ``.tools/kube/<version>/`` that ``make kube`` builds).
    ``data_dir`` keeps etcd's data, the PKI and the users, so a restart continues.
    ``extra_args``: more kube-apiserver flags (``--flag=value``).
    """

    version = KUBE_VERSION

    def __init__(
        self,
        feature_gates: str | Mapping[str, bool] | None = None,
        data_dir: str | Path | None = None,
        audit_log_path: str | Path | None = None,
        port: int | None = None,
        *,
        assets: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._assets: KubeAssets = find_assets(assets)
        # Validated as the embedded server does; only the gates named are passed on, so
        # kube-apiserver keeps its own defaults for the rest.
        self._gates = parse_feature_gates(feature_gates)
        named = (
            set(feature_gates)
            if isinstance(feature_gates, Mapping)
            else {p.partition("=")[0].strip() for p in (feature_gates or "").split(",")}
        )
        self._explicit_gates = {k: v for k, v in self._gates.items() if k in named}
        self._tmp: Path | None = None
        if data_dir is not None:
            self._work = private_dir(data_dir)
        else:
            self._tmp = self._work = Path(tempfile.mkdtemp(prefix="cimp-kube-apiserver-"))
        self._audit_log = (
            Path(audit_log_path) if audit_log_path is not None else self._work / "audit.log"
        )
        self._port = port or 0
        self._extra_args = tuple(extra_args)
        try:  # a temporary directory is removed again if what goes into it fails
            self._certs = load_or_create(self._work / "pki")
            load_or_create_front_proxy(self._work / "pki")
            self._users_file = self._work / "users.json"
            self._admin_token = ""
            self._users: dict[str, dict[str, Any]] = {}
            if self._users_file.exists():
                saved = json.loads(self._users_file.read_text())
                self._admin_token, self._users = saved["admin"], saved["users"]
        except BaseException:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        if not self._admin_token:
            self._admin_token = uuid.uuid4().hex + uuid.uuid4().hex
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._webhook: _TokenWebhook | None = None
        self._clients: list[ApiClient] = []
        self._etcd_ports = (0, 0)
        self._snapshot: Snapshot | None = None
        self._builtin_groups: frozenset[str] = frozenset()
        self._audit_from = (0, "")  # (byte offset, requestReceivedTimestamp) after a reset

    # ------------------------------------------------------------------ lifecycle

    def _write_config(self) -> None:
        pki = self._work / "pki"
        public = self._certs.sa_private_key().public_key()
        write_private(
            pki / "sa.pub",
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        write_private(
            self._work / "tokens.csv", f'{self._admin_token},{ADMIN_USER},admin,"system:masters"\n'
        )
        write_private(self._work / "audit-policy.yaml", yaml.safe_dump(_AUDIT_POLICY))
        assert self._webhook is not None
        webhook = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "cimp-token-webhook",
                    "cluster": {
                        "server": f"https://127.0.0.1:{self._webhook.port}/",
                        "certificate-authority": str(pki / "ca.pem"),
                    },
                }
            ],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [
                {
                    "name": "webhook",
                    "context": {"cluster": "cimp-token-webhook", "user": "kube-apiserver"},
                }
            ],
            "current-context": "webhook",
        }
        write_private(self._work / "token-webhook.kubeconfig", yaml.safe_dump(webhook))

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        path = create_private(self._work / f"{name}.log")  # 0600 whatever the umask
        log = open(path, "ab")  # noqa: SIM115 - owned by the child
        try:
            return subprocess.Popen(  # noqa: S603 - our own binaries, argv not from a shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl and setpgid
                cwd=self._work,
            )
        finally:
            log.close()

    def _log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self._work / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _start_etcd(self) -> None:
        client, peer = self._etcd_ports
        if not client:
            client, peer = _free_port(), _free_port()
            self._etcd_ports = (client, peer)
        self._etcd = self._spawn(
            "etcd",
            [
                str(self._assets.etcd),
                "--name=cimp",
                f"--data-dir={self._work / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=cimp=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

    def _apiserver_argv(self) -> list[str]:
        pki, work = self._work / "pki", self._work
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(self._explicit_gates.items()))
        argv = [
            str(self._assets.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{self._etcd_ports[0]}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._port}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'key.pem'}",
            f"--client-ca-file={pki / 'ca.pem'}",
            f"--token-auth-file={work / 'tokens.csv'}",
            f"--authentication-token-webhook-config-file={work / 'token-webhook.kubeconfig'}",
            "--authentication-token-webhook-cache-ttl=0s",
            "--authentication-token-webhook-version=v1",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            # No controller-manager runs, so no namespace gets its `default` service account;
            # envtest disables this plugin for the same reason.
            "--disable-admission-plugins=ServiceAccount",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.pem'}",
            f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
            "--service-cluster-ip-range=10.96.0.0/16",
            f"--audit-policy-file={work / 'audit-policy.yaml'}",
            f"--audit-log-path={self._audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--allow-privileged=true",
            "--profiling=false",
            "--endpoint-reconciler-type=none",
            # API aggregation: the front proxy's CA and client certificate, and the headers
            # that carry the user to an extension server.
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.pem'}",
            f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-uid-headers=X-Remote-Uid",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.pem'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client-key.pem'}",
        ]
        if gates:
            argv.append(f"--feature-gates={gates}")
        return [*argv, *self._extra_args]

    def start(self) -> KubeAPIServer:
        """Start etcd and kube-apiserver; returns once ``/readyz`` answers 200.

        Ports are picked free and handed to the binaries, which bind them a moment later;
        another process can take one in between. When the harness picked them, a start that
        dies of ``address already in use`` is retried on new ports (twice at most).
        """
        if self._apiserver is not None:
            return self
        retries = 2 if not self._port and not self._etcd_ports[0] else 0
        while True:
            try:
                return self._start_once()
            except KubeAPIServerError as exc:
                if retries == 0 or "address already in use" not in str(exc):
                    raise
                retries -= 1
                self._port, self._etcd_ports = 0, (0, 0)
                shutil.rmtree(self._work / "etcd", ignore_errors=True)

    def _start_once(self) -> KubeAPIServer:
        try:
            pki = self._work / "pki"
            write_private(pki / "serving.crt", self._certs.cert_pem + self._certs.ca_pem)
            self._webhook = _TokenWebhook(pki / "serving.crt", pki / "key.pem")
            self._webhook.users.update(self._users)
            self._write_config()
            self._start_etcd()
            if not self._port:
                self._port = _free_port()
            self._apiserver = self._spawn("kube-apiserver", self._apiserver_argv())
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            for name, proc in (("etcd", self._etcd), ("kube-apiserver", self._apiserver)):
                if proc is not None and proc.poll() is not None:
                    raise KubeAPIServerError(
                        f"{name} exited with {proc.returncode} during start-up:\n"
                        f"{self._log_tail(name)}"
                    )
            with contextlib.suppress(OSError):
                status, _ = self.request("GET", "/readyz")
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise KubeAPIServerError(
                    f"kube-apiserver not ready after {_READY_TIMEOUT:.0f} s:\n"
                    f"{self._log_tail('kube-apiserver')}"
                )
            time.sleep(0.1)

    @staticmethod
    def _end(proc: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop kube-apiserver, etcd and the webhook (etcd's data is kept until ``close``)."""
        self._close_clients()
        # kube-apiserver keeps nothing of its own (etcd holds the data, the audit log is
        # written before each answer), and its graceful shutdown costs a second per server.
        self._end(self._apiserver, kill=True)
        self._end(self._etcd)
        self._apiserver = self._etcd = None
        if self._webhook is not None:
            self._webhook.close()
            self._webhook = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------ facts

    @property
    def url(self) -> str:
        if self._apiserver is None:
            raise RuntimeError("the API server is not running; call start() or use `with`")
        return f"https://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def ca_file(self) -> str:
        return str(self._work / "pki" / "ca.pem")

    @property
    def admin_token(self) -> str:
        """Bearer token of ``kubernetes-admin`` in ``system:masters`` (a static token)."""
        return self._admin_token

    @property
    def feature_gates(self) -> dict[str, bool]:
        return dict(self._gates)

    @property
    def kubectl(self) -> Path | None:
        """The kubectl built from the same release, if it was built."""
        return self._assets.kubectl

    # ------------------------------------------------------------------ users

    def _save_users(self) -> None:
        write_private(
            self._users_file, json.dumps({"admin": self._admin_token, "users": self._users})
        )

    def _new_user(self, identity: Identity) -> str:
        user: dict[str, Any] = {"username": identity.user, "groups": list(identity.groups)}
        if identity.uid is not None:
            user["uid"] = identity.uid
        if identity.extra:
            user["extra"] = {k: list(v) for k, v in identity.extra.items()}
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self._users[token] = user
        if self._webhook is not None:
            self._webhook.users[token] = user
        self._save_users()
        return token

    def _kubeconfig_dir(self) -> Path:
        return self._work

    # ------------------------------------------------------------------ observation

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event (``audit.k8s.io/v1`` Event dicts) in the audit log so far.

        kube-apiserver writes an event just after the response, so this waits until the log
        stops growing (50 ms quiet, 2 s at most). On a server the ``apiserver`` fixture reset
        for this test, "so far" starts at that reset.
        """
        deadline = time.monotonic() + 2.0
        size = -1
        while time.monotonic() < deadline:
            current = self._audit_log.stat().st_size if self._audit_log.exists() else 0
            if current == size:
                break
            size = current
            time.sleep(0.05)
        if not self._audit_log.exists():
            return []
        offset, since = self._audit_from
        with self._audit_log.open() as f:
            if offset:
                f.seek(offset)
            events = [json.loads(line) for line in f if line.strip()]
        if since:  # a request of an earlier test can end (and be logged) after the reset
            events = [e for e in events if str(e.get("requestReceivedTimestamp", "")) >= since]
        return events

    # ------------------------------------------------------------------ sharing between tests

    @property
    def running(self) -> bool:
        """Whether etcd and kube-apiserver are both up."""
        return all(p is not None and p.poll() is None for p in (self._etcd, self._apiserver))

    def _take_snapshot(self) -> None:
        """Remember etcd as start-up left it, for ``_reset``.

        kube-apiserver writes the ``kubernetes`` Service and its ClusterIP just after it
        reports ready; the snapshot waits for both so a reset never removes them.
        """
        etcd = Etcd(self._etcd_ports[0])
        wanted = ("/registry/services/specs/default/kubernetes", "/registry/ipaddresses/")
        deadline = time.monotonic() + 15.0
        while True:
            keys = etcd.read(values=True)
            if all(any(k.startswith(w) for k in keys) for w in wanted):
                break
            if time.monotonic() > deadline:
                raise KubeAPIServerError(
                    "kube-apiserver did not create the `kubernetes` Service within 15 s"
                )
            time.sleep(0.05)
        self._snapshot = Snapshot(keys)
        status, body = self.request("GET", "/apis")
        if status != 200:
            raise KubeAPIServerError(f"listing API groups for a snapshot: {status} {body}")
        # kube's own handlers answer every version of a built-in group, so a CRD there is
        # never served: nothing to wait for when it goes.
        self._builtin_groups = frozenset({""} | {str(g["name"]) for g in body["groups"]})

    def _reset(self) -> str | None:
        """Bring the server back to its state right after start-up, for the next test.

        Returns None when done, or why only a fresh server will do (the caller starts one):
        see ``_etcd_reset``. Users added by ``add_user`` are forgotten, clients closed, and
        ``audit_events`` starts afresh. Waits until RBAC and the Node authorizer no longer
        grant what the deleted objects granted.
        """
        if self._snapshot is None or not self.running:
            return "the server is not running"
        self._close_clients()
        etcd = Etcd(self._etcd_ports[0])
        changes = diff(self._snapshot, etcd.read(values=False))
        crds = self._created_crds(changes.created)
        if crds is None:
            return "the last test created a CRD the API does not list"
        forgettable = set(crds)
        forgettable |= {f"{APISERVICES}{v}.{g}" for gvrs in crds.values() for g, v, _ in gvrs}
        reason = needs_fresh_server(changes, forgettable)
        if reason is not None:
            return f"the last test wrote {reason}"
        node_pods = (
            self._node_bound_pods()
            if any(k.startswith("/registry/pods/") for k in changes.created)
            else []
        )
        self._users.clear()
        if self._webhook is not None:
            self._webhook.users.clear()
        self._save_users()
        if changes:
            self._restore(etcd, changes)
            if any(
                k.startswith("/registry/clusterrole") or k.startswith("/registry/role")
                for k in changes.touched
            ):
                self._rbac_barrier()
            if any(k.startswith("/registry/namespaces/") for k in changes.created):
                # A consistent list waits until the watch cache that NamespaceLifecycle and
                # Pod Security read through has seen the deletions.
                status, body = self.request("GET", "/api/v1/namespaces")
                if status != 200:
                    raise KubeAPIServerError(f"listing namespaces for a reset: {status} {body}")
            if crds:
                reason = self._forget_crds(etcd, crds, forgettable)
                if reason is not None:
                    return reason
            for namespace, name, node in node_pods:
                self._wait_denied(
                    {
                        "user": f"system:node:{node}",
                        "groups": ["system:nodes", "system:authenticated"],
                        "resourceAttributes": {
                            "verb": "get",
                            "resource": "pods",
                            "namespace": namespace,
                            "name": name,
                        },
                    }
                )
        size = self._audit_log.stat().st_size if self._audit_log.exists() else 0
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._audit_from = (size, now)
        return None

    def _restore(self, etcd: Etcd, changes: Diff) -> None:
        """Undo ``changes`` in etcd; the snapshot then records the revisions the restored keys
        have now, so the next reset sees them as untouched."""
        assert self._snapshot is not None
        keys = self._snapshot.keys
        restore = changes.changed + changes.deleted
        etcd.apply(changes.created, {k: keys[k].value for k in restore})
        if restore:
            now = etcd.read(values=False)
            for key in restore:
                if key in now:
                    keys[key] = EtcdKV(now[key].mod_revision, keys[key].value)

    def _created_crds(self, created: list[str]) -> dict[str, list[tuple[str, str, str]]] | None:
        """The CRDs among ``created`` (etcd key -> their group versions), read through the API
        and plurals, read through the API (etcd holds them in protobuf); None when one is not
        listed."""
        keys = [k for k in created if k.startswith(CRDS)]
        if not keys:
            return {}
        status, body = self.request(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        )
        if status != 200:
            raise KubeAPIServerError(f"listing CRDs for a reset: {status} {body}")
        listed: dict[str, list[tuple[str, str, str]]] = {}
        for crd in body.get("items") or []:
            spec = crd.get("spec") or {}
            group = str(spec.get("group") or "")
            plural = str((spec.get("names") or {}).get("plural") or "")
            versions = [str(v.get("name")) for v in spec.get("versions") or []]
            listed[CRDS + str(crd["metadata"]["name"])] = [(group, v, plural) for v in versions]
        if any(k not in listed for k in keys):
            return None
        return {k: listed[k] for k in keys}

    def _forget_crds(
        self, etcd: Etcd, crds: dict[str, list[tuple[str, str, str]]], forgettable: set[str]
    ) -> str | None:
        """After the CRDs' keys are gone: wait until kube serves none of their group versions
        and its controllers stop re-creating the APIServices they registered (the autoregister
        controller puts one back until it has seen the CRD go), or say why not."""
        assert self._snapshot is not None
        deadline = time.monotonic() + 10.0
        for group, version, plural in sorted({gvr for gvrs in crds.values() for gvr in gvrs}):
            if group in self._builtin_groups:
                continue
            while self._lists(f"/apis/{group}/{version}", plural):
                if time.monotonic() > deadline:
                    return f"kube still serves {plural}.{group}/{version} 10 s after its CRD went"
                time.sleep(0.02)
        quiet = 0
        while quiet < 3:  # three clean reads 50 ms apart: nothing left, nothing coming back
            left = diff(self._snapshot, etcd.read(values=False))
            if not left:
                quiet += 1
            else:
                quiet = 0
                reason = needs_fresh_server(left, forgettable)
                if reason is not None:
                    return f"the last test's CRDs left {reason}"
                self._restore(etcd, left)
            if time.monotonic() > deadline:
                return f"kube kept re-creating what the last test's CRDs registered: {left}"
            time.sleep(0.05)
        return None

    def _node_bound_pods(self) -> list[tuple[str, str, str]]:
        status, body = self.request("GET", "/api/v1/pods")
        if status != 200:
            raise KubeAPIServerError(f"listing pods for a reset: {status} {body}")
        found = []
        for pod in body.get("items") or []:
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                meta = pod["metadata"]
                found.append((str(meta["namespace"]), str(meta["name"]), str(node)))
        return found

    # ------------------------------------------------------------------ consistency

    def _settle(self, stored: list[dict[str, Any]]) -> None:
        """Wait until RBAC and the Node authorizer's graph enforce what ``apply`` wrote.

        kube-apiserver's authorizers read informer caches, a few milliseconds behind etcd.
        RBAC: a barrier Role/ClusterRole and binding written after the user's objects become
        visible to SubjectAccessReview only after everything before them (each informer sees
        its resource in order). Pods on a node: the node may read them once the graph has
        the edge.
        """
        kinds = {str(o.get("kind")) for o in stored}
        if kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}:
            self._rbac_barrier()
        for obj in stored:
            if obj.get("kind") == "CustomResourceDefinition":
                self._wait_served(obj)
        for obj in stored:
            node = (obj.get("spec") or {}).get("nodeName") if obj.get("kind") == "Pod" else None
            if node:
                meta = obj["metadata"]
                self._wait_allowed(
                    {
                        "user": f"system:node:{node}",
                        "groups": ["system:nodes", "system:authenticated"],
                        "resourceAttributes": {
                            "verb": "get",
                            "resource": "pods",
                            "namespace": meta["namespace"],
                            "name": meta["name"],
                        },
                    }
                )

    def _lists(self, path: str, plural: str) -> bool:
        """Whether the discovery document at ``path`` (a group version) names ``plural``."""
        status, body = self.request("GET", path)
        if status != 200 or not isinstance(body, dict):
            return False
        return any(r.get("name") == plural for r in body.get("resources") or ())

    def _wait_served(self, crd: dict[str, Any], timeout: float = 10.0) -> None:
        """Wait until discovery lists a CRD's resource in each served version and a list of it
        answers (as envtest does): kube serves a new or changed CRD a moment after storing it."""
        spec = crd.get("spec") or {}
        plural = str((spec.get("names") or {}).get("plural") or "")
        deadline = time.monotonic() + timeout
        for version in spec.get("versions") or ():
            if not version.get("served"):
                continue
            path = f"/apis/{spec.get('group')}/{version.get('name')}"
            while True:
                # Listed, and its storage ready: kube answers 429 while a CRD's watch cache
                # (re)initializes.
                listable = self._lists(path, plural)
                if listable and self.request("GET", f"{path}/{plural}?limit=1")[0] != 429:
                    break
                if time.monotonic() > deadline:
                    raise KubeAPIServerError(
                        f"CRD {crd['metadata']['name']} not served at {path} after {timeout:.0f} s"
                    )
                time.sleep(0.02)

    def _wait_allowed(self, spec: dict[str, Any], timeout: float = 10.0) -> None:
        self._wait_decision(spec, True, timeout)

    def _wait_denied(self, spec: dict[str, Any], timeout: float = 10.0) -> None:
        self._wait_decision(spec, False, timeout)

    def _wait_decision(self, spec: dict[str, Any], allowed: bool, timeout: float) -> None:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.request(
                "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review
            )
            if status == 201 and bool((body.get("status") or {}).get("allowed")) is allowed:
                return
            time.sleep(0.02)
        raise KubeAPIServerError(
            f"{'not enforced' if allowed else 'still allowed'} after {timeout:.0f} s: {spec}"
        )

    def _rbac_barrier(self) -> None:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        tag = f"cimp-barrier-{uuid.uuid4().hex[:10]}"
        user = f"system:cimp:{tag}"
        subject = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        writes = [
            (
                f"{rbac}/clusterroles",
                {
                    "metadata": {"name": tag},
                    "rules": [{"nonResourceURLs": [f"/{tag}"], "verbs": ["get"]}],
                },
            ),
            (
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": tag},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": tag,
                    },
                    "subjects": subject,
                },
            ),
            (
                f"{rbac}/namespaces/default/roles",
                {
                    "metadata": {"name": tag},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "resources": ["configmaps"],
                            "resourceNames": [tag],
                            "verbs": ["get"],
                        }
                    ],
                },
            ),
            (
                f"{rbac}/namespaces/default/rolebindings",
                {
                    "metadata": {"name": tag},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": tag,
                    },
                    "subjects": subject,
                },
            ),
        ]
        try:
            for path, body in writes:
                status, answer = self.request("POST", path, body)
                if status >= 400:
                    raise KubeAPIServerError(f"RBAC barrier {path}: {status} {answer}")
            self._wait_allowed(
                {"user": user, "nonResourceAttributes": {"verb": "get", "path": f"/{tag}"}}
            )
            self._wait_allowed(
                {
                    "user": user,
                    "resourceAttributes": {
                        "verb": "get",
                        "resource": "configmaps",
                        "namespace": "default",
                        "name": tag,
                    },
                }
            )
        finally:
            for path, _ in writes:
                self.request("DELETE", f"{path}/{tag}")
