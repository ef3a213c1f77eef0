"""Server-side printing: ``meta.k8s.io/v1`` Table and PartialObjectMetadata responses.

``kubectl get`` asks for ``application/json;as=Table;g=meta.k8s.io;v=v1`` and prints the
columns the server sends, so these mirror kube's printers for the kinds served here (the same
column names, most cells) and fall back to kube's default ``Name``/``Created At`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .resources import Column as ColumnDefinition
from .resources import ResourceType
from .scale import label_selector_string
from .storage import Record
from .strategy import strategy_of

__all__ = ["human_duration", "partial_list", "partial_object", "table"]

Obj = dict[str, Any]
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATED_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def partial_object(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def partial_list(records: Sequence[Record], meta: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "items": [partial_object(r.obj) for r in records],
    }


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration`` (what kubectl shows as AGE)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _age(obj: Obj) -> str:
    created = _meta(obj).get("creationTimestamp")
    if not isinstance(created, str):
        return "<unknown>"
    try:
        when = datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _or_none(value: Any) -> str:
    return str(value) if value not in (None, "") else "<none>"


def _pod_status(obj: Obj) -> str:
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or ():
        waiting = _dig(cs, "state", "waiting", "reason")
        terminated = _dig(cs, "state", "terminated", "reason")
        if waiting:
            reason = waiting
        elif terminated:
            reason = terminated
    return str(reason)


def _pod_ready(obj: Obj) -> str:
    containers = _dig(obj, "spec", "containers") or []
    statuses = _dig(obj, "status", "containerStatuses") or []
    ready = sum(1 for cs in statuses if isinstance(cs, dict) and cs.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_restarts(obj: Obj) -> int:
    statuses = _dig(obj, "status", "containerStatuses") or []
    return sum(int(cs.get("restartCount") or 0) for cs in statuses if isinstance(cs, dict))


def _node_status(obj: Obj) -> str:
    ready = "Unknown"
    for cond in _dig(obj, "status", "conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            ready = "Ready" if cond.get("status") == "True" else "NotReady"
    if _dig(obj, "spec", "unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(obj: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in _meta(obj).get("labels") or {} if k.startswith(prefix))
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(kind: str) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        for addr in _dig(obj, "status", "addresses") or ():
            if isinstance(addr, dict) and addr.get("type") == kind:
                return str(addr.get("address", "<none>"))
        return "<none>"

    return cell


def _count(*fields: str) -> Callable[[Obj], int]:
    return lambda obj: sum(len(obj.get(f) or {}) for f in fields)


def _subjects(kind: str) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        names = []
        for subject in obj.get("subjects") or ():
            if isinstance(subject, dict) and subject.get("kind") == kind:
                if kind == "ServiceAccount":
                    names.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
                else:
                    names.append(str(subject.get("name", "")))
        return ", ".join(names)

    return cell


_DEFAULT_COLUMNS = (
    ColumnDefinition("Name", "string", "name", 0, _NAME_DESCRIPTION),
    ColumnDefinition("Created At", "date", "", 0, _CREATED_DESCRIPTION),
)


# --- kube's printers (pkg/printers/internalversion), one list of cells per object -----------


def _containers(template_spec: Any) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, comma separated."""
    containers = [
        c for c in (_as_dict(template_spec).get("containers") or ()) if isinstance(c, dict)
    ]
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


