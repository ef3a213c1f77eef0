"""API defaulting and Go's JSON view of the built-in kinds, as kube-apiserver applies them.

kube-apiserver decodes every body into Go structs and runs the scheme's defaulters: a
``SetDefaults_<Type>`` function runs on every value of that type wherever it appears (a
``Container`` in a Pod, in a Deployment's template, in a CronJob's job template...). It then
writes objects back as Go's ``encoding/json`` does: a field without ``omitempty`` is written
even when unset (``"replicas": 0``, ``"status": {}``, ``"eventTime": null``), a non-pointer
struct always, a pointer only when set.

:func:`apply_defaults` walks an object by the types of ``schema.py`` and applies the
defaulters this module restates from k8s.io/kubernetes v1.37.2 (``pkg/apis/*/v1*/defaults.go``,
and kube-aggregator's); :func:`go_view` fills in what Go's encoder would write. Both work on
any built-in kind and do nothing for kinds without a schema (custom resources).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import schema

__all__ = ["apply_defaults", "go_view", "image_pull_policy"]

Obj = dict[str, Any]
Defaulter = Callable[[Obj], None]

_CORE = "io.k8s.api.core.v1."
_APPS = "io.k8s.api.apps.v1."
_BATCH = "io.k8s.api.batch.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_ADMISSION = "io.k8s.api.admissionregistration.v1."
_MAX_DEPTH = 64


def image_pull_policy(image: str) -> str:
    """``SetDefaults_Container``: Always for a ``latest`` (or absent) tag, else IfNotPresent."""
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _dict(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    if not isinstance(value, dict):
        value = {}
        obj[key] = value
    return value


def _labels_of(obj: Any) -> Any:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta.get("labels") if isinstance(meta, dict) else None


# --- core/v1 ----------------------------------------------------------------------------------


def _container(obj: Obj) -> None:
    image = obj.get("image")
    if not obj.get("imagePullPolicy") and isinstance(image, str):
        obj["imagePullPolicy"] = image_pull_policy(image)
    obj.setdefault("terminationMessagePath", "/dev/termination-log")
    obj.setdefault("terminationMessagePolicy", "File")
    if not obj.get("terminationMessagePath"):
        obj["terminationMessagePath"] = "/dev/termination-log"
    if not obj.get("terminationMessagePolicy"):
        obj["terminationMessagePolicy"] = "File"


def _container_port(obj: Obj) -> None:
    if not obj.get("protocol"):
        obj["protocol"] = "TCP"


def _pod_spec(obj: Obj) -> None:
    if not obj.get("serviceAccountName") and obj.get("serviceAccount"):
        obj["serviceAccountName"] = obj["serviceAccount"]
    if obj.get("serviceAccountName"):
        obj["serviceAccount"] = obj["serviceAccountName"]
    else:
        obj.pop("serviceAccount", None)
    for key, value in (
        ("dnsPolicy", "ClusterFirst"),
        ("restartPolicy", "Always"),
        ("schedulerName", "default-scheduler"),
    ):
        if not obj.get(key):
            obj[key] = value
    if obj.get("securityContext") is None:
        obj["securityContext"] = {}
    if obj.get("terminationGracePeriodSeconds") is None:
        obj["terminationGracePeriodSeconds"] = 30


def _pod(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        spec["terminationGracePeriodSeconds"] = 1
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or ():
            if not isinstance(container, dict):
                continue
            resources = container.get("resources")
            limits = resources.get("limits") if isinstance(resources, dict) else None
            if isinstance(limits, dict) and limits and isinstance(resources, dict):
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for key, value in limits.items():
                        requests.setdefault(key, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for field in ("containers", "initContainers"):
            for container in spec.get(field) or ():
                for port in (container.get("ports") if isinstance(container, dict) else None) or ():
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)


def _volume(obj: Obj) -> None:
    sources = [k for k, v in obj.items() if k != "name" and v is not None]
    if not sources:
        obj["emptyDir"] = {}


def _default_mode(mode: int) -> Defaulter:
    def default(obj: Obj) -> None:
        if obj.get("defaultMode") is None:
            obj["defaultMode"] = mode

    return default


def _probe(obj: Obj) -> None:
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not obj.get(key):
            obj[key] = value


def _http_get(obj: Obj) -> None:
    if not obj.get("path"):
        obj["path"] = "/"
    if not obj.get("scheme"):
        obj["scheme"] = "HTTP"


def _service(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client, dict) or client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in spec.get("ports") or ():
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    kind = spec["type"]
    external = kind in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if external and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and kind in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def _replication_controller(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    labels = _labels_of(spec.get("template"))
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _dict(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1


def _secret(obj: Obj) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _persistent_volume(obj: Obj) -> None:
    status = _dict(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"
    spec = _dict(obj, "spec")
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"


def _persistent_volume_claim(obj: Obj) -> None:
    status = _dict(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def _claim_spec(obj: Obj) -> None:
    if obj.get("volumeMode") is None:
        obj["volumeMode"] = "Filesystem"


def _endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or ():
        for port in (subset.get("ports") if isinstance(subset, dict) else None) or ():
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _namespace(obj: Obj) -> None:
    meta = _dict(obj, "metadata")
    if meta.get("name"):
        labels = _dict(meta, "labels")
        labels["kubernetes.io/metadata.name"] = meta["name"]


def _namespace_status(obj: Obj) -> None:
    if not obj.get("phase"):
        obj["phase"] = "Active"


def _node_status(obj: Obj) -> None:
    if obj.get("allocatable") is None and obj.get("capacity") is not None:
        obj["allocatable"] = dict(obj["capacity"])


def _object_field_selector(obj: Obj) -> None:
    if not obj.get("apiVersion"):
        obj["apiVersion"] = "v1"


def _limit_range_item(obj: Obj) -> None:
    if obj.get("type") != "Container":
        return
    default = _dict(obj, "default")
    request = _dict(obj, "defaultRequest")
    for key, value in (obj.get("max") or {}).items():
        default.setdefault(key, value)
    for key, value in default.items():
        request.setdefault(key, value)
    for key, value in (obj.get("min") or {}).items():
        request.setdefault(key, value)


def _config_map(obj: Obj) -> None:
    if obj.get("data") is None:
        obj["data"] = {}


def _host_path(obj: Obj) -> None:
    if obj.get("type") is None:
        obj["type"] = ""


def _token_projection(obj: Obj) -> None:
    if obj.get("expirationSeconds") is None:
        obj["expirationSeconds"] = 3600


# --- apps/v1 ----------------------------------------------------------------------------------


def _deployment(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600


def _daemon_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10


def _stateful_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        if rolling.get("partition") is None:
            rolling["partition"] = 0
        if rolling.get("maxUnavailable") is None:  # MaxUnavailableStatefulSet: beta, on
            rolling["maxUnavailable"] = 1
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    for key in ("whenDeleted", "whenScaled"):
        if not retention.get(key):
            retention[key] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10


def _replica_set(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1


# --- batch/v1 ---------------------------------------------------------------------------------


def _job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    labels = _labels_of(spec.get("template"))
    meta = _dict(obj, "metadata")
    if isinstance(labels, dict) and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        failed = spec.get("podFailurePolicy") is not None
        spec["podReplacementPolicy"] = "Failed" if failed else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False


def _cron_job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1


def _pod_condition_pattern(obj: Obj) -> None:
    if not obj.get("status"):
        obj["status"] = "True"


# --- other groups -----------------------------------------------------------------------------


def _hpa_v2(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15},
                {"type": "Pods", "value": 4, "periodSeconds": 15},
            ],
        }
        down = {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        }
        for key, rules in (("scaleUp", up), ("scaleDown", down)):
            given = behavior.get(key)
            if isinstance(given, dict):
                rules.update({k: v for k, v in given.items() if v is not None})
            behavior[key] = rules


def _hpa_v1(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1


def _network_policy_port(obj: Obj) -> None:
    if obj.get("protocol") is None:
        obj["protocol"] = "TCP"


def _network_policy(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def _ingress_class(obj: Obj) -> None:
    parameters = _dict(obj, "spec").get("parameters")
    if isinstance(parameters, dict) and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


def _endpoint_port(obj: Obj) -> None:
    if obj.get("name") is None:
        obj["name"] = ""
    if obj.get("protocol") is None:
        obj["protocol"] = "TCP"


def _storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


def _csi_driver(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    for key, value in (
        ("attachRequired", True),
        ("podInfoOnMount", False),
        ("storageCapacity", False),
        ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
        ("requiresRepublish", False),
        ("seLinuxMount", False),
    ):
        if spec.get(key) is None:
            spec[key] = value
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def _service_reference(obj: Obj) -> None:
    if obj.get("port") is None:
        obj["port"] = 443


def _webhook(mutating: bool) -> Defaulter:
    def default(obj: Obj) -> None:
        for key, value in (
            ("failurePolicy", "Fail"),
            ("matchPolicy", "Equivalent"),
            ("namespaceSelector", {}),
            ("objectSelector", {}),
            ("timeoutSeconds", 10),
        ):
            if obj.get(key) is None:
                obj[key] = value
        if mutating and obj.get("reinvocationPolicy") is None:
            obj["reinvocationPolicy"] = "Never"

    return default


def _rule(obj: Obj) -> None:
    if obj.get("scope") is None:
        obj["scope"] = "*"


def _failure_policy(obj: Obj) -> None:
    if obj.get("failurePolicy") is None:
        obj["failurePolicy"] = "Fail"


def _match_resources(obj: Obj) -> None:
    for key, value in (
        ("matchPolicy", "Equivalent"),
        ("namespaceSelector", {}),
        ("objectSelector", {}),
    ):
        if obj.get(key) is None:
            obj[key] = value


# Per model (OpenAPI component name): the ``SetDefaults_*`` of that Go type.
DEFAULTERS: dict[str, Defaulter] = {
    _CORE + "Container": _container,
    _CORE + "EphemeralContainer": _container,
    _CORE + "ContainerPort": _container_port,
    _CORE + "PodSpec": _pod_spec,
    _CORE + "Pod": _pod,
    _CORE + "Volume": _volume,
    _CORE + "SecretVolumeSource": _default_mode(0o644),
    _CORE + "ConfigMapVolumeSource": _default_mode(0o644),
    _CORE + "DownwardAPIVolumeSource": _default_mode(0o644),
    _CORE + "ProjectedVolumeSource": _default_mode(0o644),
    _CORE + "ServiceAccountTokenProjection": _token_projection,
    _CORE + "Probe": _probe,
    _CORE + "HTTPGetAction": _http_get,
    _CORE + "Service": _service,
    _CORE + "ReplicationController": _replication_controller,
    _CORE + "Secret": _secret,
    _CORE + "PersistentVolume": _persistent_volume,
    _CORE + "PersistentVolumeClaim": _persistent_volume_claim,
    _CORE + "PersistentVolumeClaimSpec": _claim_spec,
    _CORE + "Endpoints": _endpoints,
    _CORE + "Namespace": _namespace,
    _CORE + "NamespaceStatus": _namespace_status,
    _CORE + "NodeStatus": _node_status,
    _CORE + "ObjectFieldSelector": _object_field_selector,
    _CORE + "LimitRangeItem": _limit_range_item,
    _CORE + "ConfigMap": _config_map,
    _CORE + "HostPathVolumeSource": _host_path,
    _APPS + "Deployment": _deployment,
    _APPS + "DaemonSet": _daemon_set,
    _APPS + "StatefulSet": _stateful_set,
    _APPS + "ReplicaSet": _replica_set,
    _BATCH + "Job": _job,
    _BATCH + "CronJob": _cron_job,
    _BATCH + "PodFailurePolicyOnPodConditionsPattern": _pod_condition_pattern,
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler": _hpa_v2,
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler": _hpa_v1,
    "io.k8s.api.networking.v1.NetworkPolicyPort": _network_policy_port,
    "io.k8s.api.networking.v1.NetworkPolicy": _network_policy,
    "io.k8s.api.networking.v1.IngressClass": _ingress_class,
    "io.k8s.api.discovery.v1.EndpointPort": _endpoint_port,
    "io.k8s.api.storage.v1.StorageClass": _storage_class,
    "io.k8s.api.storage.v1.CSIDriver": _csi_driver,
    "io.k8s.api.scheduling.v1.PriorityClass": _priority_class,
    "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.ServiceReference": _service_reference,
    _ADMISSION + "ServiceReference": _service_reference,
    _ADMISSION + "ValidatingWebhook": _webhook(mutating=False),
    _ADMISSION + "MutatingWebhook": _webhook(mutating=True),
    _ADMISSION + "RuleWithOperations": _rule,
    _ADMISSION + "NamedRuleWithOperations": _rule,
    _ADMISSION + "ValidatingAdmissionPolicySpec": _failure_policy,
    _ADMISSION + "MutatingAdmissionPolicySpec": _failure_policy,
    _ADMISSION + "MatchResources": _match_resources,
}


def _walk_defaults(model: str, value: Any, depth: int) -> None:
    if not isinstance(value, dict) or depth > _MAX_DEPTH:
        return
    defaulter = DEFAULTERS.get(model)
    if defaulter is not None:
        defaulter(value)
    fields = schema.fields(model)
    if fields is None:
        return
    for key, field in fields.items():
        _walk_value(field.type, value.get(key), depth + 1)


def _walk_value(typ: str, value: Any, depth: int) -> None:
    if value is None:
        return
    if typ.startswith("[]"):
        if isinstance(value, list):
            for item in value:
                _walk_value(typ[2:], item, depth)
    elif typ.startswith("{}"):
        if isinstance(value, dict):
            for item in value.values():
                _walk_value(typ[2:], item, depth)
    elif "." in typ:
        _walk_defaults(typ, value, depth)


def apply_defaults(api_version: str, kind: str, obj: Obj) -> None:
    """Run kube's defaulters on ``obj`` (in place), outermost type first."""
    model = schema.model(api_version, kind)
    if model is not None:
        _walk_defaults(model, obj, 0)


