"""Pod Security admission as kube-apiserver v1.37.2 runs it.

``api``: levels, versions and the namespace labels; ``checks``: the baseline and restricted
checks of every policy version; ``admission``: the plugin (pods, pod templates, namespaces);
``pods``: the pod strategy step it depends on; ``warnings``: ``Warning`` headers.
"""

from .admission import TEMPLATES, Exemptions, PodSecurity
from .api import LevelVersion, Policy, parse_version, policy_to_evaluate
from .checks import Violation, evaluate, forbidden_detail
from .warnings import add_warning, write_warnings

__all__ = [
    "TEMPLATES",
    "Exemptions",
    "LevelVersion",
    "PodSecurity",
    "Policy",
    "Violation",
    "add_warning",
    "evaluate",
    "forbidden_detail",
    "parse_version",
    "policy_to_evaluate",
    "write_warnings",
]