def _as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector, or <none>."""
    return label_selector_string(selector) or "<none>"


def _format_labels(labels: Any) -> str:
    """``labels.FormatLabels``: sorted ``key=value`` pairs, or <none>."""
    pairs = sorted(f"{k}={v}" for k, v in _as_dict(labels).items())
    return ",".join(pairs) or "<none>"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _since(timestamp: Any) -> str:
    return _age({"metadata": {"creationTimestamp": timestamp}}) if timestamp else "<unknown>"


def _deployment(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    names, images = _containers(_dig(o, "spec", "template", "spec"))
    return [
        _name(o),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(o),
        names,
        images,
        label_selector_string(spec.get("selector")),
    ]


def _replica_set(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    names, images = _containers(_dig(o, "spec", "template", "spec"))
    selector = spec.get("selector")
    shown = (
        _format_labels(selector)
        if o.get("kind") == "ReplicationController"
        or (
            isinstance(selector, dict)
            and "matchLabels" not in selector
            and "matchExpressions" not in selector
        )
        else _label_selector(selector)
    )
    return [
        _name(o),
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(o),
        names,
        images,
        shown,
    ]


def _stateful_set(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    names, images = _containers(_dig(o, "spec", "template", "spec"))
    ready = f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}"
    return [_name(o), ready, _age(o), names, images]


def _daemon_set(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    names, images = _containers(_dig(o, "spec", "template", "spec"))
    node_selector = _as_dict(_dig(o, "spec", "template", "spec", "nodeSelector"))
    return [
        _name(o),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        _format_labels(node_selector),
        _age(o),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def _external_ip(spec: Obj, status: Obj) -> str:
    kind = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or ()]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = _dig(status, "loadBalancer", "ingress") or []
        found = sorted(
            {str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)}
            - {"None", ""}
        )
        return ",".join([*found, *external]) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    pieces = []
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            protocol = port.get("protocol") or "TCP"
            if _int(port.get("nodePort")) > 0:
                pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
            else:
                pieces.append(f"{port.get('port')}/{protocol}")
    ips = spec.get("clusterIPs") or []
    return [
        _name(o),
        spec.get("type") or "",
        ips[0] if ips else "<none>",
        _external_ip(spec, status),
        ",".join(pieces) or "<none>",
        _age(o),
        _format_labels(spec.get("selector")),
    ]


def _has_condition(status: Obj, kind: str) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _job(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started, completed = status.get("startTime"), status.get("completionTime")
    if not started:
        duration = ""
    elif not completed:
        duration = _since(started)
    else:
        duration = human_duration((_parse(completed) - _parse(started)).total_seconds())
    for condition, name in (
        ("Complete", "Complete"),
        ("Failed", "Failed"),
    ):
        if _has_condition(status, condition):
            phase = name
            break
    else:
        if _meta(o).get("deletionTimestamp"):
            phase = "Terminating"
        elif _has_condition(status, "Suspended"):
            phase = "Suspended"
        elif _has_condition(status, "FailureTarget"):
            phase = "FailureTarget"
        elif _has_condition(status, "SuccessCriteriaMet"):
            phase = "SuccessCriteriaMet"
        else:
            phase = "Running"
    names, images = _containers(_dig(o, "spec", "template", "spec"))
    return [
        _name(o),
        phase,
        completions,
        duration,
        _age(o),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def _parse(timestamp: Any) -> datetime:
    try:
        return datetime.strptime(str(timestamp)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


def _cron_job(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    last = status.get("lastScheduleTime")
    suspend = spec.get("suspend")
    names, images = _containers(_dig(o, "spec", "jobTemplate", "spec", "template", "spec"))
    return [
        _name(o),
        spec.get("schedule") or "",
        spec.get("timeZone") or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or ()),
        _since(last) if last else "<none>",
        _age(o),
        names,
        images,
        _label_selector(_dig(o, "spec", "jobTemplate", "spec", "selector")),
    ]


def _ingress(o: Obj) -> list[Any]:
    spec = _as_dict(o.get("spec"))
    rules = [r for r in spec.get("rules") or () if isinstance(r, dict)]
    hosts = [str(r["host"]) for r in rules if r.get("host")][:3]
    shown = ",".join(hosts) or "*"
    if len(rules) > 3:
        shown = f"{shown} + {len(rules) - 3} more..."
    ingress = _dig(o, "status", "loadBalancer", "ingress") or []
    address = ",".join(
        sorted({str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)})
    )
    return [
        _name(o),
        spec.get("ingressClassName") or "<none>",
        shown,
        address,
        "80, 443" if spec.get("tls") else "80",
        _age(o),
    ]


def _more(items: list[str], count: int, limit: int = 3, empty: str = "<unset>") -> str:
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


def _endpoints(o: Obj) -> list[Any]:
    subsets = [s for s in o.get("subsets") or () if isinstance(s, dict)]
    if not subsets:
        return [_name(o), "<none>", _age(o)]
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [
            str(a.get("ip", "")) for a in subset.get("addresses") or () if isinstance(a, dict)
        ]
        ports = [p for p in subset.get("ports") or () if isinstance(p, dict)]
        if not ports:
            count += len(addresses)
            shown.extend(addresses)
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}")
    return [_name(o), _more(shown, count, empty=""), _age(o)]


def _endpoint_slice(o: Obj) -> list[Any]:
    ports = []
    for port in o.get("ports") or ():
        if isinstance(port, dict):
            if port.get("port") is not None:
                ports.append(str(port["port"]))
            elif port.get("name") is not None:
                ports.append(str(port["name"]))
            else:
                ports.append("*")
    addresses = [
        str(a)
        for e in o.get("endpoints") or ()
        if isinstance(e, dict)
        for a in e.get("addresses") or ()
    ]
    return [
        _name(o),
        o.get("addressType") or "",
        _more(ports, len(ports)),
        _more(addresses, len(addresses)),
        _age(o),
    ]


_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _access_modes(modes: Any) -> str:
    given = set(modes or ())
    return ",".join(short for mode, short in _ACCESS_MODES.items() if mode in given)


def _persistent_volume(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    claim = spec.get("claimRef")
    claim_text = (
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if isinstance(claim, dict) else ""
    )
    phase = "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase") or ""
    annotations = _as_dict(_meta(o).get("annotations"))
    storage_class = (
        annotations.get("volume.beta.kubernetes.io/storage-class")
        or spec.get("storageClassName")
        or ""
    )
    return [
        _name(o),
        str(_as_dict(spec.get("capacity")).get("storage") or "0"),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy") or "",
        phase,
        claim_text,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason") or "",
        _age(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _persistent_volume_claim(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    phase = "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase") or ""
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(status.get("accessModes"))
        capacity = str(_as_dict(status.get("capacity")).get("storage") or "0")
    annotations = _as_dict(_meta(o).get("annotations"))
    storage_class = (
        annotations.get("volume.beta.kubernetes.io/storage-class")
        or spec.get("storageClassName")
        or ""
    )
    return [
        _name(o),
        phase,
        spec.get("volumeName") or "",
        capacity,
        access,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _storage_class(o: Obj) -> list[Any]:
    return [
        _name(o),
        o.get("provisioner") or "",
        o.get("reclaimPolicy") or "Delete",
        o.get("volumeBindingMode") or "Immediate",
        bool(o.get("allowVolumeExpansion")),
        _age(o),
    ]


def _hpa(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    ref = _as_dict(spec.get("scaleTargetRef"))
    metrics = spec.get("metrics")
    if metrics is None and o.get("apiVersion") == "autoscaling/v1":
        target = spec.get("targetCPUUtilizationPercentage")
        current = status.get("currentCPUUtilizationPercentage")
        shown = (
            f"cpu: {'<unknown>' if current is None else f'{current}%'}/{target}%"
            if target is not None
            else "<none>"
        )
    else:
        shown = _hpa_metrics(metrics or [])
    minimum = spec.get("minReplicas")
    return [
        _name(o),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        shown,
        "<unset>" if minimum is None else str(minimum),
        _int(spec.get("maxReplicas")),
        _int(status.get("currentReplicas")),
        _age(o),
    ]


def _hpa_metrics(specs: list[Any]) -> str:
    if not specs:
        return "<none>"
    shown = []
    for spec in specs[:2]:
        resource = _as_dict(_as_dict(spec).get("resource"))
        target = _as_dict(resource.get("target"))
        if resource and target.get("averageUtilization") is not None:
            shown.append(f"{resource.get('name')}: <unknown>/{target['averageUtilization']}%")
        elif resource:
            value = target.get("averageValue") or target.get("value")
            shown.append(f"{resource.get('name')}: <unknown>/{value}")
        else:
            shown.append("<unknown>/<unknown>")
    text = ", ".join(shown)
    if len(specs) > 2:
        text += f" + {len(specs) - 2} more..."
    return text


def _pdb(o: Obj) -> list[Any]:
    spec, status = _as_dict(o.get("spec")), _as_dict(o.get("status"))
    minimum, maximum = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        _name(o),
        "N/A" if minimum is None else str(minimum),
        "N/A" if maximum is None else str(maximum),
        _int(status.get("disruptionsAllowed")),
        _age(o),
    ]


def _controller_of(o: Obj) -> str:
    for ref in _meta(o).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return "<none>"


def _api_service(o: Obj) -> list[Any]:
    service = _dig(o, "spec", "service")
    shown = "Local"
    if isinstance(service, dict):
        shown = f"{service.get('namespace', '')}/{service.get('name', '')}"
    available = "Unknown"
    for condition in _dig(o, "status", "conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Available":
            available = str(condition.get("status", ""))
            if available != "True":
                available = f"{available} ({condition.get('reason', '')})"
    return [_name(o), shown, available, _age(o)]


def _event(o: Obj) -> list[Any]:
    first = (
        _since(o.get("firstTimestamp")) if o.get("firstTimestamp") else _since(o.get("eventTime"))
    )
    last = _since(o.get("lastTimestamp")) if o.get("lastTimestamp") else first
    count = o.get("count") or 0
    series = o.get("series")
    if isinstance(series, dict):
        last = _since(series.get("lastObservedTime"))
        count = series.get("count") or 0
    elif not count:
        count = 1
    involved = _as_dict(o.get("involvedObject"))
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _as_dict(o.get("source"))
    component = source.get("component") or o.get("reportingController") or ""
    host = source.get("host") or o.get("reportingInstance") or ""
    return [
        last,
        o.get("type") or "",
        o.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {host}" if host else str(component),
        str(o.get("message") or "").strip(),
        first,
        _int(count),
        _name(o),
    ]


def _events_v1(o: Obj) -> list[Any]:
    legacy = {
        "firstTimestamp": o.get("deprecatedFirstTimestamp"),
        "lastTimestamp": o.get("deprecatedLastTimestamp"),
        "eventTime": o.get("eventTime"),
        "count": o.get("deprecatedCount"),
        "series": o.get("series"),
        "involvedObject": o.get("regarding"),
        "source": o.get("deprecatedSource"),
        "reportingController": o.get("reportingController"),
        "reportingInstance": o.get("reportingInstance"),
        "type": o.get("type"),
        "reason": o.get("reason"),
        "message": o.get("note"),
        "metadata": o.get("metadata"),
    }
    return _event(legacy)


def _node(o: Obj) -> list[Any]:
    info = _as_dict(_dig(o, "status", "nodeInfo"))
    kernel = info.get("kernelVersion") or "<unknown>"
    if info.get("architecture"):
        kernel += f" ({info['architecture']})"
    return [
        _name(o),
        _node_status(o),
        _node_roles(o),
        _age(o),
        info.get("kubeletVersion") or "",
        _node_address("InternalIP")(o),
        _node_address("ExternalIP")(o),
        info.get("osImage") or "<unknown>",
        kernel,
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _resource_quota(o: Obj) -> list[Any]:
    hard = _as_dict(_dig(o, "status", "hard"))
    used = _as_dict(_dig(o, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {used.get(resource, '0')}/{hard[resource]}"
        (limits if resource.startswith("limits.") else requests).append(text)
    return [_name(o), ", ".join(requests), ", ".join(limits), _age(o)]


def _ingress_class(o: Obj) -> list[Any]:
    name = _name(o)
    annotations = _as_dict(_meta(o).get("annotations"))
    if annotations.get("ingressclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    parameters = _dig(o, "spec", "parameters")
    shown = "<none>"
    if isinstance(parameters, dict):
        shown = str(parameters.get("kind", ""))
        if parameters.get("apiGroup"):
            shown += "." + str(parameters["apiGroup"])
        shown += "/" + str(parameters.get("name", ""))
    return [name, _dig(o, "spec", "controller") or "", shown, _age(o)]


def _webhooks(o: Obj) -> list[Any]:
    return [_name(o), len(o.get("webhooks") or ()), _age(o)]


def _by_column(rt: ResourceType, o: Obj) -> list[Any]:
    """Cells of a resource without a printer here: what each column's name says."""
    cells: list[Any] = []
    for column in rt.columns:
        if column.name == "Name":
            cells.append(_name(o))
        elif column.name == "Age":
            cells.append(_age(o))
        elif column.name == "Created At":
            cells.append(_meta(o).get("creationTimestamp", ""))
        else:
            cells.append("<unknown>" if column.type == "string" else 0)
    return cells


