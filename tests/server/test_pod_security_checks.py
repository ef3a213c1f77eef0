"""Each Pod Security check of kube-apiserver v1.37.2, through HTTP on both backends: one pod per
case, created (dry run) in a namespace enforcing the case's ``level:version``, and the exact
403 (or 201) the real server answers. Versions cover each check's revisions (when it began,
what changed), the restricted checks that replace baseline ones, the ``hostUsers: false`` and
Windows relaxations, and kube's ordering, pluralization and quoting.

The policy library is also tested directly (label parsing, the warning recorder) where no
server is needed.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from cimp_apiserver.context import RequestContext
from cimp_apiserver.hooks import Admission
from cimp_apiserver.podsecurity.admission import Exemptions, PodSecurity
from cimp_apiserver.podsecurity.api import LevelVersion, Policy, Version, policy_to_evaluate
from cimp_apiserver.podsecurity.checks import Violation, evaluate
from cimp_apiserver.resources import ResourceType
from cimp_apiserver.status import StatusError
from cimp_apiserver.storage import MemoryStore
from cimp_apiserver.warnings import queued_warnings, recorded_headers
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import RequestInfo

APIServer = Any
L = "pod-security.kubernetes.io/"
SEC = "securityContext"
DROP_ALL = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def c(name: str = "c", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", **fields}


def ok(name: str = "c", **context: Any) -> dict[str, Any]:
    """A container restricted accepts (plus ``context``)."""
    return c(name, securityContext={**DROP_ALL, **context})


# (policy, pod spec, the violations kube lists, or None when the pod is admitted)
CASES: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "host namespaces": (
        "baseline:latest",
        {"hostPID": True, "hostIPC": True, "hostNetwork": False, "containers": [c()]},
        "host namespaces (hostPID=true, hostIPC=true)",
    ),
    "non-default capabilities, sorted, per container": (
        "baseline:latest",
        {
            "containers": [
                c("b", securityContext={"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}),
                c("a", securityContext={"capabilities": {"add": ["BPF", "KILL", "NET_ADMIN"]}}),
                c("z", securityContext={"capabilities": {"add": ["SYS_CHROOT"]}}),
            ]
        },
        'non-default capabilities (containers "b", "a" must not include "BPF", "NET_ADMIN" in '
        "securityContext.capabilities.add)",
    ),
    "privileged: init containers first": (
        "baseline:latest",
        {
            "initContainers": [c("init", securityContext={"privileged": True})],
            "containers": [c("main", securityContext={"privileged": True}), c()],
        },
        'privileged (containers "init", "main" must not set securityContext.privileged=true)',
    ),
    "hostPorts sorted as text": (
        "baseline:latest",
        {
            "containers": [
                c("a", ports=[{"containerPort": 80, "hostPort": 80}]),
                c("b", ports=[{"containerPort": 81, "hostPort": 10000}]),
            ]
        },
        'hostPort (containers "a", "b" use hostPorts 10000, 80)',
    ),
    "hostPath volumes": (
        "baseline:latest",
        {
            "containers": [c()],
            "volumes": [
                {"name": "one", "hostPath": {"path": "/a"}},
                {"name": "empty"},
                {"name": "two", "hostPath": {"path": "/b"}},
            ],
        },
        'hostPath volumes (volumes "one", "two")',
    ),
    "probe and lifecycle hosts": (
        "baseline:latest",
        {
            "containers": [
                c(
                    "b",
                    livenessProbe={"tcpSocket": {"host": "h2", "port": 80}},
                    lifecycle={"preStop": {"httpGet": {"host": "h1", "port": 80}}},
                ),
                c("a", startupProbe={"httpGet": {"host": "h1", "port": 80}}),
            ]
        },
        'probe or lifecycle host (containers "a", "b" use probe or lifecycle hosts "h1", "h2")',
    ),
    "probe hosts were allowed before v1.34": (
        "baseline:v1.33",
        {"containers": [c(readinessProbe={"httpGet": {"host": "h", "port": 80}})]},
        None,
    ),
    "seLinuxOptions: type, user, role": (
        "baseline:latest",
        {
            SEC: {"seLinuxOptions": {"type": "spc_t"}},
            "containers": [
                c(securityContext={"seLinuxOptions": {"user": "u", "role": "r"}}),
                c("d", securityContext={"seLinuxOptions": {"type": "container_t"}}),
            ],
        },
        'seLinuxOptions (pod and container "c" set forbidden securityContext.seLinuxOptions: '
        'type "spc_t"; user may not be set; role may not be set)',
    ),
    "container_engine_t is allowed from v1.31": (
        "baseline:latest",
        {"containers": [c(securityContext={"seLinuxOptions": {"type": "container_engine_t"}})]},
        None,
    ),
    "container_engine_t was forbidden before v1.31": (
        "baseline:v1.30",
        {"containers": [c(securityContext={"seLinuxOptions": {"type": "container_engine_t"}})]},
        'seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: '
        'type "container_engine_t")',
    ),
    "seccomp baseline: explicit bad types only": (
        "baseline:latest",
        {
            SEC: {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                c(securityContext={"seccompProfile": {"type": "Unconfined"}}),
                c("d"),
            ],
        },
        'seccompProfile (pod and container "c" must not set securityContext.seccompProfile.type '
        'to "Unconfined")',
    ),
    "sysctls in the order given": (
        "baseline:latest",
        {
            SEC: {
                "sysctls": [
                    {"name": "kernel.sem", "value": "1"},
                    {"name": "net.ipv4.tcp_keepalive_time", "value": "1"},
                    {"name": "kernel.msgmax", "value": "1"},
                ]
            },
            "containers": [c()],
        },
        "forbidden sysctls (kernel.sem, kernel.msgmax)",
    ),
    "sysctls allowed from v1.29 were forbidden at v1.28": (
        "baseline:v1.28",
        {
            SEC: {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "1"}]},
            "containers": [c()],
        },
        "forbidden sysctls (net.ipv4.tcp_keepalive_time)",
    ),
    "sysctls new in v1.37": (
        "baseline:v1.36",
        {
            SEC: {
                "sysctls": [
                    {"name": "net.ipv4.tcp_notsent_lowat", "value": "1"},
                    {"name": "net.ipv4.ip_local_reserved_ports", "value": "1"},
                ]
            },
            "containers": [c()],
        },
        "forbidden sysctls (net.ipv4.tcp_notsent_lowat)",
    ),
    "AppArmor fields": (
        "baseline:latest",
        {
            SEC: {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [
                c(
                    securityContext={
                        "appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}
                    }
                )
            ],
        },
        'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")',
    ),
    "hostProcess": (
        "baseline:latest",
        {
            "hostNetwork": True,
            SEC: {"windowsOptions": {"hostProcess": True}},
            "containers": [c(securityContext={"windowsOptions": {"hostProcess": True}})],
        },
        'host namespaces (hostNetwork=true), hostProcess (pod and container "c" must not set '
        "securityContext.windowsOptions.hostProcess=true)",
    ),
    "procMount relaxed in a user namespace from v1.35": (
        "baseline:latest",
        {"hostUsers": False, "containers": [c(securityContext={"procMount": "Unmasked"})]},
        None,
    ),
    "procMount before v1.35": (
        "baseline:v1.34",
        {"hostUsers": False, "containers": [c(securityContext={"procMount": "Unmasked"})]},
        'procMount (container "c" must not set securityContext.procMount to "Unmasked")',
    ),
    "procMount stays forbidden for restricted": (
        "restricted:latest",
        {
            SEC: RESTRICTED_POD,
            "hostUsers": False,
            "containers": [ok(procMount="Unmasked")],
        },
        'procMount (container "c" must not set securityContext.procMount to "Unmasked")',
    ),
    "restricted: all four defaults, plural": (
        "restricted:latest",
        {"containers": [c("a"), c("b")]},
        'allowPrivilegeEscalation != false (containers "a", "b" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "
        '"a", "b" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod '
        'or containers "a", "b" must set securityContext.runAsNonRoot=true), seccompProfile (pod '
        'or containers "a", "b" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")',
    ),
    "restricted: a pod-level setting covers its containers": (
        "restricted:latest",
        {
            SEC: RESTRICTED_POD,
            "containers": [ok(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})],
        },
        None,
    ),
    "unrestricted capabilities: both details": (
        "restricted:latest",
        {
            SEC: RESTRICTED_POD,
            "containers": [
                ok("a", capabilities={"add": ["CHOWN"]}),
                ok("b", capabilities={"drop": ["ALL"], "add": ["NET_RAW", "CHOWN"]}),
            ],
        },
        'unrestricted capabilities (container "a" must set securityContext.capabilities.drop='
        '["ALL"]; containers "a", "b" must not include "CHOWN", "NET_RAW" in '
        "securityContext.capabilities.add)",
    ),
    "runAsNonRoot false on pod and container": (
        "restricted:latest",
        {
            SEC: {**RESTRICTED_POD, "runAsNonRoot": False},
            "containers": [ok(runAsNonRoot=False), ok("d")],
        },
        'runAsNonRoot != true (pod and container "c" must not set '
        "securityContext.runAsNonRoot=false)",
    ),
    "runAsUser=0": (
        "restricted:latest",
        {
            SEC: {**RESTRICTED_POD, "runAsUser": 0},
            "containers": [ok(runAsUser=0), ok("d", runAsUser=1000)],
        },
        'runAsUser=0 (pod and container "c" must not set runAsUser=0)',
    ),
    "root in a user namespace from v1.35": (
        "restricted:latest",
        {
            "hostUsers": False,
            SEC: {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0},
            "containers": [ok()],
        },
        None,
    ),
    "root in a user namespace before v1.35": (
        "restricted:v1.34",
        {
            "hostUsers": False,
            SEC: {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0},
            "containers": [ok()],
        },
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        "runAsUser=0 (pod must not set runAsUser=0)",
    ),
    "restricted volume types in kube's order": (
        "restricted:latest",
        {
            SEC: RESTRICTED_POD,
            "containers": [ok()],
            "volumes": [
                {"name": "n", "nfs": {"server": "s", "path": "/"}},
                {"name": "cm", "configMap": {"name": "x"}},
                {"name": "g", "gitRepo": {"repository": "r"}},
                {"name": "e"},
                {"name": "h", "hostPath": {"path": "/"}},
            ],
        },
        'restricted volume types (volumes "n", "g", "h" use restricted volume types "gitRepo", '
        '"hostPath", "nfs")',
    ),
    "restricted v1.21 had no capabilities or runAsUser check": (
        "restricted:v1.21",
        {
            SEC: {"runAsUser": 0},
            "containers": [c(securityContext={"capabilities": {"add": ["CHOWN"]}})],
        },
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "
        '"c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" '
        'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ),
    "baseline's capabilities check applies to restricted v1.21": (
        "restricted:v1.21",
        {
            SEC: RESTRICTED_POD,
            "containers": [ok(capabilities={"add": ["BPF"]})],
        },
        'non-default capabilities (container "c" must not include "BPF" in '
        "securityContext.capabilities.add)",
    ),
    "Windows pods skip Linux-only controls from v1.25": (
        "restricted:latest",
        {"os": {"name": "windows"}, "containers": [c()]},
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)',
    ),
    "Windows pods before v1.25": (
        "restricted:v1.24",
        {"os": {"name": "windows"}, "containers": [c()]},
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
        '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")',
    ),
    "a version past the newest is the newest": (
        "baseline:v1.99",
        {
            SEC: {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]},
            "containers": [c()],
        },
        None,
    ),
}


def namespace_of(policy: str) -> str:
    return "psa-" + policy.replace(":", "-").replace(".", "-")


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as srv:
        for policy in sorted({p for p, _, _ in CASES.values()}):
            level, version = policy.split(":")
            labels = {L + "enforce": level, L + "enforce-version": version}
            srv.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace_of(policy), "labels": labels},
                }
            )
        yield srv


@pytest.mark.parametrize("case", sorted(CASES))
def test_check(server: APIServer, case: str) -> None:
    policy, spec, violations = CASES[case]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": copy.deepcopy(spec),
    }
    path = f"/api/v1/namespaces/{namespace_of(policy)}/pods?dryRun=All"
    status, answer = server.request("POST", path, body)
    if violations is None:
        assert status == 201, answer
        return
    assert status == 403, answer
    assert (
        answer["message"] == f'pods "p" is forbidden: violates PodSecurity "{policy}": {violations}'
    )


# ------------------------------------------------------------------------------ no server


def lv(text: str) -> LevelVersion:
    level, version = text.split(":")
    minor = version.removeprefix("v1.")
    return LevelVersion(
        level, Version(latest=True) if version == "latest" else Version(1, int(minor))
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, ("privileged:latest", "privileged:latest", "privileged:latest")),
        ({L + "enforce": "baseline"}, ("baseline:latest", "privileged:latest", "baseline:latest")),
        (
            {L + "enforce": "restricted", L + "enforce-version": "v1.30"},
            ("restricted:v1.30", "privileged:latest", "restricted:v1.30"),
        ),
        (
            {L + "enforce": "restricted", L + "warn-version": "v1.2"},
            ("restricted:latest", "privileged:latest", "restricted:v1.2"),
        ),
        (
            {L + "enforce": "baseline", L + "warn": "privileged"},
            ("baseline:latest", "privileged:latest", "privileged:latest"),
        ),
        # Unparsable: enforce fails closed, audit and warn fail open.
        (
            {L + "enforce": "x", L + "audit": "x", L + "warn": "y", L + "audit-version": "1.2"},
            ("restricted:latest", "privileged:latest", "privileged:latest"),
        ),
    ],
)
def test_labels_select_a_policy(labels: dict[str, str], expected: tuple[str, str, str]) -> None:
    policy, _ = policy_to_evaluate(labels)
    assert (str(policy.enforce), str(policy.audit), str(policy.warn)) == expected
    assert policy == Policy(*(lv(text) for text in expected))


def test_label_errors_name_each_label() -> None:
    _, errors = policy_to_evaluate(
        {L + "enforce": "Baseline", L + "enforce-version": "v1.09", L + "warn-version": "latest"}
    )
    assert errors == [
        (
            f"metadata.labels[{L}enforce]",
            "FieldValueInvalid",
            'Invalid value: "Baseline": must be one of privileged, baseline, restricted',
        ),
        (
            f"metadata.labels[{L}enforce-version]",
            "FieldValueInvalid",
            'Invalid value: "v1.09": must be "latest" or "v1.x"',
        ),
    ]


def test_warnings_are_sent_once_and_cut_past_4096_characters() -> None:
    assert recorded_headers(["a", "b", "a", "", 'say "hi" \\']) == [
        '299 - "a"',
        '299 - "b"',
        '299 - "say \\"hi\\" \\\\"',
    ]
    assert recorded_headers(["bad\nline", "ok"]) == ['299 - "ok"']
    long = [c * 1000 for c in "abcde"]
    headers = recorded_headers(long)
    # The fifth crosses 4096: every warning is cut to 256 characters from then on.
    assert headers == [f'299 - "{c * 256}"' for c in "abcde"]
    many = [f"{i:03d}" * 100 for i in range(20)]  # 300 characters each
    headers = recorded_headers(many)
    assert len(headers) == 16  # 16 x 256 = 4096: the budget is spent, the rest dropped


def test_a_volume_without_a_source_is_an_empty_dir() -> None:
    """Whatever defaulted (or did not default) a template, kube's checks never see a volume
    without a source: defaulting makes it an emptyDir first."""
    spec = {"containers": [{"name": "c"}], "volumes": [{"name": "v"}, {"name": "n", "nfs": {}}]}
    violations = evaluate(lv("restricted:latest"), {}, spec)
    assert [v for v in violations if v.reason == "restricted volume types"] == [
        Violation("restricted volume types", 'volume "n" uses restricted volume type "nfs"')
    ]


def _admission(
    store: MemoryStore, resource: str, obj: dict[str, Any], user: str = "alice", old: Any = None
) -> Admission:
    rt = ResourceType("", "v1", resource, resource.title()[:-1], resource == "pods")
    namespace = obj["metadata"].get("namespace", "")
    ctx = RequestContext(RequestInfo(True, "/", "create"), user=Identity(user))
    operation = "UPDATE" if old is not None else "CREATE"
    name = obj["metadata"]["name"]
    if resource == "namespaces":
        namespace = name if old is not None else ""
    request = make_mocked_request("POST", "/")
    return Admission(request, ctx, operation, rt, "", namespace, name, obj, old, False)


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {L + k: v for k, v in labels.items()}}}


def test_exemptions_by_namespace_user_and_runtime_class() -> None:
    store = MemoryStore()
    for name in ("exempt", "strict"):
        store.create("", "namespaces", _namespace(name, enforce="restricted"))
    plugin = PodSecurity(
        store,
        Exemptions(
            usernames=frozenset({"ci-bot"}),
            namespaces=frozenset({"exempt"}),
            runtime_classes=frozenset({"kata"}),
        ),
    )

    def admit(namespace: str, user: str = "alice", **spec: Any) -> dict[str, str]:
        pod = {
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
        }
        adm = _admission(store, "pods", pod, user)
        asyncio.run(plugin(adm))
        return adm.ctx.annotations

    assert admit("exempt") == {L + "exempt": "namespace"}
    assert admit("strict", user="ci-bot") == {L + "exempt": "user"}
    assert admit("strict", runtimeClassName="kata") == {L + "exempt": "runtimeClass"}
    with pytest.raises(StatusError) as refused:
        admit("strict", runtimeClassName="runc")
    assert refused.value.code == 403


def test_labelling_an_exempt_namespace_warns_that_the_policy_is_ignored() -> None:
    store = MemoryStore()
    plugin = PodSecurity(store, Exemptions(namespaces=frozenset({"exempt"})))
    old = _namespace("exempt")
    new = _namespace("exempt", enforce="baseline", warn="restricted", **{"audit-version": "v1.2"})
    adm = _admission(store, "namespaces", new, old=old)
    asyncio.run(plugin(adm))
    assert queued_warnings(adm.request) == [
        'namespace "exempt" is exempt from Pod Security, and the policy '
        "(enforce=baseline:latest, warn=restricted:latest) will be ignored"
    ]
