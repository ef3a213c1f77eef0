"""Structural schemas: the checks a CRD schema must pass, and what one does to objects.

apiextensions requires every schema to be *structural* (a type at every specified node,
value validations in ``allOf``/``anyOf``/``oneOf``/``not`` only restricting what the
structural part specifies, ``metadata`` only constraining name and generateName). A structural
schema then drives pruning of unknown fields, defaulting, and the coercion and validation of
``apiVersion``/``kind``/``metadata`` of the object and of embedded resources.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import (
    FieldError,
    child,
    forbidden,
    index,
    invalid,
    key,
    required,
)
from .meta import dns1035_label_errors, embedded_metadata_errors
from .props import Props
from .regex import GoRegexError, compile_go
from .values import validate_value

__all__ = [
    "apply_defaults",
    "coerce_embedded",
    "new_structural_error",
    "prune",
    "prune_nulls",
    "validate_defaults",
    "validate_embedded",
    "validate_structural",
]

ROOT, ITEM, FIELD = "root", "item", "field"
_META_FIELDS = ("apiVersion", "kind", "metadata")
# ObjectMeta's JSON fields; others are dropped from an embedded resource's metadata.
_OBJECT_META = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


# --------------------------------------------------------------------------- NewStructural


def _unsupported(props: Props) -> str | None:
    if props.id:
        return "OpenAPIV3Schema 'id' is not supported"
    if props.schema:
        return "OpenAPIV3Schema 'schema' is not supported"
    if props.ref:
        return "OpenAPIV3Schema '$ref' is not supported"
    if props.pattern_properties:
        return "OpenAPIV3Schema 'patternProperties' is not supported"
    if props.dependencies:
        return "OpenAPIV3Schema 'dependencies' is not supported"
    if props.additional_items is not None:
        return "OpenAPIV3Schema 'additionalItems' is not supported"
    if props.definitions:
        return "OpenAPIV3Schema 'definitions' is not supported"
    return None


def _value_validation_error(props: Props) -> str | None:
    for sub in [props.not_, *(props.all_of or ()), *(props.any_of or ()), *(props.one_of or ())]:
        error = new_structural_error(sub)
        if error:
            return error
    return None


def new_structural_error(props: Props | None) -> str | None:
    """The error ``NewStructural`` returns for ``props``, or None."""
    if props is None:
        return None
    error = _unsupported(props) or _value_validation_error(props)
    if error:
        return error
    if props.x_preserve_unknown_fields is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    if props.items_array is not None:
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    for sub in [props.items, *(props.properties or {}).values()]:
        error = new_structural_error(sub)
        if error:
            return error
    if props.additional_properties is not None:
        return new_structural_error(props.additional_properties[1])
    return None


# --------------------------------------------------------------------------- ValidateStructural


def _is_int_or_string_any_of(any_of: list[Props] | None) -> bool:
    if not any_of or len(any_of) != 2:
        return False
    return [_only_type(p) for p in any_of] == ["integer", "string"]


def _only_type(props: Props) -> str | None:
    """The type of a schema that says nothing but its type."""
    return props.type if props == Props(type=props.type) else None


def validate_structural(path: str, props: Props) -> list[FieldError]:
    """``ValidateStructural``: the errors sorted by their text, as kube sorts them."""
    errors = _invariants(props, ROOT, path)
    errors.extend(_completeness(props, path))
    return sorted(errors, key=str)


def _invariants(s: Props | None, level: str, path: str) -> list[FieldError]:
    if s is None:
        return []
    errors: list[FieldError] = []
    if s.type == "array" and s.items is None:
        errors.append(required(child(path, "items"), "must be specified"))
    errors.extend(_invariants(s.items, ITEM, child(path, "items")))
    for name, sub in (s.properties or {}).items():
        errors.extend(_invariants(sub, FIELD, key(child(path, "properties"), name)))
    if s.additional_properties is not None:
        if level == ROOT:
            errors.append(
                forbidden(child(path, "additionalProperties"), "must not be used at the root")
            )
        if s.additional_properties[1] is not None:
            errors.extend(
                _invariants(s.additional_properties[1], FIELD, child(path, "additionalProperties"))
            )
    preserve = s.x_preserve_unknown_fields is True
    if s.x_int_or_string and preserve:
        errors.append(
            invalid(
                child(path, "x-kubernetes-preserve-unknown-fields"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if s.x_int_or_string and s.x_embedded_resource:
        errors.append(
            invalid(
                child(path, "x-kubernetes-embedded-resource"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    skip_any_of = _is_int_or_string_any_of(s.any_of)
    skip_first_all_of = _is_int_or_string_any_of(s.all_of[0].any_of) if s.all_of else False
    errors.extend(_value_validation(s, skip_any_of, skip_first_all_of, level, path))
    check_metadata = level == ROOT or s.x_embedded_resource
    if s.x_embedded_resource and s.type != "object":
        message = "must be object if x-kubernetes-embedded-resource is true"
        if not s.type:
            errors.append(required(child(path, "type"), message))
        else:
            errors.append(invalid(child(path, "type"), s.type, message))
    elif not s.type and not s.x_int_or_string and not preserve:
        detail = {
            ROOT: "must not be empty at the root",
            ITEM: "must not be empty for specified array items",
            FIELD: "must not be empty for specified object fields",
        }[level]
        errors.append(required(child(path, "type"), detail))
    if s.x_embedded_resource and s.additional_properties is not None:
        errors.append(
            forbidden(
                child(path, "additionalProperties"),
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == ROOT and s.type and s.type != "object":
        errors.append(invalid(child(path, "type"), s.type, "must be object at the root"))
    properties = s.properties or {}
    for name in ("kind", "apiVersion"):
        if name in properties and check_metadata and properties[name].type != "string":
            errors.append(
                invalid(
                    child(key(child(path, "properties"), name), "type"),
                    properties[name].type,
                    "must be string",
                )
            )
    if "metadata" in properties:
        errors.extend(
            _metadata_invariants(
                properties["metadata"],
                check_metadata,
                level,
                key(child(path, "properties"), "metadata"),
            )
        )
    if s.x_embedded_resource and not preserve and not properties:
        errors.append(
            required(
                child(path, "properties"),
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )
    return errors


def _metadata_invariants(s: Props, check: bool, level: str, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if check and s.type != "object":
        errors.append(invalid(child(path, "type"), s.type, "must be object"))
    if level == ROOT:
        stripped = copy.copy(s)
        names = set(s.properties or {})
        if names and names <= {"name", "generateName"}:
            stripped.properties = None
        stripped.type = ""
        stripped.default = Props().default
        if stripped != Props():
            errors.append(
                forbidden(
                    path,
                    "must not specify anything other than name and generateName, but metadata "
                    "is implicitly specified",
                )
            )
    return errors


def _value_validation(
    s: Props, skip_any_of: bool, skip_first_all_of: bool, level: str, path: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not skip_any_of:
        for i, sub in enumerate(s.any_of or ()):
            errors.extend(_nested(sub, False, False, level, index(child(path, "anyOf"), i)))
    for i, sub in enumerate(s.all_of or ()):
        skip = skip_first_all_of and i == 0
        errors.extend(_nested(sub, skip, False, level, index(child(path, "allOf"), i)))
    for i, sub in enumerate(s.one_of or ()):
        errors.extend(_nested(sub, False, False, level, index(child(path, "oneOf"), i)))
    errors.extend(_nested(s.not_, False, False, level, child(path, "not")))
    if s.pattern:
        try:
            compile_go(s.pattern)
        except GoRegexError as err:
            errors.append(
                invalid(
                    child(path, "pattern"),
                    s.pattern,
                    f"must be a valid regular expression, but isn't: {err}",
                )
            )
    return errors


def _nested(
    v: Props | None, skip_any_of: bool, skip_all_of: bool, level: str, path: str
) -> list[FieldError]:
    if v is None:
        return []
    errors = _value_validation(v, skip_any_of, skip_all_of, level, path)
    errors.extend(_nested(v.items, False, False, level, child(path, "items")))
    for name, sub in (v.properties or {}).items():
        errors.extend(_nested(sub, False, False, FIELD, key(child(path, "properties"), name)))
    must_be = "must be empty to be structural"
    undefined = "must be undefined to be structural"
    false = "must be false to be structural"
    if v.type:
        errors.append(forbidden(child(path, "type"), must_be))
    if v.additional_properties is not None and (
        v.additional_properties[1] is not None or v.additional_properties[0]
    ):
        errors.append(forbidden(child(path, "additionalProperties"), undefined))
    if v.has_default:
        errors.append(forbidden(child(path, "default"), undefined))
    if v.title:
        errors.append(forbidden(child(path, "title"), must_be))
    if v.description:
        errors.append(forbidden(child(path, "description"), must_be))
    if v.nullable:
        errors.append(forbidden(child(path, "nullable"), false))
    if v.x_preserve_unknown_fields:
        errors.append(forbidden(child(path, "x-kubernetes-preserve-unknown-fields"), false))
    if v.x_embedded_resource:
        errors.append(forbidden(child(path, "x-kubernetes-embedded-resource"), false))
    if v.x_int_or_string:
        errors.append(forbidden(child(path, "x-kubernetes-int-or-string"), false))
    if v.x_list_map_keys:
        errors.append(forbidden(child(path, "x-kubernetes-list-map-keys"), must_be))
    if v.x_list_type is not None:
        errors.append(forbidden(child(path, "x-kubernetes-list-type"), undefined))
    if v.x_map_type is not None:
        errors.append(forbidden(child(path, "x-kubernetes-map-type"), undefined))
    if v.x_validations:
        errors.append(forbidden(child(path, "x-kubernetes-validations"), must_be))
    if "metadata" in (v.properties or {}):
        errors.append(
            forbidden(
                key(child(path, "properties"), "metadata"),
                "must not be specified in a nested context",
            )
        )
    return errors


def _completeness(s: Props, path: str) -> list[FieldError]:
    return _value_completeness(s, s, path, path)


def _value_completeness(v: Props, s: Props | None, s_path: str, v_path: str) -> list[FieldError]:
    if s is None:
        return [required(s_path, f"because it is defined in {v_path}")]
    errors = _nested_completeness(v.not_, s, s_path, child(v_path, "not"))
    for name, subs in (("allOf", v.all_of), ("anyOf", v.any_of), ("oneOf", v.one_of)):
        for i, sub in enumerate(subs or ()):
            errors.extend(_nested_completeness(sub, s, s_path, index(child(v_path, name), i)))
    return errors


def _nested_completeness(
    v: Props | None, s: Props | None, s_path: str, v_path: str
) -> list[FieldError]:
    if v is None:
        return []
    if s is None:
        return [required(s_path, f"because it is defined in {v_path}")]
    errors = _value_completeness(v, s, s_path, v_path)
    errors.extend(
        _nested_completeness(v.items, s.items, child(s_path, "items"), child(v_path, "items"))
    )
    s_properties = s.properties or {}
    for name, sub in (v.properties or {}).items():
        s_where = key(child(s_path, "properties"), name)
        v_where = key(child(v_path, "properties"), name)
        if name not in s_properties:
            errors.append(required(s_where, f"because it is defined in {v_where}"))
        else:
            errors.extend(_nested_completeness(sub, s_properties[name], s_where, v_where))
    return errors


# --------------------------------------------------------------------------- pruning


class _Tracker:
    """``UnknownFieldPathOptions``: the paths of pruned fields, as ``a.b[0].c``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.parent: list[str] = []
        self.found: list[str] = []

    def append_key(self, name: str) -> None:
        if self.enabled:
            if self.parent:
                self.parent.append(".")
            self.parent.append(name)

    def append_index(self, i: int) -> None:
        if self.enabled:
            self.parent.extend(("[", str(i), "]"))

    def record(self, name: str) -> None:
        if self.enabled:
            depth = len(self.parent)
            self.append_key(name)
            self.found.append("".join(self.parent))
            del self.parent[depth:]


