"""Kubernetes' CEL ``format`` library: named string formats (``format.dns1123Label()``,
``format.named('uuid')``...) whose ``validate(s)`` is ``optional.none()`` for a valid string
and otherwise the optional list of apimachinery's (or kube-openapi's) messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cel_url import parse_request_uri
from .cel_values import NONE, Optional, no_overload
from .formats import validates
from .meta import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)

__all__ = ["FUNCTIONS", "NamedFormat"]


def _mask_trailing_dash(name: str) -> str:
    """apimachinery's ``maskTrailingDash`` (it drops two characters, as Go does)."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def _prefix(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    return lambda s: check(_mask_trailing_dash(s))


def _uri(s: str) -> list[str]:
    why = parse_request_uri(s)
    return [] if why is None else [why]


def _strfmt(name: str, message: str) -> Callable[[str], list[str]]:
    return lambda s: [] if validates(name, s) else [message]


_CHECKS: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "dns1123Label": ("DNS1123Label", dns1123_label_errors),
    "dns1123Subdomain": ("DNS1123Subdomain", dns1123_subdomain_errors),
    "dns1035Label": ("DNS1035Label", dns1035_label_errors),
    "qualifiedName": ("QualifiedName", qualified_name_errors),
    "dns1123LabelPrefix": ("DNS1123LabelPrefix", _prefix(dns1123_label_errors)),
    "dns1123SubdomainPrefix": ("DNS1123SubdomainPrefix", _prefix(dns1123_subdomain_errors)),
    "dns1035LabelPrefix": ("DNS1035LabelPrefix", _prefix(dns1035_label_errors)),
    "labelValue": ("LabelValue", label_value_errors),
    "uri": ("URI", _uri),
    "uuid": ("uuid", _strfmt("uuid", "does not match the UUID format")),
    "byte": ("byte", _strfmt("byte", "invalid base64")),
    "date": ("date", _strfmt("date", "invalid date")),
    "datetime": ("datetime", _strfmt("datetime", "invalid datetime")),
}


@dataclass(frozen=True)
class NamedFormat:
    name: str

    cel_type = "kubernetes.NamedFormat"

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, NamedFormat) and self.name == other.name


def _named(name: Any) -> Optional:
    if not isinstance(name, str):
        raise no_overload()
    return Optional(NamedFormat(name), True) if name in _CHECKS else NONE


def _validate(fmt: Any, value: Any) -> Optional:
    if not isinstance(fmt, NamedFormat) or not isinstance(value, str):
        raise no_overload()
    errors = _CHECKS[fmt.name][1](value)
    return Optional(list(errors), True) if errors else NONE


FUNCTIONS: dict[str, Any] = {"format.named": _named, "validate": _validate}
for _name in _CHECKS:
    FUNCTIONS[f"format.{_name}"] = lambda _n=_name: NamedFormat(_n)
