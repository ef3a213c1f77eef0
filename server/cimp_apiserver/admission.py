"""Admission for nodes: what a node may write even where RBAC or the Node authorizer would let
it (kube's NodeRestriction plugin), and the not-ready taint of a new Node (kube's
TaintNodesByCondition). ServiceAccount admission is off, as on the reference kube-apiserver
(and envtest): pods get no default service account and mirror pods are checked by
NodeRestriction alone.

Admission runs after impersonation, so a requestor impersonating ``system:node:<n>`` (through
arbitrary-node or associated-node) is restricted exactly like that node's kubelet:

* pods: create only mirror pods bound to itself, owned by its own Node object (controller
  reference with the Node's uid) and referencing no other API object; delete only its own
  pods; no update of the pod itself; ``status`` only of its own pods and without touching
  labels; ``eviction`` only of its own pods; no other subresource;
* nodes: only its own Node, never its taints, owner references, ``configSource`` or labels
  outside the kubelet's set (``node-restriction.kubernetes.io/`` and unknown ``kubernetes.io``
  / ``k8s.io`` labels);
* ``serviceaccounts/token``: only tokens bound to a Pod (by name and uid) scheduled on itself,
  for one audience the pod mounts (or that it is authorized to request);
* PersistentVolumeClaims: only ``status``, and there only capacity, conditions and allocation;
* its own Lease (in ``kube-node-lease``) and CSINode, ResourceSlices of its own node, node
  CertificateSigningRequests only for its own name, PodCertificateRequests only for a pod
  running on it (with the pod's service account, for a signer the pod mounts or that it is
  authorized for). The Node authorizer cannot see a new object's name or node; this can.

Messages are kube 1.37's, so a test passing here passes against kube-apiserver.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cryptography import x509

from constrained_impersonation._authz.base import Decision
from constrained_impersonation.identity import NODE_USER_PREFIX, NODES_GROUP, Identity
from constrained_impersonation.resolver import Attributes

from .authn import GetObject
from .hooks import Admission
from .objects import MIRROR_POD_ANNOTATION
from .status import StatusError, forbidden_object, not_found, quote

__all__ = [
    "MIRROR_POD_ANNOTATION",
    "NodeRestriction",
    "PodTopologyLabels",
    "taint_new_nodes_not_ready",
]

AuthorizeFn = Callable[[Attributes], tuple[Decision, str]]
Obj = dict[str, Any]

_NODE_RESTRICTION_LABELS = "node-restriction.kubernetes.io"
# Labels a kubelet may set on its own Node (k8s.io/kubelet ``IsKubeletLabel``).
_KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    }
)
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
# Volume sources that reference no API object (kube's ``HasAPIObjectReference`` skips them).
_SELF_CONTAINED_VOLUMES = frozenset(
    {
        "awsElasticBlockStore",
        "azureDisk",
        "cephfs",
        "cinder",
        "downwardAPI",
        "emptyDir",
        "fc",
        "flexVolume",
        "flocker",
        "gcePersistentDisk",
        "gitRepo",
        "hostPath",
        "image",
        "iscsi",
        "nfs",
        "photonPersistentDisk",
        "portworxVolume",
        "quobyte",
        "rbd",
        "scaleIO",
        "storageos",
        "vsphereVolume",
    }
)
_REFERENCING_VOLUMES = {
    "configMap": "configmaps (via configmap volumes)",
    "secret": "secrets (via secret volumes)",
    "csi": "csidrivers (via CSI volumes)",
    "glusterfs": "endpoints (via glusterFS volumes)",
    "persistentVolumeClaim": "persistentvolumeclaims",
    "ephemeral": "persistentvolumeclaims (via ephemeral volumes)",
    "azureFile": "secrets (via azureFile volumes)",
}
_PROJECTED_SOURCES = {
    "configMap": "configmaps (via projected volumes)",
    "secret": "secrets (via projected volumes)",
    "serviceAccountToken": "serviceaccounts (via projected volumes)",
    "clusterTrustBundle": "clustertrustbundles",
    "podCertificate": "podcertificates",
}
# Volume sources with a secret reference kube's ``VisitPodSecretNames`` follows.
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")
# Pod status fields a node may not change (kube's wording, typo included).
_CLAIM_STATUSES = (
    ("resourceClaimStatuses", "resource claim statues"),
    ("extendedResourceClaimStatus", "extended resource claim status"),
    ("nodeAllocatableResourceClaimStatuses", "node allocatable resource claim statuses"),
)
# In-tree volumes kube translates to a CSI driver when it checks a token audience.
_MIGRATABLE_INLINE = {
    "awsElasticBlockStore": "ebs.csi.aws.com",
    "gcePersistentDisk": "pd.csi.storage.gke.io",
    "azureDisk": "disk.csi.azure.com",
    "azureFile": "file.csi.azure.com",
    "cinder": "cinder.csi.openstack.org",
    "vsphereVolume": "csi.vsphere.vmware.com",
}


def _forbid(adm: Admission, message: str) -> StatusError:
    """kube's ``admission.NewForbidden``: named after the request's object (a create without a
    name by its ``generateName``, or ``Unknown``)."""
    name = adm.name
    if not name:
        meta = _dict(_dict(adm.obj).get("metadata"))
        name = str(meta.get("name") or meta.get("generateName") or "Unknown")
    return forbidden_object(adm.resource.resource, adm.resource.group, name, message)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> Iterator[Obj]:
    """The objects of a JSON list (other items are malformed and left to validation)."""
    return (item for item in _list(value) if isinstance(item, dict))


def _node_of(obj: Obj | None) -> str:
    return str(_dict(_dict(obj).get("spec")).get("nodeName") or "")


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = _dict(_dict(_dict(obj).get("metadata")).get("labels"))
    return {str(k): str(v) for k, v in labels.items()}


def _is_mirror(pod: Obj) -> bool:
    annotations = _dict(_dict(pod.get("metadata")).get("annotations"))
    return MIRROR_POD_ANNOTATION in annotations


def _service_account_name(spec: Obj) -> str:
    # ``serviceAccount`` is the deprecated alias kube converts into ``serviceAccountName``.
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "")


def _containers(spec: Obj) -> Iterator[Obj]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in _list(spec.get(field)):
            if isinstance(container, dict):
                yield container


def _named(ref: Any) -> bool:
    """A reference kube's visitors count (they skip empty names)."""
    return isinstance(ref, dict) and bool(ref.get("name"))


