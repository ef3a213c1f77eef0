"""Request bodies in, responses out: content types, size limit, hostile-input-proof decoding.

Every decoding failure becomes a 400/413/415 Status in kube-apiserver's wording; nothing a
client sends can reach the handlers as anything but a JSON-shaped ``dict``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import yaml
from aiohttp import web

from .status import (
    StatusError,
    bad_request,
    not_acceptable,
    request_entity_too_large,
    unsupported_media_type,
)
from .storage import encode

__all__ = [
    "JSON",
    "MAX_BODY",
    "MAX_DEPTH",
    "PATCH_TYPES",
    "PROTOBUF",
    "REQUEST_BODY",
    "YAML",
    "Output",
    "decode_json",
    "decode_object",
    "decode_object_async",
    "decode_yaml",
    "json_response",
    "media_type",
    "negotiate",
    "off_loop",
    "raw_response",
    "read_body",
]

MAX_BODY = 3 * 1024 * 1024
REQUEST_BODY: web.RequestKey[bytes] = web.RequestKey("cimp.request_body", bytes)
MAX_DEPTH = 100
OFF_LOOP_BYTES = 256 * 1024
T = TypeVar("T")
JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_OBJECT_TYPES = (JSON, YAML, PROTOBUF)
_TYPE_META = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def media_type(header: str | None) -> str:
    """``application/json; charset=utf-8`` → ``application/json`` ("" when absent)."""
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


async def read_body(request: web.Request) -> bytes:
    """The whole body, at most 3 MiB (kube-apiserver's limit): 413 beyond."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise request_entity_too_large(MAX_BODY)
    try:
        data = await request.content.read(MAX_BODY + 1)
        while len(data) <= MAX_BODY:
            more = await request.content.read(MAX_BODY + 1 - len(data))
            if not more:
                break
            data += more
    except web.HTTPRequestEntityTooLarge:
        raise request_entity_too_large(MAX_BODY) from None
    if len(data) > MAX_BODY:
        raise request_entity_too_large(MAX_BODY)
    request[REQUEST_BODY] = data  # the audit filter logs the object's metadata, as kube does
    return data


# --------------------------------------------------------------------------- JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is out of range")
    return value


def _go_message(exc: json.JSONDecodeError) -> str:
    """Python's decode error as Go's ``encoding/json`` words it (close enough to grep)."""
    doc, pos = exc.doc, exc.pos
    if pos >= len(doc.rstrip()) or exc.msg.startswith("Unterminated"):
        return "unexpected end of JSON input"
    char = doc[pos]
    if exc.msg == "Extra data":
        return f"invalid character '{char}' after top-level value"
    if exc.msg.startswith("Expecting property name"):
        return f"invalid character '{char}' looking for beginning of object key string"
    if exc.msg.startswith("Expecting ':'"):
        return f"invalid character '{char}' after object key"
    if exc.msg.startswith("Expecting ','"):
        return f"invalid character '{char}' after object key:value pair"
    if exc.msg.startswith("Invalid control character"):
        return f"invalid character {char!r} in string literal"
    if exc.msg.startswith("Invalid \\escape") or exc.msg.startswith("Invalid \\u"):
        return f"invalid character '{char}' in string escape code"
    return f"invalid character '{char}' looking for beginning of value"


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"exceeded max depth of {MAX_DEPTH}")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))


