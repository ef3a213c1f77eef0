"""Field and label selector parsing, with kube-apiserver's grammar and error wording.

Shared by the request resolver (``metadata.name`` exact matches name a request), the scope
guard, the Node authorizer (``spec.nodeName=<node>``) and the embedded server's list filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .identity import DNS1123_SUBDOMAIN

__all__ = [
    "FieldRequirement",
    "LabelRequirement",
    "SelectorError",
    "exact_field_match",
    "match_fields",
    "match_labels",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector that does not parse; the message is what kube-apiserver would say."""


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" (also for "=="), "!="
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape_field_value(value: str, selector: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=!":
                raise SelectorError(
                    f"invalid field selector: {selector!r}: invalid escape sequence"
                )
            out.append(value[i + 1])
            i += 2
            continue
        if ch in ",=":
            raise SelectorError(f"invalid field selector: {selector!r}: unescaped {ch!r} in value")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_field_selector(selector: str) -> list[FieldRequirement]:
    """Parse ``a=b,c!=d`` (``\\`` escapes ``, = ! \\`` in values). Empty selects everything."""
    if selector.strip() == "":
        return []
    requirements: list[FieldRequirement] = []
    for term in _split_unescaped(selector, ","):
        if term == "":
            continue
        for op, norm in (("!=", "!="), ("==", "="), ("=", "=")):
            idx = _find_unescaped(term, op)
            if idx >= 0:
                field = term[:idx].strip()
                value = _unescape_field_value(term[idx + len(op) :], selector)
                if not field:
                    raise SelectorError(f"invalid field selector: {selector!r}: empty field name")
                requirements.append(FieldRequirement(field, norm, value))
                break
        else:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{term}'")
    return requirements


def _find_unescaped(term: str, op: str) -> int:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith(op, i):
            return i
        i += 1
    return -1


def exact_field_match(selector: str, field: str) -> str | None:
    """The value ``field`` must equal under ``selector`` (``=``/``==``), else None."""
    try:
        requirements = parse_field_selector(selector)
    except SelectorError:
        return None
    for req in requirements:
        if req.field == field and req.operator == "=":
            return req.value
    return None


def match_fields(requirements: list[FieldRequirement], fields: Mapping[str, str]) -> bool:
    for req in requirements:
        value = fields.get(req.field, "")
        if (value == req.value) != (req.operator == "="):
            return False
    return True


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SPECIAL = set("!=,()<> \t\n")


def _validate_label_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        raise SelectorError(
            f"unable to parse requirement: invalid label key {key!r}: "
            "prefix part must be a DNS-1123 subdomain"
        )
    if not name or len(name) > 63 or not _NAME_PART.fullmatch(name):
        raise SelectorError(
            f"unable to parse requirement: invalid label key {key!r}: name part must consist of "
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _validate_label_value(value: str) -> None:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise SelectorError(
            f"unable to parse requirement: invalid label value: {value!r}: a valid label must be "
            "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )


def _tokenize(selector: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(selector):
        ch = selector[i]
        if ch in " \t\n":
            i += 1
        elif ch in ",()":
            tokens.append(ch)
            i += 1
        elif ch == "!":
            if selector.startswith("!=", i):
                tokens.append("!=")
                i += 2
            else:
                tokens.append("!")
                i += 1
        elif ch == "=":
            if selector.startswith("==", i):
                tokens.append("==")
                i += 2
            else:
                tokens.append("=")
                i += 1
        elif ch in "<>":
            tokens.append(ch)
            i += 1
        else:
            j = i
            while j < len(selector) and selector[j] not in _SPECIAL:
                j += 1
            tokens.append(selector[i:j])
            i = j
    return tokens


_OPS = {"=", "==", "!=", "<", ">", "!", ",", "(", ")"}


def parse_label_selector(selector: str) -> list[LabelRequirement]:
    """Parse kube's label selector syntax: ``a=b, c!=d, e in (f,g), !h, i, j notin (k), l>1``."""
    tokens = _tokenize(selector)
    requirements: list[LabelRequirement] = []
    pos = 0

    def fail(msg: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {msg}")

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    while pos < len(tokens):
        negate = False
        if peek() == "!":
            negate = True
            pos += 1
        key = peek()
        if not negate and key in _OPS:
            # kube's parser loop, not a requirement: its message is not wrapped.
            raise SelectorError(f"found '{key}', expected: !, identifier, or 'end of string'")
        if key is None or key in _OPS:
            raise fail(f"found '{key or ''}', expected: identifier")
        pos += 1
        _validate_label_key(key)
        if negate:
            requirements.append(LabelRequirement(key, "!"))
        else:
            op = peek()
            if op is None or op == ",":
                requirements.append(LabelRequirement(key, "exists"))
            elif op in ("=", "==", "!="):
                pos += 1
                value = peek()
                if value is None or value == ",":
                    value = ""
                elif value in _OPS:
                    raise fail(f"found '{value}', expected: identifier")
                else:
                    pos += 1
                _validate_label_value(value)
                requirements.append(LabelRequirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("<", ">"):
                pos += 1
                value = peek()
                if value is not None and value in _OPS:
                    raise fail(f"found '{value}', expected: identifier")
                if value is None or value == ",":
                    value = ""  # kube reads an empty value and then refuses it
                else:
                    pos += 1
                try:
                    int(value)
                except ValueError:
                    raise fail(
                        f"values[0]: Invalid value: {json.dumps(value)}: for 'Gt', 'Lt' "
                        "operators, the value must be an integer"
                    ) from None
                requirements.append(LabelRequirement(key, "gt" if op == ">" else "lt", (value,)))
            elif op in ("in", "notin"):
                pos += 1
                if peek() != "(":
                    raise fail(f"found '{peek() or ''}', expected: '('")
                pos += 1
                values: list[str] = []
                while True:
                    tok = peek()
                    if tok is None:
                        raise fail("found '', expected: ')'")
                    if tok == ")":
                        if not values:
                            values.append("")
                        pos += 1
                        break
                    if tok == ",":
                        values.append("")
                        pos += 1
                        continue
                    if tok in _OPS:
                        raise fail(f"found '{tok}', expected: ',' or ')'")
                    values.append(tok)
                    pos += 1
                    if peek() == ",":
                        pos += 1
                    elif peek() != ")":
                        raise fail(f"found '{peek() or ''}', expected: ',' or ')'")
                for value in values:
                    _validate_label_value(value)
                requirements.append(LabelRequirement(key, op, tuple(sorted(set(values)))))
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        nxt = peek()
        if nxt is None:
            break
        if nxt != ",":
            raise SelectorError(f"found '{nxt}', expected: ',' or 'end of string'")
        pos += 1
        after = peek()
        if after is None or (after in _OPS and after != "!"):
            raise SelectorError(f"found '{after or ''}', expected: identifier after ','")
    return requirements


def match_labels(requirements: list[LabelRequirement], labels: Mapping[str, str]) -> bool:
    for req in requirements:
        present = req.key in labels
        value = labels.get(req.key)
        op = req.operator
        if op == "exists":
            ok = present
        elif op == "!":
            ok = not present
        elif op == "=":
            ok = present and value == req.values[0]
        elif op == "!=":
            ok = not present or value != req.values[0]
        elif op == "in":
            ok = present and value in req.values
        elif op == "notin":
            ok = not present or value not in req.values
        else:  # gt / lt
            try:
                have = int(value) if value is not None else None
            except ValueError:
                have = None
            want = int(req.values[0])
            ok = have is not None and (have > want if op == "gt" else have < want)
        if not ok:
            return False
    return True
