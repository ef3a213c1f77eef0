"""Three of the four PATCH flavours kube-apiserver accepts, as pure functions on JSON values.

* JSON merge patch (RFC 7386);
* JSON patch (RFC 6902) with JSON pointers (RFC 6901);
* strategic merge patch: merge patch plus kube's per-field list strategies (merge by key,
  merge primitive lists) and the ``$patch``, ``$retainKeys``, ``$deleteFromPrimitiveList``
  and ``$setElementOrder`` directives, for the built-in fields this server serves.

The fourth, server-side apply, tracks field ownership: :mod:`.managed_fields` (with
:mod:`.structured_merge` and :mod:`.fieldpath`).

Errors raise :class:`PatchError` carrying the HTTP code kube uses for that failure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "MAX_COPY_BYTES",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE_KEYS",
    "PRIMITIVE_MERGE_LISTS",
    "PatchError",
    "apply_json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10_000
# What ``copy`` operations may add in total (kube bounds it by its request size limit).
MAX_COPY_BYTES = 3 * 1024 * 1024

# Lists merged element-wise by a key field (Go struct tag ``patchMergeKey``), by field name.
# Every list named here has the same merge key wherever it appears in the served kinds.
MERGE_KEYS: Mapping[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "addresses": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "secrets": "name",
}
# Lists of scalars merged as sets (``patchStrategy:"merge"`` on a primitive list).
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers", "podCIDRs"})

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


class PatchError(Exception):
    """A patch that cannot be decoded (400) or applied (422, or 409 for a failed ``test``)."""

    def __init__(self, message: str, code: int = 422, *, causes: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # False: kube answers with its generic text and empty details (the cause is lost).
        self.causes = causes


# What kube answers for an RFC 6902 patch that does not apply: ``NewGenericServerResponse``
# of a 422 keeps none of the library's error text.
JSON_PATCH_REJECTED = "the server rejected our request due to an error in our request"


# --------------------------------------------------------------------------- merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- JSON patch


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError("path must be a string", 400)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer must be empty or start with a "/": {path}')
    return [_unescape(t) for t in path[1:].split("/")]


def _index(token: str, length: int, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {path}")
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise PatchError(f"index out of bounds in {path}: {index}")
    return index


def _parent(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), path, allow_end=False)]
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return node


def _get(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'{op} operation does not apply: doc is missing key: "{path}"')
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(last, len(parent), path, allow_end=False)]
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')


def _add(doc: Any, tokens: list[str], value: Any, path: str, op: str = "add") -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), path, allow_end=True), value)
    else:
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return doc


def _remove(doc: Any, tokens: list[str], path: str, op: str = "remove") -> tuple[Any, Any]:
    if not tokens:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent), path, allow_end=False))
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of ``doc``. A malformed patch is 400, an inapplicable one (an unknown
    ``op`` included) kube's generic 422."""
    try:
        return _apply_json_patch(doc, operations)
    except PatchError as err:
        if err.code == 422 or err.message.startswith("Unexpected kind: "):
            raise PatchError(JSON_PATCH_REJECTED, 422, causes=False) from None
        raise


def _apply_json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else "value"
        raise PatchError(
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch", 400
        )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
            413,
        )
    result = copy.deepcopy(doc)
    copied = 0
    for raw in operations:
        if not isinstance(raw, dict):
            raise PatchError(
                "json: cannot unmarshal value into Go value of type jsonpatch.Operation", 400
            )
        op = raw.get("op")
        path = raw.get("path")
        tokens = _pointer(path)
        if op == "add":
            if "value" not in raw:
                raise PatchError("add operation does not apply: missing value", 400)
            result = _add(result, tokens, copy.deepcopy(raw["value"]), str(path))
        elif op == "remove":
            result, _ = _remove(result, tokens, str(path))
        elif op == "replace":
            if "value" not in raw:
                raise PatchError("replace operation does not apply: missing value", 400)
            _get(result, tokens, str(path), "replace")
            if tokens:
                result, _ = _remove(result, tokens, str(path), "replace")
            result = _add(result, tokens, copy.deepcopy(raw["value"]), str(path), "replace")
        elif op in ("move", "copy"):
            source = _pointer(raw.get("from"))
            value = _get(result, source, str(raw.get("from")), op)
            if op == "move":
                if tokens[: len(source)] == source and len(tokens) > len(source):
                    raise PatchError("move operation does not apply: cannot move into a child")
                result, value = _remove(result, source, str(raw.get("from")), op)
            else:
                copied += len(json.dumps(value))
                if copied > MAX_COPY_BYTES:
                    raise PatchError(
                        "Unable to complete the copy, the accumulated size increase of copy is "
                        f"{copied}, exceeding the limit {MAX_COPY_BYTES}"
                    )
                value = copy.deepcopy(value)
            result = _add(result, tokens, value, str(path), op)
        elif op == "test":
            try:
                current = _get(result, tokens, str(path), "test")
            except PatchError:
                current = _MISSING
            if current is _MISSING or current != raw.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}", 400)
    return result