def _as_root(props: Props | None) -> Props:
    root = copy.copy(props) if props is not None else Props()
    root.x_embedded_resource = True
    return root


def prune(obj: Any, props: Props | None, root: bool = True, track: bool = False) -> list[str]:
    """Drop what ``props`` does not specify from ``obj`` (in place); the pruned paths,
    sorted (``track``), as strict field validation reports them."""
    tracker = _Tracker(track)
    _prune(obj, _as_root(props) if root else props, tracker)
    return sorted(tracker.found)


def _prune(x: Any, s: Props | None, t: _Tracker) -> None:
    if s is not None and s.x_preserve_unknown_fields:
        _skip_prune(x, s, t)
        return
    depth = len(t.parent)
    if isinstance(x, dict):
        if s is None:
            for name in list(x):
                t.record(name)
                del x[name]
            return
        properties = s.properties or {}
        for name in list(x):
            if s.x_embedded_resource and name in _META_FIELDS:
                continue
            if name in properties:
                t.append_key(name)
                _prune(x[name], properties[name], t)
                del t.parent[depth:]
            elif s.additional_properties is not None:
                t.append_key(name)
                _prune(x[name], s.additional_properties[1], t)
                del t.parent[depth:]
            else:
                if name not in _META_FIELDS or t.parent:
                    t.record(name)
                del x[name]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, value in enumerate(x):
            t.append_index(i)
            _prune(value, items, t)
            del t.parent[depth:]


