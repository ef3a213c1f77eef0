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
import hashlib
import json
from typing import Any

from .goformat import normalize_numbers
from .model import Definition
from .props import ABSENT, Props

__all__ = ["kind_schema", "list_schema", "model_name", "paths"]

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


# --------------------------------------------------------------------------- paths
#
# The routes of apiextensions' builder (list, create, delete collection, read, replace, delete,
# patch, and the status and scale subresources), with go-restful's documentation of them:
# operation ids and tags as apiserver's ``GetOperationIDAndTags`` makes them, the options
# structs' query parameters, the parameters every operation of a path shares moved to the path.

_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1"
_SCALE_MODEL = "io.k8s.api.autoscaling.v1.Scale"
_STATUS_MODEL = f"{_META_REF}.Status"
_PATCH_MODEL = f"{_META_REF}.Patch"
_DELETE_MODEL = f"{_META_REF}.DeleteOptions"
_JSON_YAML = ("application/json", "application/yaml")
_PATCHES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
_VERBS = (
    "get",
    "log",
    "read",
    "replace",
    "patch",
    "delete",
    "deletecollection",
    "watch",
    "connect",
    "proxy",
    "list",
    "create",
)
_OPTIONS = {
    "get": "get",
    "list": "list",
    "deletecollection": "list",
    "post": "create",
    "put": "update",
    "patch": "patch",
    "delete": "delete",
}


def _valid_id(text: str, capitalize: bool) -> str:
    """apiserver's ``ToValidOperationID``: letters, ``_`` and inner digits, each run after a
    dropped character capitalized."""
    out: list[str] = []
    upper = capitalize
    for i, char in enumerate(text):
        if char.isalpha() or char == "_" or (i != 0 and char.isdigit()):
            out.append(char.upper() if upper else char)
            upper = False
        else:
            upper = True
    return "".join(out)


def _operation_id(operation: str, group: str, version: str) -> str:
    verb = min((v for v in _VERBS if operation.startswith(v)), key=len)
    trimmed = group.removesuffix(".k8s.io")
    rest = operation[len(verb) :]
    return verb + _valid_id(trimmed, True) + _valid_id(version, True) + _valid_id(rest, True)


def _tag(group: str, version: str) -> str:
    return f"{_valid_id(group.removesuffix('.k8s.io'), False)}_{_valid_id(version, False)}"


def _article(kind: str) -> str:
    """``GetArticleForNoun`` with spaces around it."""
    if kind.endswith("s") and not kind.endswith("ss"):
        return " "
    return " an " if kind[:1].lower() in "aeiou" else " a "


def _description(sub: str, verb: str, kind: str) -> str:
    article = {
        "list": " objects of kind ",
        "read": " the specified ",
        "replace": " the specified ",
        "patch": " the specified ",
        "create": _article(kind),
        "delete": _article(kind),
    }.get(verb, "")
    of = f" {sub} of" if sub else ""
    if verb == "patch":
        return f"partially update{of}{article}{kind}"
    if verb == "deletecollection":
        return f"delete collection of{of + ' a' if of else ''} {kind}"
    return f"{verb}{of}{article}{kind}"


def _model_ref(name: str, v2: bool) -> Obj:
    return {"$ref": _ref(name, v2)}


