"""Per-resource strategies that replace the built-in defaulting, validation and encoding.

kube-apiserver gives every resource a registry strategy (PrepareForCreate, Validate...). The
built-in ones of the embedded server live in ``objects.py``; a resource whose ``ResourceType``
carries a ``strategy`` (custom resources and CustomResourceDefinitions, see ``crd/``) is
handled by that object instead, at these few points of the REST layer:

* ``decode``: after the body is read, instead of the typed decoding of ``schema.py``;
* ``prepare_create``, ``prepare_update``, ``prepare_status_update``, ``validate``: as the
  functions of the same names in ``objects.py``;
* ``present``: a stored object as served at the requested version (reads, watches, and the
  current object an update or patch starts from);
* ``delete``: what a DELETE stores instead of removing the object (finalizing deletions);
* ``table``: the ``meta.k8s.io/v1`` Table of ``kubectl get``;
* ``scale``: the ``scale`` subresource;
* ``openapi``, ``openapi_paths``: the schemas of the kind and its list, and the paths, in the
  OpenAPI documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from .context import RequestContext
    from .handlers import Target
    from .resources import ResourceType
    from .storage import Record
    from .writes import Writes

__all__ = ["Cause", "Strategy", "strategy_of"]

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # (field, reason, message)


class Strategy(Protocol):
    """What a resource with its own rules implements (see the module docstring)."""

    def decode(self, rt: ResourceType, body: Obj, mode: str, patch: bool = False) -> list[str]:
        """Type-check, prune and default a decoded body in place; the warnings to send
        (``fieldValidation=Warn``). Raises a 400 ``StatusError`` for a wrong type, or for
        unknown fields under ``Strict`` (``patch``: the body is a patched object, and kube's
        patcher answers 422 naming it)."""
        ...

    def prepare_create(self, rt: ResourceType, obj: Obj) -> None: ...

    def prepare_update(self, rt: ResourceType, obj: Obj, old: Obj) -> None: ...

    def prepare_status_update(self, rt: ResourceType, obj: Obj, old: Obj) -> Obj: ...

    def validate(
        self, rt: ResourceType, obj: Obj, old: Obj | None = None, subresource: str = ""
    ) -> list[Cause]:
        """Causes for a 422 (of a write through ``subresource`` if one); when there are none,
        ``obj`` is left as it will be stored."""
        ...

    def present(self, rt: ResourceType, record: Record) -> Record:
        """The stored object as a client of ``rt``'s version sees it."""
        ...

    def delete(self, rt: ResourceType, obj: Obj) -> Obj | None:
        """The object a DELETE stores instead (with finalizers and a deletionTimestamp), or
        None to delete it as usual."""
        ...

    def table(
        self, rt: ResourceType, records: Sequence[Record], rv: str, include: str
    ) -> Obj | None:
        """The Table of ``records``, or None for the built-in printers."""
        ...

    async def scale(
        self, request: web.Request, ctx: RequestContext, target: Target, writes: Writes
    ) -> web.StreamResponse:
        """Serve the ``scale`` subresource (writes go through ``writes``)."""
        ...

    def openapi(self, rt: ResourceType, v2: bool) -> tuple[Obj, Obj] | None:
        """The schemas of the kind and its list in the v3 (or, ``v2``, swagger 2.0) form, or
        None for the generated ones."""
        ...

    def openapi_paths(self, rt: ResourceType) -> tuple[Obj, Obj, dict[str, list[Obj]]] | None:
        """The v3 and swagger 2.0 path items of the resource and the built-in components they
        refer to, or None for the generated ones."""
        ...


def strategy_of(rt: ResourceType) -> Strategy | None:
    """The strategy of ``rt``, or None for a built-in resource with the usual rules."""
    strategy: Strategy | None = getattr(rt, "strategy", None)
    return strategy
