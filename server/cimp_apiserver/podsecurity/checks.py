"""The Pod Security Standards as kube-apiserver v1.37.2 checks them (the policy library of
``k8s.io/pod-security-admission`` v0.37.2), on pod metadata and pod specs as JSON.

Each check has an ID, a level and one or more revisions, each applying from a policy version
on. A level and version select, for baseline, every baseline check in effect at that version;
for restricted, those plus every restricted check, minus the baseline checks a restricted one
overrides (``hostPathVolumes`` by ``restrictedVolumes``, ...). Checks run in kube's order:
baseline IDs sorted, then restricted IDs sorted, so a refusal lists violations as kube does.
``latest`` and any version newer than the newest revision (v1.37) mean that newest revision.

A JSON field that is absent or ``null`` is Go's nil pointer; an empty object is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..status import quote
from .api import BASELINE, PRIVILEGED, RESTRICTED, LevelVersion, Version

__all__ = ["CHECKS", "MAX_VERSION", "Check", "Violation", "evaluate", "forbidden_detail"]

Obj = dict[str, Any]
Meta = dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """One failed check: ``reason`` always shown, ``detail`` (may be empty) for one object."""

    reason: str
    detail: str = ""


CheckFn = Callable[[Meta, Obj], Violation | None]


@dataclass(frozen=True)
class Revision:
    since: Version
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    revisions: tuple[Revision, ...]


# ----------------------------------------------------------------------------- JSON helpers


def _obj(value: Any) -> Obj | None:
    return value if isinstance(value, dict) else None


def _dicts(value: Any) -> Iterator[Obj]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _containers(spec: Obj) -> Iterator[Obj]:
    """Init containers, containers, then ephemeral containers (kube's visit order)."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from _dicts(spec.get(key))


def _name(container: Obj) -> str:
    return str(container.get("name") or "")


def _context(container: Obj) -> Obj | None:
    return _obj(container.get("securityContext"))


def _pod_context(spec: Obj) -> Obj | None:
    return _obj(spec.get("securityContext"))


def _sub(parent: Obj | None, key: str) -> Obj | None:
    return _obj(parent.get(key)) if parent is not None else None


def _str(parent: Obj | None, key: str) -> str:
    value = parent.get(key) if parent is not None else None
    return value if isinstance(value, str) else ""


def _is(parent: Obj | None, key: str, value: object) -> bool:
    """``parent.key`` is set and equals ``value`` (a set ``*bool`` or ``*int``)."""
    if parent is None:
        return False
    got = parent.get(key)
    return got is not None and type(got) is type(value) and got == value


def _join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _containers_phrase(names: list[str]) -> str:
    return f"{_plural('container', 'containers', len(names))} {_join_quote(names)}"


def _windows(spec: Obj) -> bool:
    return _str(_obj(spec.get("os")), "name") == "windows"


def _user_namespaced(spec: Obj) -> bool:
    """``hostUsers: false``: the pod runs in a user namespace, which relaxes some checks."""
    return spec.get("hostUsers") is False


def _v(minor: int) -> Version:
    return Version(1, minor)


# ----------------------------------------------------------------------------- baseline


APP_ARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _allowed_app_armor(annotation: str) -> bool:
    return not annotation or annotation == "runtime/default" or annotation.startswith("localhost/")


def _app_armor(meta: Meta, spec: Obj) -> Violation | None:
    allowed = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    bad_values: set[str] = set()
    profile = _sub(_pod_context(spec), "appArmorProfile")
    if profile is not None and _str(profile, "type") not in allowed:
        setters.append("pod")
        bad_values.add(_str(profile, "type"))
    bad: list[str] = []
    for container in _containers(spec):
        profile = _sub(_context(container), "appArmorProfile")
        if profile is not None and _str(profile, "type") not in allowed:
            bad.append(_name(container))
            bad_values.add(_str(profile, "type"))
    if bad:
        setters.append(_containers_phrase(bad))
    values = sorted(bad_values)
    annotations = _obj(meta.get("annotations")) or {}
    forbidden = sorted(
        f"{key}={quote(str(value))}"
        for key, value in annotations.items()
        if key.startswith(APP_ARMOR_ANNOTATION_PREFIX) and not _allowed_app_armor(str(value))
    )
    if forbidden:
        values.extend(forbidden)
        setters.append(_plural("annotation", "annotations", len(forbidden)))
    if not setters:
        return None
    return Violation(
        _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(values)}",
    )


