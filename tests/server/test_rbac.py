"""RBAC authorizer: kube's matching rules, binding semantics, aggregation and reason wording.

The authorizer reads a plain in-memory object list through ``list_objects``/``revision``, the
same shape the server's store hands it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cimp_apiserver.authz import (
    Decision,
    PolicyRule,
    RBACAuthorizer,
    aggregated_rules,
    rule_allows,
)
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, resolve

RBAC = "rbac.authorization.k8s.io"
ALICE = Identity("alice", groups=("devs", "system:authenticated"))


class Store:
    """The store's data-source shape: all objects of a resource, and a revision counter."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.rev = 0
        self.lists = 0

    def add(self, resource: str, obj: dict[str, Any], group: str = RBAC) -> dict[str, Any]:
        self.objects.setdefault((group, resource), []).append(obj)
        self.rev += 1
        return obj

    def remove(self, resource: str, name: str, group: str = RBAC) -> None:
        items = self.objects[(group, resource)]
        items[:] = [o for o in items if o["metadata"]["name"] != name]
        self.rev += 1

    def list_objects(self, group: str, resource: str) -> list[dict[str, Any]]:
        self.lists += 1
        return list(self.objects.get((group, resource), []))

    def revision(self) -> int:
        return self.rev

    # ------------------------------------------------------------- object builders

    def cluster_role(
        self,
        name: str,
        rules: list[dict[str, Any]] | None = None,
        labels: dict[str, str] | None = None,
        aggregation: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}}
        if rules is not None:
            obj["rules"] = rules
        if aggregation is not None:
            obj["aggregationRule"] = {"clusterRoleSelectors": aggregation}
        return self.add("clusterroles", obj)

    def role(self, namespace: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return self.add(
            "roles", {"metadata": {"name": name, "namespace": namespace}, "rules": rules}
        )

    def cluster_binding(
        self, name: str, role: str, subjects: list[dict[str, str]], kind: str = "ClusterRole"
    ) -> dict[str, Any]:
        return self.add(
            "clusterrolebindings",
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
                "subjects": subjects,
            },
        )

    def binding(
        self, namespace: str, name: str, kind: str, role: str, subjects: list[dict[str, str]]
    ) -> dict[str, Any]:
        return self.add(
            "rolebindings",
            {
                "metadata": {"name": name, "namespace": namespace},
                "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
                "subjects": subjects,
            },
        )


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": RBAC}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name, "apiGroup": RBAC}


