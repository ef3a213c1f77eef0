"""The Node authorizer (``AuthorizeNodeWithSelectors`` on, as locked in since 1.34).

Restated from kube's ``plugin/pkg/auth/authorizer/node``: an identity is a node only if its name
starts with ``system:node:`` and it is in the group ``system:nodes`` (so a node impersonated
through legacy impersonation without that group is an ordinary user). For nodes it answers:

* pods: ``get`` of pods bound to the node; ``list``/``watch`` only with the field selector
  ``spec.nodeName=<node>`` or for one named pod bound to it; ``create``/``delete`` (mirror pods),
  ``status`` update/patch and ``eviction`` create;
* nodes: read only its own Node (by name; a list needs ``metadata.name=<node>``), create,
  update, patch, ``status`` update/patch;
* secrets, configmaps (get/list/watch of one named object), persistent volume claims and
  volumes, resource claims, volume attachments (get): only objects reachable from a pod bound to
  the node; service-account ``token`` create for service accounts of those pods; leases in
  ``kube-node-lease`` named after the node; its own CSINode; ResourceSlices of the node;
* anything else: the fixed node rules (:data:`NODE_RULES`).

Refusals are NoOpinion with kube's reason, so RBAC still gets its say. The relationship graph is
rebuilt from the stored pods (and persistent volumes, volume attachments, resource slices when
the store has them) only when the store's revision moves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from constrained_impersonation._authz.base import (
    Decision,
    ListObjects,
    PolicyRule,
    Revision,
    RulesReview,
    change_key,
)
from constrained_impersonation._authz.rbac import rules_allow
from constrained_impersonation.identity import NODE_USER_PREFIX, NODES_GROUP, Identity
from constrained_impersonation.resolver import Attributes
from constrained_impersonation.selectors import SelectorError, parse_field_selector

from ..status import quote
from .bootstrap import NODE_RULES

__all__ = ["NODE_LEASE_NAMESPACE", "NodeAuthorizer", "node_identity"]

NODE_LEASE_NAMESPACE = "kube-node-lease"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"

_NO = Decision.NO_OPINION
_YES = (Decision.ALLOW, "")

# Vertex kinds of the graph (what a node may reach through its pods).
SECRET = "secret"
CONFIGMAP = "configmap"
PVC = "pvc"
PV = "pv"
SERVICE_ACCOUNT = "serviceaccount"
RESOURCE_CLAIM = "resourceclaim"
VOLUME_ATTACHMENT = "volumeattachment"
RESOURCE_SLICE = "resourceslice"
POD_CERTIFICATE_REQUEST = "podcertificaterequest"
POD = "pod"

# What the graph is built from (pods first: volumes hang off their claims).
GRAPH_RESOURCES = (
    ("", "pods"),
    ("", "persistentvolumes"),
    ("storage.k8s.io", "volumeattachments"),
    ("resource.k8s.io", "resourceslices"),
    ("certificates.k8s.io", "podcertificaterequests"),
)


def node_identity(user: Identity) -> tuple[str, bool]:
    """kube's ``NodeIdentity``: ``(node name, is a node)``; the name may be empty."""
    if not user.user.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return "", False
    return user.user[len(NODE_USER_PREFIX) :], True


