"""The JSONPath of printer columns and selectable fields (client-go's ``util/jsonpath``).

Supported: ``.field``, ``['field']``, ``[n]``, ``[start:end]``, ``[*]``, ``.*``, ``..field``
and filters ``[?(@.a.b == "x")]`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, or a bare
path for existence), with missing keys allowed, as the column printer sets it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .goformat import go_float, go_json

__all__ = ["JSONPathError", "compile_path", "find", "text"]

Step = Callable[[list[Any]], list[Any]]


class JSONPathError(ValueError):
    """A path client-go's parser refuses."""


@dataclass(frozen=True)
class _Path:
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        values = [obj]
        for step in self.steps:
            values = step(values)
        return values


def _field(name: str) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, dict) and name in value:
                out.append(value[name])
        return out

    return step


def _wildcard(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            out.extend(value[k] for k in sorted(value))
        elif isinstance(value, list):
            out.extend(value)
    return out


def _recursive(name: str) -> Step:
    def collect(value: Any, out: list[Any]) -> None:
        if isinstance(value, dict):
            if name in value:
                out.append(value[name])
            for key in sorted(value):
                collect(value[key], out)
        elif isinstance(value, list):
            for item in value:
                collect(item, out)

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            collect(value, out)
        return out

    return step


def _index(start: int | None, end: int | None, single: bool) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if not isinstance(value, list):
                continue
            if single:
                i = start if start is not None else 0
                if i < 0:
                    i += len(value)
                if 0 <= i < len(value):
                    out.append(value[i])
            else:
                out.extend(value[start:end])
        return out

    return step


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise JSONPathError(f"unrecognized literal {text}") from None


_FILTER = re.compile(r"\s*@((?:\.[^.\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*")


def _filter(expression: str) -> Step:
    match = re.fullmatch(
        r"\s*@((?:\.[^.\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*", expression
    )
    if match is None:
        raise JSONPathError(f"unrecognized filter {expression}")
    path = _Path(tuple(_field(p) for p in match[1].split(".")[1:]))
    operator, literal = match[2], match[3]
    expected = _literal(literal) if operator else None

    def keep(item: Any) -> bool:
        found = path.find(item)
        if not found:
            return False
        if not operator:
            return True
        try:
            return _COMPARE[operator](found[0], expected)
        except TypeError:
            return False

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            out.extend(item for item in items if keep(item))
        return out

    return step


def _bracket(inner: str) -> Step:
    inner = inner.strip()
    if inner.startswith("?(") and inner.endswith(")"):
        return _filter(inner[2:-1])
    if inner == "*":
        return _wildcard
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _field(inner[1:-1])
    if ":" in inner:
        parts = inner.split(":")
        try:
            start = int(parts[0]) if parts[0].strip() else None
            end = int(parts[1]) if parts[1].strip() else None
        except ValueError:
            raise JSONPathError(f"invalid array index {inner}") from None
        return _index(start, end, False)
    try:
        return _index(int(inner), None, True)
    except ValueError:
        raise JSONPathError(f"invalid array index {inner}") from None


@lru_cache(maxsize=256)
def compile_path(path: str) -> _Path:
    """Parse a path such as ``.status.conditions[?(@.type=="Ready")].status``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    steps: list[Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("..", i):
            j = i + 2
            while j < len(text) and text[j] not in ".[":
                j += 1
            steps.append(_recursive(text[i + 2 : j]))
            i = j
        elif char == ".":
            j = i + 1
            while j < len(text) and text[j] not in ".[":
                j += 1
            name = text[i + 1 : j]
            if name == "*":
                steps.append(_wildcard)
            elif name:
                steps.append(_field(name))
            i = j
        elif char == "[":
            depth, j = 0, i
            quote: str | None = None
            while j < len(text):
                c = text[j]
                if quote:
                    if c == quote:
                        quote = None
                elif c in "'\"":
                    quote = c
                elif c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise JSONPathError(f"unterminated array in {path}")
            steps.append(_bracket(text[i + 1 : j]))
            i = j + 1
        elif char.isspace():
            i += 1
        else:
            raise JSONPathError(f"unrecognized character in action: {char!r}")
    return _Path(tuple(steps))


def find(path: str, obj: Any) -> list[Any]:
    """Every value ``path`` selects in ``obj`` (missing keys select nothing)."""
    return compile_path(path).find(obj)


def text(value: Any) -> str:
    """``PrintResults`` of one value: maps and lists as JSON, the rest as ``fmt.Print``."""
    if isinstance(value, dict | list):
        return go_json(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)