def sa(name: str, namespace: str = "") -> dict[str, str]:
    out = {"kind": "ServiceAccount", "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def rule(verbs: list[str], groups: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources, **extra}


def res(
    who: Identity,
    verb: str,
    resource: str,
    group: str = "",
    namespace: str = "",
    name: str = "",
    sub: str = "",
) -> Attributes:
    return Attributes(
        user=who,
        verb=verb,
        resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=sub,
        namespace=namespace,
        name=name,
    )


def path(who: Identity, verb: str, url: str) -> Attributes:
    return Attributes(user=who, verb=verb, resource_request=False, path=url)


@pytest.fixture
def store() -> Store:
    return Store()


def authz(store: Store) -> RBACAuthorizer:
    return RBACAuthorizer(store.list_objects, store.revision)


# --------------------------------------------------------------------------- rule matching


def pr(**kwargs: Any) -> PolicyRule:
    return PolicyRule.from_dict(kwargs)


def test_verbs_match_exactly_or_by_star_with_no_partial_wildcard() -> None:
    r = pr(verbs=["impersonate-on:user-info:list"], apiGroups=[""], resources=["pods"])
    assert rule_allows(res(ALICE, "impersonate-on:user-info:list", "pods"), r)
    assert not rule_allows(res(ALICE, "impersonate-on:user-info:get", "pods"), r)
    assert not rule_allows(res(ALICE, "list", "pods"), r)
    partial = pr(verbs=["impersonate-on:*"], apiGroups=[""], resources=["pods"])
    assert not rule_allows(res(ALICE, "impersonate-on:user-info:list", "pods"), partial)
    star = pr(verbs=["*"], apiGroups=[""], resources=["pods"])
    assert rule_allows(res(ALICE, "impersonate-on:user-info:list", "pods"), star)


def test_api_groups_match_exactly_or_by_star() -> None:
    r = pr(verbs=["get"], apiGroups=["apps"], resources=["daemonsets"])
    assert rule_allows(res(ALICE, "get", "daemonsets", group="apps"), r)
    assert not rule_allows(res(ALICE, "get", "daemonsets", group=""), r)
    assert not rule_allows(res(ALICE, "get", "daemonsets", group="extensions"), r)
    assert rule_allows(
        res(ALICE, "get", "daemonsets", group="x.io"),
        pr(verbs=["get"], apiGroups=["*"], resources=["daemonsets"]),
    )


@pytest.mark.parametrize(
    ("rule_resource", "resource", "sub", "allowed"),
    [
        ("*", "pods", "", True),
        ("*", "pods", "log", True),
        ("pods", "pods", "", True),
        ("pods", "pods", "log", False),  # subresource-exact
        ("pods/log", "pods", "log", True),
        ("pods/log", "pods", "", False),
        ("*/log", "pods", "log", True),
        ("*/log", "nodes", "log", True),
        ("*/log", "pods", "", False),
        ("*/log", "pods", "status", False),
        ("*/status", "pods", "log", False),
        # ``x/*`` is not a wildcard: only the literal subresource ``*`` matches.
        ("pods/*", "pods", "log", False),
        ("pods/*", "pods", "*", True),
        ("pods/*", "pods", "", False),
        ("userextras/*", "userextras", "example.com/scopes", False),
        ("userextras/*", "userextras", "*", True),
        ("*/example.com/scopes", "userextras", "example.com/scopes", True),
        ("userextras/example.com/scopes", "userextras", "example.com/scopes", True),
    ],
)
def test_resource_matching_as_kube(
    rule_resource: str, resource: str, sub: str, allowed: bool
) -> None:
    r = pr(verbs=["get"], apiGroups=["*"], resources=[rule_resource])
    assert rule_allows(res(ALICE, "get", resource, sub=sub), r) is allowed


def test_resource_names_never_match_nameless_requests() -> None:
    r = pr(verbs=["*"], apiGroups=[""], resources=["pods"], resourceNames=["web"])
    assert rule_allows(res(ALICE, "get", "pods", name="web"), r)
    assert not rule_allows(res(ALICE, "get", "pods", name="db"), r)
    assert not rule_allows(res(ALICE, "list", "pods"), r)
    assert not rule_allows(res(ALICE, "create", "pods"), r)
    # Wildcard checks use the literal name "*", which only a "*" entry matches.
    assert not rule_allows(res(ALICE, "impersonate:user-info", "groups", name="*"), r)
    star = pr(verbs=["*"], apiGroups=["*"], resources=["*"], resourceNames=["*"])
    assert rule_allows(res(ALICE, "impersonate:user-info", "groups", name="*"), star)
    assert not rule_allows(res(ALICE, "impersonate:user-info", "groups", name="devs"), star)


@pytest.mark.parametrize(
    ("url", "request_path", "allowed"),
    [
        ("/healthz", "/healthz", True),
        ("/healthz", "/healthz/etcd", False),
        ("/healthz/*", "/healthz/etcd", True),
        ("/healthz/*", "/healthz", False),
        ("/healthz*", "/healthz", True),
        ("/healthz*", "/healthzzz/x", True),
        ("/api/**", "/api/v1", True),
        ("*", "/anything", True),
        ("/version/", "/version", False),
    ],
)
def test_non_resource_urls(url: str, request_path: str, allowed: bool) -> None:
    r = pr(verbs=["get"], nonResourceURLs=[url])
    assert rule_allows(path(ALICE, "get", request_path), r) is allowed


def test_resource_rules_do_not_cover_paths_and_url_rules_do_not_cover_resources() -> None:
    resource_rule = pr(verbs=["*"], apiGroups=["*"], resources=["*"])
    url_rule = pr(verbs=["*"], nonResourceURLs=["*"])
    assert not rule_allows(path(ALICE, "get", "/healthz"), resource_rule)
    assert not rule_allows(res(ALICE, "get", "pods"), url_rule)


def test_malformed_rule_fields_are_ignored() -> None:
    r = PolicyRule.from_dict({"verbs": "get", "apiGroups": None, "resources": ["pods", 3]})
    assert r == PolicyRule(resources=("pods",))
    assert not rule_allows(res(ALICE, "get", "pods"), r)


names = st.text(alphabet="abcxyz-*/", min_size=0, max_size=6)


@given(verb=names, group=names, resource=names, sub=names, name=names)
def test_full_wildcard_allows_every_resource_request(
    verb: str, group: str, resource: str, sub: str, name: str
) -> None:
    r = pr(verbs=["*"], apiGroups=["*"], resources=["*"])
    assert rule_allows(res(ALICE, verb, resource, group=group, sub=sub, name=name), r)


@given(resource=names, sub=names, wanted=names)
def test_star_slash_sub_matches_exactly_that_subresource(
    resource: str, sub: str, wanted: str
) -> None:
    r = pr(verbs=["get"], apiGroups=[""], resources=[f"*/{wanted}"])
    expected = (bool(sub) and sub == wanted) or f"{resource}/{sub}" == f"*/{wanted}"
    if not sub:
        expected = resource == f"*/{wanted}"
    assert rule_allows(res(ALICE, "get", resource, sub=sub), r) is expected


@given(names_in_rule=st.lists(names, min_size=1, max_size=3), name=names)
def test_resource_names_match_iff_listed(names_in_rule: list[str], name: str) -> None:
    r = pr(verbs=["get"], apiGroups=[""], resources=["pods"], resourceNames=names_in_rule)
    assert rule_allows(res(ALICE, "get", "pods", name=name), r) is (name in names_in_rule)


# --------------------------------------------------------------------------- bindings


def test_cluster_role_binding_to_user_and_reason(store: Store) -> None:
    store.cluster_role("pod-reader", [rule(["get", "list"], [""], ["pods"])])
    store.cluster_binding("read-pods", "pod-reader", [user("alice")])
    decision, reason = authz(store).authorize(res(ALICE, "list", "pods", namespace="ns1"))
    assert decision is Decision.ALLOW
    assert reason == (
        'RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" '
        'to User "alice"'
    )
    assert authz(store).authorize(res(ALICE, "delete", "pods", namespace="ns1")) == (
        Decision.NO_OPINION,
        "",
    )


def test_group_subject_and_reason_names_the_first_matching_subject(store: Store) -> None:
    store.cluster_role("viewer", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("b", "viewer", [user("bob"), group("devs"), user("alice")])
    decision, reason = authz(store).authorize(res(ALICE, "get", "pods", name="p"))
    assert decision is Decision.ALLOW
    assert reason.endswith('to Group "devs"')


def test_role_binding_to_role_is_confined_to_its_namespace(store: Store) -> None:
    store.role("ns1", "editor", [rule(["*"], [""], ["configmaps"])])
    store.binding("ns1", "edit", "Role", "editor", [group("devs")])
    a = authz(store)
    decision, reason = a.authorize(res(ALICE, "create", "configmaps", namespace="ns1"))
    assert decision is Decision.ALLOW
    assert reason == ('RBAC: allowed by RoleBinding "edit/ns1" of Role "editor" to Group "devs"')
    assert (
        a.authorize(res(ALICE, "create", "configmaps", namespace="ns2"))[0] is Decision.NO_OPINION
    )
    assert a.authorize(res(ALICE, "list", "configmaps"))[0] is Decision.NO_OPINION


def test_role_binding_may_reference_a_cluster_role_scoped_to_its_namespace(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["secrets"])])
    store.binding("ns1", "read", "ClusterRole", "reader", [user("alice")])
    a = authz(store)
    decision, reason = a.authorize(res(ALICE, "get", "secrets", namespace="ns1", name="s"))
    assert decision is Decision.ALLOW
    assert 'RoleBinding "read/ns1" of ClusterRole "reader" to User "alice"' in reason
    assert a.authorize(res(ALICE, "get", "secrets", namespace="ns2", name="s"))[0] is (
        Decision.NO_OPINION
    )
    assert a.authorize(res(ALICE, "get", "secrets", name="s"))[0] is Decision.NO_OPINION


