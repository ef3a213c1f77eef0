"""``rbac.render``: minimal, deterministic RBAC that kube's own engine accepts, and no more."""

from __future__ import annotations

import pytest

from constrained_impersonation.identity import Identity
from constrained_impersonation.rbac.policy import Grant, Subject, merge_rules
from constrained_impersonation.rbac.render import render
from constrained_impersonation.scope import NonResourceRule, Rule, Scope

from ._offline import impersonate

AGENT = Identity(
    "system:serviceaccount:node-agents:node-agent",
    None,
    ("system:serviceaccounts", "system:serviceaccounts:node-agents", "system:authenticated"),
    {"authentication.kubernetes.io/node-name": ("node-1",)},
)
DEPUTY = Identity(
    "system:serviceaccount:deputy-ns:deputy",
    None,
    ("system:serviceaccounts", "system:serviceaccounts:deputy-ns", "system:authenticated"),
)
CONSOLE = "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm1/console"


def by_kind(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"].get("namespace", "")): o for o in objects}


def test_story1_associated_node_matches_the_spec() -> None:
    scope = Scope(Rule(["list", "watch", "get"], "pods"))
    objects = render(scope, "associated-node", "node-agents/node-agent")
    assert [o["kind"] for o in objects] == ["ClusterRole", "ClusterRoleBinding"]
    role = objects[0]
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["nodes"],
            "verbs": ["impersonate:associated-node"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": [
                "impersonate-on:associated-node:get",
                "impersonate-on:associated-node:list",
                "impersonate-on:associated-node:watch",
            ],
        },
    ]
    assert "resourceNames" not in role["rules"][0]
    assert objects[1]["subjects"] == [
        {"kind": "ServiceAccount", "name": "node-agent", "namespace": "node-agents"}
    ]
    assert objects[1]["roleRef"]["name"] == role["metadata"]["name"]
    node = Identity("system:node:node-1")
    url = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1"
    assert impersonate(objects, AGENT, node, "GET", url) == ("ok", "associated-node")
    # Not in scope: delete; another node: the mode does not apply, arbitrary-node is not granted.
    assert impersonate(objects, AGENT, node, "DELETE", "/api/v1/namespaces/a/pods/p")[0] == "denied"
    assert impersonate(objects, AGENT, Identity("system:node:node-2"), "GET", url)[0] == "denied"


def test_story2_deputy_console_is_namespaced_and_forwards_only_what_it_declares() -> None:
    scope = Scope(
        Rule(
            ["get"],
            "virtualmachineinstances/console",
            group="subresources.kubevirt.io",
            namespaces=["default"],
        )
    )
    objects = render(
        scope,
        "user-info",
        "deputy-ns/deputy",
        groups=True,
        uids=True,
        extra=["example.com/scopes"],
    )
    kinds = by_kind(objects)
    assert set(kinds) == {
        ("ClusterRole", ""),
        ("ClusterRoleBinding", ""),
        ("Role", "default"),
        ("RoleBinding", "default"),
    }
    assert kinds[("ClusterRole", "")]["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["groups", "uids", "userextras/example.com/scopes", "users"],
            "verbs": ["impersonate:user-info"],
        }
    ]
    assert kinds[("Role", "default")]["rules"] == [
        {
            "apiGroups": ["subresources.kubevirt.io"],
            "resources": ["virtualmachineinstances/console"],
            "verbs": ["impersonate-on:user-info:get"],
        }
    ]
    alice = Identity("alice", "u-1", ("developers",), {"example.com/scopes": ("console",)})
    assert impersonate(objects, DEPUTY, alice, "GET", CONSOLE) == ("ok", "user-info")
    other_ns = CONSOLE.replace("/default/", "/other/")
    assert impersonate(objects, DEPUTY, alice, "GET", other_ns)[0] == "denied"
    unforwarded = Identity("alice", None, (), {"example.com/other": ("x",)})
    assert impersonate(objects, DEPUTY, unforwarded, "GET", CONSOLE)[0] == "denied"


def test_targets_become_resource_names_and_serviceaccount_targets_roles() -> None:
    scope = Scope(Rule(["get"], "configmaps", namespaces=["apps"]))
    objects = render(scope, "serviceaccount", "user:ci", targets=["apps/builder", "tools/*"])
    kinds = by_kind(objects)
    assert ("ClusterRole", "") not in kinds  # nothing cluster-wide is needed
    assert kinds[("Role", "apps")]["rules"][0] == {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["serviceaccounts"],
        "resourceNames": ["builder"],
        "verbs": ["impersonate:serviceaccount"],
    }
    assert kinds[("Role", "tools")]["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["serviceaccounts"],
            "verbs": ["impersonate:serviceaccount"],
        }
    ]
    assert kinds[("RoleBinding", "apps")]["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "ci"}
    ]
    ci = Identity("ci", None, ("system:authenticated",))
    builder = Identity("system:serviceaccount:apps:builder")
    url = "/api/v1/namespaces/apps/configmaps/settings"
    assert impersonate(objects, ci, builder, "GET", url) == ("ok", "serviceaccount")
    other = Identity("system:serviceaccount:apps:deployer")
    assert impersonate(objects, ci, other, "GET", url)[0] == "denied"


