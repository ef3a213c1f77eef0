"""Validation of a custom resource against its OpenAPI v3 schema, worded as kube's.

kube-apiserver runs kube-openapi's schema validator (type, allOf/anyOf/oneOf/not, string,
format, number, slice, enum, object checks, in that order for every value) and turns each
result into a ``field.Error``: ``spec.size: Invalid value: "string": spec.size in body must be
of type integer: "string"``. This is that validator, for the JSON a decoder produces
(integral numbers as ``int``, others as ``float``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import formats, linear
from .errors import (
    FieldError,
    child,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
    type_invalid,
)
from .goformat import go_float, go_json, quote
from .props import Props
from .regex import GoRegexError, compile_go

__all__ = ["ratchet", "validate_value"]

_IN = "body"
_MAX_JSON_INT = float(2**53 - 1)


@dataclass
class _Err:
    """One kube-openapi error: a ``Validation`` (``code`` set) or a plain error."""

    message: str
    code: str = ""
    name: str = ""
    value: Any = None
    valid: Any = None
    values: list[Any] | None = None


@dataclass
class _Result:
    errors: list[_Err] = field(default_factory=list)
    matches: int = 0

    def add(self, *errors: _Err) -> None:
        for err in errors:
            if all(err.message != seen.message for seen in self.errors):
                self.errors.append(err)

    def merge(self, *others: _Result | None) -> _Result:
        for other in others:
            if other is not None:
                self.add(*other.errors)
                self.matches += other.matches
        return self

    @property
    def valid(self) -> bool:
        return not self.errors


def _one(err: _Err) -> _Result:
    return _Result([err])


def _v(value: Any) -> str:
    """Go's ``%v`` of a number in a message."""
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _invalid_type(name: str, type_name: str, value: Any) -> _Err:
    if isinstance(value, str):
        message = f"{name} in {_IN} must be of type {type_name}: {quote(value)}"
    else:
        message = f"{name} in {_IN} must be of type {type_name}"
    return _Err(message, "type", name, value)


def _kind(data: Any) -> str:
    if isinstance(data, bool):
        return "bool"
    if isinstance(data, int):
        return "int"
    if isinstance(data, float):
        return "float"
    if isinstance(data, str):
        return "string"
    if isinstance(data, list):
        return "slice"
    if isinstance(data, dict):
        return "map"
    return "invalid"


def _schema_info(data: Any) -> tuple[str, str]:
    kind = _kind(data)
    return {
        "bool": ("boolean", ""),
        "int": ("integer", "int64"),
        "float": ("number", "float64"),
        "string": ("string", ""),
        "slice": ("array", ""),
        "map": ("object", ""),
    }.get(kind, ("", ""))


def _json_integer(value: float) -> bool:
    """``swag.IsFloat64AJSONInteger``: integral within [-(2^53-1), 2^53-1], up to a relative
    error of 1e-9."""
    if math.isnan(value) or math.isinf(value) or abs(value) > _MAX_JSON_INT:
        return False
    rounded = float(round(value))
    if value == rounded:
        return True
    if rounded == 0:
        return False
    return abs(value - rounded) < 1e-9 * abs(rounded)


class _Schema:
    """The kube-openapi ``spec.Schema`` apiextensions derives from one ``Props``."""

    __slots__ = ("format", "props", "types")

    def __init__(self, props: Props) -> None:
        self.props = props
        types = [props.type] if props.type else []
        if props.x_int_or_string:
            types = ["integer", "string"]
        self.types = types
        self.format = formats.effective_format(types[0] if len(types) == 1 else "", props.format)


def _schema(props: Props) -> _Schema:
    return _Schema(props)


