"""Node authorizer (docs/semantics.md#node-authorizer): node identity, selectors, the pod graph, fixed node rules."""

from __future__ import annotations

from typing import Any

import pytest

from cimp_apiserver.authz import (
    NODE_RULES,
    Decision,
    NodeAuthorizer,
    node_identity,
)
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, resolve

N1 = Identity("system:node:n1", groups=("system:nodes", "system:authenticated"))
NO = Decision.NO_OPINION
YES = (Decision.ALLOW, "")


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.rev = 0
        self.lists = 0
        self.unserved: set[tuple[str, str]] = set()

    def add(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        self.objects.setdefault((group, resource), []).append(obj)
        self.rev += 1

    def pod(self, namespace: str, name: str, node: str = "n1", **spec: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"nodeName": node, **spec} if node else dict(spec),
        }
        self.add("", "pods", obj)
        return obj

    def list_objects(self, group: str, resource: str) -> list[dict[str, Any]]:
        self.lists += 1
        if (group, resource) in self.unserved:
            raise LookupError(resource)
        return list(self.objects.get((group, resource), []))

    def revision(self) -> int:
        return self.rev


@pytest.fixture
def store() -> Store:
    return Store()


def node_authz(store: Store) -> NodeAuthorizer:
    return NodeAuthorizer(store.list_objects, store.revision)


def req(
    verb: str,
    resource: str,
    namespace: str = "",
    name: str = "",
    sub: str = "",
    group: str = "",
    fs: str = "",
    who: Identity = N1,
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
        field_selector=fs,
    )


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [
        ("system:node:n1", ("system:nodes",), ("n1", True)),
        ("system:node:", ("system:nodes",), ("", True)),
        ("system:node:Node_1", ("system:nodes",), ("Node_1", True)),
        # Legacy impersonation of a node yields no system:nodes group: not a node.
        ("system:node:n1", ("system:authenticated",), ("", False)),
        ("alice", ("system:nodes",), ("", False)),
    ],
)
def test_node_identity(user: str, groups: tuple[str, ...], expected: tuple[str, bool]) -> None:
    assert node_identity(Identity(user, groups=groups)) == expected


def test_non_nodes_get_no_opinion_and_no_reason(store: Store) -> None:
    alice = Identity("alice", groups=("system:authenticated",))
    legacy_node = Identity("system:node:n1", groups=("system:authenticated",))
    for who in (alice, legacy_node):
        assert node_authz(store).authorize(req("list", "pods", who=who)) == (NO, "")
        assert node_authz(store).authorize(req("get", "nodes", name="n1", who=who)) == (NO, "")


def test_node_without_name_is_refused_with_kube_reason(store: Store) -> None:
    who = Identity("system:node:", groups=("system:nodes",))
    assert node_authz(store).authorize(req("get", "nodes", name="x", who=who)) == (
        NO,
        'unknown node for user "system:node:"',
    )


# --------------------------------------------------------------------------- pods


def test_list_and_watch_pods_need_own_node_field_selector(store: Store) -> None:
    a = node_authz(store)
    for verb in ("list", "watch"):
        assert a.authorize(req(verb, "pods", fs="spec.nodeName=n1")) == YES
        assert a.authorize(req(verb, "pods", fs="spec.nodeName==n1")) == YES
        assert a.authorize(req(verb, "pods", namespace="ns", fs="spec.nodeName=n1")) == YES
        assert a.authorize(req(verb, "pods", fs="status.phase=Running,spec.nodeName=n1")) == YES
        refused = (NO, "can only list/watch pods with spec.nodeName field selector")
        assert a.authorize(req(verb, "pods")) == refused
        assert a.authorize(req(verb, "pods", fs="spec.nodeName=n2")) == refused
        assert a.authorize(req(verb, "pods", fs="spec.nodeName!=n1")) == refused
        assert a.authorize(req(verb, "pods", fs="spec.nodeName=n1=")) == refused  # unparsable


def test_list_from_a_resolved_request(store: Store) -> None:
    a = node_authz(store)
    ok = resolve("GET", "/api/v1/pods", "fieldSelector=spec.nodeName%3Dn1")
    assert a.authorize(Attributes.from_request(N1, ok)) == YES
    watch = resolve("GET", "/api/v1/pods", "fieldSelector=spec.nodeName%3D%3Dn1&watch=true")
    assert a.authorize(Attributes.from_request(N1, watch)) == YES
    bad = resolve("GET", "/api/v1/namespaces/x/pods", "fieldSelector=spec.nodeName%3Dn2")
    assert a.authorize(Attributes.from_request(N1, bad))[0] is NO