def _component_status(o: Obj) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in o.get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = condition.get("message") or "", condition.get("error") or ""
    return [_name(o), status, message, error]


_PRINTERS: dict[tuple[str, str], Callable[[Obj], list[Any]]] = {
    ("", "componentstatuses"): _component_status,
    ("", "pods"): lambda o: [
        _name(o),
        _pod_ready(o),
        _pod_status(o),
        str(_pod_restarts(o)),
        _age(o),
        _or_none(_dig(o, "status", "podIP")),
        _or_none(_dig(o, "spec", "nodeName")),
        _or_none(_dig(o, "status", "nominatedNodeName")),
        "<none>",
    ],
    ("", "namespaces"): lambda o: [_name(o), _dig(o, "status", "phase") or "", _age(o)],
    ("", "nodes"): _node,
    ("", "serviceaccounts"): lambda o: [_name(o), _age(o)],
    ("", "configmaps"): lambda o: [_name(o), _count("data", "binaryData")(o), _age(o)],
    ("", "secrets"): lambda o: [_name(o), o.get("type", ""), _count("data")(o), _age(o)],
    ("", "events"): _event,
    ("events.k8s.io", "events"): _events_v1,
    ("", "services"): _service,
    ("", "endpoints"): _endpoints,
    ("", "replicationcontrollers"): _replica_set,
    ("", "persistentvolumes"): _persistent_volume,
    ("", "persistentvolumeclaims"): _persistent_volume_claim,
    ("", "podtemplates"): lambda o: [
        _name(o),
        *_containers(_dig(o, "template", "spec")),
        _format_labels(_dig(o, "template", "metadata", "labels")),
    ],
    ("", "resourcequotas"): _resource_quota,
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _replica_set,
    ("apps", "statefulsets"): _stateful_set,
    ("apps", "daemonsets"): _daemon_set,
    ("apps", "controllerrevisions"): lambda o: [
        _name(o),
        _controller_of(o),
        _int(o.get("revision")),
        _age(o),
    ],
    ("batch", "jobs"): _job,
    ("batch", "cronjobs"): _cron_job,
    ("autoscaling", "horizontalpodautoscalers"): _hpa,
    ("policy", "poddisruptionbudgets"): _pdb,
    ("networking.k8s.io", "ingresses"): _ingress,
    ("networking.k8s.io", "ingressclasses"): _ingress_class,
    ("networking.k8s.io", "networkpolicies"): lambda o: [
        _name(o),
        _label_selector(_dig(o, "spec", "podSelector")),
        _age(o),
    ],
    ("discovery.k8s.io", "endpointslices"): _endpoint_slice,
    ("storage.k8s.io", "storageclasses"): _storage_class,
    ("coordination.k8s.io", "leases"): lambda o: [
        _name(o),
        _dig(o, "spec", "holderIdentity") or "",
        _age(o),
    ],
    ("scheduling.k8s.io", "priorityclasses"): lambda o: [
        _name(o),
        _int(o.get("value")),
        bool(o.get("globalDefault")),
        _age(o),
        o.get("preemptionPolicy") or "",
    ],
    ("node.k8s.io", "runtimeclasses"): lambda o: [_name(o), o.get("handler") or "", _age(o)],
    ("apiregistration.k8s.io", "apiservices"): _api_service,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): _webhooks,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): _webhooks,
    ("rbac.authorization.k8s.io", "rolebindings"): lambda o: [
        _name(o),
        f"{_dig(o, 'roleRef', 'kind') or ''}/{_dig(o, 'roleRef', 'name') or ''}",
        _age(o),
        _subjects("User")(o),
        _subjects("Group")(o),
        _subjects("ServiceAccount")(o),
    ],
}
_PRINTERS[("rbac.authorization.k8s.io", "clusterrolebindings")] = _PRINTERS[
    ("rbac.authorization.k8s.io", "rolebindings")
]


