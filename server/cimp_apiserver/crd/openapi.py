"""The OpenAPI schemas of a custom resource, as apiextensions-apiserver's builder makes them.

kube's ``controller/openapi/builder`` turns a version's structural schema into the kind's
schema (``ToKubeOpenAPI``): ``x-kubernetes-int-or-string`` unfolded into its ``anyOf``,
``metadata`` replaced by a reference to ``ObjectMeta``, ``apiVersion`` and ``kind`` taken from
``TypeMeta``, embedded resources given the same three properties (and required ``kind`` and
``apiVersion``), the group/version/kind and the selectable fields as extensions. Its list kind
is made from the names. For ``/openapi/v2`` the schema is first converted by
``ToStructuralOpenAPIV2`` (no ``allOf``/``anyOf``/``oneOf``/``not``, nullable values lose
their type, preserve-unknown-fields values their type and properties, a root that preserves
unknown fields becomes a bare object) and every default is removed, as kube prunes defaults
before merging CRD documents into the static one.

The documents these schemas go into (paths, components, v2 merging) are ``openapi.py``'s.
"""

from __future__ import annotations

import copy
from typing import Any

from .goformat import normalize_numbers
from .model import Definition
from .props import ABSENT, Props

__all__ = ["kind_schema", "list_schema", "model_name"]

