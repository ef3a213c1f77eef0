"""Validation of a CustomResourceDefinition, as apiextensions-apiserver's.

Checks and messages follow ``ValidateCustomResourceDefinition`` (and its update variant) over
the internal form of the object (:meth:`.model.Definition.internal`): object metadata, group,
scope, versions (exactly one storage version), names, the structural schema and its defaults,
the OpenAPI restrictions, subresources, printer columns, selectable fields, conversion, the
API approval of ``*.k8s.io`` groups and ``preserveUnknownFields``. CEL rules
(``x-kubernetes-validations``) are checked for shape only; they are not compiled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .errors import (
    FieldError,
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    not_supported,
    required,
    too_many,
)
from .meta import dns1035_label_errors, dns1123_subdomain_errors, object_meta_errors, subdomain_name
from .model import Column, Definition, Internal, Names
from .props import Props
from .structural import new_structural_error, validate_defaults, validate_structural

__all__ = ["validate_create", "validate_status_update", "validate_update"]

_OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_COLUMN_TYPES = "boolean,date,integer,number,string"
_COLUMN_FORMATS = "byte,date,date-time,double,float,int32,int64,password"
_ROOT_FIELDS_WITH_STATUS = (
    "Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength "
    "MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties "
    "ExternalDocs Example XPreserveUnknownFields XValidations"
)
_ALLOWED_AT_ROOT = frozenset(_ROOT_FIELDS_WITH_STATUS.split())
_APPROVAL = "api-approved.kubernetes.io"
_REVIEW_VERSIONS = ("v1", "v1beta1")
_MAX_SELECTABLE_FIELDS = 8
_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")


@dataclass(frozen=True)
class _Options:
    require_structural: bool = True
    require_immutable_names: bool = False


# --------------------------------------------------------------------------- entry points


def validate_create(crd: Definition) -> list[FieldError]:
    """``ValidateCustomResourceDefinition`` (after ``PrepareForCreate`` reset the status)."""
    errors = _object_meta(crd)
    errors.extend(_spec(crd, crd.internal(), _Options(), "spec"))
    errors.extend(_names(crd.accepted, "status.acceptedNames"))
    errors.extend(_stored_versions(crd))
    errors.extend(_approval(crd, None))
    errors.extend(_preserve_unknown_fields(crd, None))
    return errors


def validate_update(crd: Definition, old: Definition) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionUpdate``."""
    opts = _Options(require_immutable_names=old.condition_true("Established"))
    errors = _object_meta_update(crd, old)
    errors.extend(_spec(crd, crd.internal(), opts, "spec"))
    if opts.require_immutable_names:
        errors.extend(_immutable(crd.scope, old.scope, "spec.scope"))
        errors.extend(_immutable(crd.names.kind, old.names.kind, "spec.names.kind"))
    errors.extend(_immutable(crd.group, old.group, "spec.group"))
    errors.extend(_immutable(crd.names.plural, old.names.plural, "spec.names.plural"))
    errors.extend(_names(crd.accepted, "status.acceptedNames"))
    errors.extend(_stored_versions(crd))
    errors.extend(_approval(crd, old))
    errors.extend(_preserve_unknown_fields(crd, old))
    return errors


def validate_status_update(crd: Definition, old: Definition) -> list[FieldError]:
    """``ValidateUpdateCustomResourceDefinitionStatus``."""
    errors = _object_meta_update(crd, old)
    errors.extend(_names(crd.accepted, "status.acceptedNames"))
    return errors


def _immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    return [] if new == old else [invalid(path, new, "field is immutable")]


# --------------------------------------------------------------------------- metadata


def _object_meta(crd: Definition) -> list[FieldError]:
    wanted = f"{crd.names.plural}.{crd.group}"

    def name_rule(name: str, prefix: bool) -> list[str]:
        errors = subdomain_name(name, prefix)
        if name != wanted:
            errors.append('must be spec.names.plural+"."+spec.group')
        return errors

    meta = crd.raw.get("metadata")
    return object_meta_errors(meta if isinstance(meta, dict) else {}, "metadata", name_rule, False)


