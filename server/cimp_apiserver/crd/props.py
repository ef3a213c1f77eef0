"""``JSONSchemaProps``: a CRD's OpenAPI v3 schema, read from its ``apiextensions.k8s.io/v1``
JSON into the shape of apiextensions' internal type.

Validation of the CRD, the structural schema, pruning, defaulting and the validation of custom
resources all walk this one tree. :meth:`Props.go_json` prints it as Go's ``json.Marshal``
prints the internal struct (Go field names, every field), which some kube messages embed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .goformat import GoJSON, go_json

__all__ = ["ABSENT", "Props", "Rule", "parse_props"]


class _Absent:
    """A ``default``/``example`` that is not set (``null`` counts as not set)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass
class Rule:
    """One ``x-kubernetes-validations`` entry."""

    rule: str = ""
    message: str = ""
    message_expression: str = ""
    reason: str | None = None
    field_path: str = ""
    optional_old_self: bool | None = None

    def go_fields(self) -> dict[str, Any]:
        return {
            "Rule": self.rule,
            "Message": self.message,
            "MessageExpression": self.message_expression,
            "Reason": self.reason,
            "FieldPath": self.field_path,
            "OptionalOldSelf": self.optional_old_self,
        }


@dataclass
class Props(GoJSON):
    """apiextensions' internal ``JSONSchemaProps`` (``None``: unset pointer or empty)."""

    id: str = ""
    schema: str = ""
    ref: str | None = None
    description: str = ""
    type: str = ""
    nullable: bool = False
    format: str = ""
    title: str = ""
    default: Any = ABSENT
    maximum: float | None = None
    exclusive_maximum: bool = False
    minimum: float | None = None
    exclusive_minimum: bool = False
    max_length: int | None = None
    min_length: int | None = None
    pattern: str = ""
    max_items: int | None = None
    min_items: int | None = None
    unique_items: bool = False
    multiple_of: float | None = None
    enum: list[Any] | None = None
    max_properties: int | None = None
    min_properties: int | None = None
    required: list[str] | None = None
    # ``items``: a schema, or (unsupported) an array of schemas.
    items: Props | None = None
    items_array: list[Props] | None = None
    all_of: list[Props] | None = None
    one_of: list[Props] | None = None
    any_of: list[Props] | None = None
    not_: Props | None = None
    properties: dict[str, Props] | None = None
    # ``additionalProperties``: None (unset), or (allows, schema).
    additional_properties: tuple[bool, Props | None] | None = None
    pattern_properties: dict[str, Props] | None = None
    dependencies: dict[str, Any] | None = None
    additional_items: tuple[bool, Props | None] | None = None
    definitions: dict[str, Props] | None = None
    external_docs: tuple[str, str] | None = None
    example: Any = ABSENT
    x_preserve_unknown_fields: bool | None = None
    x_embedded_resource: bool = False
    x_int_or_string: bool = False
    x_list_map_keys: list[str] | None = None
    x_list_type: str | None = None
    x_map_type: str | None = None
    x_validations: list[Rule] | None = None
    # The v1 JSON this was read from (for OpenAPI and defaults round trips).
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_default(self) -> bool:
        return self.default is not ABSENT

    def children(self) -> Iterator[Props]:
        """Every directly nested schema (as ``SchemaHas`` walks them)."""
        if self.items is not None:
            yield self.items
        yield from self.items_array or ()
        yield from self.all_of or ()
        yield from self.any_of or ()
        yield from self.one_of or ()
        if self.not_ is not None:
            yield self.not_
        yield from (self.properties or {}).values()
        if self.additional_properties is not None and self.additional_properties[1] is not None:
            yield self.additional_properties[1]
        yield from (self.pattern_properties or {}).values()
        if self.additional_items is not None and self.additional_items[1] is not None:
            yield self.additional_items[1]
        yield from (self.definitions or {}).values()

    def walk(self) -> Iterator[Props]:
        """This schema and every schema nested in it, depth first."""
        yield self
        for sub in self.children():
            yield from sub.walk()

    # ------------------------------------------------------------------ Go's json.Marshal

    def go_fields(self) -> dict[str, Any]:
        def or_bool(value: tuple[bool, Props | None] | None) -> Any:
            if value is None:
                return None
            return _Struct({"Allows": value[0], "Schema": value[1]})

        items: Any = None
        if self.items is not None or self.items_array is not None:
            items = _Struct({"Schema": self.items, "JSONSchemas": self.items_array})
        docs = None
        if self.external_docs is not None:
            docs = _Struct({"Description": self.external_docs[0], "URL": self.external_docs[1]})
        rules = None
        if self.x_validations is not None:
            rules = [_Struct(r.go_fields()) for r in self.x_validations]
        return {
            "ID": self.id,
            "Schema": self.schema,
            "Ref": self.ref,
            "Description": self.description,
            "Type": self.type,
            "Nullable": self.nullable,
            "Format": self.format,
            "Title": self.title,
            "Default": None if self.default is ABSENT else self.default,
            "Maximum": self.maximum,
            "ExclusiveMaximum": self.exclusive_maximum,
            "Minimum": self.minimum,
            "ExclusiveMinimum": self.exclusive_minimum,
            "MaxLength": self.max_length,
            "MinLength": self.min_length,
            "Pattern": self.pattern,
            "MaxItems": self.max_items,
            "MinItems": self.min_items,
            "UniqueItems": self.unique_items,
            "MultipleOf": self.multiple_of,
            "Enum": self.enum,
            "MaxProperties": self.max_properties,
            "MinProperties": self.min_properties,
            "Required": self.required,
            "Items": items,
            "AllOf": self.all_of,
            "OneOf": self.one_of,
            "AnyOf": self.any_of,
            "Not": self.not_,
            "Properties": self.properties,
            "AdditionalProperties": or_bool(self.additional_properties),
            "PatternProperties": self.pattern_properties,
            "Dependencies": self.dependencies,
            "AdditionalItems": or_bool(self.additional_items),
            "Definitions": self.definitions,
            "ExternalDocs": docs,
            "Example": None if self.example is ABSENT else self.example,
            "XPreserveUnknownFields": self.x_preserve_unknown_fields,
            "XEmbeddedResource": self.x_embedded_resource,
            "XIntOrString": self.x_int_or_string,
            "XListMapKeys": self.x_list_map_keys,
            "XListType": self.x_list_type,
            "XMapType": self.x_map_type,
            "XValidations": rules,
        }

    def go_json(self) -> str:
        return _Struct(self.go_fields()).go_json()