Obj = dict[str, Any]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_API_VERSION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND = (
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_EMBEDDED_API_VERSION = (
    "apiVersion defines the versioned schema of this representation of an object. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_EMBEDDED_KIND = (
    "kind is a string value representing the type of this object. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_OBJECT_META = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_META = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def model_name(group: str, version: str, kind: str) -> str:
    """``gvkToModelName``: the group reversed (``com.example.v1.Widget``)."""
    return f"{'.'.join(reversed(group.split('.')))}.{version}.{kind}"


def _ref(name: str, v2: bool) -> str:
    return f"#/definitions/{name}" if v2 else f"#/components/schemas/{name}"


def _described_ref(name: str, description: str, v2: bool) -> Obj:
    # builder3 wraps a reference with siblings in allOf; swagger 2.0 keeps them side by side.
    if v2:
        return {"$ref": _ref(name, True), "description": description}
    return {"allOf": [{"$ref": _ref(name, False)}], "description": description}


# --------------------------------------------------------------------------- the structural form
#
# A structural schema is kept as a dict of the kube-openapi ``spec.Schema`` JSON it marshals to
# (omitempty), built from apiextensions' internal JSONSchemaProps as ``NewStructural`` reads it.


def _number(value: float) -> Any:
    return normalize_numbers(value)


def _value(value: Any) -> Any:
    return normalize_numbers(copy.deepcopy(value))


def _common(p: Props, out: Obj) -> None:
    """Generic, Extensions, ValueValidation (with nested clauses) and ValidationExtensions."""
    if p.type:
        out["type"] = p.type
    if p.nullable:
        out["nullable"] = True
    if p.description:
        out["description"] = p.description
    if p.title:
        out["title"] = p.title
    if p.has_default and p.default is not None:
        out["default"] = _value(p.default)
    if p.external_docs is not None:
        docs = {"description": p.external_docs[0], "url": p.external_docs[1]}
        out["externalDocs"] = {k: v for k, v in docs.items() if v}
    if p.example is not ABSENT and p.example is not None:
        out["example"] = _value(p.example)
    if p.x_preserve_unknown_fields:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if p.x_embedded_resource:
        out["x-kubernetes-embedded-resource"] = True
    if p.x_int_or_string:
        out["x-kubernetes-int-or-string"] = True
    if p.x_list_map_keys:
        out["x-kubernetes-list-map-keys"] = list(p.x_list_map_keys)
    if p.x_list_type is not None:
        out["x-kubernetes-list-type"] = p.x_list_type
    if p.x_map_type is not None:
        out["x-kubernetes-map-type"] = p.x_map_type
    if p.format:
        out["format"] = p.format
    for key, number in (("maximum", p.maximum), ("minimum", p.minimum)):
        if number is not None:
            out[key] = _number(number)
    if p.exclusive_maximum:
        out["exclusiveMaximum"] = True
    if p.exclusive_minimum:
        out["exclusiveMinimum"] = True
    for key, count in (
        ("maxLength", p.max_length),
        ("minLength", p.min_length),
        ("maxItems", p.max_items),
        ("minItems", p.min_items),
        ("maxProperties", p.max_properties),
        ("minProperties", p.min_properties),
    ):
        if count is not None:
            out[key] = count
    if p.pattern:
        out["pattern"] = p.pattern
    if p.unique_items:
        out["uniqueItems"] = True
    if p.multiple_of is not None:
        out["multipleOf"] = _number(p.multiple_of)
    if p.enum:
        out["enum"] = [_value(e) for e in p.enum]
    if p.required:
        out["required"] = list(p.required)
    for key, clauses in (("allOf", p.all_of), ("anyOf", p.any_of), ("oneOf", p.one_of)):
        if clauses:
            out[key] = [_nested(c) for c in clauses]
    if p.not_ is not None:
        out["not"] = _nested(p.not_)
    if p.x_validations:
        out["x-kubernetes-validations"] = [_rule(r) for r in p.x_validations]


def _rule(rule: Any) -> Obj:
    out: Obj = {"rule": rule.rule}
    if rule.message:
        out["message"] = rule.message
    if rule.message_expression:
        out["messageExpression"] = rule.message_expression
    if rule.reason:
        out["reason"] = rule.reason
    if rule.field_path:
        out["fieldPath"] = rule.field_path
    if rule.optional_old_self is not None:
        out["optionalOldSelf"] = rule.optional_old_self
    return out


def _nested(p: Props) -> Obj:
    """A ``NestedValueValidation`` (an allOf/anyOf/oneOf/not clause): no additionalProperties."""
    out: Obj = {}
    _common(p, out)
    if p.items is not None:
        out["items"] = _nested(p.items)
    if p.properties:
        out["properties"] = {k: _nested(v) for k, v in p.properties.items()}
    return out


def _structural(p: Props) -> Obj:
    out: Obj = {}
    _common(p, out)
    if p.items is not None:
        out["items"] = _structural(p.items)
    if p.properties:
        out["properties"] = {k: _structural(v) for k, v in p.properties.items()}
    if p.additional_properties is not None:
        allows, schema = p.additional_properties
        out["additionalProperties"] = _structural(schema) if schema is not None else allows
    return out


def _structural_children(s: Obj) -> list[Obj]:
    children = list(s.get("properties", {}).values())
    if isinstance(s.get("items"), dict):
        children.append(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        children.append(s["additionalProperties"])
    return children


_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def _unfold(s: Obj) -> None:
    """``Structural.Unfold``: int-or-string values get kube's ``anyOf`` of integer and string."""
    if s.get("x-kubernetes-int-or-string"):
        any_of = s.get("anyOf")
        all_of = s.get("allOf") or []
        plain = any_of == _INT_OR_STRING
        first = bool(all_of) and all_of[0] == {"anyOf": _INT_OR_STRING}
        if not plain and not first:
            if any_of is None:
                s["anyOf"] = copy.deepcopy(_INT_OR_STRING)
            else:
                s["allOf"] = [{"anyOf": copy.deepcopy(_INT_OR_STRING)}, *all_of]
    for child in _structural_children(s):
        _unfold(child)


def _to_v2(s: Obj) -> None:
    """``ToStructuralOpenAPIV2`` (parents before children, as kube's visitor goes)."""
    for key in ("allOf", "oneOf", "anyOf", "not"):
        s.pop(key, None)
    if s.get("nullable"):
        for key in ("type", "nullable", "items", "properties"):
            s.pop(key, None)
    if s.get("x-kubernetes-preserve-unknown-fields"):
        s.pop("items", None)
        s.pop("properties", None)
    if "items" not in s and s.get("type") == "array":
        del s["type"]
    if s.get("x-kubernetes-preserve-unknown-fields") and s.get("type") == "object":
        del s["type"]
    properties = s.get("properties", {})
    if "required" in s:
        kept = [f for f in s["required"] if not properties.get(f, {}).get("nullable")]
        extra = s.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("nullable"):
            kept = []
        if kept:
            s["required"] = kept
        else:
            del s["required"]
    for child in _structural_children(s):
        _to_v2(child)


def _add_embedded(s: Obj, v2: bool) -> None:
    """``addEmbeddedProperties``: children first, then this schema."""
    for child in _structural_children(s):
        _add_embedded(child, v2)
    if v2 and s.get("x-kubernetes-preserve-unknown-fields"):
        return
    if s.get("x-kubernetes-embedded-resource"):
        properties = s.setdefault("properties", {})
        properties["apiVersion"] = {"description": _EMBEDDED_API_VERSION, "type": "string"}
        properties["kind"] = {"description": _EMBEDDED_KIND, "type": "string"}
        properties["metadata"] = _described_ref(f"{_META}.ObjectMeta", _OBJECT_META, v2)
        required = s.setdefault("required", [])
        for name in ("kind", "apiVersion"):
            if name not in required:
                required.append(name)


def _prune_defaults(s: Any) -> None:
    """kube-openapi's ``PruneDefaults`` over a schema (not over properties named default)."""
    if not isinstance(s, dict):
        return
    s.pop("default", None)
    for key in ("items", "additionalProperties", "not"):
        _prune_defaults(s.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for clause in s.get(key, ()):
            _prune_defaults(clause)
    for child in s.get("properties", {}).values():
        _prune_defaults(child)


# --------------------------------------------------------------------------- the kind and list


def _gvk(group: str, version: str, kind: str) -> list[Obj]:
    return [{"group": group, "kind": kind, "version": version}]


def _selectable(crd: Definition, version: str) -> list[Obj] | None:
    v = crd.version(version)
    if v is None or not v.selectable_fields:
        return None
    return [{"fieldPath": path.removeprefix(".")} for path in v.selectable_fields]


def _type_meta(properties: Obj) -> None:
    properties["apiVersion"] = {"description": _API_VERSION, "type": "string"}
    properties["kind"] = {"description": _KIND, "type": "string"}


def kind_schema(crd: Definition, version: str, v2: bool) -> Obj:
    """The kind's schema in the v3 (``v2=False``) or swagger 2.0 form of kube's builder."""
    v = crd.version(version)
    schema = v.schema if v is not None else None
    root_preserves = schema is not None and bool(schema.x_preserve_unknown_fields)
    out: Obj
    if schema is None or (v2 and (root_preserves or bool(crd.preserve_unknown_fields))):
        out = {"type": "object"}
    else:
        out = _structural(schema)
        _unfold(out)
        if v2:
            _to_v2(out)
        properties = out.setdefault("properties", {})
        properties["metadata"] = _described_ref(f"{_META}.ObjectMeta", _OBJECT_META, v2)
        _type_meta(properties)
        _add_embedded(out, v2)
    out["x-kubernetes-group-version-kind"] = _gvk(crd.group, version, crd.names.kind)
    if (selectable := _selectable(crd, version)) is not None:
        out["x-kubernetes-selectable-fields"] = selectable
    if v2:
        _prune_defaults(out)
    return out


def list_schema(crd: Definition, version: str, v2: bool) -> Obj:
    """The list kind's schema (``buildListSchema``)."""
    names = crd.names
    item = model_name(crd.group, version, names.kind)
    out: Obj = {
        "description": f"{names.list_kind} is a list of {names.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "description": (
                    f"List of {names.plural}. More info: https://git.k8s.io/community/"
                    "contributors/devel/sig-architecture/api-conventions.md"
                ),
                "type": "array",
                "items": {"$ref": _ref(item, v2)},
            },
            "metadata": _described_ref(f"{_META}.ListMeta", _LIST_META, v2),
        },
    }
    _type_meta(out["properties"])
    out["x-kubernetes-group-version-kind"] = _gvk(crd.group, version, names.list_kind)
    if (selectable := _selectable(crd, version)) is not None:
        out["x-kubernetes-selectable-fields"] = selectable
    return out