def _references_secrets(spec: Obj) -> bool:
    """kube's ``VisitPodSecretNames`` finds a name."""
    if any(_named(ref) for ref in _list(spec.get("imagePullSecrets"))):
        return True
    for container in _containers(spec):
        if any(_named(_dict(e).get("secretRef")) for e in _list(container.get("envFrom"))):
            return True
        for env in _list(container.get("env")):
            if _named(_dict(_dict(env).get("valueFrom")).get("secretKeyRef")):
                return True
    for volume in _dicts(spec.get("volumes")):
        if _dict(volume.get("azureFile")).get("secretName"):
            return True
        if any(_named(_dict(volume.get(kind)).get("secretRef")) for kind in _SECRET_REF_VOLUMES):
            return True
        if _named(_dict(volume.get("csi")).get("nodePublishSecretRef")):
            return True
        if _dict(volume.get("secret")).get("secretName"):
            return True
        for source in _list(_dict(volume.get("projected")).get("sources")):
            if _named(_dict(source).get("secret")):
                return True
    return False


def _references_configmaps(spec: Obj) -> bool:
    """kube's ``VisitPodConfigmapNames`` finds a name."""
    for container in _containers(spec):
        if any(_named(_dict(e).get("configMapRef")) for e in _list(container.get("envFrom"))):
            return True
        for env in _list(container.get("env")):
            if _named(_dict(_dict(env).get("valueFrom")).get("configMapKeyRef")):
                return True
    for volume in _dicts(spec.get("volumes")):
        if _named(volume.get("configMap")):
            return True
        for source in _list(_dict(volume.get("projected")).get("sources")):
            if _named(_dict(source).get("configMap")):
                return True
    return False


