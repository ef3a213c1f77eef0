"""Wiring CustomResourceDefinitions into an embedded server's application."""

from __future__ import annotations

from aiohttp import web

from ..resources import REGISTRY
from ..storage import Store
from .controller import CRDController
from .definitions import CRD_GROUP, CRD_RESOURCE, definition_type

__all__ = ["CONTROLLER", "install"]

CONTROLLER: web.AppKey[CRDController] = web.AppKey("cimp.crd.controller", CRDController)


def install(app: web.Application, store: Store) -> CRDController:
    """Serve ``customresourcedefinitions`` with apiextensions' rules and the custom resources
    of established CRDs: the CRD strategy joins the app's registry, the controllers run before
    each request and after each CRD change (see :mod:`.controller`)."""
    registry = app[REGISTRY]
    registry.add(definition_type(registry.lookup(CRD_GROUP, "v1", CRD_RESOURCE)))
    controller = CRDController(store, registry)
    app[CONTROLLER] = controller
    app.middlewares.append(controller.middleware)
    app.on_startup.append(controller.start)
    app.on_cleanup.append(controller.stop)
    return controller