def _v3_responses(codes: list[tuple[str, str]], model: str) -> Obj:
    out: Obj = {
        code: {
            "content": {t: {"schema": _model_ref(model, False)} for t in _JSON_YAML},
            "description": text,
        }
        for code, text in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def _v2_responses(codes: list[tuple[str, str]], model: str) -> Obj:
    out: Obj = {
        code: {"description": text, "schema": _model_ref(model, True)} for code, text in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def _v2_parameter(param: Obj) -> Obj:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema") or {})
    return _shared(out)


def _shared(param: Obj) -> Obj:
    """A swagger 2.0 parameter, or the reference to kube's shared one that is the same."""
    from .openapi_parameters import V2_SHARED

    text = json.dumps(param, sort_keys=True, separators=(",", ":"))
    name = V2_SHARED.get(hashlib.sha256(text.encode()).hexdigest()[:16])
    return {"$ref": f"#/parameters/{name}"} if name else param


def _by_name(params: list[Obj]) -> list[Obj]:
    return sorted(params, key=_param_name)


def paths(crd: Definition, version: str) -> tuple[Obj, Obj, dict[str, list[Obj]]]:
    """The v3 and swagger 2.0 path items of one version of a custom resource, and the
    built-in components they refer to (with the GVKs kube tags them with)."""
    from .openapi_parameters import DELETE_OPTIONS_VERSIONS, PARAMETERS

    v = crd.version(version)
    names = crd.names
    kind, group, plural = names.kind, crd.group, names.plural
    namespaced = crd.namespaced
    model = model_name(group, version, kind)
    list_model = model_name(group, version, names.list_kind)
    gvk = {"group": group, "kind": kind, "version": version}
    tag = _tag(group, version)
    scope = "Namespaced" if namespaced else ""
    name_param = {
        "description": f"name of the {kind}",
        "in": "path",
        "name": "name",
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }
    top = f"/apis/{group}/{version}/{plural}"
    root = f"/apis/{group}/{version}/namespaces/{{namespace}}/{plural}" if namespaced else top
    subresources = (v.subresources or {}) if v is not None else {}
    components: dict[str, list[Obj]] = {
        _DELETE_MODEL: [
            {"group": g, "kind": "DeleteOptions", "version": v} for g, v in DELETE_OPTIONS_VERSIONS
        ],
        _PATCH_MODEL: [],
    }

    # (path, method, action, operation, sub, response model, codes, body model)
    routes: list[tuple[str, str, str, str, str, str, list[tuple[str, str]], str | None]] = []
    ok = [("200", "OK")]
    if namespaced:
        routes.append((top, "get", "list", f"list{kind}ForAllNamespaces", "", list_model, ok, None))
    routes += [
        (root, "get", "list", f"list{scope}{kind}", "", list_model, ok, None),
        (
            root,
            "post",
            "post",
            f"create{scope}{kind}",
            "",
            model,
            [("200", "OK"), ("201", "Created"), ("202", "Accepted")],
            model,
        ),
        (
            root,
            "delete",
            "deletecollection",
            f"deletecollection{scope}{kind}",
            "",
            _STATUS_MODEL,
            ok,
            None,
        ),
    ]
    targets = [("", model)]
    if isinstance(subresources.get("status"), dict):
        targets.append(("status", model))
    if isinstance(subresources.get("scale"), dict):
        targets.append(("scale", _SCALE_MODEL))
        components[_SCALE_MODEL] = [{"group": "autoscaling", "kind": "Scale", "version": "v1"}]
    for sub, sub_model in targets:
        path = f"{root}/{{name}}" + (f"/{sub}" if sub else "")
        title = sub.title()
        routes += [
            (path, "get", "get", f"read{scope}{kind}{title}", sub, sub_model, ok, None),
            (
                path,
                "put",
                "put",
                f"replace{scope}{kind}{title}",
                sub,
                sub_model,
                [("200", "OK"), ("201", "Created")],
                sub_model,
            ),
        ]
        if not sub:
            routes.append(
                (
                    path,
                    "delete",
                    "delete",
                    f"delete{scope}{kind}",
                    "",
                    _STATUS_MODEL,
                    [("200", "OK"), ("202", "Accepted")],
                    _DELETE_MODEL,
                )
            )
        routes.append(
            (path, "patch", "patch", f"patch{scope}{kind}{title}", sub, sub_model, ok, _PATCH_MODEL)
        )

    v3: Obj = {}
    v2: Obj = {}
    for path, method, action, operation, sub, response, codes, body in routes:
        verb = {"get": "read", "put": "replace", "post": "create"}.get(method, action)
        if action == "list":
            verb = "list"
        params = [PARAMETERS["pretty"], *PARAMETERS[_OPTIONS[action]]]
        if "{namespace}" in path:
            params.append(PARAMETERS["namespace"])
        if "{name}" in path:
            params.append(name_param)
        common = {
            "description": _description(sub, verb, kind),
            "operationId": _operation_id(operation, group, version),
            "tags": [tag],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": dict(gvk),
        }
        op3: Obj = {**common, "parameters": params, "responses": _v3_responses(codes, response)}
        consumes = _PATCHES if method == "patch" else _JSON_YAML
        v2_params = [_v2_parameter(p) for p in params]
        if body is not None:
            request: Obj = {"content": {t: {"schema": _model_ref(body, False)} for t in consumes}}
            body_param: Obj = {"in": "body", "name": "body", "schema": _model_ref(body, True)}
            if method != "delete":
                request["required"] = True
                body_param["required"] = True
            op3["requestBody"] = request
            v2_params.append(_shared(body_param))
        op2: Obj = {
            **common,
            "consumes": list(consumes),
            "parameters": v2_params,
            "produces": list(_JSON_YAML),
            "responses": _v2_responses(codes, response),
            "schemes": ["https"],
        }
        v3.setdefault(path, {})[method] = op3
        v2.setdefault(path, {})[method] = op2
    for document in (v3, v2):
        for item in document.values():
            _hoist(item)
    return v3, v2, components


def _hoist(item: Obj) -> None:
    """The parameters every operation of a path has become the path's (sorted by name)."""
    ops = list(item.values())
    shared = [p for p in ops[0]["parameters"] if all(p in op["parameters"] for op in ops[1:])]
    for op in ops:
        rest = _by_name([p for p in op["parameters"] if p not in shared])
        if rest:
            op["parameters"] = rest
        else:
            del op["parameters"]
    if shared:
        item["parameters"] = _by_name(shared)


def _param_name(param: Obj) -> str:
    return str(param.get("name") or param.get("$ref", "").rpartition("/")[2])