# --- Go's JSON view -----------------------------------------------------------------------------


def _zero(field: schema.FieldType, depth: int) -> tuple[bool, Any]:
    """Whether Go writes an unset field, and as what."""
    flags = field.flags
    if "p" in flags:
        return False, None  # a nil pointer: omitted
    typ = field.type
    if "." in typ and not typ.startswith(("[]", "{}")):
        if "z" in flags:
            return False, None  # omitzero: a zero struct is left out
        obj: Obj = {}
        _fill(typ, obj, depth + 1)
        return True, obj  # omitempty never applies to a struct
    if typ == "time" or field.go == "runtime.RawExtension":
        # metav1.Time, RawExtension: structs that write their zero value as null.
        return ("z" not in flags), None
    if typ == "any":
        return False, None
    if typ == "quantity":
        return ("z" not in flags), "0"
    if typ == "intstr":
        return ("z" not in flags), 0
    if "o" in flags or "z" in flags:
        return False, None
    if typ.startswith(("[]", "{}")) or typ == "bytes":
        return True, None  # a nil slice or map
    zero: Any = {"string": "", "integer": 0, "number": 0, "boolean": False}.get(typ)
    return zero is not None, zero


def _empty(field: schema.FieldType, value: Any) -> bool:
    """Whether ``omitempty`` leaves ``value`` out: an empty string, list or map, a zero
    number, false (never a struct, nor anything behind a pointer)."""
    if "p" in field.flags:
        return False
    typ = field.type
    if typ.startswith(("[]", "{}")) or typ in ("string", "bytes"):
        return value in ("", [], {})
    if typ in ("integer", "number"):
        return value == 0 and not isinstance(value, bool)
    if typ == "boolean":
        return value is False
    return False