_MISSING = object()


# --------------------------------------------------------------------------- strategic merge


class _Field(NamedTuple):
    """What the schema says of one field: its value type and patch strategy."""

    type: str  # a model name, "[]T", "{}T", a scalar, or "" when unknown
    merge_key: str | None
    merge: bool  # patch-strategy contains "merge"


def _field(model: str | None, key: str) -> _Field | None:
    """The field ``key`` of ``model`` (the schema of the served kind), None without a schema
    (name-table mode); ``model`` "" is a value the schema leaves untyped."""
    if model is None:
        return None
    from . import schema  # the typed table of every built-in kind

    fields = schema.fields(model)
    found = fields.get(key) if fields is not None else None
    if found is None:
        return _Field("", None, False)
    strategy = str(found.markers.get("patch-strategy") or "")
    key_name = found.markers.get("patch-merge-key")
    return _Field(found.type, str(key_name) if key_name else None, "merge" in strategy.split(","))


def _model_of(typ: str) -> str | None:
    """The model of a field type (or of its elements), None for scalars and open values."""
    while typ.startswith(("[]", "{}")):
        typ = typ[2:]
    return typ if "." in typ else None


def _strip(value: Any, model: str | None = None) -> Any:
    """A patch value used as-is (no counterpart in the original): directives removed."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return None
        return _merge_map({}, value, model)
    if isinstance(value, list):
        return [_strip(v, model) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any], model: str | None = None) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: _strip(v, _child(model, k)) for k, v in patch.items() if not k.startswith("$")}
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive} in map", 400)
    result = dict(original)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError(f"invalid $deleteFromPrimitiveList value for {field}", 400)
            if isinstance(result.get(field), list):
                result[field] = _without(result[field], value)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        spec = _field(model, key)
        if isinstance(value, dict):
            if spec is not None and spec.type.startswith("{}"):
                merged = _merge_values(current if isinstance(current, dict) else {}, value, spec)
            else:
                child = (_model_of(spec.type) or "") if spec is not None else None
                merged = _merge_map(current if isinstance(current, dict) else {}, value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            current_list = current if isinstance(current, list) else []
            result[key] = _merge_list(key, current_list, value, spec)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith(_ORDER):
            name = key[len(_ORDER) :]
            if isinstance(value, list) and isinstance(result.get(name), list):
                result[name] = _reorder(name, result[name], value, _field(model, name))
    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("invalid $retainKeys value: must be a list", 400)
        keep = {k for k in retain if isinstance(k, str)}
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _hashable(value: Any) -> Any:
    """A dict key standing for a JSON scalar or structure (lists and maps by their JSON)."""
    if isinstance(value, dict | list):
        return ("json", json.dumps(value, sort_keys=True))
    return (type(value).__name__, value)


def _without(items: list[Any], unwanted: list[Any]) -> list[Any]:
    drop = {_hashable(v) for v in unwanted}
    return [v for v in items if _hashable(v) not in drop]


def _child(model: str | None, key: str) -> str | None:
    field = _field(model, key)
    return (_model_of(field.type) or "") if field is not None else None


def _merge_values(original: dict[str, Any], patch: dict[str, Any], field: _Field) -> Any:
    """A map field (``labels``, ``resources.limits``...): each entry merged on its own."""
    if patch.get(_DIRECTIVE) in ("delete", "replace"):
        return _merge_map(original, patch, None)
    model = _model_of(field.type) or ""
    result = dict(original)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and model:
            current = result.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, model)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = _strip(value)
    return result


def _merge_list(
    field: str, original: list[Any], patch: list[Any], spec: _Field | None = None
) -> list[Any]:
    """Merge by key in O(n + m): lists are bounded only by the 3 MiB body. ``spec``: what the
    schema says of the list (else the merge keys of the served kinds by field name)."""
    # In schema mode an untyped element is "" (merged as plain JSON), never the name table.
    item_model = (_model_of(spec.type) or "") if spec is not None else None
    if spec is not None:
        key = spec.merge_key if spec.merge else None
        primitive_merge = spec.merge and _model_of(spec.type) is None
    else:
        key = MERGE_KEYS.get(field)
        primitive_merge = field in PRIMITIVE_MERGE_LISTS
    if any(isinstance(v, dict) and v.get(_DIRECTIVE) == "replace" for v in patch):
        return [
            _strip(v, item_model) for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)
        ]
    if key is None:
        if not primitive_merge:
            return [_strip(v, item_model) for v in patch]
        patched: dict[Any, Any] = {}
        for value in patch:
            patched.setdefault(_hashable(value), value)
        server = {_hashable(v): i for i, v in reversed(list(enumerate(original)))}
        only = [v for v in original if _hashable(v) not in patched]
        return _merge_sorted(only, list(patched.values()), server, _hashable)

    def ident(value: Any) -> Any:
        return _hashable(value.get(key)) if isinstance(value, dict) else _hashable(value)

    server_index: dict[Any, int] = {}
    for i, value in enumerate(original):
        if isinstance(value, dict) and key in value:
            server_index.setdefault(ident(value), i)
    merged: dict[Any, Any] = {}  # the patch's elements, merged, in patch order
    deleted: set[Any] = set()
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}", 400)
        name = ident(item)
        if item.get(_DIRECTIVE) == "delete":
            deleted.add(name)
            merged.pop(name, None)
            continue
        deleted.discard(name)
        if name in merged:
            merged[name] = _merge_map(merged[name], item, item_model)
        elif name in server_index:
            base = copy.deepcopy(original[server_index[name]])
            merged[name] = _merge_map(base, item, item_model)
        else:
            merged[name] = _strip(item, item_model)
    only = [
        copy.deepcopy(v)
        for v in original
        if not (isinstance(v, dict) and key in v and (ident(v) in merged or ident(v) in deleted))
    ]
    return _merge_sorted(only, list(merged.values()), server_index, ident)


def _merge_sorted(
    server_only: list[Any], patched: list[Any], server: dict[Any, int], ident: Any
) -> list[Any]:
    """kube's ``mergeSortedSlice``: the server's untouched elements and the patch's, each in
    their own order; an element the server had keeps its place among the server's, a new one
    goes before the server's elements that remain."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patched[j])
            j += 1
        else:
            left, right = server.get(ident(server_only[i])), server.get(ident(patched[j]))
            if left is not None and right is not None and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patched[j])
                j += 1
    return out


