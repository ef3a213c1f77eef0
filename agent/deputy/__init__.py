"""``cimp-deputy``: a KubeVirt VM-console proxy that acts as the end user (KEP-5284 story 2).

Today such a proxy holds legacy ``impersonate`` and can therefore do anything any user can.
This one holds constrained grants only: it may impersonate ordinary users (``impersonate:
user-info``), and only to open VM consoles (``impersonate-on:user-info:get`` on
``virtualmachineinstances/console``). Whether a user may open a given console is still decided
by the API server, for that user.

Modules: :mod:`.config` (flags), :mod:`.kube` (TokenReview and the console websocket with the
deputy's credentials), :mod:`.console` (the per-connection session and what is forwarded),
:mod:`.server` (the aiohttp service), :mod:`.rbac` (the grants, rendered).
"""

from __future__ import annotations

__all__ = ["__version__"]

from constrained_impersonation._version import __version__ as __version__