def _volume_source(volume: Obj) -> str:
    """The JSON key of a volume's source (kube defaults a volume without one to emptyDir)."""
    for key in volume:
        if key != "name" and volume[key] is not None:
            return str(key)
    return "emptyDir"


def _api_object_reference(spec: Obj) -> str:
    """What a mirror pod references that a node may not make it read (kube's
    ``HasAPIObjectReference``), or ""; raises ValueError for a source kube does not know."""
    if _service_account_name(spec):
        return "serviceaccounts"
    if _references_secrets(spec):
        return "secrets"
    if _references_configmaps(spec):
        return "configmaps"
    if _list(spec.get("resourceClaims")):
        return "resourceclaims"
    for volume in _dicts(spec.get("volumes")):
        source = _volume_source(volume)
        if source in _SELF_CONTAINED_VOLUMES:
            continue
        if source in _REFERENCING_VOLUMES:
            return _REFERENCING_VOLUMES[source]
        if source != "projected":
            raise ValueError(f"unknown volume type for volume  {quote(str(volume.get('name')))}")
        for projection in _dicts(_dict(volume.get("projected")).get("sources")):
            kind = next((k for k in projection if projection[k] is not None), "")
            if kind == "downwardAPI":
                continue
            if kind in _PROJECTED_SOURCES:
                return _PROJECTED_SOURCES[kind]
            raise ValueError(
                f"unknown source for projected volume {quote(str(volume.get('name')))}"
            )
    return ""


NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


async def taint_new_nodes_not_ready(adm: Admission) -> None:
    """kube's TaintNodesByCondition admission: a Node is created with the not-ready
    ``NoSchedule`` taint (the node lifecycle controller lifts it once the kubelet reports
    ready), unless it already has a taint of that key and effect."""
    if adm.resource.group or adm.resource.resource != "nodes" or adm.subresource:
        return
    if adm.operation != "CREATE" or not isinstance(adm.obj, dict):
        return
    spec = adm.obj.get("spec")
    if not isinstance(spec, dict):
        spec = adm.obj["spec"] = {}
    taints = spec.get("taints")
    if not isinstance(taints, list):
        taints = []
    for taint in _dicts(taints):
        if (taint.get("key"), taint.get("effect")) == (
            NOT_READY_TAINT["key"],
            NOT_READY_TAINT["effect"],
        ):
            return
    spec["taints"] = [*taints, dict(NOT_READY_TAINT)]


_TOPOLOGY_LABELS = ("topology.kubernetes.io/zone", "topology.kubernetes.io/region")


class PodTopologyLabels:
    """kube's PodTopologyLabels admission (beta, on in 1.37): a pod created on a node, or a
    Binding to one, gets the node's ``topology.kubernetes.io/zone`` and ``/region`` labels
    (overwriting the pod's own; the binding carries them onto the pod)."""

    def __init__(self, get_object: GetObject) -> None:
        self._get = get_object

    async def __call__(self, adm: Admission) -> None:
        if adm.resource.group or adm.resource.resource != "pods" or adm.operation != "CREATE":
            return
        if adm.subresource not in ("", "binding") or not isinstance(adm.obj, dict):
            return
        if adm.subresource == "binding":
            target = _dict(adm.obj.get("target"))
            if target.get("kind") != "Node":
                return
            node_name = str(target.get("name") or "")
        else:
            node_name = _node_of(adm.obj)
        if not node_name:
            return
        node = self._get("", "nodes", "", node_name)
        copied = {k: v for k, v in _labels(node).items() if k in _TOPOLOGY_LABELS}
        if not copied:
            return
        meta = adm.obj.get("metadata")
        if not isinstance(meta, dict):
            meta = adm.obj["metadata"] = {}
        labels = meta.get("labels")
        meta["labels"] = {**(labels if isinstance(labels, dict) else {}), **copied}