def _skip_prune(x: Any, s: Props | None, t: _Tracker) -> None:
    if s is None:
        return
    depth = len(t.parent)
    if isinstance(x, dict):
        properties = s.properties or {}
        for name, value in x.items():
            if s.x_embedded_resource and name in _META_FIELDS:
                continue
            if name in properties:
                t.append_key(name)
                _prune(value, properties[name], t)
                del t.parent[depth:]
            elif s.additional_properties is not None:
                t.append_key(name)
                _prune(value, s.additional_properties[1], t)
                del t.parent[depth:]
    elif isinstance(x, list):
        for i, value in enumerate(x):
            t.append_index(i)
            _skip_prune(value, s.items, t)
            del t.parent[depth:]


def prune_nulls(x: Any, s: Props | None) -> None:
    """``PruneNonNullableNullsWithoutDefaults``: drop ``null`` values the schema neither
    allows nor defaults."""
    if isinstance(x, dict):
        for name in list(x):
            sub: Props | None = None
            if s is not None:
                properties = s.properties or {}
                if name in properties:
                    sub = properties[name]
                elif s.additional_properties is not None:
                    sub = s.additional_properties[1]
            value = x[name]
            if value is None and sub is not None and not sub.nullable and not sub.has_default:
                del x[name]
            else:
                prune_nulls(value, sub)
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for value in x:
            prune_nulls(value, items)


