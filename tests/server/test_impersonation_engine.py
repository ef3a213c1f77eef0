"""The impersonation engine alone: modes, exact authorization attributes, errors, caches.

The authorizer here is a small grant table that records every question asked, so each test
asserts what kube-apiserver would ask its authorizer, in order (docs/semantics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from cimp_apiserver.impersonation import Impersonator
from cimp_apiserver.metrics import Registry
from cimp_apiserver.status import StatusError
from constrained_impersonation.headers import ParsedHeaders, parse
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, resolve

AUTHN = "authentication.k8s.io"


@dataclass
class Grants:
    """Allow questions matching any grant; ``*`` matches anything. Records every question."""

    allowed: list[dict[str, str]] = field(default_factory=list)
    asked: list[Attributes] = field(default_factory=list)

    def grant(self, **match: str) -> Grants:
        self.allowed.append(match)
        return self

    def __call__(self, attrs: Attributes) -> tuple[str, str]:
        self.asked.append(attrs)
        for g in self.allowed:
            if all(want == "*" or getattr(attrs, key) == want for key, want in g.items()):
                return "allow", ""
        return "no-opinion", ""

    def verbs(self) -> list[str]:
        return [a.verb for a in self.asked]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def headers(**kw: object) -> ParsedHeaders:
    lines: list[tuple[str, str]] = []
    if "user" in kw:
        lines.append(("Impersonate-User", str(kw["user"])))
    if "uid" in kw:
        lines.append(("Impersonate-Uid", str(kw["uid"])))
    for g in kw.get("groups", ()):  # type: ignore[attr-defined]
        lines.append(("Impersonate-Group", g))
    for k, vs in dict(kw.get("extra", {})).items():  # type: ignore[call-overload]
        for v in vs:
            lines.append((f"Impersonate-Extra-{k}", v))
    parsed = parse(lines)
    assert parsed is not None
    return parsed


def request(
    method: str = "GET", path: str = "/api/v1/namespaces/default/pods", query: str = ""
) -> Attributes:
    return Attributes.from_request(Identity("ignored"), resolve(method, path, query))


ALICE = Identity("alice", groups=("system:authenticated",))
DEPUTY = Identity(
    "system:serviceaccount:deputy-ns:deputy",
    "sa-uid",
    ("system:serviceaccounts", "system:authenticated"),
)


def agent(node: str = "node-a") -> Identity:
    return Identity(
        "system:serviceaccount:node-agents:node-agent",
        "sa-uid",
        ("system:serviceaccounts", "system:serviceaccounts:node-agents", "system:authenticated"),
        {
            "authentication.kubernetes.io/node-name": (node,),
            "authentication.kubernetes.io/pod-name": ("agent-xyz",),
            "authentication.kubernetes.io/credential-id": ("JTI=1",),
        },
    )


def engine(grants: Grants, *, gate: bool = True, clock: Clock | None = None) -> Impersonator:
    return Impersonator(grants, constrained_filter=gate, metrics=Registry(), clock=clock or Clock())


def test_user_info_asks_action_then_user_then_groups_then_extras() -> None:
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    imp = engine(g)
    result = imp.impersonate(
        DEPUTY,
        headers(user="bob", uid="u1", groups=["dev"], extra={"example.com%2Fscopes": ["view"]}),
        request(),
    )
    assert result.constraint == "impersonate:user-info"
    assert result.identity == Identity(
        "bob", "u1", ("dev", "system:authenticated"), {"example.com/scopes": ("view",)}
    )
    action, user, uid, group, extra = g.asked
    assert (action.verb, action.resource, action.namespace, action.api_version) == (
        "impersonate-on:user-info:list",
        "pods",
        "default",
        "v1",
    )
    assert action.user == DEPUTY
    assert (
        user.verb,
        user.api_group,
        user.api_version,
        user.resource,
        user.name,
        user.namespace,
    ) == ("impersonate:user-info", AUTHN, "v1", "users", "bob", "")
    assert (uid.resource, uid.name) == ("uids", "u1")
    assert (group.resource, group.name, group.api_group) == ("groups", "dev", AUTHN)
    assert (extra.resource, extra.subresource, extra.name) == (
        "userextras",
        "example.com/scopes",
        "view",
    )


def test_no_grants_reports_the_user_info_action_error_not_legacy() -> None:
    imp = engine(Grants())
    with pytest.raises(StatusError) as err:
        imp.impersonate(ALICE, headers(user="bob"), request())
    assert err.value.code == 403
    assert err.value.message.startswith(
        'pods is forbidden: User "alice" cannot impersonate-on:user-info:list resource "pods" '
        'in API group "" in the namespace "default"'
    )


def test_node_target_reports_arbitrary_node_error_with_node_name() -> None:
    g = Grants().grant(verb="impersonate-on:arbitrary-node:get")
    with pytest.raises(StatusError) as err:
        engine(g).impersonate(
            ALICE, headers(user="system:node:n1"), request(path="/api/v1/nodes/n1")
        )
    assert err.value.message.startswith(
        'nodes.authentication.k8s.io "n1" is forbidden: User "alice" cannot impersonate:arbitrary-node '
        'resource "nodes" in API group "authentication.k8s.io" at the cluster scope'
    )
    assert err.value.details == {"name": "n1", "group": AUTHN, "kind": "nodes"}


def test_associated_node_checks_use_star_and_key_names_and_fixed_groups() -> None:
    g = (
        Grants()
        .grant(verb="impersonate:associated-node")
        .grant(verb="impersonate-on:associated-node:list")
    )
    result = engine(g).impersonate(
        agent(),
        headers(user="system:node:node-a"),
        request(path="/api/v1/pods", query="fieldSelector=spec.nodeName%3Dnode-a"),
    )
    assert result.constraint == "impersonate:associated-node"
    assert result.identity == Identity(
        "system:node:node-a", None, ("system:nodes", "system:authenticated")
    )
    action, target = g.asked
    keys = (
        "authentication.kubernetes.io/credential-id",
        "authentication.kubernetes.io/node-name",
        "authentication.kubernetes.io/pod-name",
    )
    for attrs in (action, target):
        assert dict(attrs.user.extra) == {"authentication.kubernetes.io/associated-node-keys": keys}
        assert attrs.user.user == agent().user
    assert action.field_selector == "spec.nodeName=node-a"
    assert (target.resource, target.name, target.api_group) == ("nodes", "*", AUTHN)


def test_associated_node_does_not_apply_to_another_node() -> None:
    g = (
        Grants()
        .grant(verb="impersonate:associated-node")
        .grant(verb="impersonate-on:associated-node:list")
    )
    with pytest.raises(StatusError) as err:
        engine(g).impersonate(
            agent("node-a"), headers(user="system:node:node-b"), request(path="/api/v1/pods")
        )
    # associated-node does not apply: the error comes from arbitrary-node.
    assert "impersonate-on:arbitrary-node:list" in err.value.message
    assert all(not a.verb.endswith("associated-node") for a in g.asked)


def test_service_account_target_gets_fixed_groups_and_namespace_scoped_check() -> None:
    g = (
        Grants()
        .grant(verb="impersonate:serviceaccount", namespace="team-a")
        .grant(verb="impersonate-on:serviceaccount:get")
    )
    result = engine(g).impersonate(
        ALICE,
        headers(user="system:serviceaccount:team-a:builder"),
        request(path="/api/v1/namespaces/team-a/pods/p"),
    )
    assert result.identity.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:team-a",
        "system:authenticated",
    )
    target = g.asked[1]
    assert (target.resource, target.namespace, target.name) == (
        "serviceaccounts",
        "team-a",
        "builder",
    )


def test_group_on_node_target_forces_legacy_without_system_nodes() -> None:
    g = Grants().grant(verb="impersonate")
    result = engine(g).impersonate(
        ALICE, headers(user="system:node:n1", groups=["extra"]), request()
    )
    assert result.constraint == ""
    assert result.identity.groups == ("extra", "system:authenticated")
    user_check = g.asked[0]
    assert (
        user_check.verb,
        user_check.resource,
        user_check.name,
        user_check.api_group,
        user_check.api_version,
    ) == ("impersonate", "users", "system:node:n1", "", "v1")


def test_legacy_service_account_with_groups_gets_only_those_groups() -> None:
    g = Grants().grant(verb="impersonate")
    result = engine(g).impersonate(
        ALICE, headers(user="system:serviceaccount:ns:sa", groups=["g"]), request()
    )
    assert result.identity.groups == ("g", "system:authenticated")


@pytest.mark.parametrize(
    ("groups", "name", "text"),
    [
        (["", "a"], "", "impersonating the empty string group is not allowed"),
        (
            ["a", "system:masters"],
            "system:masters",
            "impersonating the system:masters group is not allowed",
        ),
    ],
)
def test_group_validation_fails_constrained_and_legacy_still_tried(
    groups: list[str], name: str, text: str
) -> None:
    constrained_only = (
        Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    )
    with pytest.raises(StatusError) as err:
        engine(constrained_only).impersonate(ALICE, headers(user="bob", groups=groups), request())
    assert err.value.message.endswith(text)
    assert (err.value.details or {}).get("name", "") == name
    # A legacy grant makes the server accept it anyway (docs/semantics.md#validations).
    both = (
        Grants()
        .grant(verb="impersonate-on:user-info:list")
        .grant(verb="impersonate:user-info")
        .grant(verb="impersonate")
    )
    result = engine(both).impersonate(ALICE, headers(user="bob", groups=groups), request())
    assert result.constraint == "" and result.identity.groups[:2] == tuple(groups)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        (
            "scopes",
            'extra.key: Invalid value: "scopes": must be a domain-prefixed path (such as "acme.io/foo")',
        ),
        (
            "example.com%2F%58",
            'impersonating a non-lowercase key in extra is not allowed: "example.com/X"',
        ),
        ("Impersonate-Extra-", "impersonating the empty string key in extra is not allowed"),
    ],
)
def test_extra_key_validation(key: str, fragment: str) -> None:
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    key = "" if key == "Impersonate-Extra-" else key
    with pytest.raises(StatusError) as err:
        engine(g).impersonate(ALICE, headers(user="bob", extra={key: ["v"]}), request())
    assert fragment in err.value.message
    assert err.value.message.startswith("userextras.authentication.k8s.io is forbidden:")


def test_empty_extra_value_is_refused() -> None:
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    with pytest.raises(
        StatusError, match="impersonating the empty string value in extra is not allowed"
    ):
        engine(g).impersonate(
            ALICE, headers(user="bob", extra={"example.com%2Fa": [""]}), request()
        )


def test_four_groups_try_the_wildcard_first() -> None:
    g = (
        Grants()
        .grant(verb="impersonate-on:user-info:list")
        .grant(verb="impersonate:user-info", resource="users")
        .grant(verb="impersonate:user-info", resource="groups", name="*")
    )
    engine(g).impersonate(ALICE, headers(user="bob", groups=["a", "b", "c", "d"]), request())
    assert [a.name for a in g.asked if a.resource == "groups"] == ["*"]
    three = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    engine(three).impersonate(ALICE, headers(user="bob", groups=["a", "b", "c"]), request())
    assert [a.name for a in three.asked if a.resource == "groups"] == ["a", "b", "c"]


def test_wildcard_denied_falls_back_to_each_group() -> None:
    g = (
        Grants()
        .grant(verb="impersonate-on:user-info:list")
        .grant(verb="impersonate:user-info", resource="users")
        .grant(verb="impersonate:user-info", resource="groups", name="a")
    )
    with pytest.raises(StatusError) as err:
        engine(g).impersonate(ALICE, headers(user="bob", groups=["a", "b", "c", "d"]), request())
    assert [a.name for a in g.asked if a.resource == "groups"] == ["*", "a", "b"]
    assert 'groups.authentication.k8s.io "b" is forbidden' in err.value.message


def test_four_extra_values_try_the_wildcard() -> None:
    g = (
        Grants()
        .grant(verb="impersonate-on:user-info:list")
        .grant(verb="impersonate:user-info", resource="users")
        .grant(verb="impersonate:user-info", resource="userextras", subresource="*", name="*")
    )
    engine(g).impersonate(
        ALICE, headers(user="bob", extra={"example.com%2Fa": ["1", "2", "3", "4"]}), request()
    )
    assert [(a.subresource, a.name) for a in g.asked if a.resource == "userextras"] == [("*", "*")]


def test_anonymous_target_gets_unauthenticated() -> None:
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    result = engine(g).impersonate(ALICE, headers(user="system:anonymous"), request())
    assert result.identity.groups == ("system:unauthenticated",)
    result = engine(g).impersonate(
        ALICE, headers(user="carol", groups=["system:unauthenticated"]), request()
    )
    assert result.identity.groups == ("system:unauthenticated",)


def test_success_is_cached_ten_seconds_and_inner_cache_skips_target_checks() -> None:
    clock = Clock()
    g = (
        Grants()
        .grant(verb="impersonate-on:user-info:list")
        .grant(verb="impersonate-on:user-info:get")
        .grant(verb="impersonate:user-info")
    )
    imp = engine(g, clock=clock)
    imp.impersonate(ALICE, headers(user="bob"), request())
    assert len(g.asked) == 2
    imp.impersonate(ALICE, headers(user="bob"), request())  # outer hit: nothing asked
    assert len(g.asked) == 2
    imp.impersonate(ALICE, headers(user="bob"), request(path="/api/v1/namespaces/default/pods/p"))
    assert g.verbs()[2:] == ["impersonate-on:user-info:get"]  # inner hit: action only
    clock.now += 10.5
    g.allowed = [a for a in g.allowed if a["verb"] != "impersonate:user-info"]  # revoke
    with pytest.raises(StatusError):
        imp.impersonate(ALICE, headers(user="bob"), request())


def test_revoking_during_the_cache_window_is_not_seen_until_expiry() -> None:
    clock = Clock()
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    imp = engine(g, clock=clock)
    imp.impersonate(ALICE, headers(user="bob"), request())
    g.allowed.clear()
    clock.now += 9
    imp.impersonate(ALICE, headers(user="bob"), request())  # still cached
    clock.now += 2
    with pytest.raises(StatusError):
        imp.impersonate(ALICE, headers(user="bob"), request())


def test_associated_node_cache_is_shared_across_nodes_and_renamed() -> None:
    g = (
        Grants()
        .grant(verb="impersonate:associated-node")
        .grant(verb="impersonate-on:associated-node:list")
    )
    imp = engine(g)
    q = "fieldSelector=spec.nodeName%3Dx"
    imp.impersonate(
        agent("node-a"), headers(user="system:node:node-a"), request(path="/api/v1/pods", query=q)
    )
    asked = len(g.asked)
    other = Identity(
        agent("node-b").user,
        "sa-uid",
        agent().groups,
        {
            "authentication.kubernetes.io/node-name": ("node-b",),
            "authentication.kubernetes.io/pod-name": ("agent-abc",),
            "authentication.kubernetes.io/credential-id": ("JTI=2",),
        },
    )
    result = imp.impersonate(
        other, headers(user="system:node:node-b"), request(path="/api/v1/pods", query=q)
    )
    assert len(g.asked) == asked
    assert result.identity.user == "system:node:node-b"


def test_mode_memory_changes_which_error_is_reported() -> None:
    g = Grants().grant(verb="impersonate", resource="users", name="bob")
    imp = engine(g)
    assert imp.impersonate(ALICE, headers(user="bob"), request()).mode == "legacy"
    with pytest.raises(StatusError) as err:
        imp.impersonate(ALICE, headers(user="carol"), request())
    assert (
        'users "carol" is forbidden: User "alice" cannot impersonate resource "users"'
        in err.value.message
    )
    fresh = engine(Grants())
    with pytest.raises(StatusError) as err2:
        fresh.impersonate(ALICE, headers(user="carol"), request())
    assert "impersonate-on:user-info:list" in err2.value.message


def test_gate_off_runs_only_legacy_with_empty_core_version_and_uid_last() -> None:
    g = Grants().grant(verb="impersonate")
    result = engine(g, gate=False).impersonate(
        ALICE, headers(user="bob", uid="u", groups=["g"]), request()
    )
    assert result.constraint == ""
    assert [(a.resource, a.api_version) for a in g.asked] == [
        ("users", ""),
        ("groups", ""),
        ("uids", "v1"),
    ]
    constrained = (
        Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    )
    with pytest.raises(StatusError) as err:
        engine(constrained, gate=False).impersonate(ALICE, headers(user="bob"), request())
    assert 'cannot impersonate resource "users"' in err.value.message


def test_metrics_count_attempts_and_authorization_checks() -> None:
    registry = Registry()
    g = Grants().grant(verb="impersonate-on:user-info:list").grant(verb="impersonate:user-info")
    imp = Impersonator(g, metrics=registry, clock=Clock())
    imp.impersonate(ALICE, headers(user="bob"), request())
    with pytest.raises(StatusError):
        imp.impersonate(
            ALICE,
            headers(user="bob"),
            request(method="DELETE", path="/api/v1/namespaces/default/pods/p"),
        )
    text = registry.render()
    assert 'apiserver_impersonation_attempts_total{decision="allowed",mode="user-info"} 1' in text
    assert 'apiserver_impersonation_attempts_total{decision="denied",mode=""} 1' in text
    assert (
        'apiserver_impersonation_authorization_attempts_total{decision="allowed",mode="user-info"} 2'
        in text
    )
    assert (
        'apiserver_impersonation_authorization_attempts_total{decision="denied",mode="legacy"} 1'
        in text
    )