def _taints(spec: Obj) -> list[dict[str, Any]]:
    """A Node's taints as Go compares them (apimachinery's semantic equality): a missing list
    equals an empty one and an empty field equals a missing one."""
    return [{k: v for k, v in t.items() if v not in (None, "")} for t in _dicts(spec.get("taints"))]


def _node_identity(user: Identity | None) -> str | None:
    """kube's default node identifier: ``system:node:<name>`` in ``system:nodes`` is the
    node ``<name>`` (possibly empty, which admission refuses); anything else is no node."""
    if user is None or not user.user.startswith(NODE_USER_PREFIX):
        return None
    if NODES_GROUP not in user.groups:
        return None
    return user.user[len(NODE_USER_PREFIX) :]


def _is_kubernetes_label(namespace: str) -> bool:
    return any(
        namespace == suffix or namespace.endswith("." + suffix)
        for suffix in ("kubernetes.io", "k8s.io")
    )


def _is_kubelet_label(key: str, namespace: str) -> bool:
    if key in _KUBELET_LABELS:
        return True
    return any(
        namespace == allowed or namespace.endswith("." + allowed)
        for allowed in _KUBELET_LABEL_NAMESPACES
    )


def _forbidden_labels(new: Mapping[str, str], old: Mapping[str, str]) -> list[str]:
    """Changed label keys a kubelet may not set on its own Node, sorted."""
    changed = {k for k in new.keys() | old.keys() if new.get(k) != old.get(k)}
    forbidden = set()
    for key in changed:
        namespace = key.split("/", 1)[0] if "/" in key else ""
        restricted = namespace == _NODE_RESTRICTION_LABELS or namespace.endswith(
            "." + _NODE_RESTRICTION_LABELS
        )
        unknown = _is_kubernetes_label(namespace) and not _is_kubelet_label(key, namespace)
        if restricted or unknown:
            forbidden.add(key)
    return sorted(forbidden)


