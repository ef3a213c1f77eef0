"""Field errors as apimachinery's ``field.Error`` prints them.

A 422 lists ``<field>: <type>[: <bad value>][: <detail>]``; the causes of its Status carry the
same text without the field. Validation code here builds :class:`FieldError` values and the
REST layer turns them into the ``(field, reason, message)`` causes of ``status.invalid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..status import StatusError
from .goformat import go_value, quote

__all__ = [
    "DUPLICATE",
    "FORBIDDEN",
    "INTERNAL",
    "INVALID",
    "NOT_SUPPORTED",
    "OMIT",
    "REQUIRED",
    "TOO_LONG",
    "TOO_MANY",
    "TYPE_INVALID",
    "FieldError",
    "causes",
    "child",
    "duplicate",
    "forbidden",
    "index",
    "invalid",
    "key",
    "not_supported",
    "patch_invalid",
    "required",
    "too_long",
    "too_many",
    "type_invalid",
]

REQUIRED = "FieldValueRequired"
FORBIDDEN = "FieldValueForbidden"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"

_TITLES = {
    REQUIRED: "Required value",
    FORBIDDEN: "Forbidden",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
}
# Types whose message never shows the bad value.
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}


class _Omit:
    """``field.omitValue``: a bad value that is not printed."""


OMIT: Any = _Omit()


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: its type, field path, bad value and detail."""

    type: str
    field: str
    bad_value: Any = ""
    detail: str = ""

    def body(self) -> str:
        """``ErrorBody``: what follows the field (also a cause's message)."""
        text = _TITLES[self.type]
        if self.type not in _NO_VALUE and self.bad_value is not OMIT:
            text += ": " + go_value(self.bad_value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> tuple[str, str, str]:
        """The ``(field, reason, message)`` of a Status cause (``TypeInvalid`` reads as
        ``FieldValueTypeInvalid``)."""
        return (self.field, self.type, self.body())


def causes(errors: Iterable[FieldError]) -> list[tuple[str, str, str]]:
    return [e.cause() for e in errors]


# ------------------------------------------------------------------------ paths


def child(path: str, *names: str) -> str:
    """``field.Path.Child``: ``a.b``."""
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    """``field.Path.Index``: ``a[0]``."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """``field.Path.Key``: ``a[k]``."""
    return f"{path}[{k}]"


# ------------------------------------------------------------------------ constructors


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, "", detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, "", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, field, value, detail)


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(TYPE_INVALID, field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, field, value)


def not_supported(field: str, value: Any, supported: Sequence[str]) -> FieldError:
    from .goformat import quote

    detail = "supported values: " + ", ".join(quote(v) for v in supported) if supported else ""
    return FieldError(NOT_SUPPORTED, field, value, detail)


def too_long(field: str, limit: int) -> FieldError:
    if limit >= 0:
        detail = f"may not be more than {limit} {'byte' if limit == 1 else 'bytes'}"
    else:
        detail = "value is too long"
    return FieldError(TOO_LONG, field, "<value omitted>", detail)


def too_many(field: str, actual: int, limit: int) -> FieldError:
    if limit >= 0:
        detail = f"must have at most {limit} {'item' if limit == 1 else 'items'}"
    else:
        detail = "has too many items"
    return FieldError(TOO_MANY, field, actual if actual >= 0 else OMIT, detail)


def patch_invalid(patched_json: str, why: str) -> StatusError:
    """A patched object that does not decode: kube's ``NewInvalid`` with an empty kind and
    name on the field ``patch``, whose bad value is the patched JSON."""
    detail = f"Invalid value: {quote(patched_json)}: {why}"
    return StatusError(
        422,
        "Invalid",
        f' "" is invalid: patch: {detail}',
        {"causes": [{"reason": "FieldValueInvalid", "message": detail, "field": "patch"}]},
    )
