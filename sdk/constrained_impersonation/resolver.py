"""The request resolver: an HTTP request to the attributes kube-apiserver authorizes.

Restates kube-apiserver's request-info rules (``/api`` and ``/apis`` prefixes, ``watch`` and
``proxy`` path verbs, ``namespaces/<ns>/...``, list vs get vs watch, deletecollection, the
``metadata.name`` field selector naming a list). One resolver serves the SDK's scope guard and
the embedded API server's authorization, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote, urlsplit

from .identity import Identity
from .selectors import SelectorError, parse_field_selector, parse_label_selector

__all__ = [
    "Attributes",
    "RequestInfo",
    "resolve",
    "resolve_url",
    "resolves",
    "unread_parts",
]

_API_PREFIXES = frozenset({"api", "apis"})
_GROUPLESS_PREFIXES = frozenset({"api"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}

Query = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class RequestInfo:
    """What a request is about, without who sends it."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    field_selector: str = ""
    label_selector: str = ""

    @property
    def group_resource(self) -> str:
        """``resource[/subresource][.group]`` for messages."""
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        return f"{res}.{self.api_group}" if self.api_group else res


@dataclass(frozen=True)
class Attributes:
    """An authorization question: may ``user`` do ``verb`` on this resource or path?"""

    user: Identity
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    field_selector: str = ""
    label_selector: str = ""

    @classmethod
    def from_request(cls, user: Identity, info: RequestInfo) -> Attributes:
        return cls(
            user=user,
            verb=info.verb,
            resource_request=info.is_resource_request,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
            path=info.path,
            field_selector=info.field_selector,
            label_selector=info.label_selector,
        )

    def with_(self, **changes: object) -> Attributes:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def read_only(self) -> bool:
        return self.verb in ("get", "list", "watch")


def _first(query: Query, key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    return values[0]


def _watch_requested(query: Query) -> bool:
    value = _first(query, "watch")
    if value is None:
        return False
    return not (value == "0" or value.lower() == "false")


def _valid_path_segment_name(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name


def _go_int64(raw: str) -> bool:
    """Whether Go's ``strconv.ParseInt(raw, 10, 64)`` accepts ``raw`` (no spaces, no ``_``)."""
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not digits or not all("0" <= c <= "9" for c in digits):
        return False
    return -(2**63) <= int(raw) < 2**63


def _list_options_decode(query: Query) -> bool:
    """Whether kube would decode ``query`` as list options; if not, it reads no name from it.

    Only the selectors and the two integer options can fail; booleans never do.
    """
    try:
        parse_field_selector(_first(query, "fieldSelector") or "")
        parse_label_selector(_first(query, "labelSelector") or "")
    except SelectorError:
        return False
    for key in ("limit", "timeoutSeconds"):
        raw = _first(query, key)
        if raw is not None and not _go_int64(raw):
            return False
    return True


def resolves(path: str) -> bool:
    """Whether kube-apiserver's request-info factory can read ``path`` at all.

    It fails (a plain-text 500 before authentication: nothing is authorized or audited) on a
    path verb with nothing after it: ``/api/v1/watch``, ``/apis/<group>/<version>/proxy``.
    """
    trimmed = path.strip("/")
    parts = trimmed.split("/") if trimmed else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return True
    if parts[0] == "apis" and len(parts) < 4:
        return True
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    return not (len(rest) == 1 and rest[0] in ("watch", "proxy"))


def resolve(method: str, path: str, query: Query | str | None = None) -> RequestInfo:
    """Resolve ``method`` on ``path`` (already percent-decoded) with its query parameters.

    ``query`` is a mapping of lists (as :func:`urllib.parse.parse_qs` returns) or a raw query
    string. Never raises: paths that are not resource paths resolve as non-resource requests.
    """
    if query is None:
        query = {}
    elif isinstance(query, str):
        query = parse_qs(query, keep_blank_values=True)
    method = method.upper()
    info_path = path
    non_resource = RequestInfo(is_resource_request=False, path=info_path, verb=method.lower())
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return non_resource
    api_prefix = parts[0]
    rest = parts[1:]
    api_group = ""
    if api_prefix not in _GROUPLESS_PREFIXES:
        if len(rest) < 3:
            return non_resource
        api_group = rest[0]
        rest = rest[1:]
    api_version = rest[0]
    rest = rest[1:]

    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            # kube-apiserver fails such requests as unresolvable; treat them as a plain get of
            # nothing so that nothing downstream matches a real resource.
            return RequestInfo(
                is_resource_request=True,
                path=info_path,
                verb=rest[0],
                api_prefix=api_prefix,
                api_group=api_group,
                api_version=api_version,
            )
        verb = rest[0]
        rest = rest[1:]
        verb_via_path = True
    else:
        verb = _METHOD_VERBS.get(method, "")
        verb_via_path = False

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]

    resource = name = subresource = ""
    if len(rest) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES:
        subresource = rest[2]
    if len(rest) >= 2:
        name = rest[1]
    if len(rest) >= 1:
        resource = rest[0]

    field_selector = label_selector = ""
    if not name and verb == "get":
        verb = "watch" if _watch_requested(query) else "list"
        if _list_options_decode(query):
            for req in parse_field_selector(_first(query, "fieldSelector") or ""):
                if req.field == "metadata.name" and req.operator == "=":
                    if _valid_path_segment_name(req.value):
                        name = req.value
                    break
    if not name and verb == "delete":
        verb = "deletecollection"
    # Selectors of the deprecated ``/watch/`` path verb are not authorization attributes.
    if not verb_via_path and verb in ("list", "watch", "deletecollection"):
        field_selector = _first(query, "fieldSelector") or ""
        label_selector = _first(query, "labelSelector") or ""

    return RequestInfo(
        is_resource_request=True,
        path=info_path,
        verb=verb,
        api_prefix=api_prefix,
        api_group=api_group,
        api_version=api_version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=tuple(rest),
        field_selector=field_selector,
        label_selector=label_selector,
    )


def resolve_url(method: str, url: str) -> RequestInfo:
    """Resolve a full or relative URL, as the SDK's transport sees it."""
    split = urlsplit(url)
    return resolve(method, unquote(split.path), parse_qs(split.query, keep_blank_values=True))


def unread_parts(info: RequestInfo) -> tuple[str, ...]:
    """Path segments after ``resource/name/subresource`` that authorization never looks at.

    kube-apiserver (and :func:`resolve`) read at most the resource, the name and, unless the
    ``proxy`` path verb is used, the subresource; whatever follows is ignored when
    authorizing. Only a proxied path (under the ``proxy`` subresource or path verb) has a
    meaning there; anywhere else such segments let one request pass as another.
    """
    if not info.is_resource_request:
        return ()
    read = 2 if info.verb in _SPECIAL_VERBS_NO_SUBRESOURCES else 3
    return info.parts[read:]
