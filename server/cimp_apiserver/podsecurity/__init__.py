"""Pod Security admission as kube-apiserver v1.37.2 runs it.

``api``: levels, versions and the namespace labels; ``checks``: the baseline and restricted
checks of every policy version; ``admission``: the plugin (pods, pod templates, namespaces);
``pods``: the pod strategy step it depends on. Warnings go out through
:mod:`cimp_apiserver.warnings`.

The package imports none of them itself: :func:`admission_hook` loads the checks on the
first write Pod Security looks at, so a server that never sees one does not pay for them at
start-up.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..hooks import Admission, AdmissionHook
from ..storage import Store

__all__ = ["TEMPLATES", "admission_hook"]

# The workload resources whose pod template the plugin checks (kube's ``podsecurity``
# admission), and where the template sits in each.
TEMPLATES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "replicationcontrollers"): ("spec", "template"),
    ("", "podtemplates"): ("template",),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}
_WATCHED = frozenset({("", "pods"), ("", "namespaces"), *TEMPLATES})


def admission_hook(store: Store) -> AdmissionHook:
    """The Pod Security hook with kube's default configuration, loaded on first use."""
    loaded: list[AdmissionHook] = []

    async def admit(adm: Admission) -> None:
        if (adm.resource.group, adm.resource.resource) not in _WATCHED:
            return
        if not loaded:
            from .admission import PodSecurity

            loaded.append(PodSecurity(store))
        await loaded[0](adm)

    return admit
