"""kubectl, unmodified and without extra flags, against an API server.

The embedded server is driven by the image's kubectl 1.33; with ``--apiserver=kube`` a real
kube-apiserver is driven by the kubectl built beside it (the same release).

Every command of issue 5 point 1: get, describe, apply (create, re-apply, unchanged), apply -k,
apply --dry-run=server, delete, auth can-i, auth whoami, create token, --as/--as-group/
--as-uid, get -w; plus the typed ``create`` commands that speak protobuf, and applying the
sample agent's ``deploy/daemonset/``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .._backends import serve_kubevirt
from ._capture import find_kubectl

KUBECTL = find_kubectl("1.33")
REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.kubectl]


class Kubectl:
    """Runs kubectl with its own kubeconfig, cache and HOME (nothing leaks between users)."""

    def __init__(self, kubeconfig: str, home: Path, binary: str | None = KUBECTL) -> None:
        self.kubeconfig, self.home = kubeconfig, home
        if binary is None:
            pytest.skip("kubectl 1.33 not installed")
        self.binary = binary
        home.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": self.kubeconfig, "HOME": str(self.home)}

    def argv(self, *args: str) -> list[str]:
        return [self.binary, f"--cache-dir={self.home / 'cache'}", *args]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            input=stdin,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}\n{result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[Any]:
    with apiserver_class() as running:
        serve_kubevirt(running)  # KubeVirt's CRD, on both backends
        yield running


def kubectl_of(server: Any) -> str | None:
    """The kubectl of the server's release if it has one (kube), else the image's 1.33."""
    own = getattr(server, "kubectl", None)
    return str(own) if own is not None else KUBECTL


@pytest.fixture(scope="module")
def admin(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server.kubeconfig(), tmp_path_factory.mktemp("admin"), kubectl_of(server))


@pytest.fixture(scope="module")
def namespace(admin: Kubectl) -> str:
    admin.ok("create", "namespace", "kubectl-e2e")
    return "kubectl-e2e"


def user(server: Any, tmp: Path, name: str, groups: tuple[str, ...] = ()) -> Kubectl:
    token = server.add_user(name, groups=groups)
    return Kubectl(server.kubeconfig(token), tmp / name, kubectl_of(server))


CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "labels": {"app": "demo"}},
    "data": {"mode": "blue", "size": "3"},
}
DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {
                "containers": [
                    {
                        "name": "agent",
                        "image": "example/agent:1",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 9102}],
                    }
                ],
                "tolerations": [{"operator": "Exists"}],
            },
        },
    },
}
VMI = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {"name": "vm1"},
    "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}},
}


def write(path: Path, *objects: dict[str, Any]) -> Path:
    path.write_text("\n---\n".join(json.dumps(o) for o in objects))
    return path


# --- version and discovery --------------------------------------------------------------------


def test_version_and_api_resources(admin: Kubectl, apiserver_backend: str) -> None:
    info = json.loads(admin.ok("version", "-o", "json"))["serverVersion"]
    expected = ("1", "37")  # both report the pinned reference release
    assert (info["major"], info["minor"]) == expected
    names = admin.ok("api-resources", "-o", "name").split()
    for name in (
        "pods",
        "configmaps",
        "secrets",
        "daemonsets.apps",
        "virtualmachineinstances.kubevirt.io",
        "selfsubjectreviews.authentication.k8s.io",
    ):
        assert name in names


# --- typed create commands (protobuf bodies) --------------------------------------------------


def test_typed_create_commands(admin: Kubectl, namespace: str) -> None:
    ns = ("-n", namespace)
    assert "serviceaccount/bob created" in admin.ok("create", "sa", "bob", *ns)
    admin.ok("create", "secret", "generic", "creds", "--from-literal=user=admin", *ns)
    secret = admin.json("get", "secret", "creds", *ns)
    assert secret["data"] == {"user": "YWRtaW4="}
    admin.ok("create", "configmap", "plain", "--from-literal=a=b", *ns)
    assert admin.json("get", "cm", "plain", *ns)["data"] == {"a": "b"}
    admin.ok("create", "role", "reader", "--verb=get,list,watch", "--resource=configmaps", *ns)
    admin.ok("create", "rolebinding", "reader", "--role=reader", "--user=carol", *ns)
    admin.ok("create", "clusterrole", "agg", "--aggregation-rule=e2e/agg=true")
    admin.ok("create", "clusterrolebinding", "agg", "--clusterrole=agg", "--user=carol")
    binding = admin.json("get", "rolebinding", "reader", *ns)
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}
    ]


# --- apply ------------------------------------------------------------------------------------


def test_apply_create_reapply_and_unchanged(admin: Kubectl, namespace: str, tmp_path: Path) -> None:
    ns = ("-n", namespace)
    manifest = write(tmp_path / "app.yaml", CONFIGMAP, DAEMONSET, VMI)
    out = admin.ok("apply", "-f", str(manifest), *ns)
    assert "configmap/settings created" in out
    assert "daemonset.apps/agent created" in out
    assert "virtualmachineinstance.kubevirt.io/vm1 created" in out
    cm = admin.json("get", "cm", "settings", *ns)
    assert "kubectl.kubernetes.io/last-applied-configuration" in cm["metadata"]["annotations"]

    out = admin.ok("apply", "-f", str(manifest), *ns)
    assert out.count("unchanged") == 3, out

    changed_cm = json.loads(json.dumps(CONFIGMAP))
    changed_cm["data"] = {"mode": "green"}
    changed_ds = json.loads(json.dumps(DAEMONSET))
    containers = changed_ds["spec"]["template"]["spec"]["containers"]
    containers[0]["env"] = [{"name": "B", "value": "3"}]
    containers.insert(0, {"name": "sidecar", "image": "example/side:1"})
    changed_vmi = json.loads(json.dumps(VMI))
    changed_vmi["spec"]["domain"]["cpu"] = {"cores": 2}
    write(manifest, changed_cm, changed_ds, changed_vmi)
    out = admin.ok("apply", "-f", str(manifest), *ns)
    assert out.count("configured") == 3, out
    assert admin.json("get", "cm", "settings", *ns)["data"] == {"mode": "green"}
    spec = admin.json("get", "ds", "agent", *ns)["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["sidecar", "agent"]
    assert spec["containers"][1]["env"] == [{"name": "B", "value": "3"}]
    vmi = admin.json("get", "vmi", "vm1", *ns)
    assert vmi["spec"]["domain"]["cpu"] == {"cores": 2}


def test_apply_dry_run_server_stores_nothing(
    admin: Kubectl, namespace: str, tmp_path: Path
) -> None:
    dry = json.loads(json.dumps(CONFIGMAP))
    dry["metadata"]["name"] = "dry"
    out = admin.ok("apply", "--dry-run=server", "-f", str(write(tmp_path / "d.yaml", dry)))
    assert "configmap/dry created (server dry run)" in out
    missing = admin.run("get", "cm", "dry", "-n", "default")
    assert missing.returncode == 1
    assert "NotFound" in missing.stderr


def test_apply_kustomize(admin: Kubectl, tmp_path: Path) -> None:
    admin.ok("create", "namespace", "kustomized")
    base = tmp_path / "base"
    base.mkdir()
    write(base / "cm.yaml", CONFIGMAP)
    (base / "kustomization.yaml").write_text(
        "namespace: kustomized\nnamePrefix: k-\nresources: [cm.yaml]\n"
    )
    assert "configmap/k-settings created" in admin.ok("apply", "-k", str(base))
    assert admin.json("get", "cm", "k-settings", "-n", "kustomized")["data"]["mode"] == "blue"


def test_apply_a_list_file(admin: Kubectl, namespace: str, tmp_path: Path) -> None:
    listed = json.loads(json.dumps(CONFIGMAP))
    listed["metadata"] = {"name": "from-list", "labels": {"app": "listed"}}
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [listed]}))
    assert "configmap/from-list created" in admin.ok("apply", "-f", str(path), "-n", namespace)


def test_apply_the_agent_daemonset(admin: Kubectl) -> None:
    directory = REPO / "deploy" / "daemonset"
    if not (directory / "kustomization.yaml").exists():
        pytest.skip("deploy/daemonset/ not in this tree")
    out = admin.ok("apply", "-k", str(directory))
    assert "daemonset.apps/" in out
    again = admin.ok("apply", "-k", str(directory))
    assert "created" not in again


# --- read -------------------------------------------------------------------------------------


def test_get_and_describe(admin: Kubectl, namespace: str, tmp_path: Path) -> None:
    ns = ("-n", namespace)
    admin.ok("apply", "-f", str(write(tmp_path / "cm.yaml", CONFIGMAP)), *ns)
    table = admin.ok("get", "configmaps", *ns)
    assert table.splitlines()[0].split()[:3] == ["NAME", "DATA", "AGE"]
    assert "settings" in table
    assert admin.ok("get", "cm", "-l", "app=demo", "-o", "name", *ns).split() == [
        "configmap/settings"
    ]
    described = admin.ok("describe", "configmap", "settings", *ns)
    assert "Name:" in described
    assert "settings" in described
    assert "Labels:" in described
    assert "kubectl-e2e" in admin.ok("get", "namespaces")
    admin.ok("get", "all", *ns)
    admin.ok("describe", "namespace", namespace)


def test_get_watch_streams_table_rows(admin: Kubectl, namespace: str) -> None:
    proc = subprocess.Popen(
        admin.argv("get", "cm", "-n", namespace, "-w", "--output-watch-events"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=admin.env(),
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        header = lines.get(timeout=20)  # the initial list has been printed: the watch is next
        assert header.split()[:2] == ["EVENT", "NAME"]
        time.sleep(0.5)
        admin.ok("create", "configmap", "watched", "--from-literal=x=y", "-n", namespace)
        admin.ok("delete", "configmap", "watched", "-n", namespace)
        deadline = time.monotonic() + 20
        events: list[tuple[str, str]] = []
        while time.monotonic() < deadline and ("DELETED", "watched") not in events:
            try:
                event, name, *_ = lines.get(timeout=0.5).split()
            except queue.Empty:
                continue
            events.append((event, name))
        assert ("ADDED", "watched") in events, events
        assert ("DELETED", "watched") in events, events
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- delete -----------------------------------------------------------------------------------


def test_delete(admin: Kubectl, namespace: str) -> None:
    ns = ("-n", namespace)
    admin.ok("create", "configmap", "doomed", "--from-literal=a=b", *ns)
    assert 'configmap "doomed" deleted' in admin.ok("delete", "configmap", "doomed", *ns)
    gone = admin.run("get", "configmap", "doomed", *ns)
    assert gone.returncode == 1
    assert "NotFound" in gone.stderr
    missing = admin.run("delete", "configmap", "doomed", *ns)
    assert missing.returncode == 1
    assert "NotFound" in missing.stderr


@pytest.mark.embedded_only("namespace controller (no kube-controller-manager runs)")
def test_delete_namespace_cascades(admin: Kubectl) -> None:
    admin.ok("create", "namespace", "short-lived")
    admin.ok("create", "configmap", "c", "--from-literal=a=b", "-n", "short-lived")
    admin.ok("delete", "namespace", "short-lived", "--timeout=60s")
    gone = admin.run("get", "namespace", "short-lived")
    assert gone.returncode == 1


# --- identity -------------------------------------------------------------------------------


def test_auth_whoami(server: Any, tmp_path: Path) -> None:
    alice = user(server, tmp_path, "alice", ("dev", "ops"))
    review = json.loads(alice.ok("auth", "whoami", "-o", "json"))
    info = review["status"]["userInfo"]
    assert info["username"] == "alice"
    assert {"dev", "ops", "system:authenticated"} <= set(info["groups"])
    assert "alice" in alice.ok("auth", "whoami")


def test_auth_can_i(server: Any, admin: Kubectl, namespace: str, tmp_path: Path) -> None:
    dave = user(server, tmp_path, "dave")
    denied = dave.run("auth", "can-i", "list", "configmaps", "-n", namespace)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    admin.ok("create", "role", "cm-reader", "--verb=list", "--resource=configmaps", "-n", namespace)
    admin.ok("create", "rolebinding", "dave", "--role=cm-reader", "--user=dave", "-n", namespace)
    deadline = time.monotonic() + 10
    while True:  # authorizer caches may take a moment to see the binding
        allowed = dave.run("auth", "can-i", "list", "configmaps", "-n", namespace)
        if allowed.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert allowed.stdout.strip() == "yes"
    assert admin.ok("auth", "can-i", "*", "*").strip() == "yes"
    listed = dave.ok("auth", "can-i", "--list", "-n", namespace)
    assert "configmaps" in listed
    assert dave.run("auth", "can-i", "get", "/healthz").returncode in (0, 1)


def test_impersonation_flags(admin: Kubectl) -> None:
    review = json.loads(
        admin.ok(
            "auth",
            "whoami",
            "-o",
            "json",
            "--as=erin",
            "--as-group=g1",
            "--as-group=g2",
            "--as-uid=42",
        )
    )
    info = review["status"]["userInfo"]
    assert info["username"] == "erin"
    assert info["uid"] == "42"
    assert {"g1", "g2"} <= set(info["groups"])


def test_impersonation_is_refused_without_permission(server: Any, tmp_path: Path) -> None:
    frank = user(server, tmp_path, "frank")
    # A typed command needs no discovery, so kubectl shows the server's own message.
    refused = frank.run("create", "configmap", "x", "--from-literal=a=b", "--as=root")
    assert refused.returncode == 1
    assert 'configmaps is forbidden: User "frank" cannot impersonate' in refused.stderr
    # Discovery failing first: kubectl 1.33 cannot decode that Status and says "unknown",
    # as it does against kube-apiserver.
    listed = frank.run("get", "pods", "--as=root")
    assert listed.returncode == 1
    assert "Error from server (Forbidden)" in listed.stderr


def test_create_token(admin: Kubectl, namespace: str) -> None:
    admin.run("create", "sa", "tok", "-n", namespace)
    token = admin.ok("create", "token", "tok", "-n", namespace, "--duration=10m").strip()
    assert token.count(".") == 2
    bound = admin.ok("create", "token", "tok", "-n", namespace, "--audience=api").strip()
    assert bound.count(".") == 2


# --- the CLI server -----------------------------------------------------------------------------


def test_cimp_apiserver_serves_kubectl(tmp_path: Path) -> None:
    """The issue's check: kubectl 1.33 against ``cimp apiserver``, the agent's manifests too."""
    cimp = Path(sys.executable).with_name("cimp")
    if not cimp.exists():
        pytest.skip("cimp console script not installed")
    kubeconfig = tmp_path / "admin.kubeconfig"
    proc = subprocess.Popen(
        [
            str(cimp),
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()  # the URL, printed once serving
        assert "https://127.0.0.1:" in ready, ready
        admin = Kubectl(str(kubeconfig), tmp_path / "home")
        assert "default" in admin.ok("get", "namespaces")
        directory = REPO / "deploy" / "daemonset"
        if (directory / "kustomization.yaml").exists():
            assert "daemonset.apps/" in admin.ok("apply", "-k", str(directory))
            assert "daemonset.apps/" in admin.ok("apply", "-k", str(directory), "--dry-run=server")
        admin.ok("create", "namespace", "cli")
        admin.ok("create", "sa", "robot", "-n", "cli")
        assert admin.ok("create", "token", "robot", "-n", "cli").count(".") == 2
        assert admin.ok("auth", "can-i", "create", "pods").strip() == "yes"
        assert "kubernetes-admin" in admin.ok("auth", "whoami")
        assert 'namespace "cli" deleted' in admin.ok("delete", "namespace", "cli")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
