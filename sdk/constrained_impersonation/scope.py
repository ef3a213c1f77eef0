"""Declared scopes: the verbs and resources a session may use, and nothing else.

A session checks every request against its scope before a byte is sent, and the same
declaration renders the RBAC the requestor needs (``constrained_impersonation.rbac``).
Matching is exact like RBAC's: ``pods`` does not cover ``pods/log``; there are no wildcards
except through the loudly named :meth:`Scope.unrestricted_unsafe`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import OutOfScopeError
from .resolver import RequestInfo

__all__ = ["RESOURCE_VERBS", "NonResourceRule", "Rule", "Scope"]

RESOURCE_VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)
NON_RESOURCE_VERBS = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})


def _tuple(value: Iterable[str] | str | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must be strings, got {item!r}")
    return items


@dataclass(frozen=True)
class Rule:
    """Allow ``verbs`` on ``resources`` (``"pods"``, ``"pods/log"``) in API ``group``.

    ``namespaces=None`` allows every namespace and cluster-wide requests; a tuple confines the
    rule to those namespaces. ``names=None`` allows any object name (and collections); a tuple
    allows only requests naming one of those objects.
    """

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    group: str = ""
    namespaces: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None

    def __init__(
        self,
        verbs: Iterable[str] | str,
        resources: Iterable[str] | str,
        group: str = "",
        namespaces: Iterable[str] | str | None = None,
        names: Iterable[str] | str | None = None,
    ) -> None:
        verbs_t = _tuple(verbs, "verbs") or ()
        resources_t = _tuple(resources, "resources") or ()
        if not verbs_t:
            raise ValueError("Rule needs at least one verb, e.g. verbs=['list', 'watch']")
        if not resources_t:
            raise ValueError("Rule needs at least one resource, e.g. resources=['pods']")
        for verb in verbs_t:
            if verb not in RESOURCE_VERBS:
                raise ValueError(
                    f"unknown verb {verb!r} in Rule; use one of {sorted(RESOURCE_VERBS)} "
                    "(wildcards need Scope.unrestricted_unsafe())"
                )
        for resource in resources_t:
            if not resource or "*" in resource or resource.count("/") > 1:
                raise ValueError(
                    f"invalid resource {resource!r} in Rule; use 'pods' or 'pods/log' "
                    "(wildcards need Scope.unrestricted_unsafe())"
                )
        if "/" in group or "*" in group:
            raise ValueError(f"invalid API group {group!r}; use '' for core or e.g. 'apps'")
        namespaces_t = _tuple(namespaces, "namespaces")
        if namespaces_t is not None and not namespaces_t:
            raise ValueError("namespaces=() allows nothing; use None for every namespace")
        names_t = _tuple(names, "names")
        if names_t is not None and not names_t:
            raise ValueError("names=() allows nothing; use None for any name")
        object.__setattr__(self, "verbs", verbs_t)
        object.__setattr__(self, "resources", resources_t)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "namespaces", namespaces_t)
        object.__setattr__(self, "names", names_t)

    def allows(self, verb: str, group: str, resource: str, namespace: str, name: str) -> bool:
        if verb not in self.verbs or group != self.group or resource not in self.resources:
            return False
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.names is None or name in self.names

    def __str__(self) -> str:
        res = ",".join(self.resources)
        what = f"{res}.{self.group}" if self.group else res
        text = f"{'/'.join(self.verbs)} {what}"
        if self.namespaces is not None:
            text += f" in {','.join(self.namespaces)}"
        if self.names is not None:
            text += f" named {','.join(self.names)}"
        return text


@dataclass(frozen=True)
class NonResourceRule:
    """Allow ``verbs`` (lower-case HTTP methods) on non-resource ``paths`` (``/version``)."""

    verbs: tuple[str, ...]
    paths: tuple[str, ...]

    def __init__(self, verbs: Iterable[str] | str, paths: Iterable[str] | str) -> None:
        verbs_t = _tuple(verbs, "verbs") or ()
        paths_t = _tuple(paths, "paths") or ()
        if not verbs_t or not paths_t:
            raise ValueError("NonResourceRule needs verbs and paths, e.g. (['get'], ['/version'])")
        for verb in verbs_t:
            if verb not in NON_RESOURCE_VERBS:
                raise ValueError(
                    f"unknown non-resource verb {verb!r}; use {sorted(NON_RESOURCE_VERBS)}"
                )
        for path in paths_t:
            if not path.startswith("/") or ("*" in path and not path.endswith("/*")):
                raise ValueError(
                    f"invalid path {path!r}; use '/version' or a prefix like '/logs/*'"
                )
        object.__setattr__(self, "verbs", verbs_t)
        object.__setattr__(self, "paths", paths_t)

    def allows(self, verb: str, path: str) -> bool:
        if verb not in self.verbs:
            return False
        for allowed in self.paths:
            if allowed.endswith("*"):
                if path.startswith(allowed[:-1]):
                    return True
            elif path == allowed:
                return True
        return False

    def __str__(self) -> str:
        return f"{'/'.join(self.verbs)} {','.join(self.paths)}"


@dataclass(frozen=True)
class Scope:
    """The set of requests a session may send. Build with ``Scope(Rule(...), ...)``."""

    rules: tuple[Rule | NonResourceRule, ...] = field(default=())
    unrestricted: bool = False

    def __init__(self, *rules: Rule | NonResourceRule, _unrestricted: bool = False) -> None:
        for rule in rules:
            if not isinstance(rule, Rule | NonResourceRule):
                raise TypeError(f"Scope takes Rule objects, got {rule!r}")
        if not rules and not _unrestricted:
            raise ValueError(
                "an empty Scope allows nothing; declare Rule(...) objects, or use "
                "Scope.unrestricted_unsafe() if you truly want no local limit"
            )
        object.__setattr__(self, "rules", tuple(rules))
        object.__setattr__(self, "unrestricted", _unrestricted)

    @classmethod
    def unrestricted_unsafe(cls) -> Scope:
        """A scope that allows every request: the server's RBAC becomes the only limit."""
        return cls(_unrestricted=True)

    def allows(
        self, verb: str, group: str, resource: str, namespace: str = "", name: str = ""
    ) -> bool:
        """May a resource request be sent? ``resource`` may be ``pods/log``."""
        if self.unrestricted:
            return True
        return any(
            isinstance(rule, Rule) and rule.allows(verb, group, resource, namespace, name)
            for rule in self.rules
        )

    def allows_path(self, verb: str, path: str) -> bool:
        if self.unrestricted:
            return True
        return any(
            isinstance(rule, NonResourceRule) and rule.allows(verb, path) for rule in self.rules
        )

    def allows_request(self, info: RequestInfo) -> bool:
        if info.is_resource_request:
            resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
            return self.allows(info.verb, info.api_group, resource, info.namespace, info.name)
        return self.allows_path(info.verb, info.path)

    def check(self, info: RequestInfo) -> None:
        """Raise :class:`OutOfScopeError` unless ``info`` is allowed."""
        if self.allows_request(info):
            return
        resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
        raise OutOfScopeError(
            verb=info.verb,
            resource=resource,
            group=info.api_group,
            namespace=info.namespace,
            name=info.name,
            path=info.path if not info.is_resource_request else "",
            scope=self,
        )

    def __str__(self) -> str:
        if self.unrestricted:
            return "[UNRESTRICTED]"
        return "[" + "; ".join(str(rule) for rule in self.rules) + "]"