_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def _added_capabilities(container: Obj) -> list[str]:
    added = _sub(_context(container), "capabilities")
    value = added.get("add") if added is not None else None
    return [str(c) for c in value] if isinstance(value, list) else []


def _capabilities_baseline(meta: Meta, spec: Obj) -> Violation | None:
    bad: list[str] = []
    capabilities: set[str] = set()
    for container in _containers(spec):
        extra = [c for c in _added_capabilities(container) if c not in _DEFAULT_CAPABILITIES]
        if extra:
            bad.append(_name(container))
            capabilities.update(extra)
    if not bad:
        return None
    return Violation(
        "non-default capabilities",
        f"{_containers_phrase(bad)} must not include {_join_quote(sorted(capabilities))} in "
        "securityContext.capabilities.add",
    )


def _host_namespaces(meta: Meta, spec: Obj) -> Violation | None:
    shared = [
        f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if _is(spec, key, True)
    ]
    return Violation("host namespaces", ", ".join(shared)) if shared else None


def _host_path_volumes(meta: Meta, spec: Obj) -> Violation | None:
    names = [
        str(volume.get("name") or "")
        for volume in _dicts(spec.get("volumes"))
        if volume.get("hostPath") is not None
    ]
    if not names:
        return None
    return Violation(
        "hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)}"
    )