def test_role_of_the_same_name_in_another_namespace_is_not_used(store: Store) -> None:
    store.role("ns2", "editor", [rule(["*"], ["*"], ["*"])])
    store.binding("ns1", "edit", "Role", "editor", [user("alice")])
    decision, reason = authz(store).authorize(res(ALICE, "get", "pods", namespace="ns1"))
    assert decision is Decision.NO_OPINION
    assert reason == 'RBAC: role.rbac.authorization.k8s.io "editor" not found'


def test_service_account_subject_matches_its_user_name(store: Store) -> None:
    store.cluster_role("reader", [rule(["list"], [""], ["pods"])])
    store.cluster_binding("agents", "reader", [sa("node-agent", "node-agents")])
    agent = Identity(
        "system:serviceaccount:node-agents:node-agent",
        groups=("system:serviceaccounts", "system:serviceaccounts:node-agents"),
    )
    decision, reason = authz(store).authorize(res(agent, "list", "pods"))
    assert decision is Decision.ALLOW
    assert reason.endswith('to ServiceAccount "node-agent/node-agents"')
    other = Identity("system:serviceaccount:other:node-agent")
    assert authz(store).authorize(res(other, "list", "pods"))[0] is Decision.NO_OPINION


def test_service_account_subject_namespace_defaults_to_the_role_binding(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.binding("team", "r", "ClusterRole", "reader", [sa("builder")])
    builder = Identity("system:serviceaccount:team:builder")
    decision, reason = authz(store).authorize(res(builder, "get", "pods", namespace="team"))
    assert decision is Decision.ALLOW
    assert reason.endswith('to ServiceAccount "builder/team"')


def test_service_account_subject_without_namespace_never_matches_cluster_wide(
    store: Store,
) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("r", "reader", [sa("builder")])
    for who in ("system:serviceaccount::builder", "system:serviceaccount:default:builder"):
        assert authz(store).authorize(res(Identity(who), "get", "pods"))[0] is Decision.NO_OPINION


def test_user_subject_with_service_account_name_also_matches(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("r", "reader", [user("system:serviceaccount:a:b")])
    decision, reason = authz(store).authorize(
        res(Identity("system:serviceaccount:a:b"), "get", "pods")
    )
    assert decision is Decision.ALLOW
    assert reason.endswith('to User "system:serviceaccount:a:b"')


def test_unknown_subject_kinds_never_match(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("r", "reader", [{"kind": "user", "name": "alice"}])
    assert authz(store).authorize(res(ALICE, "get", "pods"))[0] is Decision.NO_OPINION


def test_cluster_bindings_are_visited_before_role_bindings(store: Store) -> None:
    store.cluster_role("all", [rule(["*"], ["*"], ["*"])])
    store.binding("ns1", "local", "ClusterRole", "all", [user("alice")])
    store.cluster_binding("global", "all", [user("alice")])
    _, reason = authz(store).authorize(res(ALICE, "get", "pods", namespace="ns1"))
    assert 'ClusterRoleBinding "global"' in reason


def test_first_allowing_binding_in_list_order_is_reported(store: Store) -> None:
    store.cluster_role("all", [rule(["*"], ["*"], ["*"])])
    store.cluster_binding("second-by-name", "all", [group("system:authenticated")])
    store.cluster_binding("a-first-by-name", "all", [user("alice")])
    _, reason = authz(store).authorize(res(ALICE, "get", "pods"))
    assert 'ClusterRoleBinding "second-by-name"' in reason
    assert reason.endswith('to Group "system:authenticated"')


def test_cluster_scoped_targets_need_cluster_role_bindings(store: Store) -> None:
    """docs/semantics.md#rbac: users/groups targets are cluster-scoped, so RoleBindings never grant them."""
    store.cluster_role(
        "imp", [rule(["impersonate:user-info"], ["authentication.k8s.io"], ["users"])]
    )
    store.binding("ns1", "imp", "ClusterRole", "imp", [user("alice")])
    check = res(ALICE, "impersonate:user-info", "users", group="authentication.k8s.io", name="bob")
    assert authz(store).authorize(check)[0] is Decision.NO_OPINION
    store.cluster_binding("imp", "imp", [user("alice")])
    assert authz(store).authorize(check)[0] is Decision.ALLOW


def test_service_account_target_can_be_granted_by_a_role_binding(store: Store) -> None:
    store.role(
        "team",
        "imp-sa",
        [rule(["impersonate:serviceaccount"], ["authentication.k8s.io"], ["serviceaccounts"])],
    )
    store.binding("team", "imp-sa", "Role", "imp-sa", [user("alice")])
    check = res(
        ALICE,
        "impersonate:serviceaccount",
        "serviceaccounts",
        group="authentication.k8s.io",
        namespace="team",
        name="builder",
    )
    assert authz(store).authorize(check)[0] is Decision.ALLOW


# --------------------------------------------------------------------------- errors


def test_missing_cluster_role_is_a_reason(store: Store) -> None:
    store.cluster_binding("dangling", "missing", [user("alice")])
    assert authz(store).authorize(res(ALICE, "get", "pods")) == (
        Decision.NO_OPINION,
        'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    )


def test_several_errors_are_aggregated_and_deduplicated(store: Store) -> None:
    store.cluster_binding("d1", "missing", [user("alice")])
    store.cluster_binding("d2", "missing", [group("devs")])
    store.binding("ns1", "d3", "Role", "gone", [user("alice")])
    store.binding("ns1", "d4", "Bogus", "x", [user("alice")])
    decision, reason = authz(store).authorize(res(ALICE, "get", "pods", namespace="ns1"))
    assert decision is Decision.NO_OPINION
    assert reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, '
        'role.rbac.authorization.k8s.io "gone" not found, '
        'unsupported role reference kind: "Bogus"]'
    )


def test_errors_do_not_matter_once_something_allows(store: Store) -> None:
    store.cluster_binding("dangling", "missing", [user("alice")])
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("ok", "reader", [user("alice")])
    assert authz(store).authorize(res(ALICE, "get", "pods"))[0] is Decision.ALLOW


def test_bindings_of_other_users_do_not_contribute_errors(store: Store) -> None:
    store.cluster_binding("dangling", "missing", [user("bob")])
    assert authz(store).authorize(res(ALICE, "get", "pods")) == (Decision.NO_OPINION, "")


def test_malformed_objects_do_not_break_authorization(store: Store) -> None:
    store.add("clusterroles", {"metadata": {"name": "weird"}, "rules": "nope"})
    store.add("clusterrolebindings", {"metadata": {"name": "x"}, "roleRef": None, "subjects": [1]})
    store.add("clusterrolebindings", {"metadata": {"name": "y"}, "subjects": [user("alice")]})
    decision, reason = authz(store).authorize(res(ALICE, "get", "pods"))
    assert decision is Decision.NO_OPINION
    assert reason == 'RBAC: unsupported role reference kind: ""'


# --------------------------------------------------------------------------- aggregation


def test_aggregated_cluster_role_gets_the_rules_of_matching_roles(store: Store) -> None:
    store.cluster_role(
        "monitoring",
        rules=[rule(["delete"], [""], ["pods"])],  # overwritten by the controller
        aggregation=[{"matchLabels": {"example.com/aggregate-to-monitoring": "true"}}],
    )
    store.cluster_role(
        "pods-reader",
        [rule(["get", "list"], [""], ["pods"])],
        labels={"example.com/aggregate-to-monitoring": "true"},
    )
    store.cluster_role("unrelated", [rule(["*"], ["*"], ["*"])])
    store.cluster_binding("mon", "monitoring", [user("alice")])
    a = authz(store)
    decision, reason = a.authorize(res(ALICE, "list", "pods"))
    assert decision is Decision.ALLOW
    assert reason.endswith('of ClusterRole "monitoring" to User "alice"')
    assert a.authorize(res(ALICE, "delete", "pods", name="p"))[0] is Decision.NO_OPINION
    # A new matching role widens the aggregate at the next revision.
    store.cluster_role(
        "nodes-reader",
        [rule(["get"], [""], ["nodes"])],
        labels={"example.com/aggregate-to-monitoring": "true"},
    )
    assert a.authorize(res(ALICE, "get", "nodes", name="n"))[0] is Decision.ALLOW


def test_nested_aggregation_and_match_expressions(store: Store) -> None:
    store.cluster_role("top", aggregation=[{"matchLabels": {"agg": "top"}}])
    store.cluster_role(
        "middle",
        labels={"agg": "top"},
        aggregation=[
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
        ],
    )
    store.cluster_role("leaf-a", [rule(["get"], [""], ["pods"])], labels={"tier": "a"})
    store.cluster_role("leaf-c", [rule(["get"], [""], ["secrets"])], labels={"tier": "c"})
    store.cluster_binding("top", "top", [user("alice")])
    a = authz(store)
    assert a.authorize(res(ALICE, "get", "pods", name="p"))[0] is Decision.ALLOW
    assert a.authorize(res(ALICE, "get", "secrets", name="s"))[0] is Decision.NO_OPINION


def test_aggregation_cycles_terminate(store: Store) -> None:
    store.cluster_role("a", [], labels={"x": "1"}, aggregation=[{"matchLabels": {"x": "2"}}])
    store.cluster_role("b", [], labels={"x": "2"}, aggregation=[{"matchLabels": {"x": "1"}}])
    store.cluster_role("c", [rule(["get"], [""], ["pods"])], labels={"x": "1"})
    store.cluster_binding("b", "b", [user("alice")])
    assert authz(store).authorize(res(ALICE, "get", "pods", name="p"))[0] is Decision.ALLOW


def test_aggregated_rules_are_sorted_by_role_name_and_deduplicated() -> None:
    shared = rule(["get"], [""], ["pods"])
    roles: list[dict[str, Any]] = [
        {
            "metadata": {"name": "z", "labels": {"a": "1"}},
            "rules": [shared, rule(["list"], [""], ["pods"])],
        },
        {"metadata": {"name": "b", "labels": {"a": "1"}}, "rules": [shared]},
        {"metadata": {"name": "bad-selector-ignored", "labels": {"a": "1"}}, "rules": []},
    ]
    agg = {
        "metadata": {"name": "agg"},
        "aggregationRule": {
            "clusterRoleSelectors": [
                {"matchLabels": {"a": "1"}},
                {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
            ]
        },
    }
    assert aggregated_rules(agg, roles) == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
    ]


def test_empty_selector_aggregates_every_other_role() -> None:
    roles = [{"metadata": {"name": "r"}, "rules": [rule(["get"], [""], ["pods"])]}]
    agg = {"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{}]}}
    assert aggregated_rules(agg, roles) == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    ]
    none = {"metadata": {"name": "agg"}, "aggregationRule": {}}
    assert aggregated_rules(none, roles) == []


# --------------------------------------------------------------------------- rules_for


def test_rules_for_lists_cluster_then_namespace_rules_and_errors(store: Store) -> None:
    store.cluster_role(
        "mixed",
        [rule(["get"], [""], ["pods"]), {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
    )
    store.cluster_binding("mixed", "mixed", [group("devs")])
    store.role("ns1", "cm", [rule(["list"], [""], ["configmaps"], resourceNames=["a"])])
    store.binding("ns1", "cm", "Role", "cm", [user("alice")])
    store.binding("ns1", "broken", "Role", "missing", [user("alice")])
    review = authz(store).rules_for(ALICE, "ns1")
    assert [r.to_dict() for r in review.resource_rules] == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
    ]
    assert [r.non_resource_rule() for r in review.non_resource_rules] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    ]
    assert not review.incomplete
    assert review.evaluation_error == 'role.rbac.authorization.k8s.io "missing" not found'
    assert authz(store).rules_for(ALICE, "ns2").resource_rules == review.resource_rules[:1]


# --------------------------------------------------------------------------- caching


def test_indexes_are_rebuilt_only_when_the_revision_moves(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("r", "reader", [user("alice")])
    a = authz(store)
    for i in range(50):
        a.authorize(res(ALICE, "get", "pods", name=f"p{i}"))
        a.authorize(res(ALICE, "get", "pods", name="same"))
    assert store.lists == 4  # one build: four resource lists
    store.remove("clusterrolebindings", "r")
    assert a.authorize(res(ALICE, "get", "pods", name="same"))[0] is Decision.NO_OPINION
    assert store.lists == 8


def test_many_bindings_for_other_subjects_are_not_scanned(store: Store) -> None:
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    for i in range(2000):
        store.cluster_binding(f"b{i}", "reader", [user(f"user{i}")])
    a = authz(store)
    assert a.authorize(res(ALICE, "get", "pods", name="p"))[0] is Decision.NO_OPINION
    assert a.authorize(res(Identity("user1999"), "get", "pods", name="p")) == (
        Decision.ALLOW,
        'RBAC: allowed by ClusterRoleBinding "b1999" of ClusterRole "reader" to User "user1999"',
    )


def test_resolver_attributes_feed_rbac_directly(store: Store) -> None:
    store.cluster_role("watcher", [rule(["watch"], [""], ["pods"])])
    store.cluster_binding("w", "watcher", [user("alice")])
    attrs = Attributes.from_request(ALICE, resolve("GET", "/api/v1/pods", "watch=1"))
    assert authz(store).authorize(attrs)[0] is Decision.ALLOW
    attrs = Attributes.from_request(ALICE, resolve("GET", "/api/v1/pods"))
    assert authz(store).authorize(attrs)[0] is Decision.NO_OPINION


class PerResourceStore(Store):
    """A store that also reports the revision of one resource, as the server's store does."""

    def __init__(self) -> None:
        super().__init__()
        self.per_resource: dict[tuple[str, str], int] = {}

    def add(self, resource: str, obj: dict[str, Any], group: str = RBAC) -> dict[str, Any]:
        out = super().add(resource, obj, group)
        self.per_resource[(group, resource)] = self.rev
        return out

    def revision(self, group: str | None = None, resource: str | None = None) -> int:
        if group is None and resource is None:
            return self.rev
        return self.per_resource.get((group or "", resource or ""), 0)


def test_writes_to_other_resources_do_not_rebuild_rbac() -> None:
    store = PerResourceStore()
    store.cluster_role("reader", [rule(["get"], [""], ["pods"])])
    store.cluster_binding("r", "reader", [user("alice")])
    a = RBACAuthorizer(store.list_objects, store.revision)
    assert a.authorize(res(ALICE, "get", "pods", name="p"))[0] is Decision.ALLOW
    built = store.lists
    for i in range(10):
        store.add("pods", {"metadata": {"name": f"p{i}"}}, group="")
        assert a.authorize(res(ALICE, "get", "pods", name="p"))[0] is Decision.ALLOW
    assert store.lists == built
    store.cluster_binding("r2", "reader", [user("bob")])
    assert a.authorize(res(Identity("bob"), "get", "pods", name="p"))[0] is Decision.ALLOW
    assert store.lists == built + 4