# --------------------------------------------------------------------------- the graph


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _items(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _name_of(value: Any, key: str = "name") -> str:
    name = _get(value, key)
    return name if isinstance(name, str) else ""


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from _items(spec.get(field))


# Volume sources whose secret reference the kubelet reads (``VisitPodSecretNames``).
_VOLUME_SECRET_REFS = (
    ("azureFile", "secretName"),
    ("cephfs", "secretRef", "name"),
    ("cinder", "secretRef", "name"),
    ("flexVolume", "secretRef", "name"),
    ("rbd", "secretRef", "name"),
    ("scaleIO", "secretRef", "name"),
    ("iscsi", "secretRef", "name"),
    ("storageos", "secretRef", "name"),
    ("csi", "nodePublishSecretRef", "name"),
    ("secret", "secretName"),
)


def pod_secret_names(pod: Mapping[str, Any]) -> set[str]:
    """Secrets a pod references: pull secrets, env, envFrom, secret-backed volumes."""
    spec = _get(pod, "spec") or {}
    names = {_name_of(ref) for ref in _items(spec.get("imagePullSecrets"))}
    for container in _containers(spec):
        for env_from in _items(container.get("envFrom")):
            names.add(_name_of(env_from.get("secretRef")))
        for env in _items(container.get("env")):
            names.add(_name_of(_get(env, "valueFrom", "secretKeyRef")))
    for volume in _items(spec.get("volumes")):
        for path in _VOLUME_SECRET_REFS:
            value = _get(volume, *path)
            if isinstance(value, str):
                names.add(value)
        for source in _items(_get(volume, "projected", "sources")):
            names.add(_name_of(source.get("secret")))
    names.discard("")
    return names


def pod_configmap_names(pod: Mapping[str, Any]) -> set[str]:
    """ConfigMaps a pod references: env, envFrom, configMap and projected volumes."""
    spec = _get(pod, "spec") or {}
    names: set[str] = set()
    for container in _containers(spec):
        for env_from in _items(container.get("envFrom")):
            names.add(_name_of(env_from.get("configMapRef")))
        for env in _items(container.get("env")):
            names.add(_name_of(_get(env, "valueFrom", "configMapKeyRef")))
    for volume in _items(spec.get("volumes")):
        names.add(_name_of(volume.get("configMap")))
        for source in _items(_get(volume, "projected", "sources")):
            names.add(_name_of(source.get("configMap")))
    names.discard("")
    return names


def pod_claim_names(pod: Mapping[str, Any]) -> set[str]:
    """PersistentVolumeClaims a pod mounts (generic ephemeral volumes as ``<pod>-<volume>``)."""
    pod_name = _name_of(_get(pod, "metadata"))
    names: set[str] = set()
    for volume in _items(_get(pod, "spec", "volumes")):
        claim = _get(volume, "persistentVolumeClaim", "claimName")
        if isinstance(claim, str):
            names.add(claim)
        elif isinstance(volume.get("ephemeral"), Mapping):
            names.add(f"{pod_name}-{_name_of(volume)}")
    names.discard("")
    return names


def pod_resource_claim_names(pod: Mapping[str, Any]) -> set[str]:
    """DRA ResourceClaims of a pod, direct or generated from templates (named in its status)."""
    generated = {
        _name_of(status): _name_of(status, "resourceClaimName")
        for status in _items(_get(pod, "status", "resourceClaimStatuses"))
    }
    names: set[str] = set()
    for claim in _items(_get(pod, "spec", "resourceClaims")):
        direct = claim.get("resourceClaimName")
        if isinstance(direct, str):
            names.add(direct)
        else:
            names.add(generated.get(_name_of(claim), ""))
    extended = _get(pod, "status", "extendedResourceClaimStatus", "resourceClaimName")
    if isinstance(extended, str):
        names.add(extended)
    names.discard("")
    return names


def _pv_secret_refs(pv: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(namespace, name)`` of secrets a PersistentVolume makes visible to the kubelet."""
    spec = _get(pv, "spec") or {}
    claim_namespace = str(_get(spec, "claimRef", "namespace") or "")
    csi = spec.get("csi")
    if isinstance(csi, Mapping):
        for ref_name in ("nodePublishSecretRef", "nodeStageSecretRef", "nodeExpandSecretRef"):
            ref = csi.get(ref_name)
            if isinstance(ref, Mapping) and _name_of(ref):
                yield str(ref.get("namespace") or ""), _name_of(ref)
    for source in ("cephfs", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"):
        ref = _get(spec, source, "secretRef")
        if isinstance(ref, Mapping) and _name_of(ref):
            yield str(ref.get("namespace") or claim_namespace), _name_of(ref)
    azure = _get(spec, "azureFile")
    if isinstance(azure, Mapping) and isinstance(azure.get("secretName"), str):
        yield str(azure.get("secretNamespace") or "default"), azure["secretName"]


class _Graph:
    """For every object a node may reach, the set of nodes that reach it."""

    def __init__(self, list_objects: ListObjects) -> None:
        self.reach: dict[tuple[str, str, str], set[str]] = {}
        for pod in list_objects(*GRAPH_RESOURCES[0]):
            self._add_pod(pod)
        for pv in _optional(list_objects, *GRAPH_RESOURCES[1]):
            self._add_pv(pv)
        for attachment in _optional(list_objects, *GRAPH_RESOURCES[2]):
            node = _get(attachment, "spec", "nodeName")
            if isinstance(node, str) and node:
                self._link(VOLUME_ATTACHMENT, "", _name_of(_get(attachment, "metadata")), {node})
        for resource_slice in _optional(list_objects, *GRAPH_RESOURCES[3]):
            node = _get(resource_slice, "spec", "nodeName")
            if isinstance(node, str) and node:
                self._link(RESOURCE_SLICE, "", _name_of(_get(resource_slice, "metadata")), {node})
        for request in _optional(list_objects, *GRAPH_RESOURCES[4]):
            node = _get(request, "spec", "nodeName")
            meta = _get(request, "metadata") or {}
            if isinstance(node, str) and node:
                namespace = str(meta.get("namespace") or "")
                self._link(POD_CERTIFICATE_REQUEST, namespace, _name_of(meta), {node})

    def _link(self, kind: str, namespace: str, name: str, nodes: set[str]) -> None:
        if name and nodes:
            self.reach.setdefault((kind, namespace, name), set()).update(nodes)

    def _add_pod(self, pod: Mapping[str, Any]) -> None:
        node = _get(pod, "spec", "nodeName")
        if not isinstance(node, str) or not node:
            return  # unscheduled pods relate to no node yet
        meta = _get(pod, "metadata") or {}
        namespace, nodes = str(meta.get("namespace") or ""), {node}
        self._link(POD, namespace, _name_of(meta), nodes)
        annotations = meta.get("annotations")
        if isinstance(annotations, Mapping) and MIRROR_POD_ANNOTATION in annotations:
            return  # a node must not gain access to anything by creating a mirror pod
        service_account = _get(pod, "spec", "serviceAccountName") or _get(
            pod, "spec", "serviceAccount"
        )
        if isinstance(service_account, str):
            self._link(SERVICE_ACCOUNT, namespace, service_account, nodes)
        for name in pod_secret_names(pod):
            self._link(SECRET, namespace, name, nodes)
        for name in pod_configmap_names(pod):
            self._link(CONFIGMAP, namespace, name, nodes)
        for name in pod_claim_names(pod):
            self._link(PVC, namespace, name, nodes)
        for name in pod_resource_claim_names(pod):
            self._link(RESOURCE_CLAIM, namespace, name, nodes)

    def _add_pv(self, pv: Mapping[str, Any]) -> None:
        claim = _get(pv, "spec", "claimRef")
        if not isinstance(claim, Mapping):
            return
        nodes = self.nodes_of(PVC, str(claim.get("namespace") or ""), _name_of(claim))
        if not nodes:
            return
        self._link(PV, "", _name_of(_get(pv, "metadata")), set(nodes))
        for namespace, name in _pv_secret_refs(pv):
            self._link(SECRET, namespace, name, set(nodes))

    def nodes_of(self, kind: str, namespace: str, name: str) -> frozenset[str] | set[str]:
        return self.reach.get((kind, namespace, name), frozenset())


def _selects(selector: str, field: str, value: str) -> bool:
    """Whether any requirement of ``selector`` is ``field=value`` (``=`` or ``==``); an
    unparsable selector selects nothing, as kube drops its requirements."""
    try:
        requirements = parse_field_selector(selector)
    except SelectorError:
        return False
    return any(r.field == field and r.operator == "=" and r.value == value for r in requirements)


def _optional(list_objects: ListObjects, group: str, resource: str) -> list[dict[str, Any]]:
    """Objects of a resource the store may not serve (persistent volumes, DRA, CSI)."""
    try:
        return list_objects(group, resource)
    except Exception:
        # The embedded server does not serve every resource the graph knows; none means none.
        return []


# --------------------------------------------------------------------------- the authorizer


class NodeAuthorizer:
    """Authorizes kubelets (and identities impersonating nodes) by their node's pods."""

    def __init__(
        self,
        list_objects: ListObjects,
        revision: Revision,
        node_rules: tuple[PolicyRule, ...] = NODE_RULES,
    ) -> None:
        self._list_objects = list_objects
        self._revision = change_key(revision, GRAPH_RESOURCES)
        self._node_rules = node_rules
        self._lock = threading.Lock()
        self._graph: _Graph | None = None
        self._built_at: Hashable = None

    def _current(self) -> _Graph:
        revision = self._revision()
        graph = self._graph
        if graph is not None and revision == self._built_at:
            return graph
        with self._lock:
            if self._graph is None or revision != self._built_at:
                self._graph = _Graph(self._list_objects)
                self._built_at = revision
            return self._graph

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        if node_identity(user)[1]:
            return RulesReview(
                incomplete=True, errors=("node authorizer does not support user rule resolution",)
            )
        return RulesReview()

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return _NO, ""
        if not node:
            return _NO, f"unknown node for user {quote(attrs.user.user)}"
        if attrs.resource_request:
            handler = _HANDLERS.get((attrs.api_group, attrs.resource))
            if handler is not None:
                return handler(self, node, attrs)
        if rules_allow(attrs, self._node_rules):
            return _YES
        return _NO, ""

    # ---------------------------------------------------------------- relationships

    def _related(self, node: str, kind: str, attrs: Attributes) -> tuple[Decision, str]:
        if not attrs.name:
            return _NO, "No Object name found"
        if node in self._current().nodes_of(kind, attrs.namespace, attrs.name):
            return _YES
        return _NO, f"no relationship found between node '{node}' and this object"

    def _get(self, node: str, kind: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb != "get":
            return _NO, "can only get individual resources of this type"
        if attrs.subresource:
            return _NO, "cannot get subresource"
        return self._related(node, kind, attrs)

    def _read_namespaced(self, node: str, kind: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb not in ("get", "list", "watch"):
            return _NO, "can only read resources of this type"
        if attrs.subresource:
            return _NO, "cannot read subresource"
        if not attrs.namespace:
            return _NO, "can only read namespaced object of this type"
        return self._related(node, kind, attrs)

    def _status_update(self, node: str, kind: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb not in ("update", "patch"):
            return _NO, "can only get/update/patch this type"
        if attrs.subresource != "status":
            return _NO, "can only update status subresource"
        return self._related(node, kind, attrs)

    # ---------------------------------------------------------------- per resource

    def _secrets(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        return self._read_namespaced(node, SECRET, attrs)

    def _configmaps(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        return self._read_namespaced(node, CONFIGMAP, attrs)

    def _pvcs(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.subresource == "status":
            return self._status_update(node, PVC, attrs)
        return self._get(node, PVC, attrs)

    def _pvs(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        return self._get(node, PV, attrs)

    def _resource_claims(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        return self._get(node, RESOURCE_CLAIM, attrs)

    def _volume_attachments(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        return self._get(node, VOLUME_ATTACHMENT, attrs)

    def _service_accounts(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb == "get" and not attrs.subresource:
            # 1.37 (KubeletServiceAccountTokenForCredentialProviders, on by default): a node
            # reads the service accounts of its pods.
            return self._read_namespaced(node, SERVICE_ACCOUNT, attrs)
        if attrs.verb != "create" or not attrs.name:
            return _NO, "can only create tokens for individual service accounts"
        if attrs.subresource != "token":
            return _NO, "can only create token subresource of serviceaccount"
        if node in self._current().nodes_of(SERVICE_ACCOUNT, attrs.namespace, attrs.name):
            return _YES
        return _NO, f"no relationship found between node '{node}' and this object"

    def _leases(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _NO, "can only get, create, update, patch, or delete a node lease"
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return (
                _NO,
                f"can only access leases in the {quote(NODE_LEASE_NAMESPACE)} system namespace",
            )
        # Create carries no name here; NodeRestriction admission checks it.
        if attrs.verb != "create" and attrs.name != node:
            return _NO, "can only access node lease with the same name as the requesting node"
        return _YES

    def _csinodes(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _NO, "can only get, create, update, patch, or delete a CSINode"
        if attrs.subresource:
            return _NO, "cannot authorize CSINode subresources"
        if attrs.verb != "create" and attrs.name != node:
            return _NO, "can only access CSINode with the same name as the requesting node"
        return _YES

    def _resource_slices(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.subresource:
            return _NO, "cannot authorize ResourceSlice subresources"
        if attrs.verb == "create":
            return _YES
        if attrs.verb in ("get", "update", "patch", "delete"):
            return self._related(node, RESOURCE_SLICE, attrs)
        if attrs.verb in ("watch", "list", "deletecollection"):
            if _selects(attrs.field_selector, "spec.nodeName", node):
                return _YES
            return (
                _NO,
                "can only list/watch/deletecollection resourceslices with nodeName field selector",
            )
        return (
            _NO,
            "only the following verbs are allowed for a ResourceSlice: get, watch, list, "
            "create, update, patch, delete, deletecollection",
        )

    def _nodes(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if not attrs.subresource:
            if attrs.verb in ("create", "update", "patch"):
                return _YES  # NodeRestriction admission limits a node to its own object
            if attrs.verb in ("get", "list", "watch"):
                # By name, not by graph, so a kubelet can read its Node before creating it.
                if attrs.name == node:
                    return _YES
                if not attrs.name:
                    return _NO, f"node '{node}' cannot read all nodes, only its own Node object"
                return _NO, f"node '{node}' cannot read '{attrs.name}', only its own Node object"
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return _YES
        return _NO, ""

    def _pod_certificate_requests(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if attrs.subresource:
            return _NO, "nodes may not access the status subresource of PodCertificateRequests"
        if attrs.verb == "create":
            return _YES  # NodeRestriction admission narrows it
        if attrs.verb == "get":
            return self._related(node, POD_CERTIFICATE_REQUEST, attrs)
        if attrs.verb in ("list", "watch"):
            if _selects(attrs.field_selector, "spec.nodeName", node):
                return _YES
            return _NO, "can only list/watch podcertificaterequests with nodeName field selector"
        return _NO, f"nodes may not {attrs.verb} podcertificaterequests"

    def _pods(self, node: str, attrs: Attributes) -> tuple[Decision, str]:
        if not attrs.subresource:
            if attrs.verb == "get":
                return self._get(node, POD, attrs)
            if attrs.verb in ("list", "watch"):
                if _selects(attrs.field_selector, "spec.nodeName", node):
                    return _YES
                if attrs.name:
                    return self._related(node, POD, attrs)
                return _NO, "can only list/watch pods with spec.nodeName field selector"
            if attrs.verb in ("create", "delete"):
                return _YES  # mirror pods; NodeRestriction admission narrows them
        elif attrs.subresource == "status":
            if attrs.verb in ("update", "patch"):
                return _YES
        elif attrs.subresource == "eviction" and attrs.verb == "create":
            return _YES
        return _NO, ""


_Handler = Callable[[NodeAuthorizer, str, Attributes], tuple[Decision, str]]

_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("", "secrets"): NodeAuthorizer._secrets,
    ("", "configmaps"): NodeAuthorizer._configmaps,
    ("", "persistentvolumeclaims"): NodeAuthorizer._pvcs,
    ("", "persistentvolumes"): NodeAuthorizer._pvs,
    ("resource.k8s.io", "resourceclaims"): NodeAuthorizer._resource_claims,
    ("storage.k8s.io", "volumeattachments"): NodeAuthorizer._volume_attachments,
    ("", "serviceaccounts"): NodeAuthorizer._service_accounts,
    ("coordination.k8s.io", "leases"): NodeAuthorizer._leases,
    ("storage.k8s.io", "csinodes"): NodeAuthorizer._csinodes,
    ("resource.k8s.io", "resourceslices"): NodeAuthorizer._resource_slices,
    ("", "nodes"): NodeAuthorizer._nodes,
    ("", "pods"): NodeAuthorizer._pods,
    ("certificates.k8s.io", "podcertificaterequests"): NodeAuthorizer._pod_certificate_requests,
}
