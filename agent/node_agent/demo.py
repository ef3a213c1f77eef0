"""``make demo``: the node agent on the embedded API server, and what it cannot do.

Nothing is mocked or minted by hand: the RBAC and DaemonSet are ``deploy/daemonset/`` as
written, the agent's token comes from TokenRequest bound to a Pod on node-a (so the server
itself embeds the node name), and the agent runs as the real ``cimp-node-agent`` process
with a kubeconfig carrying that token. Every refusal printed is the server's own answer (or
the SDK's, for requests it refuses before sending). Exits 1 if anything behaves otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import manifests
from .manifests import raw_request
from .sandbox import AGENT_NAMESPACE, Sandbox, SandboxError, pod_manifest

__all__ = ["main"]

NODE_A = "node-a"
NODE_B = "node-b"
WIDTH = 78


class DemoFailure(Exception):
    """Something did not behave as the demo claims."""


# --------------------------------------------------------------------------- output


def section(title: str) -> None:
    print()
    print(f"== {title} " + "=" * max(3, WIDTH - len(title) - 4))


def row(label: str, value: object = "") -> None:
    print(f"  {label:<30} {value}")


def note(text: str) -> None:
    print(f"  {text}")


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailure(what)


def short(text: str, width: int = WIDTH - 4) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def wrap(text: str, indent: int = 4, width: int = WIDTH) -> None:
    line = " " * indent
    for word in text.split():
        if len(line) + len(word) + 1 > width and line.strip():
            print(line.rstrip())
            line = " " * indent
        line += word + " "
    if line.strip():
        print(line.rstrip())


# --------------------------------------------------------------------------- the agent process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AgentProcess:
    """``cimp-node-agent`` as a child process; its JSON log lines are kept for display."""

    def __init__(self, kubeconfig: str, node: str, output: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = output
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CIMP_", "KUBE"))}
        env.update({"NODE_NAME": node, "KUBECONFIG": kubeconfig, "PYTHONUNBUFFERED": "1"})
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "node_agent",
                f"--listen=127.0.0.1:{self.port}",
                f"--output={output}",
                "--watch-timeout=60",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.logs: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.logs.append(json.loads(line))
            except ValueError:
                self.logs.append({"msg": line.rstrip()})

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def pods(self) -> dict[str, Any]:
        status, body = self.get("/pods")
        if status != 200:
            return {}
        document: dict[str, Any] = json.loads(body)
        return document

    def names(self) -> set[str]:
        return {f"{p['namespace']}/{p['name']}" for p in self.pods().get("pods", [])}

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 15.0) -> float:
        """Poll ``check`` until true; return the seconds it took (raise after ``timeout``)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise DemoFailure(
                    f"the agent exited with {self.process.returncode}: {self.logs[-3:]}"
                )
            if check():
                return time.monotonic() - started
            time.sleep(0.01)
        raise DemoFailure(f"timed out waiting for {what}")

    def stop(self) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout=2)
        return code, time.monotonic() - started


def print_inventory(document: dict[str, Any]) -> None:
    note(
        f"GET /pods  node={document.get('node')}  resourceVersion={document.get('resourceVersion')}"
    )
    for pod in document.get("pods", []):
        where = (
            "hostNetwork" if pod.get("hostNetwork") else ",".join(pod.get("podIPs") or []) or "-"
        )
        print(
            f"    {pod['namespace'] + '/' + pod['name']:<36} {pod.get('phase') or '-':<9} {where}"
        )


# --------------------------------------------------------------------------- the story


