"""Kubernetes' CEL libraries for rules (quantity, URL, IP, CIDR, named formats, semver) on
top of the standard functions of :mod:`.cel_lib`; a name several libraries declare
(``isGreaterThan``, ``string``, ``ip``...) dispatches on its receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cel_format, cel_net, cel_quantity, cel_semver, cel_url
from .cel_lib import FUNCTIONS as _STANDARD
from .cel_lib import to_string
from .cel_values import no_overload

__all__ = ["FUNCTIONS"]


def _method(name: str) -> Callable[..., Any]:
    """``isGreaterThan``, ``isLessThan``, ``compareTo``, ``add``, ``sub``: quantity's or
    semver's, by the receiver."""
    on_quantity = cel_quantity.QUANTITY_METHODS.get(name)
    on_semver = cel_semver.SEMVER_METHODS.get(name)

    def call(receiver: Any, *args: Any) -> Any:
        if isinstance(receiver, cel_quantity.Quantity) and on_quantity is not None:
            return on_quantity(receiver, *args)
        if isinstance(receiver, cel_semver.Semver) and on_semver is not None:
            return on_semver(receiver, *args)
        raise no_overload()

    return call


def _string(v: Any) -> str:
    conv = getattr(v, "cel_string", None)
    if isinstance(v, (cel_net.IP, cel_net.CIDR)) and conv is not None:
        return str(conv())
    return to_string(v)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_STANDARD,
    **cel_quantity.FUNCTIONS,
    **cel_url.FUNCTIONS,
    **cel_net.FUNCTIONS,
    **cel_format.FUNCTIONS,
    **cel_semver.FUNCTIONS,
    **{n: _method(n) for n in ("isGreaterThan", "isLessThan", "compareTo", "add", "sub")},
    "string": _string,
}
