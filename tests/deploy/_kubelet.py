"""The kubelet's side of a Pod, played on this machine: volumes written with the owners and modes
the kubelet gives them, and each container's process run as the user, group and supplementary
groups its security context declares.

The rules, as kubernetes v1.37.2 implements them (pkg/volume):
- Secret and projected volumes are a tmpfs whose root the kubelet makes mode 0777 (emptydir
  ``setupDir``); the atomic writer puts the files in a ``..<timestamp>`` directory (0755) with
  ``..data`` and one symlink per key pointing into it. Files belong to root, mode = the item's
  ``mode`` else the volume's ``defaultMode`` (0644 when unset).
- A projected service-account token is mode 0600 instead when the pod has an fsGroup or an
  "fsUser" (``util.FsUserFrom``: every container, init containers included, runs as the same
  declared ``runAsUser``), and then belongs to that user.
- With an fsGroup (``SetVolumeOwnership``, read-only volumes): every file and directory gets
  group = fsGroup and mode |= 0440, directories also |= 0110 and setgid.
- hostPath ``DirectoryOrCreate`` creates a missing directory 0755 owned by root; nothing else.
- The container process runs as runAsUser/runAsGroup (container's context over the pod's, else
  the image's USER), with supplementary groups fsGroup and supplementalGroups.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
# Console scripts the image puts on its PATH (/opt/venv/bin); here, the checkout's venv.
IMAGE_SCRIPTS = ("cimp", "cimp-node-agent", "cimp-deputy")
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

RO_MASK = 0o440
EXEC_MASK = 0o110
TMPFS_ROOT_MODE = 0o777
TIMESTAMP_DIR_MODE = 0o755
DEFAULT_VOLUME_MODE = 0o644
HOSTPATH_DIR_MODE = 0o755


class Unsupported(Exception):
    """This machine cannot play the kubelet (not root, no usable interpreter); skip, saying why."""


@dataclass(frozen=True)
class RunAs:
    """Who a container's process is, and which capabilities it keeps."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    capabilities: tuple[str, ...] = ()
    no_new_privs: bool = True


def image_user(dockerfile: Path) -> tuple[int, int]:
    """The final stage's numeric ``USER uid:gid``."""
    user = [
        line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")
    ]
    uid, _, gid = user[-1].partition(":")
    return int(uid), int(gid or uid)


def run_as(pod: Mapping[str, Any], container: Mapping[str, Any], image: tuple[int, int]) -> RunAs:
    pod_context = pod.get("securityContext") or {}
    context = container.get("securityContext") or {}
    uid = context.get("runAsUser", pod_context.get("runAsUser", image[0]))
    gid = context.get("runAsGroup", pod_context.get("runAsGroup", image[1]))
    groups = []
    if pod_context.get("fsGroup") is not None:
        groups.append(int(pod_context["fsGroup"]))
    groups += [int(g) for g in pod_context.get("supplementalGroups") or ()]
    capabilities = context.get("capabilities") or {}
    added = tuple(str(c).upper() for c in capabilities.get("add") or ())
    return RunAs(
        uid=int(uid),
        gid=int(gid),
        groups=tuple(dict.fromkeys(groups)),
        capabilities=added,
        no_new_privs=context.get("allowPrivilegeEscalation") is False,
    )


def all_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(pod.get("initContainers") or ()), *(pod.get("containers") or ())]


def fs_user(pod: Mapping[str, Any]) -> int | None:
    """``util.FsUserFrom``: the one runAsUser every container declares, else None."""
    users = set()
    for container in all_containers(pod):
        context = container.get("securityContext") or {}
        uid = context.get("runAsUser", (pod.get("securityContext") or {}).get("runAsUser"))
        if uid is None:
            return None
        users.add(int(uid))
    return users.pop() if len(users) == 1 else None


def set_volume_ownership(root: Path, fs_group: int) -> None:
    """``SetVolumeOwnership`` for a read-only volume (secret, projected)."""
    paths = [root, *sorted(root.rglob("*"))]
    for path in paths:
        os.lchown(path, -1, fs_group)
        if path.is_symlink():
            continue
        mode = path.lstat().st_mode & 0o7777
        mask = RO_MASK | (EXEC_MASK | 0o2000 if path.is_dir() else 0)
        path.chmod(mode | mask)


@dataclass(frozen=True)
class Projection:
    """One file of an atomically written volume."""

    data: bytes
    mode: int
    owner: int = 0