def run(manifest_dir: Path, work: Path, backend: str = "embedded") -> None:
    from kubernetes.client import CoreV1Api

    from constrained_impersonation import ImpersonationDenied, NodeSession, OutOfScopeError
    from constrained_impersonation.testing import KUBE_VERSION, APIServer, KubeAPIServer

    from .__main__ import agent_scope

    started = time.monotonic()
    server_class = KubeAPIServer if backend == "kube" else APIServer
    with server_class(data_dir=work / "apiserver") as server:
        cluster = Sandbox(server, manifest_dir)

        if backend == "kube":
            section(f"1. An API server (the real kube-apiserver {KUBE_VERSION} with etcd)")
        else:
            section(f"1. An API server (embedded, kube {KUBE_VERSION} semantics, no cluster)")
        row("url", server.url)
        row("ConstrainedImpersonation", server.feature_gates.get("ConstrainedImpersonation"))

        section("2. Two nodes, Pods on both")
        cluster.create_nodes(NODE_A, NODE_B)
        cluster.create_namespace("shop")
        layout = [
            ("shop", "web-1", NODE_A, "10.244.1.11"),
            ("shop", "web-2", NODE_A, "10.244.1.12"),
            ("kube-system", "cni-a", NODE_A, None),
            ("shop", "web-3", NODE_B, "10.244.2.13"),
            ("shop", "db-1", NODE_B, "10.244.2.14"),
            ("kube-system", "cni-b", NODE_B, None),
        ]
        for ns, name, node, ip in layout:
            cluster.create_pod(pod_manifest(name, ns, node, host_network=ip is None), ip)
        for node in (NODE_A, NODE_B):
            row(node, ", ".join(f"{ns}/{n}" for ns, n, on, _ in layout if on == node))

        shown = manifest_dir.relative_to(manifest_dir.parents[1])
        section(f"3. kubectl apply -k {shown}/ (as admin, through the API)")
        for kind, created in cluster.apply_manifests().items():
            meta = created["metadata"]
            where = meta.get("namespace")
            row(f"created {kind}", f"{where}/{meta['name']}" if where else meta["name"])
        note("the ClusterRole grants exactly (and the service account nothing else):")
        for rule in cluster.applied["ClusterRole"]["rules"]:
            group = rule["apiGroups"][0] or "core"
            print(f"    {', '.join(rule['verbs'])}")
            print(f"      on {group}/{','.join(rule['resources'])}")

        section(f"4. The agent's Pod on {NODE_A} and its pod-bound token (TokenRequest)")
        agent_pod = cluster.agent_pod(NODE_A)
        agent_pod_name = f"{AGENT_NAMESPACE}/{agent_pod['metadata']['name']}"
        row("pod (from the DaemonSet)", f"{agent_pod_name} on {agent_pod['spec']['nodeName']}")
        token = cluster.agent_token(agent_pod)
        identity = cluster.whoami(token)
        extra = identity.get("extra") or {}
        row("token authenticates as", identity.get("username"))
        row("groups", ", ".join(identity.get("groups") or []))
        for key in ("pod-name", "node-name"):
            row(f"extra {key}", ", ".join(extra.get(f"authentication.kubernetes.io/{key}") or []))
        expect(
            extra.get("authentication.kubernetes.io/node-name") == [NODE_A],
            "the token carries node-name node-a",
        )
        kubeconfig = server.kubeconfig(token, path=work / "agent.kubeconfig")

        section(f"5. cimp-node-agent for {NODE_A} (NODE_NAME={NODE_A}, KUBECONFIG=<that token>)")
        agent = AgentProcess(kubeconfig, NODE_A, work / "run" / "pods.json")
        try:
            ready = agent.wait("/readyz", lambda: agent.get("/readyz")[0] == 200)
            row("ready after", f"{ready * 1000:.0f} ms (process start to first complete list)")
            show_log(agent.logs, "listed pods", "node", "pods", "resourceVersion")
            print_inventory(agent.pods())
            expected = {f"{ns}/{n}" for ns, n, node, _ in layout if node == NODE_A}
            expected.add(agent_pod_name)
            expect(agent.names() == expected, f"inventory is exactly node-a's: {agent.names()}")
            note(f"exactly the {len(expected)} Pods bound to {NODE_A}; nothing from {NODE_B}")

            print()
            note("follow the cluster:")
            sent = time.monotonic()
            cluster.create_pod(pod_manifest("web-4", "shop", NODE_A))
            agent.wait("web-4", lambda: "shop/web-4" in agent.names())
            took = time.monotonic() - sent
            row("  + shop/web-4 on node-a", f"in /pods {took * 1000:.0f} ms after the create")
            cluster.set_running("shop", "web-4", "10.244.1.14")
            agent.wait("web-4 IP", lambda: "10.244.1.14" in json.dumps(agent.pods()))
            row("    (kubelet: Running)", "podIPs [10.244.1.14] in /pods")
            cluster.create_pod(pod_manifest("web-5", "shop", NODE_B), "10.244.2.15")
            sent = time.monotonic()
            cluster.delete_pod("shop", "web-1")
            agent.wait("web-1 gone", lambda: "shop/web-1" not in agent.names())
            took = time.monotonic() - sent
            row("  - shop/web-1 deleted", f"gone from /pods {took * 1000:.0f} ms after the delete")
            expect("shop/web-5" not in agent.names(), "node-b's new pod stays invisible")
            row("  + shop/web-5 on node-b", "not visible (another node)")
            agent.wait("file", lambda: _file_names(agent.output) == agent.names())
            mode = f"{agent.output.stat().st_mode & 0o777:04o}"
            in_file = len(json.loads(agent.output.read_text())["pods"])
            row("  file", f"{agent.output.name}: {in_file} pods, mode {mode}")

            section("6. What the agent cannot do (same token; the server's answers)")
            session = NodeSession(server.api_client(token), node=NODE_A, scope=agent_scope())
            status, body = raw_request(session.api_client, "GET", "/api/v1/pods")
            expect(status == 403, f"listing all pods is refused (got {status})")
            row("list every Pod (no selector)", f"HTTP {status} (Node authorizer)")
            wrap(body.get("message", ""), indent=6)

            other = NodeSession(server.api_client(token), node=NODE_B, scope=agent_scope())
            try:
                CoreV1Api(other.api_client).list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={NODE_B}", _preload_content=False
                )
                raise DemoFailure("impersonating node-b succeeded")
            except ImpersonationDenied as exc:
                row(f"impersonate {NODE_B}", f"HTTP 403, {type(exc).__name__}")
                wrap(str(exc.status.get("message", "")), indent=6)
                note(f"    (the token is bound to {NODE_A}, so associated-node does not apply;")
                note(f"     the server fell back to {exc.mode} and found no grant for it)")

            try:
                CoreV1Api(session.api_client).delete_namespaced_pod("web-2", "shop")
                raise DemoFailure("deleting a pod was sent")
            except OutOfScopeError as exc:
                row("delete a Pod (through the SDK)", "refused locally, nothing sent")
                wrap(f"OutOfScopeError: {str(exc).split(';')[0]}", indent=6)

            forced = server.api_client(token)
            forced.set_default_header("Impersonate-User", f"system:node:{NODE_A}")
            status, body = raw_request(forced, "DELETE", "/api/v1/namespaces/shop/pods/web-2")
            expect(status == 403, f"a forced delete is refused (got {status})")
            row("delete a Pod (raw, forced)", f"HTTP {status} (impersonation refused)")
            wrap(body.get("message", ""), indent=6)
            expect("shop/web-2" in cluster.pods_on(NODE_A), "web-2 still exists")

            section("7. Audit: who asked, as whom, under which constraint")
            print_audit(server.audit_events(), str(identity.get("username", "")))

            section("8. SIGTERM")
            code, took = agent.stop()
            expect(code == 0, f"agent exit status {code}")
            row("exit status", f"{code} after {took * 1000:.0f} ms")
            show_log(agent.logs, "agent stopped", "pods", "seconds")
        finally:
            if agent.process.poll() is None:
                agent.process.kill()
                agent.process.wait()
    print()
    note(f"demo finished in {time.monotonic() - started:.1f} s")