class _Struct(GoJSON):
    """A Go struct: fields in declaration order (maps inside are sorted by ``go_json``)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def go_json(self) -> str:
        return "{" + ",".join(f'"{k}":{go_json(v)}' for k, v in self.fields.items()) + "}"


def go_struct(fields: dict[str, Any]) -> GoJSON:
    """A Go struct value for :func:`.goformat.go_json` (fields printed in this order)."""
    return _Struct(fields)


# --------------------------------------------------------------------------- reading v1


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _bool(value: Any) -> bool:
    return value is True


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, str)]


def _schemas(value: Any) -> list[Props] | None:
    if not isinstance(value, list):
        return None
    return [parse_props(v) for v in value if isinstance(v, dict)]


def _schema_map(value: Any) -> dict[str, Props] | None:
    if not isinstance(value, dict):
        return None
    return {k: parse_props(v) for k, v in value.items() if isinstance(v, dict)}


def _or_bool(value: Any) -> tuple[bool, Props | None] | None:
    if isinstance(value, bool):
        return (value, None)
    if isinstance(value, dict):
        return (True, parse_props(value))
    return None


def _rules(value: Any) -> list[Rule] | None:
    if not isinstance(value, list):
        return None
    rules = []
    for item in value:
        if not isinstance(item, dict):
            continue
        old_self = item.get("optionalOldSelf")
        rules.append(
            Rule(
                rule=_str(item.get("rule")),
                message=_str(item.get("message")),
                message_expression=_str(item.get("messageExpression")),
                reason=item["reason"] if isinstance(item.get("reason"), str) else None,
                field_path=_str(item.get("fieldPath")),
                optional_old_self=old_self if isinstance(old_self, bool) else None,
            )
        )
    return rules


def parse_props(raw: dict[str, Any]) -> Props:
    """Read one v1 schema object (already type-checked by the decoder) into :class:`Props`."""
    props = Props(raw=raw)
    props.id = _str(raw.get("id"))
    props.schema = _str(raw.get("$schema"))
    props.ref = raw["$ref"] if isinstance(raw.get("$ref"), str) else None
    props.description = _str(raw.get("description"))
    props.type = _str(raw.get("type"))
    props.nullable = _bool(raw.get("nullable"))
    props.format = _str(raw.get("format"))
    props.title = _str(raw.get("title"))
    if raw.get("default") is not None:
        props.default = raw["default"]
    props.maximum = _num(raw.get("maximum"))
    props.exclusive_maximum = _bool(raw.get("exclusiveMaximum"))
    props.minimum = _num(raw.get("minimum"))
    props.exclusive_minimum = _bool(raw.get("exclusiveMinimum"))
    props.max_length = _int(raw.get("maxLength"))
    props.min_length = _int(raw.get("minLength"))
    props.pattern = _str(raw.get("pattern"))
    props.max_items = _int(raw.get("maxItems"))
    props.min_items = _int(raw.get("minItems"))
    props.unique_items = _bool(raw.get("uniqueItems"))
    props.multiple_of = _num(raw.get("multipleOf"))
    if isinstance(raw.get("enum"), list):
        props.enum = list(raw["enum"])
    props.max_properties = _int(raw.get("maxProperties"))
    props.min_properties = _int(raw.get("minProperties"))
    props.required = _strings(raw.get("required"))
    items = raw.get("items")
    if isinstance(items, dict):
        props.items = parse_props(items)
    elif isinstance(items, list):
        props.items_array = _schemas(items)
    props.all_of = _schemas(raw.get("allOf"))
    props.one_of = _schemas(raw.get("oneOf"))
    props.any_of = _schemas(raw.get("anyOf"))
    if isinstance(raw.get("not"), dict):
        props.not_ = parse_props(raw["not"])
    props.properties = _schema_map(raw.get("properties"))
    props.additional_properties = _or_bool(raw.get("additionalProperties"))
    props.pattern_properties = _schema_map(raw.get("patternProperties"))
    if isinstance(raw.get("dependencies"), dict):
        props.dependencies = dict(raw["dependencies"])
    props.additional_items = _or_bool(raw.get("additionalItems"))
    props.definitions = _schema_map(raw.get("definitions"))
    docs = raw.get("externalDocs")
    if isinstance(docs, dict):
        props.external_docs = (_str(docs.get("description")), _str(docs.get("url")))
    if raw.get("example") is not None:
        props.example = raw["example"]
    preserve = raw.get("x-kubernetes-preserve-unknown-fields")
    props.x_preserve_unknown_fields = preserve if isinstance(preserve, bool) else None
    props.x_embedded_resource = _bool(raw.get("x-kubernetes-embedded-resource"))
    props.x_int_or_string = _bool(raw.get("x-kubernetes-int-or-string"))
    props.x_list_map_keys = _strings(raw.get("x-kubernetes-list-map-keys"))
    list_type = raw.get("x-kubernetes-list-type")
    props.x_list_type = list_type if isinstance(list_type, str) else None
    map_type = raw.get("x-kubernetes-map-type")
    props.x_map_type = map_type if isinstance(map_type, str) else None
    props.x_validations = _rules(raw.get("x-kubernetes-validations"))
    return props
