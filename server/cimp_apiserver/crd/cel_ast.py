"""The CEL expression tree shared by the parser, the type checker, the cost estimator and the
interpreter: cel-go's node kinds (macros already expanded into comprehensions), each node with
an id whose source offset the parse keeps for error locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACCU",
    "Call",
    "Comp",
    "Entry",
    "Expr",
    "Ident",
    "ListExpr",
    "Literal",
    "MapExpr",
    "Select",
    "StructExpr",
    "UInt",
]

ACCU = "__result__"


class UInt(int):
    """A CEL ``uint`` (a plain ``int`` is a CEL ``int``)."""

    def __repr__(self) -> str:
        return f"{int(self)}u"


@dataclass(eq=False)
class Expr:
    id: int


@dataclass(eq=False)
class Literal(Expr):
    """``value``: bool, int, :class:`UInt`, float, str, bytes or None (``null``)."""

    value: Any


@dataclass(eq=False)
class Ident(Expr):
    name: str


@dataclass(eq=False)
class Select(Expr):
    operand: Expr
    field: str
    test_only: bool = False


@dataclass(eq=False)
class Call(Expr):
    function: str
    args: list[Expr]
    target: Expr | None = None


@dataclass(eq=False)
class ListExpr(Expr):
    elements: list[Expr]
    optional_indices: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Entry:
    id: int
    key: Expr | str  # a map key expression, or a struct field name
    value: Expr
    optional: bool = False


@dataclass(eq=False)
class MapExpr(Expr):
    entries: list[Entry]


@dataclass(eq=False)
class StructExpr(Expr):
    type_name: str
    fields: list[Entry]


@dataclass(eq=False)
class Comp(Expr):
    iter_range: Expr
    iter_var: str
    accu_var: str
    accu_init: Expr
    loop_condition: Expr
    loop_step: Expr
    result: Expr
    iter_var2: str = ""


def children(e: Expr) -> list[Expr]:
    """The direct sub-expressions of ``e``, in source order."""
    if isinstance(e, Select):
        return [e.operand]
    if isinstance(e, Call):
        return ([e.target] if e.target is not None else []) + list(e.args)
    if isinstance(e, ListExpr):
        return list(e.elements)
    if isinstance(e, MapExpr):
        out: list[Expr] = []
        for entry in e.entries:
            if isinstance(entry.key, Expr):
                out.append(entry.key)
            out.append(entry.value)
        return out
    if isinstance(e, StructExpr):
        return [f.value for f in e.fields]
    if isinstance(e, Comp):
        return [e.iter_range, e.accu_init, e.loop_condition, e.loop_step, e.result]
    return []
