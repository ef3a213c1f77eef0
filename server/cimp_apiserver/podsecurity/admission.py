"""kube-apiserver's PodSecurity admission plugin (v1.37.2, no exemptions unless configured).

On create and update:

* **namespaces**: the ``pod-security.kubernetes.io/*`` labels must parse (422 naming each bad
  label; an update may keep errors it already had); making ``enforce`` stricter warns about
  the existing pods that would violate it, one warning per distinct set of controls, naming
  the lexically first such pod and how many others share it;
* **pods** (and their subresources but ``status``, ``binding``, ``eviction``, ``exec``,
  ``attach``, ``log``, ``portforward``, ``proxy``): refused with 403 when they violate the
  namespace's ``enforce`` level, ``Warning``-ed for ``warn``, audited for ``audit``; an
  update is checked only when it changes what the policy sees (container images, the number
  of containers, ephemeral containers);
* **workload resources** with a pod template (Deployments, DaemonSets, ReplicaSets,
  StatefulSets, Jobs, CronJobs, ReplicationControllers, PodTemplates): only ``warn`` and
  ``audit``, never refused.

Every evaluated pod write is audited ``pod-security.kubernetes.io/enforce-policy`` (a namespace
privileged in all three modes says ``privileged:latest``); audit violations go into
``pod-security.kubernetes.io/audit-violations``. Pod Security is a validating plugin: it sees
the object after defaulting, the pod strategy and validation, so a request that fails
validation gets validation's 422, and a generated name is already there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import objects
from ..hooks import Admission
from ..status import StatusError, forbidden_object, invalid, quote
from ..storage import Store
from ..warnings import add_warning
from . import TEMPLATES
from .api import (
    AUDIT_LABEL,
    AUDIT_VERSION_LABEL,
    ENFORCE_LABEL,
    ENFORCE_VERSION_LABEL,
    LABEL_PREFIX,
    LATEST,
    PRIVILEGED,
    WARN_LABEL,
    WARN_VERSION_LABEL,
    LevelVersion,
    Policy,
    compare_levels,
    policy_to_evaluate,
)
from .checks import Violation, evaluate, forbidden_detail
from .pods import app_armor_version_skew

__all__ = ["Exemptions", "PodSecurity"]

Obj = dict[str, Any]

# Pod subresources whose object is not a pod (or cannot change its spec).
_IGNORED_POD_SUBRESOURCES = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)
# Templates kube types as a pointer (absent: nothing to check); the others are values.
_OPTIONAL_TEMPLATES = frozenset({("", "replicationcontrollers")})
_MAX_PODS_TO_CHECK = 3000


@dataclass(frozen=True)
class Exemptions:
    """Who and what Pod Security ignores (kube's ``PodSecurityConfiguration.exemptions``)."""

    usernames: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = _dict(_dict(_dict(obj).get("metadata")).get("labels"))
    return {str(k): str(v) for k, v in labels.items()}


def _images(spec: Obj, field: str) -> list[Any]:
    containers = spec.get(field)
    if not isinstance(containers, list):
        return []
    return [_dict(c).get("image") for c in containers]


def _significant_update(pod: Obj, old: Obj) -> bool:
    """Whether an update changes what Pod Security checks (kube's ``isSignificantPodUpdate``)."""
    spec, old_spec = _dict(pod.get("spec")), _dict(old.get("spec"))
    for field in ("containers", "initContainers"):
        if _images(spec, field) != _images(old_spec, field):
            return True
    old_ephemeral = {
        _dict(c).get("name"): _dict(c).get("image")
        for c in old_spec.get("ephemeralContainers") or ()
    }
    for container in spec.get("ephemeralContainers") or ():
        name = _dict(container).get("name")
        if name not in old_ephemeral or old_ephemeral[name] != _dict(container).get("image"):
            return True
    return False


def _aggregate(causes: list[objects.Cause]) -> str:
    """``field.ErrorList.ToAggregate().Error()``."""
    messages = list(dict.fromkeys(f"{f}: {m}" for f, _, m in causes))
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


class PodSecurity:
    """The admission hook; reads namespaces and pods from ``store`` (kube's informers)."""

    def __init__(
        self,
        store: Store,
        exemptions: Exemptions | None = None,
        defaults: Policy | None = None,
        *,
        evaluate_pod: Callable[[LevelVersion, Obj, Obj], list[Violation]] = evaluate,
    ) -> None:
        self._store = store
        self._exempt = exemptions or Exemptions()
        self._defaults = defaults or Policy()
        self._evaluate = evaluate_pod

    async def __call__(self, adm: Admission) -> None:
        if adm.operation not in ("CREATE", "UPDATE") or adm.obj is None:
            return
        key = (adm.resource.group, adm.resource.resource)
        if key == ("", "pods"):
            if adm.operation == "CREATE" and not adm.subresource:
                app_armor_version_skew(adm.request, adm.obj)
            if self._fails_validation(adm):
                return
            self._pod(adm)
        elif key in TEMPLATES:
            if not self._fails_validation(adm):
                self._controller(adm, TEMPLATES[key], key in _OPTIONAL_TEMPLATES)
        elif key == ("", "namespaces") and not self._fails_validation(adm):
            self._namespace(adm)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _fails_validation(adm: Admission) -> bool:
        """kube validates before validating admission runs: leave such a write to the 422."""
        if adm.subresource or adm.obj is None:
            return False
        obj = adm.obj
        meta = _dict(obj.get("metadata"))
        if not meta.get("name") and meta.get("generateName"):
            obj = {**obj, "metadata": {**meta, "name": objects.generate_name(meta["generateName"])}}
        return bool(objects.validate(adm.resource, obj, adm.old))

    @staticmethod
    def _name(adm: Admission) -> str:
        """The request's object name; a generated one for ``generateName`` (kube generates it
        before validating admission)."""
        meta = _dict(_dict(adm.obj).get("metadata"))
        name = adm.name or str(meta.get("name") or "")
        if not name and meta.get("generateName"):
            name = objects.generate_name(str(meta["generateName"]))
        return name

    def _policy(self, namespace: str) -> tuple[Policy, list[objects.Cause]] | None:
        record = self._store.get("", "namespaces", "", namespace)
        if record is None:
            return None  # NamespaceLifecycle already refused the write
        return policy_to_evaluate(_labels(record.obj), self._defaults)

    @staticmethod
    def _annotate(adm: Admission, annotations: Mapping[str, str]) -> None:
        for key, value in annotations.items():
            adm.ctx.annotations[LABEL_PREFIX + key] = value

    def _exempt_request(self, adm: Admission) -> bool:
        user = adm.ctx.user.user if adm.ctx.user is not None else ""
        if adm.namespace and adm.namespace in self._exempt.namespaces:
            self._annotate(adm, {"exempt": "namespace"})
            return True
        if user and user in self._exempt.usernames:
            self._annotate(adm, {"exempt": "user"})
            return True
        return False

    # ------------------------------------------------------------------ pods

    def _pod(self, adm: Admission) -> None:
        if adm.subresource in _IGNORED_POD_SUBRESOURCES or self._exempt_request(adm):
            return
        found = self._policy(adm.namespace)
        if found is None:
            return
        policy, errors = found
        if not errors and policy.fully_privileged():
            self._annotate(adm, {"enforce-policy": str(LevelVersion(PRIVILEGED, LATEST))})
            return
        pod = _dict(adm.obj)
        if adm.operation == "UPDATE" and not _significant_update(pod, _dict(adm.old)):
            return
        self._evaluate_pod(
            adm, policy, errors, _dict(pod.get("metadata")), _dict(pod.get("spec")), True
        )

    def _controller(self, adm: Admission, path: tuple[str, ...], optional: bool) -> None:
        if adm.subresource or self._exempt_request(adm):
            return
        found = self._policy(adm.namespace)
        if found is None:
            return
        policy, errors = found
        warn_and_audit_privileged = policy.warn.level == policy.audit.level == PRIVILEGED
        if not errors and warn_and_audit_privileged:
            return
        template: Any = adm.obj
        for step in path:
            template = _dict(template).get(step)
        if template is None and optional:
            return
        template = _dict(template)
        meta, spec = _dict(template.get("metadata")), _dict(template.get("spec"))
        self._evaluate_pod(adm, policy, errors, meta, spec, False)

    def _evaluate_pod(
        self,
        adm: Admission,
        policy: Policy,
        errors: list[objects.Cause],
        meta: Obj,
        spec: Obj,
        enforce: bool,
    ) -> None:
        runtime_class = spec.get("runtimeClassName")
        if runtime_class and runtime_class in self._exempt.runtime_classes:
            self._annotate(adm, {"exempt": "runtimeClass"})
            return
        annotations: dict[str, str] = {}
        if errors:
            annotations["error"] = f"Failed to parse policy: {_aggregate(errors)}"
        results: dict[LevelVersion, list[Violation]] = {}
        refusal: StatusError | None = None
        if enforce:
            annotations["enforce-policy"] = str(policy.enforce)
            results[policy.enforce] = violations = self._evaluate(policy.enforce, meta, spec)
            if violations:
                refusal = forbidden_object(
                    adm.resource.resource,
                    adm.resource.group,
                    self._name(adm),
                    f"violates PodSecurity {quote(str(policy.enforce))}: "
                    + forbidden_detail(violations),
                )
        if policy.audit not in results:
            results[policy.audit] = self._evaluate(policy.audit, meta, spec)
        if violations := results[policy.audit]:
            annotations["audit-violations"] = (
                f"would violate PodSecurity {quote(str(policy.audit))}: "
                + forbidden_detail(violations)
            )
        if refusal is None:
            warned = results.get(policy.warn)
            if warned is None:
                warned = self._evaluate(policy.warn, meta, spec)
            if warned:
                add_warning(
                    adm.request,
                    f"would violate PodSecurity {quote(str(policy.warn))}: "
                    + forbidden_detail(warned),
                )
        self._annotate(adm, annotations)
        if refusal is not None:
            raise refusal

    # ------------------------------------------------------------------ namespaces

    def _namespace(self, adm: Admission) -> None:
        if adm.subresource:
            return
        namespace = _dict(adm.obj)
        name = str(_dict(namespace.get("metadata")).get("name") or adm.name)
        labels = _labels(namespace)
        policy, errors = policy_to_evaluate(labels, self._defaults)
        if adm.operation == "CREATE":
            if errors:
                raise invalid("Namespace", name, "", errors)
            if adm.namespace in self._exempt.namespaces:
                self._exempt_namespace_warning(adm, name, policy, labels)
            return
        old_policy, old_errors = policy_to_evaluate(_labels(adm.old), self._defaults)
        if errors and (not old_errors or errors != old_errors):
            raise invalid("Namespace", name, "", errors)
        new, old = policy.enforce, old_policy.enforce
        if new == old or new.level == PRIVILEGED:
            return
        if new.version == old.version and compare_levels(new.level, old.level) < 1:
            return
        if adm.namespace in self._exempt.namespaces:
            self._exempt_namespace_warning(adm, name, policy, labels)
            return
        for warning in self._existing_pods(name, new):
            add_warning(adm.request, warning)

    def _existing_pods(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """Warnings for the pods in ``namespace`` that ``enforce`` would refuse."""
        records, _ = self._store.list("", "pods", namespace)
        pods = self._prioritized([r.obj for r in records])
        total = len(pods)
        pods = pods[:_MAX_PODS_TO_CHECK]
        first: dict[str, tuple[str, int]] = {}  # reasons -> (lexically first pod, count)
        for pod in pods:
            violations = self._evaluate(enforce, _dict(pod.get("metadata")), _dict(pod.get("spec")))
            if not violations:
                continue
            reasons = ", ".join(v.reason for v in violations)
            pod_name = str(_dict(pod.get("metadata")).get("name") or "")
            seen_name, count = first.get(reasons, (pod_name, 0))
            first[reasons] = (min(seen_name, pod_name), count + 1)
        warnings: list[str] = []
        if len(pods) < total:
            warnings.append(
                f"new PodSecurity enforce level only checked against the first {len(pods)} of "
                f"{total} existing pods"
            )
        if first:
            warnings.append(
                f"existing pods in namespace {quote(namespace)} violate the new PodSecurity "
                f"enforce level {quote(str(enforce))}"
            )
        decorated = []
        for reasons, (pod_name, count) in first.items():
            if count == 1:
                decorated.append(f"{pod_name}: {reasons}")
            elif count == 2:
                decorated.append(f"{pod_name} (and 1 other pod): {reasons}")
            else:
                decorated.append(f"{pod_name} (and {count - 1} other pods): {reasons}")
        return warnings + sorted(decorated)

    def _prioritized(self, pods: list[Obj]) -> list[Obj]:
        """Pods not exempt by runtime class, one per controller first, then the others."""
        first: list[Obj] = []
        later: list[Obj] = []
        controllers: set[str] = set()
        for pod in pods:
            spec = _dict(pod.get("spec"))
            if spec.get("runtimeClassName") in self._exempt.runtime_classes:
                continue
            owners = _dict(pod.get("metadata")).get("ownerReferences") or ()
            controller = next(
                (_dict(o).get("uid") for o in owners if _dict(o).get("controller") is True), None
            )
            if controller is None:
                first.append(pod)
            elif controller in controllers:
                later.append(pod)
            else:
                controllers.add(str(controller))
                first.append(pod)
        return first + later

    def _exempt_namespace_warning(
        self, adm: Admission, name: str, policy: Policy, labels: Mapping[str, str]
    ) -> None:
        if policy.fully_privileged() or policy.equivalent(self._defaults):
            return
        parts = []
        modes = (
            ("enforce", policy.enforce, ENFORCE_LABEL, ENFORCE_VERSION_LABEL),
            ("audit", policy.audit, AUDIT_LABEL, AUDIT_VERSION_LABEL),
            ("warn", policy.warn, WARN_LABEL, WARN_VERSION_LABEL),
        )
        for mode, level_version, level_label, version_label in modes:
            explicit = level_label in labels or version_label in labels
            if level_version.level != PRIVILEGED and explicit:
                parts.append(f"{mode}={level_version}")
        add_warning(
            adm.request,
            f"namespace {quote(name)} is exempt from Pod Security, and the policy "
            f"({', '.join(parts)}) will be ignored",
        )
