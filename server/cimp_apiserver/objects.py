"""Per-resource strategies: what kube's registry does to an object before it is stored.

System fields on create, defaults clients rely on, generation bumps, the status/spec split of
resources with a ``status`` subresource, name/label validation and the few kind-specific
rules whose absence a client would notice (pod spec immutability, binding roleRef, immutable
ConfigMaps and Secrets, DaemonSet selectors). Validation failures are returned as causes for a
422 ``Invalid`` in kube's wording.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from constrained_impersonation.identity import is_dns1123_label, is_dns1123_subdomain

from . import defaults, services
from .resources import ResourceType
from .status import invalid, quote
from .storage import Store, now_rfc3339
from .strategy import strategy_of

__all__ = [
    "MIRROR_POD_ANNOTATION",
    "Cause",
    "generate_name",
    "label_selector_matches",
    "prepare_create",
    "prepare_status_update",
    "prepare_update",
    "returns_deleted_object",
    "validate",
]

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # (field, reason type, message)

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_SUBDOMAIN_RE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_RE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_ANNOTATIONS = 256 * 1024


def _q(value: object) -> str:
    """A bad value as apimachinery's ``field.Error`` prints it: a string quoted (``%q``),
    numbers and booleans plainly, anything else as Go's ``json.Marshal`` (compact, HTML
    characters escaped)."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _invalid(field: str, value: object, detail: str) -> Cause:
    return (field, "FieldValueInvalid", f"Invalid value: {_q(value)}: {detail}")


def _required(field: str, detail: str = "") -> Cause:
    return (field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def _forbidden(field: str, detail: str) -> Cause:
    return (field, "FieldValueForbidden", f"Forbidden: {detail}")


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


# --------------------------------------------------------------------------- names


def subdomain_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not is_dns1123_subdomain(value[:253] if len(value) > 253 else value):
        errors.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            f"'example.com', regex used for validation is '{_SUBDOMAIN_RE}')"
        )
    return errors


def label_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not is_dns1123_label(value[:63] if len(value) > 63 else value):
        errors.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            f"'123-abc', regex used for validation is '{_LABEL_RE}')"
        )
    return errors


def path_segment_errors(value: str) -> list[str]:
    """RBAC object names: anything that is a valid path segment (``system:node`` etc.)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


_NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "namespaces": label_errors,
    "roles": path_segment_errors,
    "rolebindings": path_segment_errors,
    "clusterroles": path_segment_errors,
    "clusterrolebindings": path_segment_errors,
}


def name_errors(rt: ResourceType, name: str) -> list[str]:
    return _NAME_RULES.get(rt.resource, subdomain_errors)(name)


def generate_name(prefix: str) -> str:
    """kube's ``SimpleNameGenerator``: the prefix (cut to 58) and five random characters."""
    suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
    return prefix[:58] + suffix