def write_atomic_volume(root: Path, files: Mapping[str, Projection]) -> None:
    """The atomic writer's layout: ``..<ts>/`` holds the files, ``..data`` and keys link in."""
    root.mkdir(parents=True)
    root.chmod(TMPFS_ROOT_MODE)
    stamp = root / time.strftime("..%Y_%m_%d_%H_%M_%S.0000", time.gmtime())
    stamp.mkdir()
    stamp.chmod(TIMESTAMP_DIR_MODE)
    for key, projection in files.items():
        path = stamp / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(projection.data)
        path.chmod(projection.mode)
        os.lchown(path, projection.owner, -1)
    (root / "..data").symlink_to(stamp.name)
    for key in {k.split("/", 1)[0] for k in files}:
        (root / key).symlink_to(f"..data/{key}")


@dataclass
class Volumes:
    """What the kubelet mounts for one Pod: volume name -> directory on this node."""

    pod: Mapping[str, Any]
    node: Node
    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    config_maps: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    token: bytes = b""
    namespace: str = ""
    dirs: dict[str, Path] = field(default_factory=dict)

    def build(self) -> Volumes:
        pod_context = self.pod.get("securityContext") or {}
        fs_group = pod_context.get("fsGroup")
        for volume in self.pod.get("volumes") or ():
            name = str(volume["name"])
            root = self.node.root / "pods" / "volumes" / name
            if "secret" in volume:
                self._secret(root, volume["secret"])
            elif "projected" in volume:
                self._projected(root, volume["projected"], fs_group)
            elif "hostPath" in volume:
                root = self._host_path(volume["hostPath"])
            else:
                raise NotImplementedError(f"volume type of {volume!r}")
            if fs_group is not None and "hostPath" not in volume:
                set_volume_ownership(root, int(fs_group))
            self.dirs[name] = root
        return self

    def _secret(self, root: Path, source: Mapping[str, Any]) -> None:
        data = self.secrets[source["secretName"]]
        mode = int(source.get("defaultMode", DEFAULT_VOLUME_MODE))
        items = source.get("items")
        files = (
            {i["path"]: Projection(data[i["key"]], int(i.get("mode", mode))) for i in items}
            if items
            else {key: Projection(value, mode) for key, value in data.items()}
        )
        write_atomic_volume(root, files)

    def _projected(self, root: Path, source: Mapping[str, Any], fs_group: int | None) -> None:
        mode = int(source.get("defaultMode", DEFAULT_VOLUME_MODE))
        owner = fs_user(self.pod)
        files: dict[str, Projection] = {}
        for item in source.get("sources") or ():
            if "serviceAccountToken" in item:
                token_mode = 0o600 if owner is not None or fs_group is not None else mode
                files[item["serviceAccountToken"]["path"]] = Projection(
                    self.token, token_mode, owner or 0
                )
            elif "configMap" in item:
                data = self.config_maps[item["configMap"]["name"]]
                for entry in item["configMap"].get("items") or ():
                    files[entry["path"]] = Projection(
                        data[entry["key"]], int(entry.get("mode", mode))
                    )
            elif "downwardAPI" in item:
                for entry in item["downwardAPI"]["items"]:
                    if entry.get("fieldRef", {}).get("fieldPath") != "metadata.namespace":
                        raise NotImplementedError(f"downward API item {entry!r}")
                    files[entry["path"]] = Projection(
                        self.namespace.encode(), int(entry.get("mode", mode))
                    )
            else:
                raise NotImplementedError(f"projected source {item!r}")
        write_atomic_volume(root, files)

    def _host_path(self, source: Mapping[str, Any]) -> Path:
        path = self.node.host_path(source["path"])
        kind = source.get("type", "")
        if kind == "DirectoryOrCreate" and not path.exists():
            path.mkdir(parents=True)
            path.chmod(HOSTPATH_DIR_MODE)
        elif kind in ("Directory", "DirectoryOrCreate"):
            assert path.is_dir(), f"hostPath {source['path']} is not a directory"
        return path

    def mounts(self, container: Mapping[str, Any]) -> dict[str, Path]:
        """Container mount path -> directory on this node."""
        return {m["mountPath"]: self.dirs[m["name"]] for m in container.get("volumeMounts") or ()}


