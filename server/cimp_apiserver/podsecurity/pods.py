"""What kube's pod strategy does to a new pod after mutating admission and before Pod Security
sees it: copy each container's deprecated AppArmor annotation into its
``securityContext.appArmorProfile`` (``applyAppArmorVersionSkew``), warning about the
annotation. Pod Security then reports the profile both ways, as kube-apiserver does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..warnings import add_warning
from .checks import APP_ARMOR_ANNOTATION_PREFIX

__all__ = ["app_armor_version_skew"]

Obj = dict[str, Any]
_MAX_LOCALHOST_PROFILE = 4095


def _profile_for(annotation: str) -> Obj | None:
    """The field an annotation stands for, or None when it names no valid profile."""
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    if annotation.startswith("localhost/"):
        name = annotation.removeprefix("localhost/")
        if name and name == name.strip() and len(name.encode()) <= _MAX_LOCALHOST_PROFILE:
            return {"type": "Localhost", "localhostProfile": name}
    return None


def app_armor_version_skew(request: web.Request, pod: Obj) -> None:
    """Sync deprecated AppArmor annotations to fields on a pod being created (in place)."""
    spec = pod.get("spec")
    meta = pod.get("metadata")
    if not isinstance(spec, dict) or not isinstance(meta, dict):
        return
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    if isinstance(spec.get("os"), dict) and spec["os"].get("name") == "windows":
        return
    pod_context = spec.get("securityContext")
    pod_profile = pod_context.get("appArmorProfile") if isinstance(pod_context, dict) else None
    if isinstance(pod_profile, dict):
        pod_profile = {k: v for k, v in pod_profile.items() if v is not None}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        containers = spec.get(field)
        for container in containers if isinstance(containers, list) else ():
            if not isinstance(container, dict):
                continue
            key = APP_ARMOR_ANNOTATION_PREFIX + str(container.get("name") or "")
            context = container.get("securityContext")
            has_field = isinstance(context, dict) and context.get("appArmorProfile") is not None
            if key not in annotations or has_field:
                continue
            profile = _profile_for(str(annotations[key]))
            warn = profile is None
            if profile is not None and profile != pod_profile:
                if not isinstance(context, dict):
                    context = container["securityContext"] = {}
                context["appArmorProfile"] = profile
                warn = True
            if warn:
                add_warning(
                    request,
                    f"metadata.annotations[{key}]: deprecated since v1.30; use the "
                    '"appArmorProfile" field instead',
                )
