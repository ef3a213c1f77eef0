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
from typing import Any

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

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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
    """RFC 6902 on a copy of ``doc``. A malformed patch is 400, an inapplicable one 422."""
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


def _strip(value: Any) -> Any:
    """A patch value used as-is (no counterpart in the original): directives removed."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return None
        return _merge_map({}, value)
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: _strip(v) for k, v in patch.items() if not k.startswith("$")}
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
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, current if isinstance(current, list) else [], value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith(_ORDER):
            field = key[len(_ORDER) :]
            if isinstance(value, list) and isinstance(result.get(field), list):
                result[field] = _reorder(field, result[field], value)
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


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    """Merge by key in O(n + m): lists are bounded only by the 3 MiB body."""
    key = MERGE_KEYS.get(field)
    if any(isinstance(v, dict) and v.get(_DIRECTIVE) == "replace" for v in patch):
        return [_strip(v) for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)]
    if key is None:
        if field in PRIMITIVE_MERGE_LISTS:
            merged = list(original)
            seen = {_hashable(v) for v in merged}
            for value in patch:
                if _hashable(value) not in seen:
                    seen.add(_hashable(value))
                    merged.append(value)
            return merged
        return [_strip(v) for v in patch]
    result: list[Any] = [copy.deepcopy(v) for v in original]
    index: dict[Any, int] = {}
    for i, value in enumerate(result):
        if isinstance(value, dict) and key in value:
            index.setdefault(_hashable(value[key]), i)
    deleted: set[Any] = set()
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}", 400)
        ident = _hashable(item[key])
        if item.get(_DIRECTIVE) == "delete":
            deleted.add(ident)
            continue
        deleted.discard(ident)
        position = index.get(ident)
        if position is None:
            index[ident] = len(result)
            result.append(_strip(item))
        else:
            result[position] = _merge_map(result[position], item)
    if deleted:
        result = [
            v
            for v in result
            if not (isinstance(v, dict) and key in v and _hashable(v[key]) in deleted)
        ]
    return result


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)

    def ident(value: Any) -> Any:
        if key is not None and isinstance(value, dict):
            return _hashable(value.get(key))
        return _hashable(value)

    rank: dict[Any, int] = {}
    for position, wanted in enumerate(order):
        rank.setdefault(ident(wanted), position)
    ranked = sorted(range(len(items)), key=lambda i: (rank.get(ident(items[i]), len(rank)), i))
    return [items[i] for i in ranked]


def strategic_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """kube's strategic merge of ``patch`` into a copy of ``original``."""
    if not isinstance(patch, dict):
        raise PatchError(
            "json: cannot unmarshal array into Go value of type map[string]interface {}", 400
        )
    merged = _merge_map(copy.deepcopy(original), patch)
    if merged is None:
        raise PatchError("the patch deletes the whole object", 422)
    if not isinstance(merged, dict):  # pragma: no cover - _merge_map returns maps
        raise PatchError("the patch result is not an object", 422)
    return merged