def show_log(logs: list[dict[str, Any]], message: str, *keys: str) -> None:
    """One of the agent's JSON log lines, reduced to ``keys`` to fit the width."""
    line = next((entry for entry in logs if entry.get("msg") == message), None)
    if line is not None:
        shown = {k: line[k] for k in ("level", "msg", *keys) if k in line}
        note("log " + json.dumps(shown, separators=(",", ":")))


def _file_names(path: Path) -> set[str]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return set()
    return {f"{p['namespace']}/{p['name']}" for p in document.get("pods", [])}


def print_audit(events: list[dict[str, Any]], requestor: str) -> None:
    """One line per distinct request the agent's identity made, with the constraint used."""
    seen: set[tuple[str, str, int]] = set()
    lines: list[str] = []
    constrained = 0
    for event in events:
        if (event.get("user") or {}).get("username") != requestor:
            continue
        if event.get("stage") not in ("ResponseComplete", "ResponseStarted"):
            continue
        uri = str(event.get("requestURI", ""))
        code = int((event.get("responseStatus") or {}).get("code") or 0)
        verb = str(event.get("verb", ""))
        key = (verb, uri.split("&resourceVersion", maxsplit=1)[0], code)
        if key in seen:
            continue
        seen.add(key)
        as_user = (event.get("impersonatedUser") or {}).get("username", "-")
        constraint = (event.get("authenticationMetadata") or {}).get("impersonationConstraint", "")
        if constraint == "impersonate:associated-node":
            constrained += 1
        lines.append(f"    {verb:<6} {code:<4} as {as_user:<20} {constraint or '(none)'}")
        lines.append(f"           {short(uri, WIDTH - 11)}")
    note(f"user {requestor}")
    for line in lines[:24]:
        print(line)
    expect(constrained > 0, "audit shows impersonationConstraint impersonate:associated-node")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node_agent.demo", description=__doc__)
    parser.add_argument("--manifests", type=Path, default=manifests.DEFAULT_DIR)
    parser.add_argument(
        "--apiserver",
        choices=("embedded", "kube"),
        default=os.environ.get("CIMP_APISERVER") or "embedded",
        help="the embedded server (default) or the real kube-apiserver built by `make kube`",
    )
    args = parser.parse_args(argv)
    from constrained_impersonation.testing import KubeAPIServerError, KubeBinariesNotFound

    with _workdir() as work:
        try:
            run(args.manifests.resolve(), work, args.apiserver)
        except (DemoFailure, SandboxError, KubeBinariesNotFound, KubeAPIServerError) as exc:
            print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
            return 1
    return 0


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cimp-demo-") as tmp:
        yield Path(tmp)


if __name__ == "__main__":
    sys.exit(main())