def test_get_pod_only_when_bound_to_the_node(store: Store) -> None:
    store.pod("ns", "mine")
    store.pod("ns", "theirs", node="n2")
    store.pod("ns", "pending", node="")
    a = node_authz(store)
    assert a.authorize(req("get", "pods", "ns", "mine")) == YES
    refused = (NO, "no relationship found between node 'n1' and this object")
    assert a.authorize(req("get", "pods", "ns", "theirs")) == refused
    assert a.authorize(req("get", "pods", "ns", "pending")) == refused
    assert a.authorize(req("get", "pods", "other", "mine")) == refused
    assert a.authorize(req("get", "pods", "ns", "missing")) == refused


def test_single_named_pod_may_be_listed_when_related(store: Store) -> None:
    store.pod("ns", "mine")
    store.pod("ns", "theirs", node="n2")
    a = node_authz(store)
    assert a.authorize(req("watch", "pods", "ns", "mine")) == YES
    assert a.authorize(req("list", "pods", "ns", "theirs")) == (
        NO,
        "no relationship found between node 'n1' and this object",
    )
    named = resolve("GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3Dmine")
    assert a.authorize(Attributes.from_request(N1, named)) == YES


@pytest.mark.parametrize(
    ("verb", "sub", "allowed"),
    [
        ("create", "", True),
        ("delete", "", True),
        ("update", "", False),
        ("patch", "", False),
        ("deletecollection", "", False),
        ("update", "status", True),
        ("patch", "status", True),
        ("get", "status", False),
        ("create", "eviction", True),
        ("get", "log", False),
        ("create", "binding", False),
    ],
)
def test_pod_writes(store: Store, verb: str, sub: str, allowed: bool) -> None:
    result = node_authz(store).authorize(req(verb, "pods", "ns", "p", sub=sub))
    assert result == (YES if allowed else (NO, ""))


# --------------------------------------------------------------------------- nodes


def test_nodes_read_only_their_own_node(store: Store) -> None:
    a = node_authz(store)
    for verb in ("get", "list", "watch"):
        assert a.authorize(req(verb, "nodes", name="n1")) == YES
        assert a.authorize(req(verb, "nodes", name="n2")) == (
            NO,
            "node 'n1' cannot read 'n2', only its own Node object",
        )
    assert a.authorize(req("list", "nodes")) == (
        NO,
        "node 'n1' cannot read all nodes, only its own Node object",
    )
    own = resolve("GET", "/api/v1/nodes", "fieldSelector=metadata.name%3Dn1")
    assert a.authorize(Attributes.from_request(N1, own)) == YES


@pytest.mark.parametrize(
    ("verb", "sub", "allowed"),
    [
        ("create", "", True),
        ("update", "", True),
        ("patch", "", True),
        ("delete", "", False),
        ("update", "status", True),
        ("patch", "status", True),
        ("get", "status", False),
    ],
)
def test_node_writes(store: Store, verb: str, sub: str, allowed: bool) -> None:
    result = node_authz(store).authorize(req(verb, "nodes", name="n2", sub=sub))
    assert result == (YES if allowed else (NO, ""))


# --------------------------------------------------------------------------- graph


def full_pod(store: Store, node: str = "n1", **meta: Any) -> None:
    container = {
        "name": "c",
        "envFrom": [{"secretRef": {"name": "env-secret"}}, {"configMapRef": {"name": "env-cm"}}],
        "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "key-secret", "key": "k"}}},
            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "key-cm", "key": "k"}}},
            {"name": "C", "value": "plain"},
        ],
    }
    pod = store.pod(
        "ns",
        "web",
        node=node,
        serviceAccountName="web-sa",
        imagePullSecrets=[{"name": "pull"}],
        initContainers=[{"name": "i", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
        containers=[container],
        volumes=[
            {"name": "s", "secret": {"secretName": "vol-secret"}},
            {"name": "c", "configMap": {"name": "vol-cm"}},
            {
                "name": "p",
                "projected": {
                    "sources": [
                        {"secret": {"name": "proj-secret"}},
                        {"configMap": {"name": "proj-cm"}},
                        {"serviceAccountToken": {"path": "t"}},
                    ]
                },
            },
            {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}},
            {"name": "csi", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "csi-secret"}}},
        ],
        resourceClaims=[{"name": "gpu", "resourceClaimName": "gpu-claim"}],
    )
    pod["metadata"].update(meta)


