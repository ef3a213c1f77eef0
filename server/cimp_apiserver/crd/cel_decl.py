"""The CEL type kube declares for a schema node (apiserver's ``SchemaDeclType``): objects
become struct types whose field names are escaped (``foo-bar`` -> ``foo__dash__bar``,
``namespace`` -> ``__namespace__``), ``additionalProperties`` maps, arrays lists,
``int-or-string`` ``dyn``, ``format: byte``/``date``/``date-time``/``duration`` strings
``bytes``/``timestamp``/``duration``; a resource root (or embedded resource) shows
``apiVersion``, ``kind`` and ``metadata.name``/``generateName`` only. Each type carries the
size bounds the cost estimator uses (most elements, smallest JSON size)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from . import cel_types as t
from .props import Props

__all__ = ["RESERVED", "DeclType", "decl_type", "escape", "unescape"]

MAX_REQUEST_BYTES = 3 * 1024 * 1024
RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
_PLAIN = re.compile(r"[A-Za-z0-9_]*")
_EXPAND = re.compile(r"__|[-./]|[^A-Za-z0-9\-./_]")
_UNEXPAND = re.compile(r"__[^_]+__")


def escape(name: str) -> str | None:
    """The CEL identifier kube gives property ``name`` (``None``: not representable)."""
    if not name or name[0].isdigit():
        return None
    if name in RESERVED:
        return f"__{name}__"
    bad = False

    def repl(m: re.Match[str]) -> str:
        nonlocal bad
        s = m.group(0)
        table = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}
        if s in table:
            return table[s]
        bad = True
        return ""

    if not all(c.isascii() and (c.isalnum() or c in "_-./") for c in name):
        return None
    out = _EXPAND.sub(repl, name)
    return None if bad else out


def unescape(name: str) -> str:
    """The property name of CEL identifier ``name``."""
    if name.startswith("__") and name.endswith("__") and name[2:-2] in RESERVED:
        return name[2:-2]
    table = {
        "__underscores__": "__",
        "__dot__": ".",
        "__dash__": "-",
        "__slash__": "/",
    }
    return _UNEXPAND.sub(lambda m: table.get(m.group(0), m.group(0)), name)


@dataclass
class DeclType:
    """A schema node's CEL type and size bounds."""

    type: t.Type
    max_elements: int = 0
    min_size: int = 0
    fields: dict[str, DeclType] = field(default_factory=dict)  # escaped name -> type
    required: frozenset[str] = frozenset()
    elem: DeclType | None = None  # list items or map values
    props: Props | None = None
    object_name: str = ""  # struct types: the name before kube assigns the selfType prefix

    @property
    def is_object(self) -> bool:
        return self.type.kind == "struct"


def _string_limit(props: Props) -> int:
    if props.x_int_or_string:
        return MAX_REQUEST_BYTES - 2
    return {"duration": 32, "date": 12, "date-time": 32}.get(props.format, MAX_REQUEST_BYTES - 2)


def _with_meta(props: Props) -> Props:
    """kube's ``WithTypeAndObjectMeta``: a root sees kind, apiVersion and metadata's name and
    generateName (other metadata fields are not visible to rules)."""
    props_of = props.properties or {}
    meta = props_of.get("metadata")
    if (
        props_of.get("kind") is not None
        and props_of["kind"].type == "string"
        and props_of.get("apiVersion") is not None
        and props_of["apiVersion"].type == "string"
        and meta is not None
        and meta.type == "object"
        and meta.properties is not None
        and (meta.properties.get("name") or Props()).type == "string"
        and (meta.properties.get("generateName") or Props()).type == "string"
    ):
        return props
    string = Props(type="string")
    new = dict(props_of)
    new["kind"] = string
    new["apiVersion"] = string
    new["metadata"] = Props(type="object", properties={"name": string, "generateName": string})
    out = Props(**{k: v for k, v in vars(props).items() if k != "raw"})
    out.properties = new
    return out


