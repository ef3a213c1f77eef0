"""Every shipped container runs as its manifest declares, on files the way the kubelet mounts them.

Each container's real entry point (``cimp-deputy``, ``cimp-node-agent``, the init container's
``chown``) runs as the uid, gid and supplementary groups (fsGroup) of its security context,
root containers with only the capabilities they add, against Secret, projected-token and
hostPath volumes written with the kubelet's owners and modes (``_kubelet.py`` says which
rules, from kubernetes v1.37.2 pkg/volume). A manifest whose process cannot read its key or
token, or write its output, fails here instead of crash-looping in a cluster: the deputy
without ``fsGroup`` is one such case, checked below.
"""

from __future__ import annotations

import copy
import json
import re
import ssl
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from .._tls import tls_secret_data
from ._kubelet import (
    CONTAINER_PATH,
    REPO,
    Interpreter,
    Node,
    RunAs,
    Unsupported,
    Volumes,
    all_containers,
    free_port,
    image_user,
    interpreter_for,
    run_as,
    translate,
    wait_exit,
)

DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"
NODE = "node-a"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# (directory, workload file, objects the test cluster needs besides the workload itself)
WORKLOADS = {
    "deputy": (
        DEPLOY / "deputy",
        "deployment.yaml",
        ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml"),
    ),
    "daemonset": (
        DEPLOY / "daemonset",
        "daemonset.yaml",
        ("namespace.yaml", "serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml"),
    ),
}


def workload(name: str) -> dict[str, Any]:
    directory, filename, _ = WORKLOADS[name]
    [document] = [d for d in yaml.safe_load_all((directory / filename).read_text()) if d]
    result: dict[str, Any] = document
    return result


def tls_pair() -> dict[str, bytes]:
    """A ``kubernetes.io/tls`` Secret's data: a serving certificate (with its CA) and key."""
    return tls_secret_data("deputy.cimp-deputy.svc")


@pytest.fixture
def node() -> Iterator[Node]:
    try:
        playing = Node()
    except Unsupported as exc:
        pytest.skip(str(exc))
    try:
        yield playing
    finally:
        playing.close()