# --------------------------------------------------------------------------- defaulting


def _non_nullable_null(x: Any, s: Props | None) -> bool:
    return x is None and s is not None and not s.nullable


def apply_defaults(x: Any, s: Props | None) -> None:
    """``structuraldefaulting.Default``: fill in missing (or disallowed ``null``) fields."""
    if s is None:
        return
    if isinstance(x, dict):
        properties = s.properties or {}
        for name, sub in properties.items():
            if not sub.has_default:
                continue
            if name not in x or _non_nullable_null(x[name], sub):
                x[name] = copy.deepcopy(sub.default)
        for name in list(x):
            if name in properties:
                apply_defaults(x[name], properties[name])
            elif s.additional_properties is not None:
                extra = s.additional_properties[1]
                if _non_nullable_null(x[name], extra) and extra is not None and extra.has_default:
                    x[name] = copy.deepcopy(extra.default)
                apply_defaults(x[name], extra)
    elif isinstance(x, list):
        for i, value in enumerate(x):
            if _non_nullable_null(value, s.items) and s.items is not None and s.items.has_default:
                x[i] = copy.deepcopy(s.items.default)
            apply_defaults(x[i], s.items)


# --------------------------------------------------------------------------- object meta


def _empty(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    return value is None or value in ("", 0) or (isinstance(value, dict | list) and not value)


def coerce_embedded(
    x: Any, s: Props | None, path: str = "", root: bool = False, unknown: list[str] | None = None
) -> FieldError | None:
    """``objectmeta.Coerce``: embedded resources keep ``apiVersion``/``kind`` strings and
    only ObjectMeta's fields in ``metadata``; the first error, or None."""
    if root:
        s = _as_root(s)
    return _coerce(x, s, path, unknown)


def _coerce(x: Any, s: Props | None, path: str, unknown: list[str] | None) -> FieldError | None:
    if s is None:
        return None
    if isinstance(x, dict):
        for name in list(x):
            if name not in x:
                continue
            value = x[name]
            if s.x_embedded_resource:
                if name in ("apiVersion", "kind") and not isinstance(value, str):
                    return invalid(child(path, name), value, "must be a string")
                if name == "metadata" and isinstance(value, dict):
                    kept = {}
                    for field_name, field_value in value.items():
                        if field_name not in _OBJECT_META:
                            if unknown is not None:
                                unknown.append(f"{child(path, 'metadata')}.{field_name}")
                            continue
                        if field_name == "deletionGracePeriodSeconds" or not _empty(field_value):
                            kept[field_name] = field_value
                    x[name] = kept
            properties = s.properties or {}
            if name in properties:
                err = _coerce(x[name], properties[name], child(path, name), unknown)
            elif s.additional_properties is not None:
                err = _coerce(x[name], s.additional_properties[1], key(path, name), unknown)
            else:
                err = None
            if err is not None:
                return err
    elif isinstance(x, list):
        for i, value in enumerate(x):
            err = _coerce(value, s.items, index(path, i), unknown)
            if err is not None:
                return err
    return None


def validate_embedded(x: Any, s: Props | None, path: str, root: bool = False) -> list[FieldError]:
    """``objectmeta.Validate``: apiVersion, kind and metadata of embedded resources."""
    if root:
        s = _as_root(s)
    return _validate_meta(x, s, path)


def _validate_meta(x: Any, s: Props | None, path: str) -> list[FieldError]:
    if s is None:
        return []
    errors: list[FieldError] = []
    if isinstance(x, dict):
        if s.x_embedded_resource:
            errors.extend(_embedded_resource_errors(x, path))
        properties = s.properties or {}
        for name, value in x.items():
            if name in properties:
                errors.extend(_validate_meta(value, properties[name], child(path, name)))
            elif s.additional_properties is not None:
                errors.extend(_validate_meta(value, s.additional_properties[1], key(path, name)))
    elif isinstance(x, list):
        for i, value in enumerate(x):
            errors.extend(_validate_meta(value, s.items, index(path, i)))
    return errors


def _embedded_resource_errors(x: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "apiVersion" not in x:
        errors.append(required(child(path, "apiVersion")))
    if "kind" not in x:
        errors.append(required(child(path, "kind")))
    for name, value in x.items():
        where = child(path, name)
        if name == "apiVersion":
            if not isinstance(value, str):
                errors.append(invalid(where, value, "must be a string"))
            elif not value:
                errors.append(invalid(where, value, "must not be empty"))
            elif value.count("/") > 1:
                errors.append(invalid(where, value, f"unexpected GroupVersion string: {value}"))
        elif name == "kind":
            if not isinstance(value, str):
                errors.append(invalid(where, value, "must be a string"))
            elif not value:
                errors.append(invalid(where, value, "must not be empty"))
            elif messages := dns1035_label_errors(value.lower()):
                errors.append(
                    invalid(
                        where,
                        value,
                        "may have mixed case, but should otherwise match: " + ",".join(messages),
                    )
                )
        elif name == "metadata" and isinstance(value, dict):
            errors.extend(embedded_metadata_errors(value, where))
    return errors


# --------------------------------------------------------------------------- defaults


def validate_defaults(path: str, props: Props, require_pruned: bool = True) -> list[FieldError]:
    """``ValidateDefaults``: every default is pruned, valid metadata and valid against its
    own schema (errors at ``<path>...default``)."""
    return _defaults(path, _as_root(props), inside_meta=False, require_pruned=require_pruned)


def _defaults(path: str, s: Props, inside_meta: bool, require_pruned: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if s.x_embedded_resource:
        inside_meta = False
    if s.has_default and not inside_meta:
        where = child(path, "default")
        value = s.default
        if require_pruned:
            pruned = copy.deepcopy(value)
            _prune(pruned, s, _Tracker(False))
            if pruned != value:
                errors.append(invalid(where, value, "must not have unknown fields"))
        candidate = copy.deepcopy(value)
        coerced = coerce_embedded(candidate, s, where, root=s.x_embedded_resource)
        if coerced is not None:
            errors.append(coerced)
        elif meta_errors := validate_embedded(value, s, where, root=s.x_embedded_resource):
            errors.extend(meta_errors)
        else:
            errors.extend(validate_value(s, value, where))
    if s.items is not None:
        errors.extend(_defaults(child(path, "items"), s.items, inside_meta, require_pruned))
    for name, sub in (s.properties or {}).items():
        sub_inside = inside_meta or (s.x_embedded_resource and name in _META_FIELDS)
        errors.extend(
            _defaults(key(child(path, "properties"), name), sub, sub_inside, require_pruned)
        )
    return errors
