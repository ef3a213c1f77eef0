"""Bootstrap policy and the Node,RBAC chain over it: what a fresh cluster allows."""

from __future__ import annotations

from typing import Any

import pytest

from cimp_apiserver.authz import (
    Decision,
    PrivilegedGroupAuthorizer,
    RulesReview,
    UnionAuthorizer,
    bootstrap_objects,
    new_authorizer,
)
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, resolve

RBAC = "rbac.authorization.k8s.io"


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.rev = 0
        for group, resource, obj in bootstrap_objects():
            self.add(group, resource, obj)

    def add(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        self.objects.setdefault((group, resource), []).append(obj)
        self.rev += 1

    def list_objects(self, group: str, resource: str) -> list[dict[str, Any]]:
        return list(self.objects.get((group, resource), []))

    def revision(self) -> int:
        return self.rev

    def named(self, resource: str, name: str) -> dict[str, Any]:
        return next(o for o in self.objects[(RBAC, resource)] if o["metadata"]["name"] == name)


@pytest.fixture
def store() -> Store:
    return Store()


def ask(store: Store, who: Identity, method: str, path: str, query: str = "") -> Decision:
    authorizer = new_authorizer(store.list_objects, store.revision)
    return authorizer.authorize(Attributes.from_request(who, resolve(method, path, query)))[0]


ALICE = Identity("alice", groups=("system:authenticated",))
ANON = Identity("system:anonymous", groups=("system:unauthenticated",))
ADMIN = Identity("admin", groups=("system:masters", "system:authenticated"))


# --------------------------------------------------------------------------- objects


def test_objects_are_labelled_and_annotated_like_kube() -> None:
    objects = bootstrap_objects()
    kinds = {"clusterroles": "ClusterRole", "clusterrolebindings": "ClusterRoleBinding"}
    kinds |= {"roles": "Role", "rolebindings": "RoleBinding"}
    assert {resource for _, resource, _ in objects} == set(kinds)
    for resource in kinds:
        keys = [
            (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            for _, r, obj in objects
            if r == resource
        ]
        assert len(keys) == len(set(keys))
    seeded: set[tuple[str, str, str]] = set()
    for group, resource, obj in objects:
        meta = obj["metadata"]
        assert group == RBAC
        assert meta["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert meta["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["kind"] == kinds[resource]
        if "roleRef" in obj:
            # Roles come before bindings so that a seeded binding never dangles.
            ref = obj["roleRef"]
            namespace = meta.get("namespace", "") if ref["kind"] == "Role" else ""
            assert (ref["kind"], namespace, ref["name"]) in seeded, obj
        else:
            seeded.add((obj["kind"], meta.get("namespace", ""), meta["name"]))


def test_expected_roles_and_bindings_exist(store: Store) -> None:
    roles = {o["metadata"]["name"] for o in store.objects[(RBAC, "clusterroles")]}
    assert {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:monitoring",
        "system:node",
        "system:node-proxier",
        "system:kube-scheduler",
    } <= roles
    bindings = {o["metadata"]["name"]: o for o in store.objects[(RBAC, "clusterrolebindings")]}
    assert bindings["cluster-admin"]["subjects"] == [
        {"apiGroup": RBAC, "kind": "Group", "name": "system:masters"}
    ]
    assert [s["name"] for s in bindings["system:public-info-viewer"]["subjects"]] == [
        "system:authenticated",
        "system:unauthenticated",
    ]
    assert [s["name"] for s in bindings["system:discovery"]["subjects"]] == ["system:authenticated"]
    assert [s["name"] for s in bindings["system:basic-user"]["subjects"]] == [
        "system:authenticated"
    ]
    assert "subjects" not in bindings["system:node"]
    for binding in bindings.values():
        assert binding["roleRef"]["name"] in roles


def test_aggregated_roles_are_prefilled_and_nest(store: Store) -> None:
    view = store.named("clusterroles", "view")
    edit = store.named("clusterroles", "edit")
    admin = store.named("clusterroles", "admin")
    assert view["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
    ]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["rules"] and edit["rules"] and admin["rules"]
    for rule in view["rules"]:
        assert rule in edit["rules"]
    for rule in edit["rules"]:
        assert rule in admin["rules"]
    assert len(admin["rules"]) > len(edit["rules"]) > len(view["rules"])


@pytest.mark.parametrize(
    ("group", "resource", "allowed"),
    [
        ("", "pods", True),
        ("", "configmaps", True),
        ("", "secrets", True),
        ("", "services", True),
        ("", "serviceaccounts", True),
        ("", "events", True),
        ("apps", "deployments", True),
        ("apps", "daemonsets", True),
        ("batch", "jobs", True),
        ("coordination.k8s.io", "leases", True),
        ("events.k8s.io", "events", True),
        ("rbac.authorization.k8s.io", "rolebindings", True),
        ("resource.k8s.io", "resourceclaims", True),
        # Not in kube 1.37's aggregate-to-* roles either.
        ("", "podtemplates", False),
        ("storage.k8s.io", "csistoragecapacities", False),
    ],
)
def test_namespace_admins_list_what_kubes_admin_covers(
    store: Store, group: str, resource: str, allowed: bool
) -> None:
    """A RoleBinding to ``admin`` lists what it does on kube 1.37 (its aggregated rules)."""
    ns_admin = Identity("nsadmin", groups=("system:authenticated",))
    store.add(
        RBAC,
        "rolebindings",
        {
            "metadata": {"name": "admin", "namespace": "team"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "nsadmin"}],
        },
    )
    authorizer = new_authorizer(store.list_objects, store.revision)
    attrs = Attributes(
        user=ns_admin,
        verb="list",
        resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        namespace="team",
    )
    assert (authorizer.authorize(attrs)[0] is Decision.ALLOW) is allowed


# --------------------------------------------------------------------------- a fresh cluster


@pytest.mark.parametrize("url", ["/healthz", "/livez", "/readyz", "/version", "/version/"])
def test_everybody_reads_public_info(store: Store, url: str) -> None:
    assert ask(store, ANON, "GET", url) is Decision.ALLOW
    assert ask(store, ALICE, "GET", url) is Decision.ALLOW


@pytest.mark.parametrize("url", ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v2"])
def test_discovery_is_for_authenticated_users_only(store: Store, url: str) -> None:
    assert ask(store, ALICE, "GET", url) is Decision.ALLOW
    assert ask(store, ANON, "GET", url) is Decision.NO_OPINION


@pytest.mark.parametrize(
    "path",
    [
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    ],
)
def test_authenticated_users_review_themselves(store: Store, path: str) -> None:
    assert ask(store, ALICE, "POST", path) is Decision.ALLOW
    assert ask(store, ANON, "POST", path) is Decision.NO_OPINION


def test_plain_users_get_nothing_else(store: Store) -> None:
    assert ask(store, ALICE, "GET", "/api/v1/pods") is Decision.NO_OPINION
    assert ask(store, ALICE, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews") is (
        Decision.NO_OPINION
    )
    assert ask(store, ALICE, "GET", "/metrics") is Decision.NO_OPINION


def test_system_masters_may_do_anything(store: Store) -> None:
    assert ask(store, ADMIN, "DELETE", "/api/v1/nodes/n1") is Decision.ALLOW
    assert ask(store, ADMIN, "GET", "/anything/at/all") is Decision.ALLOW
    attrs = Attributes(
        user=ADMIN,
        verb="impersonate-on:user-info:list",
        resource_request=True,
        resource="pods",
    )
    assert new_authorizer(store.list_objects, store.revision).authorize(attrs) == (
        Decision.ALLOW,
        "",
    )


def test_cluster_admin_binding_alone_allows_with_rbac_reason(store: Store) -> None:
    attrs = Attributes(
        user=Identity("root", groups=("system:masters",)),
        verb="get",
        resource_request=True,
        resource="pods",
    )
    rbac_only = new_authorizer(store.list_objects, store.revision).chain[2][1]
    assert rbac_only.authorize(attrs) == (
        Decision.ALLOW,
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
        'to Group "system:masters"',
    )


def test_nodes_get_only_node_authorizer_rights(store: Store) -> None:
    node = Identity("system:node:n1", groups=("system:nodes", "system:authenticated"))
    assert ask(store, node, "GET", "/api/v1/pods", "fieldSelector=spec.nodeName%3Dn1") is (
        Decision.ALLOW
    )
    assert ask(store, node, "GET", "/api/v1/pods") is Decision.NO_OPINION
    assert ask(store, node, "GET", "/api/v1/nodes/n1") is Decision.ALLOW
    assert ask(store, node, "GET", "/api/v1/nodes") is Decision.NO_OPINION
    # Legacy-impersonated node: no system:nodes group, so the system:node rules don't apply.
    legacy = Identity("system:node:n1", groups=("system:authenticated",))
    assert ask(store, legacy, "GET", "/api/v1/pods", "fieldSelector=spec.nodeName%3Dn1") is (
        Decision.NO_OPINION
    )


def test_monitoring_group_reads_metrics(store: Store) -> None:
    prom = Identity("prom", groups=("system:monitoring", "system:authenticated"))
    assert ask(store, prom, "GET", "/metrics") is Decision.ALLOW
    assert ask(store, prom, "GET", "/readyz/etcd") is Decision.ALLOW


# --------------------------------------------------------------------------- the union


class Fixed:
    def __init__(self, decision: Decision, reason: str = "") -> None:
        self.decision, self.reason, self.calls = decision, reason, 0

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        self.calls += 1
        return self.decision, self.reason

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        return RulesReview(incomplete=self.decision is Decision.DENY, errors=(self.reason,))


ATTRS = Attributes(user=ALICE, verb="get", resource_request=True, resource="pods")


def test_union_first_allow_or_deny_wins_and_is_returned_unprefixed() -> None:
    first = Fixed(Decision.NO_OPINION, "meh")
    deny = Fixed(Decision.DENY, "no way")
    last = Fixed(Decision.ALLOW, "sure")
    union = UnionAuthorizer([("a", first), ("b", deny), ("c", last)])
    assert union.authorize(ATTRS) == (Decision.DENY, "no way")
    assert last.calls == 0
    allow = UnionAuthorizer([("a", first), ("c", last)])
    assert allow.authorize(ATTRS) == (Decision.ALLOW, "sure")


def test_union_no_opinion_collects_named_reasons() -> None:
    union = UnionAuthorizer(
        [
            ("a", Fixed(Decision.NO_OPINION, "first")),
            ("b", Fixed(Decision.NO_OPINION, "")),
            ("c", Fixed(Decision.NO_OPINION, "third")),
        ]
    )
    assert union.authorize(ATTRS) == (Decision.NO_OPINION, "a: first\nc: third")
    plain = UnionAuthorizer(
        [("a", Fixed(Decision.NO_OPINION, "first")), ("c", Fixed(Decision.NO_OPINION, "x"))],
        prefix_reasons=False,
    )
    assert plain.authorize(ATTRS) == (Decision.NO_OPINION, "first\nx")


def test_union_rules_merge_incomplete_and_errors() -> None:
    union = UnionAuthorizer(
        [("a", Fixed(Decision.DENY, "e1")), ("b", Fixed(Decision.NO_OPINION, "e2"))]
    )
    review = union.rules_for(ALICE, "ns")
    assert review.incomplete
    assert review.evaluation_error == "[e1, e2]"


def test_union_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        UnionAuthorizer([("a", Fixed(Decision.ALLOW)), ("a", Fixed(Decision.ALLOW))])
    with pytest.raises(ValueError, match="non-empty"):
        UnionAuthorizer([("", Fixed(Decision.ALLOW))])


def test_privileged_group_authorizer() -> None:
    privileged = PrivilegedGroupAuthorizer()
    assert privileged.authorize(ATTRS) == (Decision.NO_OPINION, "")
    root = Attributes(
        user=Identity("x", groups=("system:masters",)), verb="x", resource_request=False, path="/"
    )
    assert privileged.authorize(root) == (Decision.ALLOW, "")
    assert privileged.rules_for(ALICE, "ns") == RulesReview()


def test_chain_order_and_names(store: Store) -> None:
    chain = new_authorizer(store.list_objects, store.revision).chain
    assert [name for name, _ in chain] == [
        "system-privileged-group.authorizer.kubernetes.io",
        "node",
        "rbac",
    ]


def test_node_refusal_reason_reaches_the_final_message(store: Store) -> None:
    node = Identity("system:node:n1", groups=("system:nodes",))
    attrs = Attributes.from_request(node, resolve("GET", "/api/v1/pods"))
    decision, reason = new_authorizer(store.list_objects, store.revision).authorize(attrs)
    assert decision is Decision.NO_OPINION
    assert reason == "node: can only list/watch pods with spec.nodeName field selector"


def test_superuser_rules_review_shows_rbac_rules(store: Store) -> None:
    review = new_authorizer(store.list_objects, store.revision).rules_for(ADMIN, "default")
    assert review.resource_rules[0].to_dict() == {
        "verbs": ["*"],
        "apiGroups": ["*"],
        "resources": ["*"],
    }
    assert not review.incomplete