def _fill(model: str, obj: Obj, depth: int) -> None:
    fields = schema.fields(model)
    if fields is None or depth > _MAX_DEPTH:
        return
    for key, field in fields.items():
        value = obj.get(key)
        if key not in obj:
            write, zero = _zero(field, depth)
            if write:
                obj[key] = zero
            continue
        if ("o" in field.flags or "z" in field.flags) and _empty(field, value):
            del obj[key]
            continue
        if value in ([], {}) and field.type.startswith(("[]", "{}")):
            obj[key] = None  # etcd's protobuf keeps no empty list or map: it reads back nil
            continue
        _fill_value(field.type, value, depth + 1)


def _fill_value(typ: str, value: Any, depth: int) -> None:
    if value is None:
        return
    if typ.startswith("[]"):
        if isinstance(value, list):
            for item in value:
                _fill_value(typ[2:], item, depth)
    elif typ.startswith("{}"):
        if isinstance(value, dict):
            for item in value.values():
                _fill_value(typ[2:], item, depth)
    elif "." in typ and isinstance(value, dict):
        _fill(typ, value, depth)


def go_view(api_version: str, kind: str, obj: Obj) -> None:
    """Make ``obj`` what Go's JSON encoder writes for it (in place): unset fields it writes
    anyway added, empty ``omitempty`` ones dropped. Built-in kinds only."""
    model = schema.model(api_version, kind)
    if model is not None:
        _fill(model, obj, 0)
