"""List and watch options as kube-apiserver reads them: selectors, versions, pages.

Covers ``fieldSelector`` (only the field labels each resource supports), ``labelSelector``,
``resourceVersion`` + ``resourceVersionMatch``, ``limit``/``continue`` (an opaque token naming
the snapshot's resourceVersion and the last key served), ``timeoutSeconds``,
``allowWatchBookmarks`` and ``sendInitialEvents``, with kube's validation errors.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constrained_impersonation.selectors import (
    FieldRequirement,
    LabelRequirement,
    SelectorError,
    match_fields,
    match_labels,
    parse_field_selector,
    parse_label_selector,
)

from .resources import ResourceType
from .status import StatusError, bad_request, gone, invalid
from .storage import Predicate

__all__ = [
    "ListOptions",
    "Page",
    "decode_continue",
    "encode_continue",
    "field_value",
    "parse_list_options",
    "predicate_for",
]

EXACT = "Exact"
NOT_OLDER_THAN = "NotOlderThan"
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True)
class Page:
    """Where a continued list resumes: the snapshot version and the last key served."""

    rv: int
    namespace: str
    name: str


@dataclass(frozen=True)
class ListOptions:
    fields: list[FieldRequirement]
    labels: list[LabelRequirement]
    resource_version: str
    match: str
    limit: int
    page: Page | None
    timeout_seconds: int | None
    bookmarks: bool
    send_initial_events: bool | None
    watch: bool

    @property
    def selects_all(self) -> bool:
        return not self.fields and not self.labels


def _list_options_invalid(causes: list[tuple[str, str, str]]) -> StatusError:
    return invalid("ListOptions", "", "meta.k8s.io", causes)


def encode_continue(page: Page) -> str:
    start = f"{page.namespace}/{page.name}" if page.namespace else page.name
    doc = {"v": "meta.k8s.io/v1", "rv": page.rv, "start": start + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_continue(token: str) -> Page:
    try:
        padded = token + "=" * (-len(token) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(doc, dict) or doc.get("v") != "meta.k8s.io/v1":
            raise ValueError("unsupported version")
        rv = doc["rv"]
        start = doc["start"]
        if not isinstance(rv, int) or rv <= 0 or not isinstance(start, str):
            raise ValueError("malformed token")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad_request("continue key is not valid: invalid continue token") from None
    start = start.removesuffix("\x00")
    namespace, _, name = start.rpartition("/")
    return Page(rv, namespace, name)


def _bool(query: Mapping[str, str], key: str) -> bool | None:
    raw = query.get(key)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("true", "1", "t"):
        return True
    if value in ("false", "0", "f", ""):
        return False
    raise bad_request(f'invalid boolean value "{raw}" for {key}')


def _int(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    # Go's strconv.ParseInt(raw, 10, 64): an optional sign and ASCII digits, nothing else.
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not digits or not all("0" <= c <= "9" for c in digits):
        raise bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise bad_request(f'strconv.ParseInt: parsing "{raw}": value out of range')
    return value


def parse_resource_version(raw: str) -> int:
    try:
        value = int(raw)
        if value < 0 or not raw.isdigit():
            raise ValueError
    except ValueError:
        raise bad_request(f'invalid resource version "{raw}"') from None
    return value


def parse_list_options(rt: ResourceType, query: Mapping[str, str], *, watch: bool) -> ListOptions:
    """Read and validate the list/watch query (400 for syntax, 422 for combinations)."""
    try:
        fields = parse_field_selector(query.get("fieldSelector", ""))
    except SelectorError as exc:
        raise bad_request(str(exc)) from None
    for req in fields:
        if req.field not in rt.field_selectors:
            raise bad_request(rt.field_label_error.replace("{label}", req.field))
    try:
        labels = parse_label_selector(query.get("labelSelector", ""))
    except SelectorError as exc:
        raise bad_request(str(exc)) from None

    rv = query.get("resourceVersion", "")
    match = query.get("resourceVersionMatch", "")
    token = query.get("continue", "")
    limit = _int(query, "limit") or 0
    timeout = _int(query, "timeoutSeconds")
    bookmarks = bool(_bool(query, "allowWatchBookmarks"))
    initial = _bool(query, "sendInitialEvents")

    causes: list[tuple[str, str, str]] = []
    if match not in ("", EXACT, NOT_OLDER_THAN):
        causes.append(
            (
                "resourceVersionMatch",
                "FieldValueNotSupported",
                f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"',
            )
        )
    if match and not rv and not (watch and initial is not None):
        causes.append(
            (
                "resourceVersionMatch",
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        )
    if token and rv:
        causes.append(
            (
                "resourceVersion",
                "FieldValueForbidden",
                "Forbidden: specifying resource version is not allowed when using continue",
            )
        )
    if token and match:
        causes.append(
            (
                "resourceVersionMatch",
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden when continue is provided",
            )
        )
    if match == EXACT and rv == "0":
        causes.append(
            (
                "resourceVersionMatch",
                "FieldValueForbidden",
                'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
            )
        )
    if watch:
        if initial and match != NOT_OLDER_THAN:
            causes.append(
                (
                    "resourceVersionMatch",
                    "FieldValueForbidden",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                    "NotOlderThan",
                )
            )
        if initial and not bookmarks:
            causes.append(
                (
                    "allowWatchBookmarks",
                    "FieldValueForbidden",
                    "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                )
            )
        if match and initial is None:
            causes.append(
                (
                    "resourceVersionMatch",
                    "FieldValueForbidden",
                    "Forbidden: resourceVersionMatch is forbidden for watch unless "
                    "sendInitialEvents is provided",
                )
            )
    elif initial is not None:
        causes.append(
            (
                "sendInitialEvents",
                "FieldValueForbidden",
                "Forbidden: sendInitialEvents is forbidden for list",
            )
        )
    limit = max(limit, 0)
    if rv == "0" and not token:
        limit = 0  # kube serves "any version" from its watch cache, whole: no pages
    if causes:
        raise _list_options_invalid(causes)
    if rv:
        parse_resource_version(rv)
    page = decode_continue(token) if token else None
    return ListOptions(
        fields=fields,
        labels=labels,
        resource_version=rv,
        match=match,
        limit=limit,
        page=page,
        timeout_seconds=timeout,
        bookmarks=bookmarks,
        send_initial_events=initial,
        watch=watch,
    )


def snapshot_version(opts: ListOptions) -> int | None:
    """The resourceVersion a list must be served at (None: the latest)."""
    if opts.page is not None:
        return opts.page.rv
    if not opts.resource_version or opts.resource_version == "0":
        return None
    rv = int(opts.resource_version)
    if opts.match == EXACT or (opts.match == "" and opts.limit > 0):
        return rv
    return None


def minimum_version(opts: ListOptions) -> int | None:
    """For NotOlderThan semantics: the version the served state must have reached."""
    if opts.page is not None or not opts.resource_version or opts.resource_version == "0":
        return None
    return int(opts.resource_version)


def continue_expired() -> StatusError:
    return gone(CONTINUE_EXPIRED)


# --------------------------------------------------------------------------- predicates


def _dig(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """An object's value for a field label, as kube's ``ToSelectableFields`` renders it."""
    if field == "source":  # core/v1 events
        value = _dig(obj, "source.component")
    elif field == "spec.host":  # pods: the old name of spec.nodeName
        value = _dig(obj, "spec.nodeName")
    elif field == "status.successful":  # batch/v1 jobs: the succeeded count
        value = int(_dig(obj, "status.succeeded") or 0)
    elif field == "status.podIPs":
        ips = _dig(obj, "status.podIPs") or []
        value = ips[0].get("ip") if ips and isinstance(ips[0], Mapping) else None
    else:
        value = _dig(obj, field)
    if value is None:
        if field in ("spec.hostNetwork", "spec.unschedulable"):
            return "false"
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def predicate_for(
    fields: list[FieldRequirement], labels: list[LabelRequirement], name: str = ""
) -> Predicate | None:
    """A filter for list and watch, or None when everything matches."""
    if name:
        fields = [*fields, FieldRequirement("metadata.name", "=", name)]
    if not fields and not labels:
        return None
    wanted = {req.field for req in fields}

    def matches(obj: dict[str, Any]) -> bool:
        if labels:
            obj_labels = (obj.get("metadata") or {}).get("labels") or {}
            if not match_labels(labels, obj_labels):
                return False
        if fields:
            values = {f: field_value(obj, f) for f in wanted}
            if not match_fields(fields, values):
                return False
        return True

    return matches