def _object_meta_update(crd: Definition, old: Definition) -> list[FieldError]:
    meta = crd.raw.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    errors = object_meta_errors(meta, "metadata", lambda _name, _prefix: [], False)
    return [e for e in errors if not e.field.startswith("metadata.name")]


# --------------------------------------------------------------------------- spec


def _spec_has(crd: Definition, predicate: Any) -> bool:
    return any(v.schema is not None and predicate(v.schema) for v in crd.versions)


def _has_defaults(props: Props) -> bool:
    return any(p.has_default for p in props.walk())


def _has_rules(props: Props) -> bool:
    return any(p.x_validations for p in props.walk())


def _has_extensions(props: Props) -> bool:
    return any(
        p.x_embedded_resource
        or p.x_preserve_unknown_fields is not None
        or p.x_int_or_string
        or bool(p.x_list_map_keys)
        or p.x_list_type is not None
        or bool(p.x_validations)
        for p in props.walk()
    )


def _spec(crd: Definition, spec: Internal, opts: _Options, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    group = crd.group
    if not group:
        errors.append(required(child(path, "group")))
    elif messages := dns1123_subdomain_errors(group):
        errors.append(invalid(child(path, "group"), group, ",".join(messages)))
    elif len(group.split(".")) < 2:
        errors.append(
            invalid(child(path, "group"), group, "should be a domain with at least one dot")
        )
    if not crd.scope:
        errors.append(required(child(path, "scope")))
    elif crd.scope not in ("Cluster", "Namespaced"):
        errors.append(not_supported(child(path, "scope"), crd.scope, ["Cluster", "Namespaced"]))
    preserve = bool(crd.preserve_unknown_fields)
    if not spec.has_validation or spec.validation is None:
        for i, version in enumerate(spec.versions):
            if version.schema is None:
                errors.append(
                    required(child(index(child(path, "versions"), i), "schema", "openAPIV3Schema"))
                )
    if _spec_has(crd, _has_defaults) and preserve:
        errors.append(
            invalid(
                child(path, "preserveUnknownFields"),
                True,
                "must be false in order to use defaults in the schema",
            )
        )
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(spec.versions):
        v = version.version
        where = index(child(path, "versions"), i)
        if v.storage:
            storage += 1
        if v.name in seen:
            unique = False
        seen.add(v.name)
        if messages := dns1035_label_errors(v.name):
            errors.append(invalid(child(where, "name"), v.name, ",".join(messages)))
        subresources = (
            version.subresources if version.subresources is not None else spec.subresources
        )
        status_enabled = subresources is not None and isinstance(subresources.get("status"), dict)
        errors.extend(_version(crd, version, where, status_enabled, opts))
    versions_value = list(spec.versions)
    if not unique:
        errors.append(
            invalid(child(path, "versions"), versions_value, "must contain unique version names")
        )
    if storage != 1:
        errors.append(
            invalid(
                child(path, "versions"),
                versions_value,
                "must have exactly one version marked as storage version",
            )
        )
    if spec.version and (messages := dns1035_label_errors(spec.version)):
        errors.append(invalid(child(path, "version"), spec.version, ",".join(messages)))
    names = crd.names
    for field, value in (
        ("plural", names.plural),
        ("singular", names.singular),
        ("kind", names.kind),
        ("listKind", names.list_kind),
    ):
        if not value:
            errors.append(required(child(path, "names", field)))
    errors.extend(_names(names, child(path, "names")))
    any_status = any(
        s is not None and isinstance(s.get("status"), dict)
        for s in [spec.subresources, *(v.subresources for v in spec.versions)]
    )
    if spec.has_validation:
        errors.extend(
            _validation(crd, spec.validation, any_status, opts, child(path, "validation"))
        )
    errors.extend(_subresources(spec.subresources, child(path, "subresources")))
    for i, column in enumerate(spec.columns or ()):
        errors.extend(_column(column, index(child(path, "additionalPrinterColumns"), i)))
    if spec.selectable_fields:
        if not spec.has_validation:
            errors.append(
                invalid(
                    child(path, "selectableFields"),
                    "",
                    "may only be set when validations.schema is included",
                )
            )
        else:
            errors.extend(
                _selectable_fields(
                    spec.selectable_fields, spec.validation, child(path, "selectableFields")
                )
            )
    errors.extend(_conversion(crd.conversion, child(path, "conversion")))
    return errors


def _version(
    crd: Definition, version: Any, path: str, status_enabled: bool, opts: _Options
) -> list[FieldError]:
    errors: list[FieldError] = []
    v = version.version
    for message in _deprecation_warning_errors(v.deprecated, v.deprecation_warning):
        errors.append(invalid(child(path, "deprecationWarning"), v.deprecation_warning, message))
    if version.has_schema:
        errors.extend(_validation(crd, version.schema, status_enabled, opts, child(path, "schema")))
    errors.extend(_subresources(version.subresources, child(path, "subresources")))
    for i, column in enumerate(version.columns or ()):
        errors.extend(_column(column, index(child(path, "additionalPrinterColumns"), i)))
    if version.selectable_fields:
        if version.schema is None:
            errors.append(
                invalid(
                    child(path, "selectableFields"),
                    "",
                    "may only be set when `version.schema.openAPIV3Schema` is not included",
                )
            )
        else:
            errors.extend(
                _selectable_fields(
                    version.selectable_fields, version.schema, child(path, "selectableFields")
                )
            )
    return errors


def _deprecation_warning_errors(deprecated: bool, warning: str | None) -> list[str]:
    if not deprecated and warning is not None:
        return ["can only be set for deprecated versions"]
    if warning is None:
        return []
    errors = []
    if len(warning.encode()) > 256:
        errors.append("must be <= 256 characters long")
    if not warning:
        errors.append("must not be an empty string")
    for i, char in enumerate(warning):
        if not char.isprintable() and char != " ":
            errors.append(
                "must only contain printable UTF-8 characters; non-printable character found at "
                f"index {len(warning[:i].encode())}"
            )
            break
    return errors


def _names(names: Names, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for field, value in (("plural", names.plural), ("singular", names.singular)):
        if value and (messages := dns1035_label_errors(value)):
            errors.append(invalid(child(path, field), value, ",".join(messages)))
    for field, value in (("kind", names.kind), ("listKind", names.list_kind)):
        if value and (messages := dns1035_label_errors(value.lower())):
            errors.append(
                invalid(
                    child(path, field),
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(messages),
                )
            )
    for i, short in enumerate(names.short_names):
        if messages := dns1035_label_errors(short):
            errors.append(invalid(index(child(path, "shortNames"), i), short, ",".join(messages)))
    if names.kind and names.kind == names.list_kind:
        errors.append(
            invalid(
                child(path, "listKind"), names.list_kind, "kind and listKind may not be the same"
            )
        )
    for i, category in enumerate(names.categories):
        if messages := dns1035_label_errors(category):
            errors.append(
                invalid(index(child(path, "categories"), i), category, ",".join(messages))
            )
    return errors


def _stored_versions(crd: Definition) -> list[FieldError]:
    path = "status.storedVersions"
    stored = crd.stored_versions
    if not stored:
        return [invalid(path, stored, "must have at least one stored version")]
    errors: list[FieldError] = []
    remaining = {name: i for i, name in enumerate(stored)}
    for version in crd.versions:
        if version.storage and version.name not in remaining:
            errors.append(invalid(path, stored, f"must have the storage version {version.name}"))
        remaining.pop(version.name, None)
    for name, i in remaining.items():
        errors.append(
            invalid(
                index(path, i),
                name,
                f"missing from spec.versions; {name} was previously a storage version, and must "
                f"remain in spec.versions until a storage migration ensures no data remains "
                f"persisted in {name} and removes {name} from status.storedVersions",
            )
        )
    return errors


def _approval(crd: Definition, old: Definition | None) -> list[FieldError]:
    group = crd.group
    protected = group in ("k8s.io", "kubernetes.io") or group.endswith(
        (".k8s.io", ".kubernetes.io")
    )
    if not protected:
        return []
    state, reason = _approval_state(crd.annotations)
    if old is not None and _approval_state(old.annotations)[0] == state:
        return []
    path = key("metadata.annotations", _APPROVAL)
    if state == "missing":
        return [required(path, reason)]
    if state == "invalid":
        return [invalid(path, crd.annotations.get(_APPROVAL, ""), reason)]
    return []


def _approval_state(annotations: dict[str, str]) -> tuple[str, str]:
    value = annotations.get(_APPROVAL, "")
    if not value:
        return (
            "missing",
            f'protected groups must have approval annotation "{_APPROVAL}", see '
            "https://github.com/kubernetes/enhancements/pull/1111",
        )
    if value.startswith("unapproved"):
        return "bypassed", ""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+", value):
        return "approved", ""
    return (
        "invalid",
        f'protected groups must have approval annotation "{_APPROVAL}" with either a URL or a '
        'reason starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111',
    )


def _preserve_unknown_fields(crd: Definition, old: Definition | None) -> list[FieldError]:
    if old is not None and old.preserve_unknown_fields:
        return []
    if crd.preserve_unknown_fields:
        return [
            invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        ]
    return []


# --------------------------------------------------------------------------- schemas


def _root_fields(props: Props) -> list[str]:
    """The Go field names of the non-zero fields of a root schema, in declaration order."""
    names = []
    for name, value in props.go_fields().items():
        if value in (None, "", False) or (isinstance(value, list) and not value):
            continue
        names.append(name)
    return names


def _validation(
    crd: Definition, schema: Props | None, status_enabled: bool, opts: _Options, path: str
) -> list[FieldError]:
    if schema is None:
        return []
    errors: list[FieldError] = []
    root = child(path, "openAPIV3Schema")
    if status_enabled:
        for name in _root_fields(schema):
            if name == "Type":
                if schema.type != "object":
                    errors.append(
                        invalid(
                            child(root, "type"),
                            schema.type,
                            'only "object" is allowed as the type at the root of the schema if '
                            "the status subresource is enabled",
                        )
                    )
                    break
                continue
            if name not in _ALLOWED_AT_ROOT:
                errors.append(
                    invalid(
                        root,
                        schema,
                        f"only [{_ROOT_FIELDS_WITH_STATUS}] fields are allowed at the root of the "
                        "schema if the status subresource is enabled",
                    )
                )
                break
    if schema.nullable:
        errors.append(forbidden(child(root, "nullable"), "nullable cannot be true at the root"))
    init_errors: list[FieldError] = []
    rules_compile = False
    if opts.require_structural:
        error = new_structural_error(schema)
        if error is not None:
            init_errors.append(invalid(root, "", error))
        elif structural := validate_structural(root, schema):
            errors.extend(structural)
        elif defaults := validate_defaults(root, schema):
            errors.extend(defaults)
        else:
            rules_compile = True  # kube compiles the rules of a valid structural schema only
    schema_errors = _openapi(schema, root, _Context(), is_root=True)
    errors.extend(schema_errors)
    cost_errors: list[FieldError] = []
    if rules_compile and _has_rules(schema):
        from .cel_crd import rule_errors  # the CEL compiler loads only once a CRD has rules

        rule_found, cost_errors = rule_errors(schema, root, schema_errors)
        errors.extend(rule_found)
    if not errors and init_errors:
        errors.extend(init_errors)
    errors.extend(cost_errors)
    del crd
    return errors


@dataclass(frozen=True)
class _Context:
    """``specStandardValidatorV3``: where defaults are allowed and whether inside meta."""

    allow_defaults: bool = True
    disallow_reason: str = ""
    inside_meta: bool = False


def _openapi(schema: Props | None, path: str, ctx: _Context, is_root: bool) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionOpenAPISchema``."""
    if schema is None:
        return []
    errors = _standard(schema, path, ctx)
    if schema.unique_items:
        errors.append(
            forbidden(
                child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    if schema.additional_properties is not None:
        allows, extra = schema.additional_properties
        if schema.properties and (not allows or extra is not None):
            errors.append(
                forbidden(
                    child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        sub_ctx = ctx
        if ctx.inside_meta:
            sub_ctx = replace(
                ctx,
                allow_defaults=False,
                disallow_reason="inside additionalProperties applying to object metadata",
            )
        errors.extend(_openapi(extra, child(path, "additionalProperties"), sub_ctx, False))
    for name, sub in (schema.properties or {}).items():
        sub_ctx = ctx
        if (is_root or schema.x_embedded_resource) and name in ("metadata", "kind", "apiVersion"):
            sub_ctx = replace(sub_ctx, inside_meta=True)
            if is_root:
                sub_ctx = replace(
                    sub_ctx, allow_defaults=False, disallow_reason=f"in top-level {name}"
                )
        errors.extend(_openapi(sub, key(child(path, "properties"), name), sub_ctx, False))
    errors.extend(_openapi(schema.not_, child(path, "not"), ctx, False))
    for keyword, subs in (
        ("allOf", schema.all_of),
        ("oneOf", schema.one_of),
        ("anyOf", schema.any_of),
    ):
        for i, sub in enumerate(subs or ()):
            errors.extend(_openapi(sub, index(child(path, keyword), i), ctx, False))
    for name, sub in (schema.definitions or {}).items():
        errors.extend(_openapi(sub, key(child(path, "definitions"), name), ctx, False))
    if schema.items is not None:
        errors.extend(_openapi(schema.items, child(path, "items"), ctx, False))
    for i, sub in enumerate(schema.items_array or ()):
        errors.extend(_openapi(sub, index(child(path, "items"), i), ctx, False))
    if schema.x_preserve_unknown_fields is False:
        errors.append(
            invalid(
                child(path, "x-kubernetes-preserve-unknown-fields"),
                False,
                "must be true or undefined",
            )
        )
    errors.extend(_list_and_map_types(schema, path))
    errors.extend(_map_list_keys_map_set(schema, path))
    for i, rule in enumerate(schema.x_validations or ()):
        errors.extend(_rule(rule, index(child(path, "x-kubernetes-validations"), i), schema))
    return errors


def _standard(schema: Props, path: str, ctx: _Context) -> list[FieldError]:
    errors: list[FieldError] = []
    if schema.type and schema.type not in _OPENAPI_TYPES:
        errors.append(not_supported(child(path, "type"), schema.type, _OPENAPI_TYPES))
    if schema.has_default and not ctx.allow_defaults:
        detail = "must not be set" + (f" {ctx.disallow_reason}" if ctx.disallow_reason else "")
        errors.append(forbidden(child(path, "default"), detail))
    if schema.id:
        errors.append(forbidden(child(path, "id"), "id is not supported"))
    if schema.additional_items is not None:
        errors.append(forbidden(child(path, "additionalItems"), "additionalItems is not supported"))
    if schema.pattern_properties:
        errors.append(
            forbidden(child(path, "patternProperties"), "patternProperties is not supported")
        )
    if schema.definitions:
        errors.append(forbidden(child(path, "definitions"), "definitions is not supported"))
    if schema.dependencies is not None:
        errors.append(forbidden(child(path, "dependencies"), "dependencies is not supported"))
    if schema.ref is not None:
        errors.append(forbidden(child(path, "$ref"), "$ref is not supported"))
    if schema.type == "null":
        errors.append(
            forbidden(
                child(path, "type"), "type cannot be set to null, use nullable as an alternative"
            )
        )
    if schema.items_array:
        errors.append(
            forbidden(child(path, "items"), "items must be a schema object and not an array")
        )
    if ctx.inside_meta and schema.x_embedded_resource:
        errors.append(
            forbidden(
                child(path, "x-kubernetes-embedded-resource"),
                "must not be used inside of resource meta",
            )
        )
    return errors


def _list_and_map_types(schema: Props, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    map_type, list_type = schema.x_map_type, schema.x_list_type
    if map_type is not None and schema.type != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        if not schema.type:
            errors.append(required(child(path, "type"), detail))
        else:
            errors.append(invalid(child(path, "type"), schema.type, detail))
    if map_type is not None and map_type not in ("atomic", "granular"):
        errors.append(
            not_supported(child(path, "x-kubernetes-map-type"), map_type, ["atomic", "granular"])
        )
    items = schema.items
    if list_type is not None and schema.type != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        if not schema.type:
            errors.append(required(child(path, "type"), detail))
        else:
            errors.append(invalid(child(path, "type"), schema.type, detail))
    elif list_type == "set" and items is not None:
        detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
        if items.type == "array" and items.x_list_type not in (None, "atomic"):
            errors.append(
                invalid(child(path, "items", "x-kubernetes-list-type"), items.x_list_type, detail)
            )
        elif items.type == "object" and items.x_map_type != "atomic":
            errors.append(
                invalid(child(path, "items", "x-kubernetes-map-type"), items.x_list_type, detail)
            )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errors.append(
            not_supported(
                child(path, "x-kubernetes-list-type"), list_type, ["atomic", "set", "map"]
            )
        )
    keys = schema.x_list_map_keys
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errors.append(required(child(path, "x-kubernetes-list-type"), detail))
        elif list_type != "map":
            errors.append(invalid(child(path, "x-kubernetes-list-type"), list_type, detail))
    if list_type == "map":
        if not keys:
            errors.append(
                required(
                    child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
        if items is None and not schema.items_array:
            errors.append(
                required(
                    child(path, "items"), "must have a schema if x-kubernetes-list-type is map"
                )
            )
        if items is not None and items.type != "object":
            errors.append(
                invalid(
                    child(path, "items", "type"),
                    items.type,
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        if items is not None and items.type == "object":
            seen: set[str] = set()
            properties = items.properties or {}
            for name in keys or ():
                if name in properties:
                    if properties[name].type in ("array", "object"):
                        errors.append(
                            invalid(
                                child(key(child(path, "items", "properties"), name), "type"),
                                items.type,
                                "must be a scalar type if parent array's x-kubernetes-list-type "
                                "is map",
                            )
                        )
                else:
                    errors.append(
                        invalid(
                            child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "entries must all be names of item properties",
                        )
                    )
                if name in seen:
                    errors.append(
                        invalid(
                            child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "must not contain duplicate entries",
                        )
                    )
                seen.add(name)
    return errors


def _map_list_keys_map_set(schema: Props, path: str) -> list[FieldError]:
    items = schema.items
    if items is None or schema.x_list_type not in ("set", "map"):
        return []
    errors: list[FieldError] = []
    if items.nullable:
        errors.append(
            forbidden(
                child(path, "items", "nullable"),
                f"cannot be nullable when x-kubernetes-list-type is {schema.x_list_type}",
            )
        )
    if schema.x_list_type == "map":
        required_keys = set(items.required or ())
        for name in schema.x_list_map_keys or ():
            prop = (items.properties or {}).get(name)
            if prop is None:
                continue
            where = key(child(path, "items", "properties"), name)
            if name not in required_keys and not prop.has_default:
                errors.append(
                    required(
                        child(where, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a "
                        "default or be a required property",
                    )
                )
            if prop.nullable:
                errors.append(
                    forbidden(
                        child(where, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    )
                )
    return errors


def _rule(rule: Any, path: str, schema: Props) -> list[FieldError]:
    errors: list[FieldError] = []
    text, message = rule.rule.strip(), rule.message.strip()
    newline = re.compile(r"[\n\r]+")
    if not text:
        errors.append(required(child(path, "rule"), "rule is not specified"))
    elif rule.message and not message:
        errors.append(
            invalid(child(path, "message"), rule.message, "must be non-empty if specified")
        )
    elif newline.search(message):
        errors.append(invalid(child(path, "message"), rule.message, "must not contain line breaks"))
    elif newline.search(text) and not message:
        errors.append(
            required(
                child(path, "message"), "message must be specified if rule contains line breaks"
            )
        )
    if rule.message_expression and not rule.message_expression.strip():
        errors.append(
            required(
                child(path, "messageExpression"), "messageExpression must be non-empty if specified"
            )
        )
    if rule.reason is not None and rule.reason not in _REASONS:
        errors.append(not_supported(child(path, "reason"), rule.reason, list(_REASONS)))
    if rule.field_path and not rule.field_path.strip():
        errors.append(
            invalid(child(path, "fieldPath"), rule.field_path, "must be non-empty if specified")
        )
    if newline.search(rule.field_path):
        errors.append(
            invalid(child(path, "fieldPath"), rule.field_path, "must not contain line breaks")
        )
    if rule.field_path:
        from .cel_fieldpath import FieldPathError, field_path_steps

        try:
            field_path_steps(rule.field_path, schema)
        except FieldPathError:
            errors.append(
                invalid(child(path, "fieldPath"), rule.field_path, "must be a valid path")
            )
    return errors


# --------------------------------------------------------------------------- the rest


def _simple_json_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [invalid(path, value, "must not be empty")]
    if value[0] != ".":
        return [invalid(path, value, "must be a simple json path starting with .")]
    return []


def _subresources(subresources: dict[str, Any] | None, path: str) -> list[FieldError]:
    if subresources is None:
        return []
    scale = subresources.get("scale")
    if not isinstance(scale, dict):
        return []
    errors: list[FieldError] = []
    for field, prefix, where in (
        ("specReplicasPath", ".spec.", "should be a json path under .spec"),
        ("statusReplicasPath", ".status.", "should be a json path under .status"),
    ):
        value = scale.get(field) if isinstance(scale.get(field), str) else ""
        fpath = child(path, f"scale.{field}")
        if not value:
            errors.append(required(fpath))
        elif found := _simple_json_path(value, fpath):
            errors.extend(found)
        elif not value.startswith(prefix):
            errors.append(invalid(fpath, value, where))
    selector = scale.get("labelSelectorPath")
    if isinstance(selector, str) and selector:
        fpath = child(path, "scale.labelSelectorPath")
        if found := _simple_json_path(selector, fpath):
            errors.extend(found)
        elif not selector.startswith((".spec.", ".status.")):
            errors.append(
                invalid(fpath, selector, "should be a json path under either .spec or .status")
            )
    return errors


def _column(column: Column, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not column.name:
        errors.append(required(child(path, "name")))
    if not column.type:
        errors.append(required(child(path, "type"), f"must be one of {_COLUMN_TYPES}"))
    elif column.type not in _COLUMN_TYPES.split(","):
        errors.append(invalid(child(path, "type"), column.type, f"must be one of {_COLUMN_TYPES}"))
    if column.format and column.format not in _COLUMN_FORMATS.split(","):
        errors.append(
            invalid(child(path, "format"), column.format, f"must be one of {_COLUMN_FORMATS}")
        )
    if not column.json_path:
        errors.append(required(child(path, "JSONPath")))
    else:
        errors.extend(_simple_json_path(column.json_path, child(path, "JSONPath")))
    return errors


def _field_schema(schema: Props | None, json_path: str) -> tuple[str, Props | None, str | None]:
    """Resolve a selectable field's ``.a.b`` path: (root field, schema, error)."""
    if not json_path.startswith("."):
        return "", None, "must start with '.'"
    parts = json_path[1:].split(".")
    node = schema
    for part in parts:
        if not part or node is None:
            return parts[0], None, f'does not refer to a valid field: "{part}"'
        properties = node.properties or {}
        if part in properties:
            node = properties[part]
        elif node.additional_properties is not None and node.additional_properties[1] is not None:
            node = node.additional_properties[1]
        else:
            return parts[0], None, f'does not refer to a valid field: "{part}"'
    return parts[0], node, None


def _selectable_fields(fields: list[str], schema: Props | None, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    unique: set[str] = set()
    for i, json_path in enumerate(fields):
        where = child(index(path, i), "jsonPath")
        if not json_path:
            errors.append(required(where))
            continue
        root, found, error = _field_schema(schema, json_path)
        if error is not None:
            errors.append(invalid(where, json_path, f"is an invalid path: {error}"))
            continue
        if root == "metadata":
            errors.append(invalid(where, json_path, "must not point to fields in metadata"))
        if found is None or found.type not in ("string", "boolean", "integer"):
            errors.append(
                invalid(
                    where,
                    json_path,
                    "must point to a field of type string, boolean or integer. Enum string "
                    "fields and strings with formats are allowed.",
                )
            )
        if json_path in unique:
            errors.append(duplicate(where, json_path))
        unique.add(json_path)
    if len(unique) > _MAX_SELECTABLE_FIELDS:
        errors.append(too_many(path, len(unique), _MAX_SELECTABLE_FIELDS))
    return errors


def _conversion(conversion: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    strategy = conversion.get("strategy")
    strategy = strategy if isinstance(strategy, str) else ""
    if not strategy:
        errors.append(required(child(path, "strategy")))
    elif strategy not in ("None", "Webhook"):
        errors.append(not_supported(child(path, "strategy"), strategy, ["None", "Webhook"]))
    webhook = conversion.get("webhook")
    webhook = webhook if isinstance(webhook, dict) else None
    config = webhook.get("clientConfig") if webhook is not None else None
    review = webhook.get("conversionReviewVersions") if webhook is not None else None
    if strategy == "Webhook":
        if not isinstance(config, dict):
            errors.append(
                required(
                    child(path, "webhookClientConfig"), "required when strategy is set to Webhook"
                )
            )
        elif ("url" in config) == ("service" in config):
            errors.append(
                required(
                    child(path, "webhookClientConfig"), "exactly one of url or service is required"
                )
            )
        versions = review if isinstance(review, list) else []
        where = child(path, "conversionReviewVersions")
        if not versions:
            errors.append(required(where))
        else:
            seen: set[str] = set()
            accepted = False
            for i, version in enumerate(versions):
                if version in seen:
                    errors.append(invalid(index(where, i), version, "duplicate version"))
                    continue
                seen.add(version)
                for message in dns1035_label_errors(str(version)):
                    errors.append(invalid(index(where, i), version, message))
                accepted = accepted or version in _REVIEW_VERSIONS
            if not accepted:
                errors.append(invalid(where, versions, "must include at least one of v1, v1beta1"))
    else:
        if config is not None:
            errors.append(
                forbidden(
                    child(path, "webhookClientConfig"),
                    "should not be set when strategy is not set to Webhook",
                )
            )
        if review:
            errors.append(
                forbidden(
                    child(path, "conversionReviewVersions"),
                    "should not be set when strategy is not set to Webhook",
                )
            )
    return errors