class _Validator:
    def validate(self, props: Props, data: Any, path: str) -> _Result:
        schema = _schema(props)
        result = _Result()
        if data is None:
            result.merge(self.type_check(schema, data, path))
            result.merge(self.enum(schema, data, path))
            return result
        kind = _kind(data)
        steps = (
            (bool(schema.types) or bool(schema.format), self.type_check),
            (True, self.schema_props),
            (kind == "string", self.string),
            (kind == "string" and formats.is_known(schema.format), self.format_check),
            (kind in ("int", "float"), self.number),
            (kind == "slice", self.slice),
            (True, self.enum),
            (kind == "map", self.object),
        )
        for applies, step in steps:
            if applies:
                result.merge(step(schema, data, path))
                result.matches += 1
        result.matches += 1
        return result

    # ------------------------------------------------------------------ type

    def type_check(self, schema: _Schema, data: Any, path: str) -> _Result:
        result = _Result(matches=1)
        types = schema.types
        if data is None:
            if types and "null" not in types and not schema.props.nullable:
                return _one(_invalid_type(path, ",".join(types), "null"))
            return result
        kind = _kind(data)
        sch_type, fmt = _schema_info(data)
        is_float_int = sch_type == "number" and _json_integer(float(data)) and "integer" in types
        is_int_float = sch_type == "integer" and "number" in types
        if (
            kind not in ("string", "slice")
            and schema.format
            and not (
                sch_type in types
                or fmt == schema.format
                or is_float_int
                or is_int_float
                or (schema.format == "int64" and fmt == "int32")
            )
        ):
            return _one(_invalid_type(path, schema.format, fmt))
        if (
            not ("number" in types or "integer" in types)
            and schema.format
            and kind in ("string", "slice")
        ):
            return result
        if not (sch_type in types or is_float_int or is_int_float):
            return _one(_invalid_type(path, ",".join(types), sch_type))
        return result

    # ------------------------------------------------------------------ allOf/anyOf/oneOf/not

    def schema_props(self, schema: _Schema, data: Any, path: str) -> _Result:
        props = schema.props
        main = _Result()
        if props.any_of:
            best: _Result | None = None
            first_success: _Result | None = None
            succeeded = False
            for sub in props.any_of:
                result = self.validate(sub, data, path)
                if result.valid:
                    best = None
                    succeeded = True
                    first_success = first_success or result
                    break
                if best is None or result.matches > best.matches:
                    best = result
            if not succeeded:
                main.add(_Err(f"{quote(path)} must validate at least one schema (anyOf)"))
            if best is not None:
                main.merge(best)
            elif first_success is not None:
                main.merge(first_success)
        if props.one_of:
            best = None
            first_success = None
            validated = 0
            for sub in props.one_of:
                result = self.validate(sub, data, path)
                if result.valid:
                    validated += 1
                    best = None
                    first_success = first_success or result
                    continue
                if validated == 0 and (best is None or result.matches > best.matches):
                    best = result
            if validated != 1:
                extra = f"Found {validated} valid alternatives"
                if validated == 0:
                    extra = "Found none valid"
                main.add(
                    _Err(f"{quote(path)} must validate one and only one schema (oneOf). {extra}")
                )
                if best is not None:
                    main.merge(best)
            elif first_success is not None:
                main.merge(first_success)
        if props.all_of:
            validated = 0
            for sub in props.all_of:
                result = self.validate(sub, data, path)
                if result.valid:
                    validated += 1
                main.merge(result)
            if validated != len(props.all_of):
                extra = ". None validated" if validated == 0 else ""
                main.add(_Err(f"{quote(path)} must validate all the schemas (allOf){extra}"))
        if props.not_ is not None and self.validate(props.not_, data, path).valid:
            main.add(_Err(f"{quote(path)} must not validate the schema (not)"))
        main.matches += 1
        return main

    # ------------------------------------------------------------------ strings

    def string(self, schema: _Schema, data: Any, path: str) -> _Result | None:
        props = schema.props
        length = len(data)
        if props.max_length is not None and length > props.max_length:
            message = f"{path} in {_IN} should be at most {props.max_length} chars long"
            return _one(_Err(message, "too_long", path, data, props.max_length))
        if props.min_length is not None and length < props.min_length:
            message = f"{path} in {_IN} should be at least {props.min_length} chars long"
            return _one(_Err(message, "too_short", path, data, props.min_length))
        if props.pattern:
            try:
                matched = linear.search(compile_go(props.pattern), data)  # RE2's linear time
                shown = props.pattern
            except GoRegexError as err:
                matched = False
                shown = f"{props.pattern}, but pattern is invalid: {err}"
            if not matched:
                message = f"{path} in {_IN} should match '{shown}'"
                return _one(_Err(message, "pattern", path, data))
        return None

    def format_check(self, schema: _Schema, data: Any, path: str) -> _Result:
        if not formats.validates(schema.format, data):
            return _one(_invalid_type(path, schema.format, data))
        return _Result()

    # ------------------------------------------------------------------ numbers

    @staticmethod
    def _range_error(value: Any, type_name: str, fmt: str, prefix: str, path: str) -> _Err | None:
        """``IsValueValidAgainstRange``: a plain error when ``value`` does not fit the type."""
        if isinstance(value, int):
            text = str(value)
        else:
            text = format(Decimal(repr(float(value))), "f")
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        ok = True
        if type_name == "integer":
            digits = text.removeprefix("-")
            ok = digits.isdigit()
            if ok:
                limit = 2**31 if fmt == "int32" else 2**63
                ok = -limit <= int(text) < limit
        elif type_name == "number" and fmt == "float":
            ok = abs(float(text)) <= 3.4028234663852886e38
        if ok:
            return None
        if fmt:
            return _Err(f"{prefix} value must be of type {type_name} with format {fmt} in {path}")
        return _Err(f"{prefix} value must be of type {type_name} (default format) in {path}")

    def number(self, schema: _Schema, data: Any, path: str) -> _Result:
        props = schema.props
        type_name, fmt = "", ""
        if len(schema.types) == 1 and schema.types[0] in ("integer", "number"):
            type_name = schema.types[0]
            allowed = ("int32", "int64") if type_name == "integer" else ("float", "double")
            fmt = props.format if props.format in allowed else ""
        res = _Result()
        checked = self._range_error(data, type_name, fmt, "Checked", path)
        if checked is not None:
            res.add(checked)
        is_int = isinstance(data, int)
        multiple = _Result()
        if props.multiple_of is not None:
            factor = props.multiple_of
            bad = self._range_error(factor, type_name, fmt, "MultipleOf", path)
            if bad is not None:
                multiple.add(bad)
                err = self._multiple_float(path, float(data), factor)
            elif is_int:
                err = self._multiple_int(path, data, int(factor))
            else:
                err = self._multiple_float(path, float(data), factor)
            if err is not None:
                multiple.add(err)
        minimum = _Result()
        if props.minimum is not None:
            bound = props.minimum
            excl = props.exclusive_minimum
            bad = self._range_error(bound, type_name, fmt, "Minimum boundary", path)
            if bad is not None:
                minimum.add(bad)
            if bad is None and is_int:
                limit = int(bound)
                if (not excl and data < limit) or (excl and data <= limit):
                    minimum.add(self._bound(path, "greater", limit, excl, data))
            elif (not excl and float(data) < bound) or (excl and float(data) <= bound):
                minimum.add(self._bound(path, "greater", bound, excl, data))
        maximum = _Result()
        if props.maximum is not None:
            bound = props.maximum
            excl = props.exclusive_maximum
            bad = self._range_error(bound, type_name, fmt, "Maximum boundary", path)
            if bad is not None:
                maximum.add(bad)
            if bad is None and is_int:
                limit = int(bound)
                if (not excl and data > limit) or (excl and data >= limit):
                    maximum.add(self._bound(path, "less", limit, excl, data))
            elif (not excl and float(data) > bound) or (excl and float(data) >= bound):
                maximum.add(self._bound(path, "less", bound, excl, data))
        res.merge(multiple, minimum, maximum)
        res.matches += 1
        return res

    @staticmethod
    def _bound(path: str, side: str, bound: float, exclusive: bool, data: Any) -> _Err:
        relation = f"{side} than" if exclusive else f"{side} than or equal to"
        message = f"{path} in {_IN} should be {relation} {_v(bound)}"
        return _Err(message, "max" if side == "less" else "min", path, data)

    @staticmethod
    def _multiple_int(path: str, data: int, factor: int) -> _Err | None:
        if factor <= 0:
            return _Err(
                f"factor MultipleOf declared for {path} must be positive: {factor}",
                "multiple_of_positive",
                path,
                factor,
            )
        quotient = abs(data) // factor * (1 if data >= 0 else -1)
        if quotient * factor != data:
            message = f"{path} in {_IN} should be a multiple of {factor}"
            return _Err(message, "multiple_of", path, data)
        return None

    @staticmethod
    def _multiple_float(path: str, data: float, factor: float) -> _Err | None:
        if factor <= 0:
            return _Err(
                f"factor MultipleOf declared for {path} must be positive: {go_float(factor)}",
                "multiple_of_positive",
                path,
                factor,
            )
        mult = 1 / factor * data if factor < 1 else data / factor
        if not _json_integer(mult):
            message = f"{path} in {_IN} should be a multiple of {go_float(factor)}"
            return _Err(message, "multiple_of", path, data)
        return None

    # ------------------------------------------------------------------ arrays

    def slice(self, schema: _Schema, data: Any, path: str) -> _Result:
        props = schema.props
        result = _Result()
        if props.items is not None:
            for i, item in enumerate(data):
                result.merge(self.validate(props.items, item, f"{path}[{i}]"))
        size = len(data)
        if props.min_items is not None and size < props.min_items:
            message = f"{path} in {_IN} should have at least {props.min_items} items"
            result.add(_Err(message, "min_items", path, size, props.min_items))
        if props.max_items is not None and size > props.max_items:
            message = f"{path} in {_IN} should have at most {props.max_items} items"
            result.add(_Err(message, "max_items", path, size, props.max_items))
        if props.unique_items:
            seen: list[str] = []
            for item in data:
                encoded = go_json(item)
                if encoded in seen:
                    message = f"{path} in {_IN} shouldn't contain duplicates"
                    result.add(_Err(message, "unique", path))
                    break
                seen.append(encoded)
        result.matches += 1
        return result

    # ------------------------------------------------------------------ enum

    @staticmethod
    def _enum_match(data: Any, option: Any) -> bool:
        if option is None or data is None:
            return False
        if isinstance(option, bool) or isinstance(data, bool):
            return isinstance(option, bool) and isinstance(data, bool) and option == data
        if isinstance(option, int | float) and isinstance(data, int | float):
            converted = int(data) if isinstance(option, int) else float(data)
            return converted == option
        if type(option) is not type(data):
            return False
        return go_json(option) == go_json(data)

    def enum(self, schema: _Schema, data: Any, path: str) -> _Result | None:
        options = schema.props.enum
        if not options:
            return None
        if any(self._enum_match(data, option) for option in options):
            return None
        shown = "[" + " ".join(_v(o) if isinstance(o, int | float) else str(o) for o in options)
        message = f"{path} in {_IN} should be one of {shown}]"
        return _one(_Err(message, "enum", path, data, values=list(options)))

    # ------------------------------------------------------------------ objects

    def object(self, schema: _Schema, data: Any, path: str) -> _Result:
        props = schema.props
        result = _Result()
        count = len(data)
        if props.min_properties is not None and count < props.min_properties:
            message = f"{path} in {_IN} should have at least {props.min_properties} properties"
            result.add(_Err(message, "too_few_props", path, count, props.min_properties))
        if props.max_properties is not None and count > props.max_properties:
            message = f"{path} in {_IN} should have at most {props.max_properties} properties"
            result.add(_Err(message, "too_many_props", path, count, props.max_properties))
        known = props.properties or {}
        additional = props.additional_properties
        if additional is not None and not additional[0]:
            for key in data:
                if key not in known:
                    message = f"{path}.{key} in {_IN} is a forbidden property"
                    result.add(_Err(message, "unallowed", path, key))
        elif additional is not None and additional[1] is not None:
            for key, value in data.items():
                if key not in known:
                    result.merge(self.validate(additional[1], value, f"{path}.{key}"))
        for name, sub in known.items():
            if name in data:
                where = f"{path}.{name}" if path else name
                result.merge(self.validate(sub, data[name], where))
        for name in props.required or ():
            if name not in data:
                where = f"{path}.{name}"
                result.add(_Err(f"{where} in {_IN} is required", "required", where))
        return result