def decode_json(
    data: bytes | str, prefix: str = "couldn't get version/kind; json parse error: "
) -> Any:
    """Parse JSON as Go would accept it: no NaN/Infinity, bounded depth and number size,
    invalid UTF-8 replaced by U+FFFD. Failures are 400 with ``prefix`` + Go's wording."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
        _check_depth(value)
    except json.JSONDecodeError as exc:
        raise bad_request(prefix + _go_message(exc)) from None
    except RecursionError:
        raise bad_request(prefix + f"exceeded max depth of {MAX_DEPTH}") from None
    except ValueError as exc:  # huge integers, NaN, infinities, depth
        raise bad_request(prefix + str(exc)) from None
    return value


# --------------------------------------------------------------------------- YAML


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """YAML as ``sigs.k8s.io/yaml`` reads it: JSON-shaped values only (timestamps stay
    strings). libyaml's parser when available: the pure-Python one takes seconds per MiB."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Budget:
    """Counts nodes while aliases are expanded: a few bytes of anchors must not become an
    exponential document (the "billion laughs")."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ValueError("yaml: document contains excessive aliasing")


def _check_yaml_depth(text: str) -> None:
    """Bound nesting with the (iterative) event parser before composing: libyaml's composer
    recurses in C and crashes the process on a few hundred thousand ``[``."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"exceeded max depth of {MAX_DEPTH}")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _jsonable(value: Any, budget: _Budget, depth: int = 0) -> Any:
    budget.spend()
    if depth > MAX_DEPTH:
        raise ValueError(f"exceeded max depth of {MAX_DEPTH}")
    if isinstance(value, dict):
        return {_key(k): _jsonable(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, budget, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a valid JSON value")
    if isinstance(value, bytes):
        raise ValueError("binary values are not supported")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str | int | float):
        return str(key)
    raise ValueError(f"invalid map key: {key!r}")


def decode_yaml(data: bytes) -> Any:
    """One YAML document as a JSON value; 400 ``error converting YAML to JSON`` otherwise."""
    text = data.decode("utf-8", errors="replace")
    if text.lstrip()[:1] in ("{", "["):
        try:  # JSON is YAML: take the fast path kubectl's server-side apply bodies allow
            return decode_json(text)
        except StatusError:
            pass
    try:
        _check_yaml_depth(text)
        docs = list(yaml.load_all(text, Loader=_Loader))
        if len(docs) > 1:
            docs = [d for d in docs if d is not None]
        value = _jsonable(docs[0] if docs else None, _Budget(max(100_000, 2 * len(data))))
    except yaml.YAMLError as exc:
        raise bad_request(f"error converting YAML to JSON: yaml: {_yaml_message(exc)}") from None
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"error converting YAML to JSON: {exc}") from None
    return value


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        return f"{line}{exc.problem or exc.context or 'invalid document'}"
    return str(exc)


# --------------------------------------------------------------------------- objects


def not_an_object(value: Any) -> StatusError:
    kind = "array" if isinstance(value, list) else "string" if isinstance(value, str) else ""
    kind = kind or ("bool" if isinstance(value, bool) else "number")
    if value is None:
        return bad_request("Object 'Kind' is missing in 'null'")
    return bad_request(
        f"couldn't get version/kind; json parse error: json: cannot unmarshal {kind} into Go "
        f"value of type {_TYPE_META}"
    )


def decode_object(data: bytes, content_type: str | None) -> dict[str, Any]:
    """A request body as an object, by its Content-Type (none means JSON, as kube treats it)."""
    mtype = media_type(content_type)
    value: Any
    if mtype in ("", JSON, "*/*"):
        if not data.strip():
            raise bad_request("Object 'Kind' is missing in ''")
        value = decode_json(data)
    elif mtype in (YAML, "application/x-yaml", "text/yaml"):
        value = decode_yaml(data)
    elif mtype == PROTOBUF:
        try:
            from . import protobuf
        except ImportError:
            raise unsupported_media_type(mtype, (JSON, YAML)) from None
        value = protobuf.decode(data)
    else:
        raise unsupported_media_type(mtype, _OBJECT_TYPES)
    if not isinstance(value, dict):
        raise not_an_object(value)
    return value


async def off_loop(fn: Callable[[bytes], T], data: bytes) -> T:
    """Run a decoder on a worker thread for large bodies: a 3 MiB YAML document takes about
    a second to parse, and the event loop must keep serving watches meanwhile."""
    if len(data) < OFF_LOOP_BYTES:
        return fn(data)
    return await asyncio.to_thread(fn, data)


async def decode_object_async(data: bytes, content_type: str | None) -> dict[str, Any]:
    return await off_loop(lambda raw: decode_object(raw, content_type), data)


# --------------------------------------------------------------------------- responses


class Output:
    """What the client asked to receive (from ``Accept``)."""

    JSON = "json"
    YAML = "yaml"
    TABLE = "table"
    PARTIAL = "partial"


_PARAM = re.compile(r"\s*;\s*")


def negotiate(accept: str | None, *, allow: Iterable[str] = (Output.JSON, Output.YAML)) -> str:
    """The first media range in ``Accept`` the server can produce (406 if none).

    ``application/json;as=Table;g=meta.k8s.io;v=v1`` (kubectl get) and
    ``as=PartialObjectMetadata[List]`` are honoured when ``allow`` includes them."""
    allowed = set(allow)
    if not accept or not accept.strip():
        return Output.JSON
    for item in accept.split(","):
        parts = _PARAM.split(item.strip())
        mtype = parts[0].lower()
        params = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        target = params.get("as")
        if mtype in (JSON, "application/*", "*/*"):
            if target is None:
                return Output.JSON
            if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
                continue
            if target == "Table" and Output.TABLE in allowed:
                return Output.TABLE
            if target in ("PartialObjectMetadata", "PartialObjectMetadataList") and (
                Output.PARTIAL in allowed
            ):
                return Output.PARTIAL
            continue
        if mtype in (YAML, "application/x-yaml") and target is None:
            return Output.YAML
    raise not_acceptable((JSON, YAML))


# YAML 1.1 booleans go-yaml quotes although PyYAML reads them as strings.
_YAML11_BOOLS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ]
)


class _GoYAMLDumper(yaml.SafeDumper):
    """YAML as kube writes it (``sigs.k8s.io/yaml``: JSON to go-yaml v2): sorted keys, strings
    that would read back as another type in double quotes, multi-line strings as literal
    blocks, other quoting and folding at 80 columns as PyYAML does it too."""


def _resolve(dumper: yaml.SafeDumper, value: str) -> str:
    """The tag a plain scalar ``value`` would read back as."""
    tag: str = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style: str | None = None
    if "\n" in value:
        style = "|"
    elif value in _YAML11_BOOLS or _resolve(dumper, value) != "tag:yaml.org,2002:str":
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_GoYAMLDumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> bytes:
    """``obj`` in kube's ``application/yaml`` form."""
    text = yaml.dump(
        obj,
        Dumper=_GoYAMLDumper,
        default_flow_style=False,
        sort_keys=True,
        allow_unicode=True,
    )
    return text.encode()


def json_response(
    obj: Any, status: int = 200, *, output: str = Output.JSON, warnings: Sequence[str] = ()
) -> web.Response:
    if output == Output.YAML:
        body = dump_yaml(obj)
        return raw_response(body, status, content_type=YAML, warnings=warnings)
    return raw_response(encode(obj), status, warnings=warnings)


def raw_response(
    body: bytes, status: int = 200, *, content_type: str = JSON, warnings: Sequence[str] = ()
) -> web.Response:
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache, private"}
    response = web.Response(status=status, body=body, headers=headers)
    for warning in warnings:
        response.headers.add("Warning", f'299 - "{_escape_warning(warning)}"')
    return response


def _escape_warning(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