def translate(value: str, mounts: Mapping[str, Path]) -> str:
    """A container path in a flag or argument, rewritten to where its volume is on this node."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        index = value.find(mount_path)
        if index >= 0 and value[index + len(mount_path) :][:1] in ("", "/"):
            return value[:index] + str(mounts[mount_path]) + value[index + len(mount_path) :]
    return value


class Node:
    """A directory standing for one node: its host paths and its pods' volumes.

    Made traversable (0711) by every user, as the kubelet's bind mounts would be reachable
    from inside the container; nothing in it is listable or readable by others."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise Unsupported("running processes as the manifests' users needs root")
        self.root = Path(tempfile.mkdtemp(prefix="cimp-node-"))
        self.root.chmod(0o711)
        (self.root / "pods" / "volumes").mkdir(parents=True)
        for path in (self.root / "pods", self.root / "pods" / "volumes"):
            path.chmod(0o711)
        self.logs = self.root / "logs"
        self.logs.mkdir(mode=0o700)
        self._processes: list[subprocess.Popen[bytes]] = []

    def host_path(self, path: str) -> Path:
        host = self.root / "host"
        if not host.exists():
            host.mkdir(mode=0o711)
            host.chmod(0o711)
        return host / path.lstrip("/")

    def start(
        self,
        name: str,
        argv: Sequence[str],
        who: RunAs,
        env: Mapping[str, str],
    ) -> subprocess.Popen[bytes]:
        """Start a container's process as ``who``; its output goes to ``logs/<name>``."""
        command = list(argv)
        if who.uid == 0:
            # A root container keeps only the capabilities it adds (drop ALL, add ...).
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                raise Unsupported("setpriv (util-linux) is needed to drop root's capabilities")
            keep = "".join(f",+{c.lower()}" for c in who.capabilities)
            command = [
                setpriv,
                f"--bounding-set=-all{keep}",
                "--inh-caps=-all",
                *(["--no-new-privs"] if who.no_new_privs else []),
                "--",
                *command,
            ]
        log = (self.logs / name).open("wb")
        try:
            process = subprocess.Popen(
                command,
                user=who.uid,
                group=who.gid,
                extra_groups=list(who.groups),
                env=dict(env),
                cwd="/",
                umask=0o022,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.logs / name).read_text(errors="replace")

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class Interpreter:
    """How to run the checkout's console scripts as another user."""

    prefix: tuple[str, ...]

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` as the image would resolve it: its console scripts from the venv."""
        head, *rest = command
        if head in IMAGE_SCRIPTS:
            return [*self.prefix, str(VENV_BIN / head), *rest]
        found = shutil.which(head, path=CONTAINER_PATH)
        if found is None:
            raise Unsupported(f"{head!r} is not on this machine")
        return [found, *rest]


def _runs_as(argv: Sequence[str], who: RunAs) -> bool:
    try:
        done = subprocess.run(
            argv,
            user=who.uid,
            group=who.gid,
            extra_groups=list(who.groups),
            env={"PATH": CONTAINER_PATH, "PYTHONDONTWRITEBYTECODE": "1"},
            cwd="/",
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def interpreter_for(who: RunAs, work: Path) -> Interpreter:
    """The venv's scripts run by an interpreter ``who`` can execute.

    The venv's own interpreter may live where other users cannot go (a pyenv under a 0700
    /root); then a shadow venv in ``work`` (traversable) uses a system interpreter of the same
    minor version with the venv's ``lib`` (site-packages and the editable install)."""
    check = "import deputy, node_agent, constrained_impersonation"
    script_python = VENV_BIN / "python"
    if _runs_as([str(script_python), "-c", check], who):
        return Interpreter(())
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for directory in ("/usr/local/bin", "/usr/bin"):
        candidate = Path(directory) / f"python{version}"
        if not candidate.exists():
            continue
        shadow = work / "venv"
        if shadow.exists():
            shutil.rmtree(shadow)
        (shadow / "bin").mkdir(parents=True)
        shadow.chmod(0o755)
        (shadow / "bin").chmod(0o755)
        (shadow / "bin" / "python").symlink_to(candidate)
        (shadow / "lib").symlink_to(REPO / ".venv" / "lib")
        (shadow / "pyvenv.cfg").write_text(
            f"home = {directory}\ninclude-system-site-packages = false\nversion = {version}\n"
        )
        (shadow / "pyvenv.cfg").chmod(0o644)
        python = str(shadow / "bin" / "python")
        if _runs_as([python, "-c", check], who):
            return Interpreter((python,))
    raise Unsupported(
        f"uid {who.uid} cannot execute {script_python} (its interpreter is not reachable) and "
        f"no python{version} in /usr/local/bin or /usr/bin can run the project"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