def _host_ports(meta: Meta, spec: Obj) -> Violation | None:
    bad: list[str] = []
    ports: set[str] = set()
    for container in _containers(spec):
        used = [
            port.get("hostPort")
            for port in _dicts(container.get("ports"))
            if type(port.get("hostPort")) is int and port.get("hostPort") != 0
        ]
        if used:
            bad.append(_name(container))
            ports.update(str(p) for p in used)
    if not bad:
        return None
    return Violation(
        "hostPort",
        f"{_containers_phrase(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def _handler_hosts(handler: Obj | None) -> list[str]:
    hosts = []
    for action in ("httpGet", "tcpSocket"):
        host = _str(_sub(handler, action), "host")
        if host:
            hosts.append(host)
    return hosts


def _probe_hosts(meta: Meta, spec: Obj) -> Violation | None:
    bad: set[str] = set()
    hosts: set[str] = set()
    for container in _containers(spec):
        lifecycle = _obj(container.get("lifecycle"))
        handlers = [
            _obj(container.get("livenessProbe")),
            _obj(container.get("readinessProbe")),
            _obj(container.get("startupProbe")),
            _sub(lifecycle, "postStart"),
            _sub(lifecycle, "preStop"),
        ]
        for handler in handlers:
            found = _handler_hosts(handler)
            if found:
                bad.add(_name(container))
                hosts.update(found)
    if not bad:
        return None
    return Violation(
        "probe or lifecycle host",
        f"{_containers_phrase(sorted(bad))} {_plural('uses', 'use', len(bad))} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_join_quote(sorted(hosts))}",
    )


def _privileged(meta: Meta, spec: Obj) -> Violation | None:
    bad = [_name(c) for c in _containers(spec) if _is(_context(c), "privileged", True)]
    if not bad:
        return None
    return Violation(
        "privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true"
    )


def _proc_mount(meta: Meta, spec: Obj) -> Violation | None:
    bad: list[str] = []
    types: set[str] = set()
    for container in _containers(spec):
        context = _context(container)
        value = context.get("procMount") if context is not None else None
        if value is not None and value != "Default":
            bad.append(_name(container))
            types.add(str(value))
    if not bad:
        return None
    return Violation(
        "procMount",
        f"{_containers_phrase(bad)} must not set securityContext.procMount to "
        f"{_join_quote(sorted(types))}",
    )


def _proc_mount_1_35(meta: Meta, spec: Obj) -> Violation | None:
    return None if _user_namespaced(spec) else _proc_mount(meta, spec)


def _se_linux(allowed_types: frozenset[str]) -> CheckFn:
    def check(meta: Meta, spec: Obj) -> Violation | None:
        bad_types: set[str] = set()
        flags = {"user": False, "role": False}

        def valid(options: Obj) -> bool:
            ok = True
            kind = _str(options, "type")
            if kind not in allowed_types:
                ok = False
                bad_types.add(kind)
            for key in ("user", "role"):
                if _str(options, key):
                    ok = False
                    flags[key] = True
            return ok

        setters: list[str] = []
        options = _sub(_pod_context(spec), "seLinuxOptions")
        if options is not None and not valid(options):
            setters.append("pod")
        bad: list[str] = []
        for container in _containers(spec):
            options = _sub(_context(container), "seLinuxOptions")
            if options is not None and not valid(options):
                bad.append(_name(container))
        if bad:
            setters.append(_containers_phrase(bad))
        if not setters:
            return None
        data: list[str] = []
        if bad_types:
            data.append(
                f"{_plural('type', 'types', len(bad_types))} {_join_quote(sorted(bad_types))}"
            )
        data.extend(f"{key} may not be set" for key in ("user", "role") if flags[key])
        return Violation(
            "seLinuxOptions",
            f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
            + "; ".join(data),
        )

    return check


_SE_LINUX_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SE_LINUX_1_31 = _SE_LINUX_1_0 | {"container_engine_t"}
_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
_VALID_SECCOMP = ("RuntimeDefault", "Localhost")


def _seccomp_annotations(meta: Meta, spec: Obj) -> Violation | None:
    annotations = _obj(meta.get("annotations")) or {}

    def valid(value: str) -> bool:
        return value in ("runtime/default", "docker/default") or value.startswith("localhost/")

    forbidden: set[str] = set()
    keys = [_SECCOMP_POD_ANNOTATION]
    keys.extend(_SECCOMP_CONTAINER_ANNOTATION + _name(c) for c in _containers(spec))
    for key in keys:
        if key in annotations and not valid(str(annotations[key])):
            forbidden.add(f"{key}={quote(str(annotations[key]))}")
    if not forbidden:
        return None
    return Violation(
        "seccompProfile",
        f"forbidden {_plural('annotation', 'annotations', len(forbidden))} "
        + ", ".join(sorted(forbidden)),
    )


def _seccomp_setters(spec: Obj) -> tuple[list[str], set[str], bool, list[str]]:
    """(bad setters, bad values, pod sets a valid profile, containers that set none)."""
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    profile = _sub(_pod_context(spec), "seccompProfile")
    if profile is not None:
        if _str(profile, "type") not in _VALID_SECCOMP:
            setters.append("pod")
            values.add(_str(profile, "type"))
        else:
            pod_set = True
    explicit: list[str] = []
    implicit: list[str] = []
    for container in _containers(spec):
        profile = _sub(_context(container), "seccompProfile")
        if profile is not None:
            if _str(profile, "type") not in _VALID_SECCOMP:
                explicit.append(_name(container))
                values.add(_str(profile, "type"))
        elif not pod_set:
            implicit.append(_name(container))
    if explicit:
        setters.append(_containers_phrase(explicit))
    return setters, values, pod_set, implicit


def _seccomp_bad_setters(setters: list[str], values: set[str]) -> Violation:
    return Violation(
        "seccompProfile",
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
        f"{_join_quote(sorted(values))}",
    )


def _seccomp_baseline(meta: Meta, spec: Obj) -> Violation | None:
    setters, values, _, _ = _seccomp_setters(spec)
    return _seccomp_bad_setters(setters, values) if setters else None


_SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}


def _sysctls(allowed: frozenset[str]) -> CheckFn:
    def check(meta: Meta, spec: Obj) -> Violation | None:
        names = [_str(s, "name") for s in _dicts((_pod_context(spec) or {}).get("sysctls"))]
        forbidden = [name for name in names if name not in allowed]
        return Violation("forbidden sysctls", ", ".join(forbidden)) if forbidden else None

    return check


def _windows_host_process(meta: Meta, spec: Obj) -> Violation | None:
    setters: list[str] = []
    if _is(_sub(_pod_context(spec), "windowsOptions"), "hostProcess", True):
        setters.append("pod")
    bad = [
        _name(c)
        for c in _containers(spec)
        if _is(_sub(_context(c), "windowsOptions"), "hostProcess", True)
    ]
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return Violation(
        "hostProcess",
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
    )


# ----------------------------------------------------------------------------- restricted


def _allow_privilege_escalation(meta: Meta, spec: Obj) -> Violation | None:
    bad = [
        _name(c)
        for c in _containers(spec)
        if not _is(_context(c), "allowPrivilegeEscalation", False)
    ]
    if not bad:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def _not_windows(check: CheckFn) -> CheckFn:
    """From v1.25 on, a pod with ``spec.os.name: windows`` passes (validation forbids the
    Linux-only field on it)."""

    def windows_exempt(meta: Meta, spec: Obj) -> Violation | None:
        return None if _windows(spec) else check(meta, spec)

    return windows_exempt


