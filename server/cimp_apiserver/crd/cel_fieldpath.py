"""A rule's ``fieldPath`` as apiextensions reads it (``ValidFieldPath``): ``.name`` and
``['quoted name']`` steps through an object's properties or a map's keys, checked against the
schema; the result is where a failed rule reports its error."""

from __future__ import annotations

import re

from .props import Props

__all__ = ["FieldPathError", "field_path_steps"]

_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "'": "'",
    "\\": "\\",
}


class FieldPathError(ValueError):
    """The path does not parse or does not name a field of the schema."""


def _tokens(text: str) -> list[str]:
    """The scanner's tokens: delimiters ``.``, ``[``, ``]``, quoted strings, and names."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "'":
            j = i + 1
            while j < len(text) and not (text[j] == "'" and text[j - 1] != "\\"):
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if text[i] in ".[]":
            out.append(text[i])
            i += 1
            continue
        j = i
        while j < len(text) and text[j] not in ".[]":
            j += 1
        out.append(text[i:j])
        i = j
    return out


def _unquote(body: str) -> str:
    def repl(m: re.Match[str]) -> str:
        c = m.group(0)[1]
        if c not in _ESCAPES:
            raise FieldPathError(f"invalid string literal: invalid escape char {m.group(0)}")
        return _ESCAPES[c]

    return re.sub(r"\\.", repl, body)


def field_path_steps(text: str, props: Props) -> list[tuple[bool, str]]:
    """The steps of ``text`` below ``props``: (named property?, name)."""
    steps: list[tuple[bool, str]] = []
    node: Props | None = props
    tokens = _tokens(text)
    pos = 0

    def step(name: str) -> None:
        nonlocal node
        if node is None:
            raise FieldPathError("does not refer to a valid field")
        if node.properties is not None:
            sub = node.properties.get(name)
            if sub is None:
                raise FieldPathError("does not refer to a valid field")
            steps.append((True, name))
            node = sub
        elif node.additional_properties is not None:
            steps.append((False, name))
            node = node.additional_properties[1]
        else:
            raise FieldPathError("does not refer to a valid field")

    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok == "[":
            if pos >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            quoted = tokens[pos]
            pos += 1
            if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
                raise FieldPathError(f"expected single quoted string but got {quoted}")
            step(_unquote(quoted[1:-1]))
            if pos >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            if tokens[pos] != "]":
                raise FieldPathError(f"expected ] but got {tokens[pos]}")
            pos += 1
        elif tok == ".":
            if pos >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            step(tokens[pos])
            pos += 1
        else:
            raise FieldPathError(f"expected [ or . but got: {tok}")
    return steps