def _reorder(
    field: str, items: list[Any], order: list[Any], spec: _Field | None = None
) -> list[Any]:
    key = (spec.merge_key if spec.merge else None) if spec is not None else MERGE_KEYS.get(field)

    def ident(value: Any) -> Any:
        if key is not None and isinstance(value, dict):
            return _hashable(value.get(key))
        return _hashable(value)

    rank: dict[Any, int] = {}
    for position, wanted in enumerate(order):
        rank.setdefault(ident(wanted), position)
    ranked = sorted(range(len(items)), key=lambda i: (rank.get(ident(items[i]), len(rank)), i))
    return [items[i] for i in ranked]


def strategic_merge_patch(
    original: dict[str, Any], patch: Any, model: str | None = None
) -> dict[str, Any]:
    """kube's strategic merge of ``patch`` into a copy of ``original``. ``model``: the schema
    of the object's kind (``schema.model``), whose ``x-kubernetes-patch-*`` markers say how
    each list merges; without one, lists merge by the served kinds' field names."""
    if not isinstance(patch, dict):
        raise PatchError(
            "json: cannot unmarshal array into Go value of type map[string]interface {}", 400
        )
    merged = _merge_map(copy.deepcopy(original), patch, model)
    if merged is None:
        raise PatchError("the patch deletes the whole object", 422)
    if not isinstance(merged, dict):  # pragma: no cover - _merge_map returns maps
        raise PatchError("the patch result is not an object", 422)
    return merged