SECRETS = (
    "env-secret",
    "key-secret",
    "pull",
    "init-secret",
    "vol-secret",
    "proj-secret",
    "csi-secret",
)
CONFIGMAPS = ("env-cm", "key-cm", "vol-cm", "proj-cm")


def test_secrets_and_configmaps_reachable_through_pods(store: Store) -> None:
    full_pod(store)
    a = node_authz(store)
    for verb in ("get", "list", "watch"):
        for name in SECRETS:
            assert a.authorize(req(verb, "secrets", "ns", name)) == YES, name
        for name in CONFIGMAPS:
            assert a.authorize(req(verb, "configmaps", "ns", name)) == YES, name
    refused = (NO, "no relationship found between node 'n1' and this object")
    assert a.authorize(req("get", "secrets", "ns", "unrelated")) == refused
    assert a.authorize(req("get", "secrets", "other", "pull")) == refused
    assert a.authorize(req("get", "configmaps", "ns", "env-secret")) == refused


def test_secret_reads_are_single_object_reads(store: Store) -> None:
    full_pod(store)
    a = node_authz(store)
    assert a.authorize(req("list", "secrets", "ns")) == (NO, "No Object name found")
    assert a.authorize(req("update", "secrets", "ns", "pull")) == (
        NO,
        "can only read resources of this type",
    )
    assert a.authorize(req("get", "secrets", "ns", "pull", sub="x")) == (
        NO,
        "cannot read subresource",
    )
    assert a.authorize(req("get", "secrets", "", "pull")) == (
        NO,
        "can only read namespaced object of this type",
    )


def test_other_nodes_do_not_reach_the_pods_objects(store: Store) -> None:
    full_pod(store)
    n2 = Identity("system:node:n2", groups=("system:nodes",))
    assert node_authz(store).authorize(req("get", "secrets", "ns", "pull", who=n2))[0] is NO


def test_mirror_pods_grant_nothing_but_themselves(store: Store) -> None:
    full_pod(store, annotations={"kubernetes.io/config.mirror": "hash"})
    a = node_authz(store)
    assert a.authorize(req("get", "pods", "ns", "web")) == YES
    assert a.authorize(req("get", "secrets", "ns", "pull"))[0] is NO
    assert a.authorize(req("create", "serviceaccounts", "ns", "web-sa", sub="token"))[0] is NO


def test_claims_volumes_and_tokens(store: Store) -> None:
    full_pod(store)
    store.add(
        "",
        "persistentvolumes",
        {
            "metadata": {"name": "pv-data"},
            "spec": {
                "claimRef": {"namespace": "ns", "name": "data"},
                "csi": {"driver": "x", "nodeStageSecretRef": {"name": "stage", "namespace": "ns"}},
            },
        },
    )
    store.add(
        "storage.k8s.io",
        "volumeattachments",
        {"metadata": {"name": "va1"}, "spec": {"nodeName": "n1"}},
    )
    a = node_authz(store)
    assert a.authorize(req("get", "persistentvolumeclaims", "ns", "data")) == YES
    assert a.authorize(req("get", "persistentvolumeclaims", "ns", "web-scratch")) == YES
    assert a.authorize(req("list", "persistentvolumeclaims", "ns", "data")) == (
        NO,
        "can only get individual resources of this type",
    )
    assert a.authorize(req("update", "persistentvolumeclaims", "ns", "data", sub="status")) == YES
    assert a.authorize(req("get", "persistentvolumeclaims", "ns", "data", sub="status")) == (
        NO,
        "can only get/update/patch this type",
    )
    assert a.authorize(req("get", "persistentvolumes", name="pv-data")) == YES
    assert a.authorize(req("get", "secrets", "ns", "stage")) == YES
    assert (
        a.authorize(req("get", "resourceclaims", "ns", "gpu-claim", group="resource.k8s.io")) == YES
    )
    assert a.authorize(req("get", "volumeattachments", name="va1", group="storage.k8s.io")) == YES
    assert a.authorize(req("create", "serviceaccounts", "ns", "web-sa", sub="token")) == YES
    assert a.authorize(req("create", "serviceaccounts", "ns", "other", sub="token")) == (
        NO,
        "no relationship found between node 'n1' and this object",
    )
    # 1.37: a node reads the service accounts of its pods (credential providers).
    assert a.authorize(req("get", "serviceaccounts", "ns", "web-sa")) == YES
    assert a.authorize(req("get", "serviceaccounts", "ns", "other")) == (
        NO,
        "no relationship found between node 'n1' and this object",
    )
    assert a.authorize(req("delete", "serviceaccounts", "ns", "web-sa")) == (
        NO,
        "can only create tokens for individual service accounts",
    )
    assert a.authorize(req("create", "serviceaccounts", "ns", "web-sa")) == (
        NO,
        "can only create token subresource of serviceaccount",
    )