def _column_definition(column: ColumnDefinition) -> Obj:
    return {
        "name": column.name,
        "type": column.type,
        "format": column.format,
        "description": column.description,
        "priority": column.priority,
    }


def table(rt: ResourceType, records: Sequence[Record], rv: str, include: str = "Metadata") -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``records`` (``include``: None, Metadata or Object).

    Built-in resources get kube's columns (from its own Table output, in the data) and the
    cells of kube's printer; others (a strategy's aside) kube's default Name and Created At.
    """
    strategy = strategy_of(rt)
    custom = strategy.table(rt, records, rv, include) if strategy is not None else None
    if custom is not None:
        return custom
    columns = rt.columns or _DEFAULT_COLUMNS
    definitions = [_column_definition(c) for c in columns]
    printer = _PRINTERS.get((rt.group, rt.resource))

    def cells(obj: Obj) -> list[Any]:
        if printer is not None and rt.columns:
            return printer(obj)
        if not rt.columns:
            return [_name(obj), _meta(obj).get("creationTimestamp", "")]
        return _by_column(rt, obj)

    rows = []
    for record in records:
        row: Obj = {"cells": cells(record.obj)}
        if include == "Object":
            row["object"] = record.obj
        elif include != "None":
            row["object"] = partial_object(record.obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv} if rv else {},
        "columnDefinitions": definitions,
        "rows": rows,
    }