class Pod:
    """One Pod of a workload on ``node``: its volumes written, its containers startable."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        node: Node,
        namespace: str,
        *,
        token: bytes = b"not-a-token",
        ca: bytes | None = None,
        api: tuple[str, int] = ("127.0.0.1", 1),
    ) -> None:
        self.spec = spec
        self.node = node
        self.namespace = namespace
        self.api = api
        tls = tls_pair()
        self.volumes = Volumes(
            spec,
            node,
            secrets={"cimp-deputy-tls": tls},
            # Without an API server, any well-formed CA does.
            config_maps={"kube-root-ca.crt": {"ca.crt": ca or tls["tls.crt"]}},
            token=token,
            namespace=namespace,
        ).build()
        self.image = image_user(DOCKERFILE)
        self.ports: dict[int, int] = {}
        for container in all_containers(spec):
            for port in container.get("ports") or ():
                self.ports[int(port["containerPort"])] = free_port()

    def who(self, container: Mapping[str, Any]) -> RunAs:
        return run_as(self.spec, container, self.image)

    def env(self, container: Mapping[str, Any]) -> dict[str, str]:
        """What the kubelet and the image give the process (pod IP and host IP: loopback)."""
        fields = {
            "spec.nodeName": NODE,
            "status.hostIP": "127.0.0.1",
            "status.podIP": "127.0.0.1",
            "metadata.namespace": self.namespace,
        }
        env = {
            "PATH": CONTAINER_PATH,
            "HOME": "/",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "KUBERNETES_SERVICE_HOST": self.api[0],
            "KUBERNETES_SERVICE_PORT": str(self.api[1]),
        }
        for entry in container.get("env") or ():
            if "value" in entry:
                env[entry["name"]] = str(entry["value"])
            else:
                env[entry["name"]] = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
        mounts = self.volumes.mounts(container)
        if SERVICE_ACCOUNT_DIR in mounts:
            # The SDK's documented override of where the in-cluster token and CA are.
            env["CIMP_SERVICEACCOUNT_DIR"] = str(mounts[SERVICE_ACCOUNT_DIR])
        return env

    def argv(self, container: Mapping[str, Any], interpreter: Interpreter) -> list[str]:
        env = self.env(container)
        mounts = self.volumes.mounts(container)
        command = list(container.get("command") or self.entrypoint())
        args = [
            re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), a)
            for a in container.get("args") or ()
        ]
        args = [translate(a, mounts) for a in args]
        for port, local in self.ports.items():
            args = [re.sub(rf":{port}$", f":{local}", a) for a in args]
        return interpreter.argv([translate(c, mounts) for c in command] + args)

    def entrypoint(self) -> list[str]:
        lines = [
            line for line in DOCKERFILE.read_text().splitlines() if line.startswith("ENTRYPOINT ")
        ]
        result: list[str] = json.loads(lines[-1].removeprefix("ENTRYPOINT "))
        return result

    def start(self, container: Mapping[str, Any]) -> Any:
        """Start the container's process; skip the test if this machine cannot."""
        who = self.who(container)
        try:
            interpreter = interpreter_for(who, self.node.root)
            argv = self.argv(container, interpreter)
            return self.node.start(container["name"], argv, who, self.env(container))
        except Unsupported as exc:
            pytest.skip(str(exc))

    def run_init_containers(self) -> None:
        for container in self.spec.get("initContainers") or ():
            process = self.start(container)
            code = wait_exit(process, 30)
            assert code == 0, (
                f"init container {container['name']}: {self.node.log(container['name'])}"
            )

    def probe_url(self, container: Mapping[str, Any], probe: str) -> str:
        get = container[probe]["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            [port] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
        scheme = str(get.get("scheme", "HTTP")).lower()
        host = get.get("host") or "127.0.0.1"  # the pod IP; here, this machine
        return f"{scheme}://{host}:{self.ports.get(int(port), int(port))}{get['path']}"


def http_status(url: str, headers: Mapping[str, str] | None = None) -> int:
    """The kubelet's way: HTTPS without verifying the certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def wait_ready(pod: Pod, container: Mapping[str, Any], process: Any, timeout: float = 60) -> None:
    url = pod.probe_url(container, "readinessProbe")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{container['name']} exited {process.returncode}: {pod.node.log(container['name'])}"
            )
        if http_status(url) == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"{container['name']} not ready at {url}: {pod.node.log(container['name'])}")


def create_pod(apiserver: Any, name: str) -> tuple[str, str, dict[str, Any]]:
    """The workload's RBAC and its Pod (from its own template) on ``NODE``; returns the
    namespace, the Pod name and its spec."""
    directory, _, needed = WORKLOADS[name]
    apiserver.apply(*(directory / f for f in needed))
    apiserver.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    template = copy.deepcopy(workload(name)["spec"]["template"])
    namespace = workload(name)["metadata"]["namespace"]
    pod_name = f"{workload(name)['metadata']['name']}-{NODE}"
    spec = template["spec"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": pod_name, "namespace": namespace},
        "spec": {**spec, "nodeName": NODE},
    }
    apiserver.apply(pod)
    return namespace, pod_name, spec


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_container_runs_as_declared_on_files_moded_as_the_kubelet_mounts_them(
    apiserver: Any, node: Node, name: str
) -> None:
    namespace, pod_name, spec = create_pod(apiserver, name)
    token = apiserver.token_for(namespace, spec["serviceAccountName"], pod=pod_name)
    url = re.fullmatch(r"https://([^:/]+):(\d+)/?", apiserver.url)
    assert url is not None
    pod = Pod(
        spec,
        node,
        namespace,
        token=token.encode(),
        ca=Path(apiserver.ca_file).read_bytes(),
        api=(url[1], int(url[2])),
    )
    pod.run_init_containers()
    [container] = spec["containers"]
    process = pod.start(container)
    wait_ready(pod, container, process)
    assert http_status(pod.probe_url(container, "livenessProbe")) == 200

    if name == "deputy":
        # A console request makes the deputy review the user's token with its own
        # service-account token: the token file was readable.
        console = pod.probe_url(container, "readinessProbe").replace("/healthz", "/console/vms/vm1")
        assert http_status(console, {"Authorization": "Bearer not-a-user-token"}) == 401
        reviews = [
            e
            for e in apiserver.audit_events()
            if e["user"]["username"] == f"system:serviceaccount:{namespace}:deputy"
            and (e.get("objectRef") or {}).get("resource") == "tokenreviews"
        ]
        assert reviews, pod.node.log("deputy")
    else:
        # The agent listed its node's Pods with the pod-bound token and wrote the file a CNI
        # plugin reads into the hostPath the init container handed over.
        output = next(a for a in container["args"] if a.startswith("--output=")).split("=", 1)[1]
        written = Path(translate(output, pod.volumes.mounts(container)))
        info = written.stat()
        who = pod.who(container)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (who.uid, 0o644)
        document = json.loads(written.read_text())
        assert document["node"] == NODE
        assert f"{namespace}/{pod_name}" in {
            f"{p['namespace']}/{p['name']}" for p in document["pods"]
        }

    # SIGTERM ends it cleanly within the grace period the manifest gives.
    process.terminate()
    assert wait_exit(process, spec["terminationGracePeriodSeconds"]) == 0, pod.node.log(
        container["name"]
    )


def test_the_kubelet_modes_the_deputy_files_so_only_its_group_reads_the_key(node: Node) -> None:
    """What the deputy's pod gets: key root:65532 0440 (fsGroup), token 0640 owned by the
    deputy (fsUser: its only container's runAsUser), CA and namespace 0444."""
    spec = workload("deputy")["spec"]["template"]["spec"]
    pod = Pod(spec, node, "cimp-deputy")
    [container] = spec["containers"]
    mounts = pod.volumes.mounts(container)
    who = pod.who(container)
    fs_group = spec["securityContext"]["fsGroup"]
    assert who.groups == (fs_group,)

    def owner_mode(path: Path) -> tuple[int, int, int]:
        info = path.stat()
        return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)

    tls = mounts["/etc/cimp-deputy/tls"]
    assert owner_mode(tls / "tls.key") == (0, fs_group, 0o440)
    assert owner_mode(tls / "tls.crt") == (0, fs_group, 0o440)
    account = mounts[SERVICE_ACCOUNT_DIR]
    assert owner_mode(account / "token") == (who.uid, fs_group, 0o640)
    assert owner_mode(account / "ca.crt") == (0, fs_group, 0o444)
    assert owner_mode(account / "namespace") == (0, fs_group, 0o444)


def test_the_daemonset_token_is_readable_by_every_container_but_only_root_owned(
    node: Node,
) -> None:
    """Two different runAsUsers (the root init container and the agent) and no fsGroup: the
    kubelet writes the token with the volume's defaultMode, owned by root."""
    spec = workload("daemonset")["spec"]["template"]["spec"]
    assert "fsGroup" not in spec["securityContext"]
    pod = Pod(spec, node, "node-agents")
    agent = next(c for c in spec["containers"] if c["name"] == "agent")
    token = pod.volumes.mounts(agent)[SERVICE_ACCOUNT_DIR] / "token"
    info = token.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o444)
    run_dir = pod.volumes.mounts(agent)["/run/cimp"]
    info = run_dir.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o755)