class NodeRestriction:
    """kube's NodeRestriction admission plugin (the resources this server serves)."""

    def __init__(self, get_object: GetObject, authorize: AuthorizeFn) -> None:
        self._get = get_object
        self._authorize = authorize

    async def __call__(self, adm: Admission) -> None:
        node = _node_identity(adm.ctx.user)
        if node is None:
            return
        if not node:
            assert adm.ctx.user is not None
            raise _forbid(adm, f"could not determine node from user {quote(adm.ctx.user.user)}")
        rt = adm.resource
        other = self._others.get((rt.group, rt.resource))
        if other is not None:
            other(self, adm, node)
            return
        if rt.group != "":
            return
        if rt.resource == "pods":
            self._pods(adm, node)
        elif rt.resource == "nodes":
            self._nodes(adm, node)
        elif rt.resource == "serviceaccounts":
            self._service_account(adm, node)

    # ------------------------------------------------------------------ pods

    def _pods(self, adm: Admission, node: str) -> None:
        op, sub = adm.operation, adm.subresource
        if sub == "":
            if op == "CREATE":
                self._pod_create(adm, node)
            elif op == "DELETE":
                if _node_of(adm.old) != node:
                    raise _forbid(
                        adm,
                        f"node {quote(node)} can only delete pods with spec.nodeName set to itself",
                    )
            else:
                raise _forbid(
                    adm,
                    f"unexpected operation {quote(op)}, node {quote(node)} can only create and "
                    "delete mirror pods",
                )
        elif sub == "status":
            if op != "UPDATE":
                raise _forbid(adm, f"unexpected operation {quote(op)}")
            if _node_of(adm.old) != node:
                raise _forbid(
                    adm,
                    f"node {quote(node)} can only update pod status for pods with "  # noqa: S608
                    "spec.nodeName set to itself",
                )
            if _labels(adm.obj) != _labels(adm.old):
                raise _forbid(adm, f"node {quote(node)} cannot update labels through pod status")
            old_status = _dict(_dict(adm.old).get("status"))
            new_status = _dict(_dict(adm.obj).get("status"))
            for field, what in _CLAIM_STATUSES:
                if (old_status.get(field) or None) != (new_status.get(field) or None):
                    raise _forbid(adm, f"node {quote(node)} cannot update {what}")
        elif sub == "eviction":
            if op != "CREATE":
                raise _forbid(adm, f"unexpected operation {op}")
            if adm.old is None:
                raise not_found("pod", adm.name)  # the lister's NotFound: singular
            if _node_of(adm.old) != node:
                raise _forbid(
                    adm, f"node {node} can only evict pods with spec.nodeName set to itself"
                )
        else:
            raise _forbid(
                adm,
                f"unexpected pod subresource {quote(sub)}, only 'status' and 'eviction' are "
                "allowed",
            )

    def _pod_create(self, adm: Admission, node: str) -> None:
        pod = adm.obj or {}
        if not _is_mirror(pod):
            raise _forbid(
                adm,
                f"pod does not have {quote(MIRROR_POD_ANNOTATION)} annotation, node "
                f"{quote(node)} can only create mirror pods",
            )
        if _node_of(pod) != node:
            raise _forbid(
                adm, f"node {quote(node)} can only create pods with spec.nodeName set to itself"
            )
        owners = _list(_dict(pod.get("metadata")).get("ownerReferences"))
        if len(owners) > 1:
            raise _forbid(
                adm,
                f"node {quote(node)} can only create pods with a single owner reference set to "
                "itself",
            )
        if not owners:
            raise _forbid(
                adm,
                f"node {quote(node)} can only create pods with an owner reference set to itself",
            )
        owner = _dict(owners[0])
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
            raise _forbid(
                adm,
                f"node {quote(node)} can only create pods with an owner reference set to itself",
            )
        if owner.get("controller") is not True:
            raise _forbid(
                adm,
                f"node {quote(node)} can only create pods with a controller owner reference set "
                "to itself",
            )
        if owner.get("blockOwnerDeletion") is True:
            raise _forbid(
                adm, f"node {quote(node)} must not set blockOwnerDeletion on an owner reference"
            )
        node_obj = self._get("", "nodes", "", node)
        if node_obj is None:
            raise not_found("node", node)  # an informer lister's NotFound: singular
        uid = str(_dict(node_obj.get("metadata")).get("uid") or "")
        if owner.get("uid", "") != uid:
            raise _forbid(
                adm, f"node {node} UID mismatch: expected {owner.get('uid', '')} got {uid}"
            )
        try:
            referenced = _api_object_reference(_dict(pod.get("spec")))
        except ValueError as err:
            raise _forbid(adm, f"error checking mirror pod for API references: {err}") from None
        if referenced:
            raise _forbid(
                adm, f"node {quote(node)} can not create pods that reference {referenced}"
            )

    # ------------------------------------------------------------------ nodes

    def _nodes(self, adm: Admission, node: str) -> None:
        requested = adm.name or str(_dict(_dict(adm.obj).get("metadata")).get("name") or "")
        if requested != node:
            raise _forbid(
                adm, f"node {quote(node)} is not allowed to modify node {quote(requested)}"
            )
        new = _dict(adm.obj)
        spec = _dict(new.get("spec"))
        if adm.operation == "CREATE":
            if spec.get("configSource") is not None:
                raise _forbid(
                    adm,
                    f"node {quote(node)} is not allowed to create pods with a non-nil configSource",
                )
            forbidden = _forbidden_labels(_labels(new), {})
            if forbidden:
                raise _forbid(
                    adm,
                    f"node {quote(node)} is not allowed to set the following labels: "
                    + ", ".join(forbidden),
                )
        elif adm.operation == "UPDATE":
            old = _dict(adm.old)
            old_spec = _dict(old.get("spec"))
            source = spec.get("configSource")
            if source is not None and source != old_spec.get("configSource"):
                raise _forbid(
                    adm,
                    f"node {quote(node)} is not allowed to update configSource to a new non-nil "
                    "configSource",
                )
            if _taints(spec) != _taints(old_spec):
                raise _forbid(adm, f"node {quote(node)} is not allowed to modify taints")
            owners = _dict(new.get("metadata")).get("ownerReferences") or None
            if owners != (_dict(old.get("metadata")).get("ownerReferences") or None):
                raise _forbid(adm, f"node {quote(node)} is not allowed to modify ownerReferences")
            forbidden = _forbidden_labels(_labels(new), _labels(old))
            if forbidden:
                raise _forbid(adm, "is not allowed to modify labels: " + ", ".join(forbidden))

    # ------------------------------------------------------------------ tokens

    def _service_account(self, adm: Admission, node: str) -> None:
        if adm.operation != "CREATE" or adm.subresource != "token":
            return
        spec = _dict(_dict(adm.obj).get("spec"))
        ref = spec.get("boundObjectRef")
        if (
            not isinstance(ref, dict)
            or ref.get("apiVersion") != "v1"
            or ref.get("kind") != "Pod"
            or not ref.get("name")
        ):
            raise _forbid(adm, "node requested token not bound to a pod")
        uid = str(ref.get("uid") or "")
        if not uid:
            raise _forbid(adm, "node requested token with a pod binding without a uid")
        pod = self._get("", "pods", adm.namespace, str(ref["name"]))
        if pod is None:
            raise not_found("pod", str(ref["name"]))  # the lister's NotFound
        if uid != _dict(pod.get("metadata")).get("uid"):
            raise _forbid(
                adm,
                f"the UID in the bound object reference ({uid}) does not match the UID in "
                "record. The object might have been deleted and then recreated",
            )
        if _node_of(pod) != node:
            raise _forbid(adm, "node requested token bound to a pod scheduled on a different node")
        self._audience(adm, spec, pod)

    def _audience(self, adm: Admission, spec: Obj, pod: Obj) -> None:
        """A node asks only for an audience its pod mounts, or one it is authorized for."""
        audiences = _list(spec.get("audiences"))
        if len(audiences) > 1:
            raise _forbid(adm, "node may only request 0 or 1 audiences")
        audience = str(audiences[0]) if audiences else ""
        errors: list[str] = []
        for volume in _dicts(_dict(pod.get("spec")).get("volumes")):
            for source in _list(_dict(volume.get("projected")).get("sources")):
                token = _dict(source).get("serviceAccountToken")
                if isinstance(token, dict) and str(token.get("audience") or "") == audience:
                    return
            # This server stores no PersistentVolumeClaims or CSIDrivers: a volume that
            # needs them fails the lookup as kube's listers would.
            claim = ""
            if _dict(volume.get("ephemeral")).get("volumeClaimTemplate") is not None:
                claim = f"{_dict(pod.get('metadata')).get('name', '')}-{volume.get('name', '')}"
            elif isinstance(volume.get("persistentVolumeClaim"), dict):
                claim = str(volume["persistentVolumeClaim"].get("claimName") or "")
            if claim:
                errors.append(f"persistentvolumeclaim {quote(claim)} not found")
                continue
            driver = str(_dict(volume.get("csi")).get("driver") or "")
            driver = driver or next(
                (d for k, d in _MIGRATABLE_INLINE.items() if volume.get(k) is not None), ""
            )
            if driver:
                errors.append(f"csidriver.storage.k8s.io {quote(driver)} not found")
        if errors:
            unique = list(dict.fromkeys(errors))
            joined = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
            raise _forbid(adm, f"error validating audience {quote(audience)}: {joined}")
        assert adm.ctx.user is not None
        decision, _ = self._authorize(
            Attributes(
                user=adm.ctx.user,
                verb="request-serviceaccounts-token-audience",
                resource_request=True,
                api_group="",
                api_version="v1",
                resource=audience,
                namespace=adm.namespace,
                name=adm.name,
            )
        )
        if decision is not Decision.ALLOW:
            raise _forbid(
                adm,
                f"{adm.ctx.user.user} is not authorized to request tokens for audience "
                f"{quote(audience)}",
            )

    # ------------------------------------------------------------------ other resources

    def _claim_status(self, adm: Admission, node: str) -> None:
        if adm.subresource != "status":
            raise _forbid(adm, "may only update PVC status")
        if adm.operation != "UPDATE":
            raise _forbid(adm, f"unexpected operation {quote(adm.operation)}")
        old, new = _comparable_claim(adm.old), _comparable_claim(adm.obj)
        if old != new:
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise _forbid(
                adm,
                f"node {quote(node)} is not allowed to update fields other than "
                f"status.quantity and status.conditions: {', '.join(changed)}",
            )

    def _lease(self, adm: Admission, node: str) -> None:
        if adm.namespace != "kube-node-lease":
            raise _forbid(adm, 'can only access leases in the "kube-node-lease" system namespace')
        if _created_name(adm) != node:
            raise _forbid(
                adm, "can only access node lease with the same name as the requesting node"
            )

    def _csinode(self, adm: Admission, node: str) -> None:
        if _created_name(adm) != node:
            raise _forbid(adm, "can only access CSINode with the same name as the requesting node")

    def _resource_slice(self, adm: Admission, node: str) -> None:
        if adm.operation not in ("CREATE", "DELETE"):
            return  # the Node authorizer judges the rest
        slice_ = adm.obj if adm.operation == "CREATE" else adm.old
        if _dict(_dict(slice_).get("spec")).get("nodeName") != node:
            verb = "create" if adm.operation == "CREATE" else "delete"
            raise _forbid(
                adm, f"can only {verb} ResourceSlice with the same NodeName as the requesting node"
            )

    def _csr(self, adm: Admission, node: str) -> None:
        if adm.operation != "CREATE":
            return
        spec = _dict(_dict(adm.obj).get("spec"))
        if spec.get("signerName") not in _NODE_SIGNERS:
            return
        try:
            pem = base64.b64decode(str(spec.get("request") or ""), validate=True)
            request = x509.load_pem_x509_csr(pem)
            names = request.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        except (ValueError, binascii.Error) as err:
            raise _forbid(adm, f"unable to parse csr: {err}") from None
        common_name = str(names[0].value) if names else ""
        if common_name != NODE_USER_PREFIX + node:
            raise _forbid(adm, f"can only create a node CSR with CN={NODE_USER_PREFIX}{node}")

    def _pod_certificate(self, adm: Admission, node: str) -> None:
        """kube's checks, in kube's order; a mismatch informer lag could explain is a 500."""
        if adm.operation != "CREATE":
            raise _forbid(adm, f"unexpected operation {adm.operation}")
        if adm.subresource:
            raise _forbid(adm, f"unexpected subresource {adm.subresource}")
        spec = _dict(_dict(adm.obj).get("spec"))
        named = str(spec.get("nodeName") or "")
        if named != node:
            raise _forbid(
                adm,
                f"PodCertificateRequest.Spec.NodeName={quote(named)}, which is not the "
                f"requesting node {quote(node)}",
            )
        where = "named in the PodCertificateRequest"
        node_obj = self._get("", "nodes", "", node)
        if node_obj is None:
            raise _error(f'while retrieving node {quote(node)} {where}: node "{node}" not found')
        pod_name = str(spec.get("podName") or "")
        pod_ref = f"{adm.namespace}/{pod_name}"
        if _uid(node_obj) != spec.get("nodeUID"):
            raise _error(
                f"PodCertificateRequest for pod {quote(pod_ref)} names node UID "
                f"{quote(str(spec.get('nodeUID') or ''))}, inconsistent with the running node "
                f"({quote(_uid(node_obj))})"
            )
        pod = self._get("", "pods", adm.namespace, pod_name)
        if pod is None:
            raise _error(
                f"while retrieving pod {quote(pod_ref)} {where}: pod {quote(pod_name)} not found"
            )
        if spec.get("podUID") != _uid(pod):
            raise _error(
                f"PodCertificateRequest for pod {quote(pod_ref)} contains pod UID "
                f"({quote(str(spec.get('podUID') or ''))}) which differs from running pod "
                f"{quote(_uid(pod))}"
            )
        if _node_of(pod) != named:
            raise _forbid(
                adm, f"pod {quote(pod_ref)} is not running on node {quote(named)} {where}"
            )
        if _is_mirror(pod):
            raise _forbid(adm, f"pod {quote(pod_ref)} is a mirror pod")
        account = str(spec.get("serviceAccountName") or "")
        running = _service_account_name(_dict(pod.get("spec")))
        if account != running:
            raise _forbid(
                adm,
                f"PodCertificateRequest for pod {quote(pod_ref)} contains serviceAccountName "
                f"({quote(account)}) that differs from running pod ({quote(running)})",
            )
        account_ref = f"{adm.namespace}/{account}"
        sa = self._get("", "serviceaccounts", adm.namespace, account)
        if sa is None:
            raise _error(
                f"while retrieving service account {quote(account_ref)} {where}: "
                f"serviceaccount {quote(account)} not found"
            )
        if spec.get("serviceAccountUID") != _uid(sa):
            raise _error(
                f"PodCertificateRequest for pod {quote(pod_ref)} names service account UID "
                f"{quote(str(spec.get('serviceAccountUID') or ''))}, which differs from the "
                f"running service account ({quote(_uid(sa))})"
            )
        signer = str(spec.get("signerName") or "")
        for volume in _dicts(_dict(pod.get("spec")).get("volumes")):
            for source in _dicts(_dict(volume.get("projected")).get("sources")):
                if _dict(source.get("podCertificate")).get("signerName") == signer:
                    return
        assert adm.ctx.user is not None
        decision, _ = self._authorize(
            Attributes(
                user=adm.ctx.user,
                verb="request-serviceaccounts-podcertificate-signer",
                resource_request=True,
                api_group=adm.resource.group,
                api_version=adm.resource.version,
                resource=signer.replace("/", ":"),
                namespace=adm.namespace,
                name=account,
            )
        )
        if decision is not Decision.ALLOW:
            raise _forbid(
                adm,
                f"pod {quote(pod_ref)} does not mount a podCertificate projected volume for "
                f"signer {quote(signer)}",
            )

    _others: dict[tuple[str, str], Callable[[NodeRestriction, Admission, str], None]] = {
        ("", "persistentvolumeclaims"): _claim_status,
        ("coordination.k8s.io", "leases"): _lease,
        ("storage.k8s.io", "csinodes"): _csinode,
        ("resource.k8s.io", "resourceslices"): _resource_slice,
        ("certificates.k8s.io", "certificatesigningrequests"): _csr,
        ("certificates.k8s.io", "podcertificaterequests"): _pod_certificate,
    }