def _qualified_name_errors(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    errors = []
    if slash:
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.fullmatch(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errors


def _label_value_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', "
            " or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return errors


def _join(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def labels_causes(labels: Any, field: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        if errors := _qualified_name_errors(key):
            causes.append(_invalid(field, key, _join(errors)))
        if isinstance(value, str) and (errors := _label_value_errors(value)):
            causes.append(_invalid(field, value, _join(errors)))
    return causes


def _meta_causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    meta = _meta(obj)
    causes: list[Cause] = []
    name = meta.get("name") or ""
    if not name:
        causes.append(_required("metadata.name", "name or generateName is required"))
    elif errors := name_errors(rt, name):
        causes.append(_invalid("metadata.name", name, _join(errors)))
    if rt.namespaced and not meta.get("namespace"):
        causes.append(_required("metadata.namespace"))
    causes.extend(labels_causes(meta.get("labels"), "metadata.labels"))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            total += len(key) + len(value if isinstance(value, str) else "")
            if errors := _qualified_name_errors(key):
                causes.append(_invalid("metadata.annotations", key, _join(errors)))
        if total > _MAX_ANNOTATIONS:
            causes.append(
                (
                    "metadata.annotations",
                    "FieldValueTooLong",
                    f"Too long: must have at most {_MAX_ANNOTATIONS} bytes",
                )
            )
    for i, ref in enumerate(meta.get("ownerReferences") or ()):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                causes.append(_required(f"metadata.ownerReferences[{i}].{key}"))
    return causes


# --------------------------------------------------------------------------- defaults


_DEFAULT_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def _admit_pod(meta: Obj, spec: Obj) -> None:
    """What kube's default admission plugins write into a new pod: priority and preemption
    policy (Priority), and NoExecute tolerations for unready and unreachable nodes
    (DefaultTolerationSeconds). No service account: ServiceAccount admission is off, as on the
    reference kube-apiserver (and envtest), which has no controller-manager to create the
    ``default`` accounts it would require."""
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.get("tolerations")
    if tolerations is None or isinstance(tolerations, list):
        tolerations = list(tolerations or [])
        for default in _DEFAULT_TOLERATIONS:
            covered = any(
                isinstance(t, dict)
                and t.get("effect") in ("", None, "NoExecute")
                and (
                    t.get("key") == default["key"]
                    or (not t.get("key") and t.get("operator") == "Exists")
                )
                for t in tolerations
            )
            if not covered:
                tolerations.append(dict(default))
        spec["tolerations"] = tolerations


def _qos_class(spec: Any) -> str:
    """kube's ``GetPodQOS``: Guaranteed when every container limits cpu and memory at what it
    requests, BestEffort when none asks for anything, else Burstable."""
    containers = [
        c
        for field in ("containers", "initContainers")
        for c in ((spec.get(field) if isinstance(spec, dict) else None) or ())
        if isinstance(c, dict)
    ]
    any_set, guaranteed = False, True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        relevant = {"cpu", "memory"}
        if any(k in relevant or k.startswith("hugepages-") for k in {*requests, *limits}):
            any_set = True
        for name in relevant:
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _create_strategy(rt: ResourceType, obj: Obj, store: Store | None) -> None:
    """What kube's registry strategies do on create beyond defaulting (PrepareForCreate)."""
    meta = _meta(obj)
    key = (rt.group, rt.resource)
    if rt.builtin and "status" in rt.subresources and key != ("", "nodes"):
        obj["status"] = {}  # a new object's status is the controllers' to write
    if key == ("", "namespaces"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict) and not spec.get("finalizers"):
            spec["finalizers"] = ["kubernetes"]
    elif key == ("", "pods"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            _admit_pod(meta, spec)
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}
    elif key == ("", "nodes"):
        spec = obj.setdefault("spec", {})
        taints = spec.get("taints") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and (taints is None or isinstance(taints, list)):
            not_ready = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
            if not any(
                isinstance(t, dict) and t.get("key") == not_ready["key"] for t in taints or ()
            ):
                spec["taints"] = [*(taints or []), not_ready]  # TaintNodesByCondition
    elif key == ("", "secrets"):
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = dict(obj.get("data") or {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
    elif key == ("", "persistentvolumes"):
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": now_rfc3339()}
    elif key == ("", "services"):
        services.allocate(obj, store)
    elif key == ("batch", "jobs"):
        _job_selector(meta, obj)
    elif key == ("apps", "daemonsets"):
        annotations = meta.setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations["deprecated.daemonset.template.generation"] = "1"
    elif key == ("", "persistentvolumeclaims"):
        finalizers = list(meta.get("finalizers") or [])
        if "kubernetes.io/pvc-protection" not in finalizers:  # StorageObjectInUseProtection
            meta["finalizers"] = [*finalizers, "kubernetes.io/pvc-protection"]
    if key == ("", "persistentvolumes"):
        finalizers = list(meta.get("finalizers") or [])
        if "kubernetes.io/pv-protection" not in finalizers:
            meta["finalizers"] = [*finalizers, "kubernetes.io/pv-protection"]


def _job_selector(meta: Obj, obj: Obj) -> None:
    """kube's ``generateSelector``: a Job's pods carry its uid and name, and its selector
    matches the uid (unless the user chose ``manualSelector``)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return
    template_meta = template.setdefault("metadata", {})
    if not isinstance(template_meta, dict):
        return
    labels = template_meta.setdefault("labels", {})
    if not isinstance(labels, dict):
        return
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    for label in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(label, name)
    for label in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(label, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.setdefault("matchLabels", {})
    if isinstance(match, dict):
        match.setdefault("batch.kubernetes.io/controller-uid", uid)


# --------------------------------------------------------------------------- strategies

# A pod the kubelet created from a static manifest (kube's ``MirrorPodAnnotationKey``).
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# Status writes of these keep the new labels and annotations but nothing else of metadata.
_STATUS_KEEPS_METADATA = {("", "pods"), ("", "nodes")}
# Status writes of these may not change labels (their status strategies reset them).
_STATUS_KEEPS_LABELS = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
}
# Metadata whose change also bumps the generation (Deployment annotations are copied to its
# ReplicaSets; an EndpointSlice's labels route it).
_GENERATION_METADATA = {
    ("apps", "deployments"): ("annotations",),
    ("discovery.k8s.io", "endpointslices"): ("labels",),
}
# kube answers DELETE of these with the object rather than a Status.
_RETURN_DELETED = {("", "pods"), ("", "namespaces")}
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)


def returns_deleted_object(rt: ResourceType) -> bool:
    return rt.returns_deleted or (rt.group, rt.resource) in _RETURN_DELETED


def _keeps_generation(rt: ResourceType) -> bool:
    return rt.generation


def _status_split(rt: ResourceType) -> bool:
    """Whether the main endpoint ignores status (it has a ``status`` subresource)."""
    return "status" in rt.subresources


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _finish(rt: ResourceType, obj: Obj) -> None:
    """Defaults as kube applies them again when it reads the stored object, and the fields
    Go's JSON encoder writes although unset."""
    defaults.apply_defaults(rt.api_version, rt.kind, obj)
    defaults.go_view(rt.api_version, rt.kind, obj)


def prepare_create(rt: ResourceType, obj: Obj, store: Store | None = None) -> None:
    """Reset system fields, default, and apply the create strategy (in place), as kube's
    decoding and BeforeCreate do. ``store``: for what a create allocates (Service IPs)."""
    if (strategy := strategy_of(rt)) is not None:
        strategy.prepare_create(rt, obj)
        return
    defaults.apply_defaults(rt.api_version, rt.kind, obj)
    meta = _meta(obj)
    for field in _SYSTEM_META:
        meta.pop(field, None)
    meta["creationTimestamp"] = now_rfc3339()
    if rt.builtin:
        meta["uid"] = str(uuid.uuid4())
    if _keeps_generation(rt):
        meta["generation"] = 1
    _create_strategy(rt, obj, store)
    _finish(rt, obj)


def _pod_subresource_update(subresource: str, obj: Obj, old: Obj) -> None:
    """``pods/<n>/ephemeralcontainers`` and ``pods/<n>/resize`` write one part of the pod:
    everything else is the old pod's (in place)."""
    new_spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(new_spec, dict)
    merged = copy.deepcopy(old)
    merged_meta = _meta(merged)
    merged_meta["resourceVersion"] = _meta(obj).get("resourceVersion")
    spec = merged.setdefault("spec", {})
    if subresource == "ephemeralcontainers":
        spec["ephemeralContainers"] = copy.deepcopy(new_spec.get("ephemeralContainers"))
        if spec["ephemeralContainers"] is None:
            del spec["ephemeralContainers"]
    else:  # resize: each container's resources and resize policy
        wanted = {c.get("name"): c for c in new_spec.get("containers") or () if isinstance(c, dict)}
        for container in spec.get("containers") or ():
            given = wanted.get(container.get("name")) if isinstance(container, dict) else None
            if given is not None:
                for key in ("resources", "resizePolicy"):
                    if key in given:
                        container[key] = copy.deepcopy(given[key])
        before, after = _qos_class(old.get("spec")), _qos_class(spec)
        if before != after:
            raise invalid(
                "Pod",
                str(merged_meta.get("name") or ""),
                "",
                [_invalid("spec", before, "Pod QOS Class may not change as a result of resizing")],
            )
    obj.clear()
    obj.update(merged)


def prepare_update(rt: ResourceType, obj: Obj, old: Obj, subresource: str = "") -> None:
    """Carry over what a main-resource update may not change (in place); ``subresource``:
    the pod subresources that write part of a pod (``ephemeralcontainers``, ``resize``)."""
    if (strategy := strategy_of(rt)) is not None:
        strategy.prepare_update(rt, obj, old)
        return
    if (rt.group, rt.resource) == ("", "pods") and subresource in ("ephemeralcontainers", "resize"):
        _pod_subresource_update(subresource, obj, old)
    defaults.apply_defaults(rt.api_version, rt.kind, obj)
    meta = _meta(obj)
    old_meta = old.get("metadata") or {}
    for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta.pop("selfLink", None)
    meta.pop("managedFields", None)
    if _status_split(rt):
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    if (rt.group, rt.resource) == ("", "services"):
        services.keep_allocated(obj, old)
    if _keeps_generation(rt):
        generation = int(old_meta.get("generation") or 1)
        if _spec_part(obj) != _spec_part(old) or any(
            meta.get(field) != old_meta.get(field)
            for field in _GENERATION_METADATA.get((rt.group, rt.resource), ())
        ):
            generation += 1
        meta["generation"] = generation
    elif "generation" in old_meta:
        meta["generation"] = old_meta["generation"]
    else:
        meta.pop("generation", None)
    if (rt.group, rt.resource) == ("apps", "daemonsets") and meta.get("generation") != (
        old_meta.get("generation")
    ):
        annotations = meta.setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations["deprecated.daemonset.template.generation"] = str(meta["generation"])
    _finish(rt, obj)


def prepare_status_update(rt: ResourceType, obj: Obj, old: Obj) -> Obj:
    """The object a ``/status`` write stores.

    As kube's status strategies: the new object with the old spec (and, for apps workloads,
    the old labels). Pods and nodes take only the new status, labels and annotations.
    """
    if (strategy := strategy_of(rt)) is not None:
        return strategy.prepare_status_update(rt, obj, old)
    key = (rt.group, rt.resource)
    if key in _STATUS_KEEPS_METADATA or not rt.builtin:
        out = copy.deepcopy(old)
        if "status" in obj:
            out["status"] = obj["status"]
        else:
            out.pop("status", None)
        if key in _STATUS_KEEPS_METADATA:
            new_meta, out_meta = _meta(obj), _meta(out)
            for field in ("labels", "annotations"):
                if new_meta.get(field):
                    out_meta[field] = copy.deepcopy(new_meta[field])
                else:
                    out_meta.pop(field, None)
    else:
        out = copy.deepcopy(obj)
        for field in [k for k in out if k not in ("apiVersion", "kind", "metadata", "status")]:
            del out[field]
        for field, value in old.items():
            if field not in ("apiVersion", "kind", "metadata", "status"):
                out[field] = copy.deepcopy(value)
        out_meta, old_meta = _meta(out), old.get("metadata") or {}
        for field in _SYSTEM_META:
            if field in old_meta:
                out_meta[field] = copy.deepcopy(old_meta[field])
            else:
                out_meta.pop(field, None)
        if key in _STATUS_KEEPS_LABELS:
            if old_meta.get("labels"):
                out_meta["labels"] = copy.deepcopy(old_meta["labels"])
            else:
                out_meta.pop("labels", None)
    if rt.builtin:
        _finish(rt, out)
    return out


# --------------------------------------------------------------------------- validation


def label_selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics (matchLabels and matchExpressions)."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op = expr.get("key"), expr.get("operator")
        values = expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _containers_causes(spec: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [_required(path)]
    containers = spec.get("containers")
    if not containers:
        causes.append(_required(f"{path}.containers"))
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(field) or ()):
            where = f"{path}.{field}[{i}]"
            if not isinstance(container, dict):
                continue
            name = container.get("name") or ""
            if not name:
                causes.append(_required(f"{where}.name"))
            elif errors := label_errors(name):
                causes.append(_invalid(f"{where}.name", name, _join(errors)))
            elif name in seen:
                causes.append(
                    (f"{where}.name", "FieldValueDuplicate", f"Duplicate value: {_q(name)}")
                )
            seen.add(name)
            if not container.get("image"):
                causes.append(_required(f"{where}.image"))
    return causes


_POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _mutable_pod_fields_cleared(spec: Obj) -> Obj:
    out = copy.deepcopy(spec)
    for field in ("containers", "initContainers"):
        for container in out.get(field) or ():
            if isinstance(container, dict):
                container.pop("image", None)
    out.pop("activeDeadlineSeconds", None)
    out.pop("tolerations", None)
    return out


def _kind_causes(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    key = (rt.group, rt.resource)
    causes: list[Cause] = []
    if key == ("", "pods"):
        causes.extend(_containers_causes(obj.get("spec"), "spec"))
        if old is not None and isinstance(obj.get("spec"), dict):
            old_spec = old.get("spec") or {}
            new_spec = obj["spec"]
            if _mutable_pod_fields_cleared(new_spec) != _mutable_pod_fields_cleared(old_spec):
                causes.append(_forbidden("spec", _POD_UPDATE_FORBIDDEN))
            old_tolerations = old_spec.get("tolerations") or []
            new_tolerations = new_spec.get("tolerations") or []
            if any(t not in new_tolerations for t in old_tolerations):
                causes.append(_forbidden("spec", _POD_UPDATE_FORBIDDEN))
    elif key == ("apps", "daemonsets"):
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [_required("spec")]
        selector = spec.get("selector")
        raw_template = spec.get("template")
        template: Obj = raw_template if isinstance(raw_template, dict) else {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(_required("spec.selector"))
        elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(
                _invalid("spec.selector", selector, "empty selector is invalid for daemonset")
            )
        elif not label_selector_matches(selector, labels):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        causes.extend(_containers_causes(template.get("spec"), "spec.template.spec"))
        if old is not None and selector != (old.get("spec") or {}).get("selector"):
            causes.append(_invalid("spec.selector", selector, "field is immutable"))
    elif key in (("", "configmaps"), ("", "secrets")):
        for field in ("data", "binaryData"):
            for data_key in obj.get(field) or {}:
                if len(data_key) > 253 or not _CONFIG_KEY.fullmatch(data_key):
                    causes.append(
                        _invalid(
                            f"{field}[{data_key}]" if field == "data" else field,
                            data_key,
                            "a valid config key must consist of alphanumeric characters, '-', "
                            "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                            "regex used for validation is '[-._a-zA-Z0-9]+')",
                        )
                    )
        if old is not None and old.get("immutable"):
            for field in ("data", "binaryData", "stringData"):
                if obj.get(field) != old.get(field):
                    causes.append(_forbidden(field, "field is immutable when `immutable` is set"))
            if not obj.get("immutable"):
                causes.append(_forbidden("immutable", "field is immutable when `immutable` is set"))
        if key == ("", "secrets") and old is not None and obj.get("type") != old.get("type"):
            causes.append(_invalid("type", obj.get("type"), "field is immutable"))
    elif key in (
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ):
        causes.extend(_binding_causes(rt, obj, old))
    elif key in (
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
    ):
        for i, rule in enumerate(obj.get("rules") or ()):
            if not isinstance(rule, dict):
                continue
            if not rule.get("verbs"):
                causes.append(
                    _required(f"rules[{i}].verbs", "verbs must contain at least one value")
                )
            if rule.get("nonResourceURLs"):
                if rt.resource == "roles":
                    causes.append(
                        _invalid(
                            f"rules[{i}].nonResourceURLs",
                            rule["nonResourceURLs"],
                            "namespaced rules cannot apply to non-resource URLs",
                        )
                    )
                elif rule.get("resources") or rule.get("apiGroups"):
                    causes.append(
                        _invalid(
                            f"rules[{i}].nonResourceURLs",
                            rule["nonResourceURLs"],
                            "rules cannot apply to both regular resources and non-resource URLs",
                        )
                    )
            elif not rule.get("resources"):
                causes.append(
                    _required(
                        f"rules[{i}].resources", "resource rules must supply at least one resource"
                    )
                )
            elif "apiGroups" not in rule or rule.get("apiGroups") is None:
                causes.append(
                    _required(
                        f"rules[{i}].apiGroups", "resource rules must supply at least one api group"
                    )
                )
    return causes


def _binding_causes(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        return [_required("roleRef")]
    allowed = ("ClusterRole",) if rt.resource == "clusterrolebindings" else ("Role", "ClusterRole")
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        causes.append(
            (
                "roleRef.apiGroup",
                "FieldValueNotSupported",
                f"Unsupported value: {_q(ref.get('apiGroup') or '')}: supported values: "
                '"rbac.authorization.k8s.io"',
            )
        )
    if ref.get("kind") not in allowed:
        supported = ", ".join(f'"{k}"' for k in allowed)
        causes.append(
            (
                "roleRef.kind",
                "FieldValueNotSupported",
                f"Unsupported value: {_q(ref.get('kind') or '')}: supported values: {supported}",
            )
        )
    if not ref.get("name"):
        causes.append(_required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or ()):
        if not isinstance(subject, dict):
            continue
        kind = subject.get("kind")
        if kind not in ("User", "Group", "ServiceAccount"):
            causes.append(
                (
                    f"subjects[{i}].kind",
                    "FieldValueNotSupported",
                    f"Unsupported value: {_q(kind or '')}: supported values: "
                    '"ServiceAccount", "User", "Group"',
                )
            )
        if not subject.get("name"):
            causes.append(_required(f"subjects[{i}].name"))
        if (
            kind == "ServiceAccount"
            and rt.resource == "clusterrolebindings"
            and not subject.get("namespace")
        ):
            causes.append(_required(f"subjects[{i}].namespace"))
    if old is not None and old.get("roleRef") != ref:
        causes.append(_invalid("roleRef", ref, "cannot change roleRef"))
    return causes


# --------------------------------------------------------------------------- workloads and more


def _nonnegative(value: Any, field: str) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [_invalid(field, value, "must be greater than or equal to 0")]
    return []


_NO_SELECTOR: Any = object()  # a template whose labels nothing selects (a CronJob's job's)


def _template_causes(
    template: Any, selector: Any, path: str, restart: tuple[str, ...] = ("Always",)
) -> list[Cause]:
    """``ValidatePodTemplateSpecForReplicaSet``: labels the selector matches, a valid pod spec,
    and the restart policies the workload allows."""
    if not isinstance(template, dict):
        return [_required(path)]
    causes: list[Cause] = []
    labels = (template.get("metadata") or {}).get("labels")
    empty = isinstance(selector, dict) and not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    )
    if (
        selector is not _NO_SELECTOR
        and not empty
        and not label_selector_matches(selector, labels or {})
    ):
        causes.append(
            _invalid(
                f"{path}.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    spec = template.get("spec")
    causes.extend(_containers_causes(spec, f"{path}.spec"))
    policy = (spec or {}).get("restartPolicy") if isinstance(spec, dict) else None
    if restart == ("Always",):
        if policy not in (None, "", "Always"):
            causes.append(
                (
                    f"{path}.spec.restartPolicy",
                    "FieldValueNotSupported",
                    f'Unsupported value: {_q(policy)}: supported values: "Always"',
                )
            )
    elif policy not in restart:
        causes.append(_required(f"{path}.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    return causes


def _replicated_causes(word: str, spec: Obj, old: Obj | None) -> list[Cause]:
    """Deployments, ReplicaSets and StatefulSets: replicas, selector, template."""
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(_required("spec.selector"))
        selector = None
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(_invalid("spec.selector", selector, f"empty selector is invalid for {word}"))
    causes.extend(_template_causes(spec.get("template"), selector, "spec.template"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if selector != old_spec.get("selector"):
            causes.append(_invalid("spec.selector", selector, "field is immutable"))
    return causes


_STATEFUL_SET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _stateful_set_update_causes(spec: Obj, old: Obj) -> list[Cause]:
    old_spec = old.get("spec") or {}
    causes = [
        _invalid(f"spec.{field}", spec.get(field), "field is immutable")
        for field in ("serviceName", "podManagementPolicy")
        if spec.get(field) != old_spec.get(field)
    ]
    if causes:
        return causes
    fixed = {k: v for k, v in spec.items() if k not in _STATEFUL_SET_MUTABLE}
    old_fixed = {k: v for k, v in old_spec.items() if k not in _STATEFUL_SET_MUTABLE}
    if fixed != old_fixed:
        causes.append(
            _forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'revisionHistoryLimit', "
                "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            )
        )
    return causes


def _replication_controller_causes(spec: Obj) -> list[Cause]:
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    selector = spec.get("selector")
    if not selector:
        causes.append(_required("spec.selector"))
    template = spec.get("template")
    if template is None:
        causes.append(_required("spec.template"))
        return causes
    causes.extend(
        _template_causes(template, {"matchLabels": selector or {}}, "spec.template")
        if selector
        else _containers_causes((template or {}).get("spec"), "spec.template.spec")
    )
    return causes


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def _service_causes(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [_required("spec")]
    causes: list[Cause] = []
    kind = spec.get("type") or "ClusterIP"
    if kind not in _SERVICE_TYPES:
        supported = ", ".join(f'"{t}"' for t in _SERVICE_TYPES)
        causes.append(
            (
                "spec.type",
                "FieldValueNotSupported",
                f"Unsupported value: {_q(kind)}: supported values: {supported}",
            )
        )
    headless = spec.get("clusterIP") == "None"
    ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    if kind == "ExternalName":
        if not spec.get("externalName"):
            causes.append(_required("spec.externalName"))
    elif not ports and not headless:
        causes.append(_required("spec.ports"))
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        if len(ports) > 1 and not port.get("name"):
            causes.append(_required(f"{where}.name"))
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(
                _invalid(f"{where}.port", number or 0, "must be between 1 and 65535, inclusive")
            )
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            causes.append(
                _invalid(f"{where}.targetPort", target, "must be between 1 and 65535, inclusive")
            )
    if old is not None and kind != "ExternalName":
        old_ips = (old.get("spec") or {}).get("clusterIPs") or []
        new_ips = spec.get("clusterIPs") or []
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            causes.append(_invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes


def _service_status_causes(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if ingress and (spec.get("type") or "ClusterIP") != "LoadBalancer":
        return [
            _forbidden(
                "status.loadBalancer.ingress", "may only be used when `spec.type` is 'LoadBalancer'"
            )
        ]
    return []


_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("dom", 1, 31), ("month", 1, 12), ("dow", 0, 6))
_CRON_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4,
    "fri": 5, "sat": 6,
}  # fmt: skip
_CRON_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


def _atoi_error(text: str) -> str:
    return f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'


def _cron_error(schedule: str) -> str:
    """robfig/cron's ParseStandard error for ``schedule``, or "" when it parses."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        text = text.split(" ", 1)[1] if " " in text else ""
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS or text.startswith("@every "):
            return ""
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for field, (_, low, high) in zip(fields, _CRON_RANGES, strict=True):
        for part in field.split(","):
            span, _, step = part.partition("/")
            if span in ("*", "?"):
                continue
            start, _, end = span.partition("-")
            for bound in (start, end or start):
                value = _CRON_NAMES.get(bound.lower()) if not bound.isdigit() else int(bound)
                if value is None:
                    return _atoi_error(bound)
                if value > high:
                    return f"end of range ({value}) above maximum ({high}): {part}"
                if value < low:
                    return f"beginning of range ({value}) below minimum ({low}): {part}"
            if step and not step.isdigit():
                return _atoi_error(step)
    return ""


def _job_causes(spec: Obj, path: str, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        causes.extend(_nonnegative(spec.get(field), f"{path}.{field}"))
    selector = spec.get("selector")
    causes.extend(
        _template_causes(
            spec.get("template"),
            _NO_SELECTOR if selector is None else selector,
            f"{path}.template",
            ("OnFailure", "Never"),
        )
    )
    if old is not None:
        old_spec = old.get("spec") or {}
        if spec.get("template") != old_spec.get("template") and not old_spec.get("suspend"):
            causes.append(_invalid(f"{path}.template", spec.get("template"), "field is immutable"))
    return causes


def _more_kind_causes(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    """Validation kube's registry does for the workloads and other often-written kinds."""
    key = (rt.group, rt.resource)
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if key in (("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")):
        word = {"deployments": "deployment", "replicasets": "replicaset"}.get(
            rt.resource, "statefulset"
        )
        causes = _replicated_causes(word, spec, None)
        if old is not None:
            if rt.resource == "statefulsets":
                causes.extend(_stateful_set_update_causes(spec, old))
            elif spec.get("selector") != (old.get("spec") or {}).get("selector"):
                causes.append(_invalid("spec.selector", spec.get("selector"), "field is immutable"))
        return causes
    if key == ("", "replicationcontrollers"):
        return _replication_controller_causes(spec)
    if key == ("", "services"):
        return _service_causes(obj, old)
    if key == ("batch", "jobs"):
        return _job_causes(spec, "spec", old)
    if key == ("batch", "cronjobs"):
        causes = []
        schedule = spec.get("schedule")
        if not schedule:
            causes.append(_required("spec.schedule"))
        elif error := _cron_error(str(schedule)):
            causes.append(_invalid("spec.schedule", schedule, error))
        job = (spec.get("jobTemplate") or {}).get("spec")
        causes.extend(
            _job_causes(job if isinstance(job, dict) else {}, "spec.jobTemplate.spec", None)
        )
        return causes
    if key == ("resource.k8s.io", "resourceslices") and old is not None:
        # a node moving its slice to another node would publish devices there
        was = old.get("spec") or {}
        pool, old_pool = spec.get("pool") or {}, was.get("pool") or {}
        pairs = (
            ("pool.name", pool.get("name"), old_pool.get("name")),
            ("driver", spec.get("driver"), was.get("driver")),
            ("nodeName", spec.get("nodeName"), was.get("nodeName")),
        )
        return [_invalid(f"spec.{f}", new, "field is immutable") for f, new, o in pairs if new != o]
    if key == ("apiregistration.k8s.io", "apiservices"):
        causes = []
        group, version = spec.get("group") or "", spec.get("version") or ""
        name = (obj.get("metadata") or {}).get("name") or ""
        expected = f"{version}.{group}" if group else version
        if name != expected:
            causes.append(
                _invalid(
                    "metadata.name", name, f'must be `spec.version+"."+spec.group`: {_q(expected)}'
                )
            )
        for field, limit in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
            value = spec.get(field) or 0
            if not 0 < value < limit:
                causes.append(
                    _invalid(f"spec.{field}", value, f"must be positive and less than {limit}")
                )
        return causes
    if key == ("networking.k8s.io", "ingresses"):
        if not spec.get("defaultBackend") and not spec.get("rules"):
            return [_invalid("spec", None, "either `defaultBackend` or `rules` must be specified")]
        return []
    both = spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None
    if key == ("policy", "poddisruptionbudgets") and both:
        shown = {
            "MinAvailable": spec.get("minAvailable"),
            "Selector": spec.get("selector"),
            "MaxUnavailable": spec.get("maxUnavailable"),
            "UnhealthyPodEvictionPolicy": spec.get("unhealthyPodEvictionPolicy"),
        }
        return [_invalid("spec", shown, "minAvailable and maxUnavailable cannot be both set")]
    return []


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _sort_keys(obj: Obj) -> None:
    """Order every map's keys as kube stores a custom resource (unstructured JSON: Go's sorted
    map keys), in place; list order is data and stays. (The store appends a new object's
    ``resourceVersion`` after its ``uid``: on create those two keep that order.)"""
    ordered = _sorted(obj)
    obj.clear()
    obj.update(ordered)


def validate(
    rt: ResourceType, obj: Obj, old: Obj | None = None, subresource: str = ""
) -> list[Cause]:
    """Causes for a 422, empty when ``obj`` may be stored (``old``: the object it replaces,
    through ``subresource`` if one)."""
    if (strategy := strategy_of(rt)) is not None:
        causes = strategy.validate(rt, obj, old, subresource)
        if not causes and not rt.builtin:
            _sort_keys(obj)
        return causes
    if subresource in ("ephemeralcontainers", "resize") and old is not None:
        # the rest of the pod is the old one's: only the written part can be wrong
        return _containers_causes(obj.get("spec"), "spec")
    causes = _meta_causes(rt, obj)
    causes.extend(_kind_causes(rt, obj, old))
    causes.extend(_more_kind_causes(rt, obj, old))
    if (rt.group, rt.resource) == ("", "services"):
        causes.extend(_service_status_causes(obj))
    return causes