def test_without_fs_group_the_deputy_cannot_read_its_key(node: Node) -> None:
    """The bug this file exists for: the deputy's Secret files belong to root, so without the
    fsGroup's group the non-root deputy gets EACCES on its key and exits 2."""
    spec = copy.deepcopy(workload("deputy")["spec"]["template"]["spec"])
    del spec["securityContext"]["fsGroup"]
    pod = Pod(spec, node, "cimp-deputy")
    [container] = spec["containers"]
    process = pod.start(container)
    code = wait_exit(process, 60)
    log = pod.node.log("deputy")
    assert code == 2, log
    assert "tls.key" in log and "Permission denied" in log, log


def test_the_init_container_needs_chown_and_the_agent_needs_the_init_container(
    node: Node,
) -> None:
    """The init container's one added capability is necessary (without it chown fails), and
    so is the init container: the kubelet's root-owned hostPath is not writable by the agent,
    which refuses to start (exit 2) rather than serve an inventory nobody can read."""
    spec = copy.deepcopy(workload("daemonset")["spec"]["template"]["spec"])
    [init] = spec["initContainers"]
    agent = next(c for c in spec["containers"] if c["name"] == "agent")
    pod = Pod(spec, node, "node-agents")
    without_chown = copy.deepcopy(init)
    without_chown["name"] = "own-run-dir-without-chown"
    without_chown["securityContext"]["capabilities"]["add"] = []
    assert wait_exit(pod.start(without_chown), 30) == 1
    assert "Operation not permitted" in pod.node.log(without_chown["name"])

    process = pod.start(agent)
    assert wait_exit(process, 60) == 2
    assert "--output" in pod.node.log("agent"), pod.node.log("agent")