# Signers whose CSRs name a node in their subject (kubelet serving and client certificates).
_NODE_SIGNERS = ("kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client-kubelet")
# What a node may change in a PVC's status (kube compares the rest, metadata included).
_CLAIM_STATUS_FIELDS = ("capacity", "conditions", "allocatedResourceStatuses", "allocatedResources")


def _comparable_claim(obj: Obj | None) -> dict[str, str]:
    """A PVC without what a node may change, as JSON texts by top-level field."""
    claim = dict(_dict(obj))
    meta = {
        k: v
        for k, v in _dict(claim.get("metadata")).items()
        if k not in ("resourceVersion", "managedFields")
    }
    status = {k: v for k, v in _dict(claim.get("status")).items() if k not in _CLAIM_STATUS_FIELDS}
    claim.update(metadata=meta, status=status)
    return {k: json.dumps(v, sort_keys=True) for k, v in claim.items()}


def _created_name(adm: Admission) -> str:
    """The object's name: on create from the object (the request names none)."""
    if adm.operation == "CREATE":
        return str(_dict(_dict(adm.obj).get("metadata")).get("name") or "")
    return adm.name


def _uid(obj: Obj) -> str:
    return str(_dict(obj.get("metadata")).get("uid") or "")


def _error(message: str) -> StatusError:
    """An admission error that is no API status: kube answers a plain 500 with its text."""
    return StatusError(500, "", message)