def test_arbitrary_node_names_and_user_info_names() -> None:
    scope = Scope(Rule(["get"], "nodes"))
    nodes = render(scope, "arbitrary-node", "group:ops", targets=["system:node:n1", "n2"])
    assert nodes[0]["rules"][0]["resourceNames"] == ["n1", "n2"]
    assert nodes[1]["subjects"][0]["kind"] == "Group"
    users = render(scope, "user-info", "user:bot", targets=["alice"], groups=["dev", "ops"])
    assert users[0]["rules"][0] == {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["groups"],
        "resourceNames": ["dev", "ops"],
        "verbs": ["impersonate:user-info"],
    }
    assert users[0]["rules"][1]["resourceNames"] == ["alice"]


def test_names_and_non_resource_paths() -> None:
    scope = Scope(
        Rule(["get", "update"], ["configmaps"], namespaces=["a"], names=["cfg"]),
        NonResourceRule(["get"], ["/version", "/healthz"]),
    )
    objects = render(scope, "user-info", "user:bot", name="bot-imp")
    kinds = by_kind(objects)
    assert kinds[("ClusterRole", "")]["metadata"]["name"] == "bot-imp"
    assert kinds[("ClusterRole", "")]["rules"][-1] == {
        "nonResourceURLs": ["/healthz", "/version"],
        "verbs": ["impersonate-on:user-info:get"],
    }
    assert kinds[("Role", "a")]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["cfg"],
            "verbs": ["impersonate-on:user-info:get", "impersonate-on:user-info:update"],
        }
    ]


def test_rendering_is_deterministic() -> None:
    scope = Scope(Rule(["watch", "list"], ["services", "pods"], namespaces=["b", "a"]))
    first = render(scope, "user-info", "ns/sa", groups=["z", "a"])
    second = render(scope, "user-info", "ns/sa", groups=["a", "z"])
    assert first == second
    assert [o["metadata"].get("namespace", "") for o in first] == ["", "", "a", "a", "b", "b"]


def test_merge_rules_never_widens_names() -> None:
    rules = merge_rules(
        [
            Grant("get", "", "pods", "a"),
            Grant("get", "", "pods", ""),
            Grant("list", "", "pods", "b"),
        ]
    )
    assert rules == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["b"], "verbs": ["list"]},
    ]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "associated-node", "requestor": "user:bob"}, "service-account requestor"),
        (
            {"mode": "associated-node", "requestor": "a/b", "targets": ["n1"]},
            "takes no targets",
        ),
        ({"mode": "arbitrary-node", "requestor": "a/b", "groups": True}, "legacy"),
        ({"mode": "serviceaccount", "requestor": "a/b", "targets": ["nope"]}, "NAMESPACE/NAME"),
        (
            {"mode": "user-info", "requestor": "a/b", "targets": ["system:node:n1"]},
            "arbitrary-node",
        ),
        ({"mode": "user-info", "requestor": "a/b", "groups": ["system:masters"]}, "system:masters"),
        ({"mode": "user-info", "requestor": "a/b", "extra": ["scopes"]}, "domain-prefixed"),
        ({"mode": "impersonate", "requestor": "a/b"}, "unknown mode"),
    ],
)
def test_refuses_what_the_server_would_never_accept(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        render(Scope(Rule(["get"], "pods")), **kwargs)


def test_unrestricted_scope_has_no_minimal_rbac() -> None:
    with pytest.raises(ValueError, match="unrestricted"):
        render(Scope.unrestricted_unsafe(), "user-info", "a/b")


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("ns/name", Subject("ServiceAccount", "name", "ns")),
        ("serviceaccount:ns/name", Subject("ServiceAccount", "name", "ns")),
        ("system:serviceaccount:ns:name", Subject("ServiceAccount", "name", "ns")),
        ("user:alice", Subject("User", "alice")),
        ("group:ops", Subject("Group", "ops")),
        ("bob@example.com", Subject("User", "bob@example.com")),
    ],
)
def test_subject_parse(text: str, subject: Subject) -> None:
    assert Subject.parse(text) == subject


def test_public_names_stay_functions_after_submodules_are_imported() -> None:
    import importlib

    import constrained_impersonation as ci

    for name in ("render", "scan", "explain", "preflight", "migrate"):
        importlib.import_module(f"constrained_impersonation.rbac.{name}")
        assert callable(getattr(ci.rbac, name)), name
    manifests = ci.rbac.render(Scope(Rule(["get"], "pods")), "user-info", "user:bot")
    assert [m["kind"] for m in manifests] == ["ClusterRole", "ClusterRoleBinding"]