def test_graph_follows_the_store_revision(store: Store) -> None:
    a = node_authz(store)
    assert a.authorize(req("get", "pods", "ns", "later"))[0] is NO
    store.pod("ns", "later")
    assert a.authorize(req("get", "pods", "ns", "later")) == YES
    lists = store.lists
    for _ in range(20):
        a.authorize(req("get", "pods", "ns", "later"))
    assert store.lists == lists


def test_unserved_optional_resources_are_treated_as_empty(store: Store) -> None:
    store.unserved = {("", "persistentvolumes"), ("resource.k8s.io", "resourceslices")}
    full_pod(store)
    assert node_authz(store).authorize(req("get", "secrets", "ns", "pull")) == YES


def test_graph_is_built_only_for_node_requests(store: Store) -> None:
    a = node_authz(store)
    alice = Identity("alice")
    a.authorize(req("get", "secrets", "ns", "x", who=alice))
    assert store.lists == 0


# --------------------------------------------------------------------------- leases etc.


def test_leases_only_own_lease_in_node_lease_namespace(store: Store) -> None:
    a = node_authz(store)
    g = "coordination.k8s.io"
    assert a.authorize(req("get", "leases", "kube-node-lease", "n1", group=g)) == YES
    assert a.authorize(req("create", "leases", "kube-node-lease", group=g)) == YES
    assert a.authorize(req("update", "leases", "kube-node-lease", "n2", group=g)) == (
        NO,
        "can only access node lease with the same name as the requesting node",
    )
    assert a.authorize(req("get", "leases", "default", "n1", group=g)) == (
        NO,
        'can only access leases in the "kube-node-lease" system namespace',
    )
    assert a.authorize(req("list", "leases", "kube-node-lease", group=g)) == (
        NO,
        "can only get, create, update, patch, or delete a node lease",
    )


def test_csinodes_and_resource_slices(store: Store) -> None:
    store.add(
        "resource.k8s.io",
        "resourceslices",
        {"metadata": {"name": "slice-a"}, "spec": {"nodeName": "n1"}},
    )
    a = node_authz(store)
    s, r = "storage.k8s.io", "resource.k8s.io"
    assert a.authorize(req("get", "csinodes", name="n1", group=s)) == YES
    assert a.authorize(req("get", "csinodes", name="n2", group=s))[0] is NO
    assert a.authorize(req("get", "resourceslices", name="slice-a", group=r)) == YES
    assert a.authorize(req("list", "resourceslices", group=r, fs="spec.nodeName=n1")) == YES
    assert a.authorize(req("list", "resourceslices", group=r))[1].startswith("can only list/watch")


def test_other_resources_fall_back_to_fixed_node_rules(store: Store) -> None:
    a = node_authz(store)
    assert a.authorize(req("create", "events", "ns")) == YES
    assert a.authorize(req("get", "services", "ns", "svc")) == YES
    assert a.authorize(req("create", "tokenreviews", group="authentication.k8s.io")) == YES
    assert a.authorize(req("list", "namespaces")) == (NO, "")
    assert a.authorize(req("get", "daemonsets", "ns", "d", group="apps")) == (NO, "")
    non_resource = Attributes(user=N1, verb="get", resource_request=False, path="/healthz")
    assert a.authorize(non_resource) == (NO, "")


def test_node_rules_cover_what_kubelets_need() -> None:
    resources = {r for rule in NODE_RULES for r in rule.resources}
    assert {"nodes", "pods", "pods/status", "serviceaccounts/token", "events"} <= resources


def test_rules_for_nodes_are_incomplete(store: Store) -> None:
    review = node_authz(store).rules_for(N1, "default")
    assert review.incomplete
    assert review.evaluation_error == "node authorizer does not support user rule resolution"
    assert not node_authz(store).rules_for(Identity("alice"), "default").incomplete