def _build(props: Props | None, root: bool) -> DeclType | None:
    if props is None:
        return None
    if props.x_int_or_string:
        limit = (
            max(props.max_length, 0) * 4 if props.max_length is not None else MAX_REQUEST_BYTES - 2
        )
        return DeclType(t.DYN, limit, 1, props=props)
    if root:
        props = _with_meta(props)
    kind = props.type
    if kind == "array":
        if props.items is None:
            return None
        items = _build(props.items, props.items.x_embedded_resource)
        if items is None:
            return None
        if props.max_items is not None:
            most = max(props.max_items, 0)
        else:
            most = (MAX_REQUEST_BYTES - 2) // (items.min_size + 1)
        return DeclType(t.list_of(items.type), most, 2, elem=items, props=props)
    if kind == "object":
        extra = props.additional_properties[1] if props.additional_properties else None
        if extra is not None:
            values = _build(extra, extra.x_embedded_resource)
            if values is None:
                return None
            if props.max_properties is not None:
                most = max(props.max_properties, 0)
            else:
                most = (MAX_REQUEST_BYTES - 2) // (values.min_size + 6)
            string = DeclType(t.STRING, 0, 2)  # kube's map key type has no size bound
            out = DeclType(t.map_of(t.STRING, values.type), most, 2, elem=values, props=props)
            out.fields = {"@key": string}
            return out
        fields: dict[str, DeclType] = {}
        required = set(props.required or ())
        min_size = 2
        for name, prop in (props.properties or {}).items():
            sub = _build(prop, prop.x_embedded_resource)
            if sub is None:
                continue
            escaped = escape(name)
            if escaped is not None:
                fields[escaped] = sub
            if name in required and not prop.has_default:
                min_size += len(name) + sub.min_size + 4
        req = frozenset(e for n in required if (e := escape(n)) is not None)
        return DeclType(t.struct("object"), 0, min_size, fields, req, props=props)
    if kind == "string":
        if props.format == "byte":
            limit = (
                max(props.max_length, 0) if props.max_length is not None else MAX_REQUEST_BYTES - 2
            )
            return DeclType(t.BYTES, limit, 2, props=props)
        if props.format == "duration":
            return DeclType(t.DURATION, _string_limit(props), 3, props=props)
        if props.format == "date":
            return DeclType(t.TIMESTAMP, _string_limit(props), 12, props=props)
        if props.format == "date-time":
            return DeclType(t.TIMESTAMP, _string_limit(props), 21, props=props)
        if props.max_length is not None:
            limit = max(props.max_length, 0) * 4
        elif props.enum:
            limit = max((len(e) for e in props.enum if isinstance(e, str)), default=0)
        else:
            limit = _string_limit(props)
        return DeclType(t.STRING, limit, 2, props=props)
    if kind == "boolean":
        return DeclType(t.BOOL, 0, 4, props=props)
    if kind == "number":
        return DeclType(t.DOUBLE, 0, 1, props=props)
    if kind == "integer":
        return DeclType(t.INT, 0, 1, props=props)
    return None


def _name(decl: DeclType, name: str, registry: dict[str, DeclType]) -> DeclType:
    """kube's ``MaybeAssignTypeName``: struct types named after their path below ``name``."""
    if decl.is_object:
        fields = {k: _name(v, f"{name}.{k}", registry) for k, v in decl.fields.items()}
        out = DeclType(t.struct(name), 0, decl.min_size, fields, decl.required, props=decl.props)
        registry[name] = out
        return out
    if decl.elem is not None:
        suffix = "@elem" if decl.type.kind == "map" else "@idx"
        elem = _name(decl.elem, f"{name}.{suffix}", registry)
        if decl.type.kind == "map":
            new_type = t.map_of(t.STRING, elem.type)
        else:
            new_type = t.list_of(elem.type)
        out = DeclType(
            new_type, decl.max_elements, decl.min_size, decl.fields, elem=elem, props=decl.props
        )
        return out
    return decl


def decl_type(props: Props, root: bool) -> tuple[DeclType, dict[str, DeclType]] | None:
    """The type of ``self`` at ``props`` (named ``selfType<n>`` as kube names it, a new name
    on each compile) and every struct type below it by name."""
    built = _build(props, root)
    if built is None:
        return None
    registry: dict[str, DeclType] = {}
    named = _name(built, f"selfType{time.time_ns() % 1_000_000_000}", registry)
    return named, registry
