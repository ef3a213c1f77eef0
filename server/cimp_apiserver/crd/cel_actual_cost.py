"""The actual cost cel-go charges for one function call while a rule runs (its
``CostTracker.costCall`` with Kubernetes' ``CallCost`` and the list and set extensions'
trackers): string work costs a tenth per character, regexes a quarter per pattern character,
list functions by the sizes they see; anything else costs 1."""

from __future__ import annotations

import math
from typing import Any

from .cel_values import Optional

__all__ = ["call_cost", "size"]

_STRING = 0.1
_REGEX = 0.25
_FORMAT_REGEX = {
    "dns1123Label": 30,
    "dns1123Subdomain": 60,
    "dns1035Label": 30,
    "qualifiedName": 60,
    "dns1123LabelPrefix": 30,
    "dns1123SubdomainPrefix": 60,
    "dns1035LabelPrefix": 30,
    "labelValue": 40,
    "uri": 1103,
    "uuid": 70,  # kube-openapi's UUIDPattern
    "byte": 84,
    "date": 71,  # kube-openapi's DateTimePattern
    "datetime": 71,
}
_K8S_UNIT = frozenset(
    {
        "masked",
        "prefixLength",
        "family",
        "isUnspecified",
        "isLoopback",
        "isLinkLocalMulticast",
        "isLinkLocalUnicast",
        "isGlobalUnicast",
        "format.named",
        "sign",
        "asInteger",
        "isInteger",
        "asApproximateFloat",
        "isGreaterThan",
        "isLessThan",
        "compareTo",
        "add",
        "sub",
        "major",
        "minor",
        "patch",
        "getScheme",
        "getHostname",
        "getHost",
        "getPort",
        "getEscapedPath",
        "getQuery",
    }
)


def size(v: Any) -> int:
    """cel-go's ``actualSize``: a string's code points, a list's or map's entries, 1 else."""
    if isinstance(v, (str, bytes, list, dict)):
        return len(v)
    if isinstance(v, Optional) and v.present:
        return size(v.value)
    return 1


def _ceil(x: float) -> int:
    return math.ceil(x)


def _traversal(v: Any) -> int:
    if isinstance(v, (str, bytes)):
        return int(len(v) * _STRING)
    if isinstance(v, list):
        return sum(_traversal(x) for x in v)
    if isinstance(v, dict):
        return sum(_traversal(k) + _traversal(x) for k, x in v.items())
    return 1


def _allocating(factor: float, n: int) -> int:
    return int(n * factor) + 1 + 10


def _self_compare(items: Any) -> int:
    n = size(items)
    factor = 2.0
    if n and isinstance(items, list) and isinstance(items[0], (str, bytes)):
        factor += _STRING
    return _allocating(factor, n * n)


def _extension(function: str, args: list[Any], result: Any) -> int | None:
    if function in ("slice", "lists.range", "reverse"):
        return _allocating(1, size(result))
    if function == "flatten":
        depth = args[1] if len(args) == 2 else 1
        return _allocating(float(depth), size(args[0]))
    if function in ("distinct", "sort"):
        return _self_compare(args[0])
    if function == "@sortByAssociatedKeys":
        return _self_compare(args[1])
    if function in ("sets.contains", "sets.intersects"):
        return 1 + int(size(args[0]) * size(args[1]) * 1.0)
    if function == "sets.equivalent":
        return 1 + int(size(args[0]) * size(args[1]) * 2.0)
    return None


def _kubernetes(function: str, args: list[Any], result: Any) -> int | None:
    from .cel_format import NamedFormat
    from .cel_net import CIDR

    if function in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf"):
        return _traversal(args[0]) if args else 0
    if function in ("url", "lowerAscii", "upperAscii", "substring", "trim") and args:
        return _ceil(size(args[0]) * _STRING)
    if function in ("replace", "split") and args:
        return _ceil(size(args[0]) * 2 * _STRING)
    if function == "join" and args:
        return _ceil(size(result) * 2 * _STRING)
    if function in ("find", "findAll") and len(args) >= 2:
        return _ceil((1.0 + size(args[0])) * _STRING) * _ceil(size(args[1]) * _REGEX)
    if function in ("cidr", "isIP", "isCIDR", "quantity", "isQuantity", "semver", "isSemver"):
        return _ceil(size(args[0]) * _STRING) if args else None
    if function == "ip" and args:
        return 1 if isinstance(args[0], CIDR) else _ceil(size(args[0]) * _STRING)
    if function == "ip.isCanonical" and args:
        return _ceil(size(args[0]) * 2 * _STRING)
    if function in _K8S_UNIT:
        return 1
    if function in ("containsIP", "containsCIDR") and len(args) >= 2:
        cidr, other = size(args[0]), size(args[1])
        cost = _ceil((cidr + cidr) * _STRING)
        if function == "containsCIDR":
            cost += _ceil(cidr * _STRING) + 1
        if isinstance(args[1], str):
            cost += _ceil(other * _STRING)
        return cost
    if function == "validate" and len(args) >= 2 and isinstance(args[0], NamedFormat):
        regex = _FORMAT_REGEX[args[0].name]
        return _ceil((1.0 + size(args[1])) * _STRING) * _ceil(regex * _REGEX)
    if function == "_==_" and args and hasattr(args[0], "cel_type"):
        return 1
    return None


def call_cost(function: str, args: list[Any], result: Any) -> int:
    """The cost of one call of ``function`` (receiver first in ``args``)."""
    ext = _extension(function, args, result)
    if ext is not None:
        return ext
    k8s = _kubernetes(function, args, result)
    if k8s is not None:
        return k8s
    if function in ("startsWith", "endsWith") and len(args) == 2:
        return _ceil(size(args[1]) * _STRING)
    if function in ("strings.quote", "format") and args:
        return _ceil(size(args[0]) * _STRING)
    if function == "bytes" and len(args) == 1 and isinstance(args[0], str):
        return _ceil(size(args[0]) * _STRING)
    if function == "string" and len(args) == 1 and isinstance(args[0], bytes):
        return _ceil(size(args[0]) * _STRING)
    if function == "@in" and len(args) == 2 and isinstance(args[1], list):
        return size(args[1])
    if function in ("_<_", "_>_", "_<=_", "_>=_") and len(args) == 2:
        if isinstance(args[0], (str, bytes)) and isinstance(args[1], (str, bytes)):
            return _ceil(min(size(args[0]), size(args[1])) * _STRING)
        return 1
    if function in ("_==_", "_!=_") and len(args) == 2:
        return _ceil(min(size(args[0]), size(args[1])) * _STRING)
    if function == "_+_" and len(args) == 2:
        if isinstance(args[0], (str, bytes)) and isinstance(args[1], (str, bytes)):
            return _ceil((size(args[0]) + size(args[1])) * _STRING)
        return 1
    if function == "matches" and len(args) == 2:
        return _ceil((1.0 + size(args[0])) * _STRING) * _ceil(size(args[1]) * _REGEX)
    if function == "contains" and len(args) == 2:
        return _ceil(size(args[0]) * _STRING) * _ceil(size(args[1]) * _STRING)
    return 1