def _capabilities_restricted(meta: Meta, spec: Obj) -> Violation | None:
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for container in _containers(spec):
        capabilities = _sub(_context(container), "capabilities")
        if capabilities is None:
            missing_drop.append(_name(container))
            continue
        drop = capabilities.get("drop")
        if not (isinstance(drop, list) and "ALL" in drop):
            missing_drop.append(_name(container))
        extra = [c for c in _added_capabilities(container) if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(_name(container))
            forbidden.update(extra)
    details: list[str] = []
    if missing_drop:
        details.append(
            f'{_containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_containers_phrase(adding)} must not include {_join_quote(sorted(forbidden))} in "
            "securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


_ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
# In kube's order: the first one a volume sets names its type.
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def _restricted_volumes(meta: Meta, spec: Obj) -> Violation | None:
    bad: list[str] = []
    types: set[str] = set()
    for volume in _dicts(spec.get("volumes")):
        if any(volume.get(key) is not None for key in _ALLOWED_VOLUMES):
            continue
        if all(value is None for key, value in volume.items() if key != "name"):
            continue  # no source: kube's defaulting made it an emptyDir before admission
        bad.append(str(volume.get("name") or ""))
        kind = next((k for k in _RESTRICTED_VOLUMES if volume.get(k) is not None), "unknown")
        types.add(kind)
    if not bad:
        return None
    return Violation(
        "restricted volume types",
        f"{_plural('volume', 'volumes', len(bad))} {_join_quote(bad)} "
        f"{_plural('uses', 'use', len(bad))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(types))} "
        f"{_join_quote(sorted(types))}",
    )


def _run_as_non_root(meta: Meta, spec: Obj) -> Violation | None:
    setters: list[str] = []
    pod_non_root = False
    pod = _pod_context(spec)
    if pod is not None and pod.get("runAsNonRoot") is not None:
        if pod.get("runAsNonRoot") is False:
            setters.append("pod")
        else:
            pod_non_root = True
    explicit: list[str] = []
    implicit: list[str] = []
    for container in _containers(spec):
        context = _context(container)
        if context is not None and context.get("runAsNonRoot") is not None:
            if context.get("runAsNonRoot") is False:
                explicit.append(_name(container))
        elif not pod_non_root:
            implicit.append(_name(container))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return Violation(
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return Violation(
            "runAsNonRoot != true",
            f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def _run_as_non_root_1_35(meta: Meta, spec: Obj) -> Violation | None:
    return None if _user_namespaced(spec) else _run_as_non_root(meta, spec)


def _run_as_user(meta: Meta, spec: Obj) -> Violation | None:
    setters: list[str] = []
    if _is(_pod_context(spec), "runAsUser", 0):
        setters.append("pod")
    bad = [_name(c) for c in _containers(spec) if _is(_context(c), "runAsUser", 0)]
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return Violation("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")


def _run_as_user_1_35(meta: Meta, spec: Obj) -> Violation | None:
    return None if _user_namespaced(spec) else _run_as_user(meta, spec)


def _seccomp_restricted(meta: Meta, spec: Obj) -> Violation | None:
    setters, values, _, implicit = _seccomp_setters(spec)
    if setters:
        return _seccomp_bad_setters(setters, values)
    if implicit:
        return Violation(
            "seccompProfile",
            f"pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


# ----------------------------------------------------------------------------- the registry


def _check(check_id: str, level: str, *revisions: Revision) -> Check:
    return Check(check_id, level, revisions)


CHECKS: tuple[Check, ...] = (
    _check("appArmorProfile", BASELINE, Revision(_v(0), _app_armor)),
    _check("capabilities_baseline", BASELINE, Revision(_v(0), _capabilities_baseline)),
    _check("hostNamespaces", BASELINE, Revision(_v(0), _host_namespaces)),
    _check("hostPathVolumes", BASELINE, Revision(_v(0), _host_path_volumes)),
    _check("hostPorts", BASELINE, Revision(_v(0), _host_ports)),
    _check("hostProbesAndHostLifecycle", BASELINE, Revision(_v(34), _probe_hosts)),
    _check("privileged", BASELINE, Revision(_v(0), _privileged)),
    _check(
        "procMount",
        BASELINE,
        Revision(_v(0), _proc_mount),
        Revision(_v(35), _proc_mount_1_35),
    ),
    _check(
        "seLinuxOptions",
        BASELINE,
        Revision(_v(0), _se_linux(_SE_LINUX_1_0)),
        Revision(_v(31), _se_linux(_SE_LINUX_1_31)),
    ),
    _check(
        "seccompProfile_baseline",
        BASELINE,
        Revision(_v(0), _seccomp_annotations),
        Revision(_v(19), _seccomp_baseline),
    ),
    _check(
        "sysctls",
        BASELINE,
        Revision(_v(0), _sysctls(_SYSCTLS_1_0)),
        Revision(_v(27), _sysctls(_SYSCTLS_1_27)),
        Revision(_v(29), _sysctls(_SYSCTLS_1_29)),
        Revision(_v(32), _sysctls(_SYSCTLS_1_32)),
        Revision(_v(37), _sysctls(_SYSCTLS_1_37)),
    ),
    _check("windowsHostProcess", BASELINE, Revision(_v(0), _windows_host_process)),
    _check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        Revision(_v(8), _allow_privilege_escalation),
        Revision(_v(25), _not_windows(_allow_privilege_escalation)),
    ),
    _check(
        "capabilities_restricted",
        RESTRICTED,
        Revision(_v(22), _capabilities_restricted, ("capabilities_baseline",)),
        Revision(_v(25), _not_windows(_capabilities_restricted), ("capabilities_baseline",)),
    ),
    _check(
        "procMount_restricted",
        RESTRICTED,
        Revision(_v(35), _proc_mount, ("procMount",)),
    ),
    _check(
        "restrictedVolumes",
        RESTRICTED,
        Revision(_v(0), _restricted_volumes, ("hostPathVolumes",)),
    ),
    _check(
        "runAsNonRoot",
        RESTRICTED,
        Revision(_v(0), _run_as_non_root),
        Revision(_v(35), _run_as_non_root_1_35),
    ),
    _check(
        "runAsUser",
        RESTRICTED,
        Revision(_v(23), _run_as_user),
        Revision(_v(35), _run_as_user_1_35),
    ),
    _check(
        "seccompProfile_restricted",
        RESTRICTED,
        Revision(_v(19), _seccomp_restricted, ("seccompProfile_baseline",)),
        Revision(_v(25), _not_windows(_seccomp_restricted), ("seccompProfile_baseline",)),
    ),
)
MAX_VERSION = max((r.since for c in CHECKS for r in c.revisions), key=lambda v: v.minor)


def _revision(check: Check, version: Version) -> Revision | None:
    """The revision of ``check`` in effect at ``version`` (None before its first)."""
    found = None
    for revision in check.revisions:
        if not version.older(revision.since):
            found = revision
    return found


@cache
def _checks_for(level: str, version: Version) -> tuple[CheckFn, ...]:
    active = {c.id: (c, r) for c in CHECKS if (r := _revision(c, version)) is not None}
    if level == BASELINE:
        chosen = [cid for cid, (c, _) in active.items() if c.level == BASELINE]
    else:
        overridden = {o for c, r in active.values() if c.level == RESTRICTED for o in r.overrides}
        chosen = [cid for cid in active if cid not in overridden]
    baseline = sorted(cid for cid in chosen if active[cid][0].level == BASELINE)
    restricted = sorted(cid for cid in chosen if active[cid][0].level == RESTRICTED)
    return tuple(active[cid][1].check for cid in baseline + restricted)


def evaluate(policy: LevelVersion, meta: Meta, spec: Obj) -> list[Violation]:
    """The violations of ``policy`` by a pod (or pod template) with this metadata and spec."""
    if policy.level == PRIVILEGED:
        return []
    version = MAX_VERSION if MAX_VERSION.older(policy.version) else policy.version
    results = (check(meta, spec) for check in _checks_for(policy.level, version))
    return [violation for violation in results if violation is not None]


def forbidden_detail(violations: list[Violation]) -> str:
    """``reason (detail), reason, ...`` as kube's ``AggregateCheckResult.ForbiddenDetail``."""
    return ", ".join(f"{v.reason} ({v.detail})" if v.detail else v.reason for v in violations)