def _to_field_errors(base: str | None, result: _Result) -> list[FieldError]:
    """``kubeOpenAPIResultToFieldErrors``: ``base`` is the path the schema applies to (None:
    the object root, printed as ``<nil>`` when an error names no field)."""
    out: list[FieldError] = []
    for err in result.errors:
        if not err.code:
            out.append(invalid(base if base is not None else "<nil>", "", err.message))
            continue
        where = base
        if err.name and err.name != ".":
            name = err.name.removeprefix(".")
            where = child(base, name) if base else name
        field_path = where if where is not None else "<nil>"
        value = err.value if err.value is not None else ""
        if err.code == "required":
            out.append(required(field_path))
        elif err.code == "enum":
            values = [v if isinstance(v, str) else go_json(v) for v in err.values or ()]
            out.append(not_supported(field_path, value, values))
        elif err.code == "too_long":
            out.append(too_long(field_path, err.valid if isinstance(err.valid, int) else -1))
        elif err.code in ("max_items", "too_many_props"):
            actual = err.value if isinstance(err.value, int) else -1
            limit = err.valid if isinstance(err.valid, int) else -1
            out.append(too_many(field_path, actual, limit))
        elif err.code == "type":
            out.append(type_invalid(field_path, value, err.message))
        else:
            out.append(invalid(field_path, value, err.message))
    return out


def validate_value(props: Props, value: Any, base: str | None = None) -> list[FieldError]:
    """The field errors of ``value`` under ``props`` (``base``: where ``value`` sits in the
    request, for defaults and status; None for a whole object)."""
    result = _Validator().validate(props, value, "")
    return _to_field_errors(base, result) if result.errors else []


def _lookup(obj: Any, parts: Sequence[str | int]) -> tuple[bool, Any]:
    node = obj
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False, None
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return False, None
            node = node[part]
    return True, node


def _parse_path(path: str) -> list[str | int] | None:
    parts: list[str | int] = []
    for piece in path.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            number, _, rest = rest.partition("]")
            if not number.isdigit():
                return None
            parts.append(int(number))
            rest = rest.removeprefix("[")
    return parts


def ratchet(errors: list[FieldError], new: Any, old: Any, base: str = "") -> list[FieldError]:
    """CRD validation ratcheting: drop errors about values an update left unchanged."""
    kept = []
    for err in errors:
        where = err.field
        if base:
            where = where.removeprefix(base).removeprefix(".")
        parts = _parse_path(where) if where and where != "<nil>" else None
        if parts is None:
            kept.append(err)
            continue
        if err.type == "FieldValueRequired":
            parts = parts[:-1]
        # An atomic list is correlated only when it is unchanged as a whole.
        for i, part in enumerate(parts):
            if isinstance(part, int):
                parts = parts[:i]
                break
        found_new, value_new = _lookup(new, parts)
        found_old, value_old = _lookup(old, parts)
        if found_new and found_old and go_json(value_new) == go_json(value_old):
            continue
        kept.append(err)
    return kept
