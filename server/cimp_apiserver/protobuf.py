"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) to JSON objects.

kubectl 1.33's typed commands (``create ns|sa|secret|configmap|role|...``, ``create token``,
``auth can-i``, ``auth whoami``) send their bodies only in this encoding and do not retry as
JSON after a 415, so the server has to read it. The body is the 4-byte magic ``k8s\\0`` then a
``runtime.Unknown`` (``typeMeta``, ``raw``, ``contentEncoding``, ``contentType``) whose ``raw``
is the typed object in the k8s.io/api ``generated.proto`` encoding.

A small wire decoder driven by :mod:`.proto_schemas` turns that into the dict the JSON decoder
would have produced (JSON names, ``omitempty`` zero values dropped, ``metav1.Time`` as RFC 3339,
bytes as base64, ``IntOrString`` as int or string, ``ExtraValue`` as a list), so the REST layer
sees one shape whatever the client sent. Malformed input of any kind is a 400 ``StatusError``:
lengths are checked against the buffer, nesting is bounded, unknown fields are skipped.

:func:`encode` is the inverse, for tests and for clients of the embedded server that want to
speak protobuf.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from . import proto_schemas
from .proto_schemas import Field, Message
from .status import bad_request

__all__ = [
    "MAGIC",
    "MEDIA_TYPE",
    "decode",
    "decode_message",
    "encode",
    "encode_message",
    "is_protobuf",
]

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
# The deepest nesting of the built-in types is well under this (a pod template's affinity term
# down to a label selector requirement); only CustomResourceDefinition schemas recurse, and
# this bounds them.
MAX_DEPTH = 40

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5  # wire types (3 and 4, groups, are refused)
_VARINT_TYPES = frozenset({"int32", "int64", "bool"})
_OMITTABLE = _VARINT_TYPES | {"string", "bytes", proto_schemas.DOUBLE}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


class _DecodeError(Exception):
    """A malformed body; turned into a 400 at the public boundary."""


def is_protobuf(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header names the Kubernetes protobuf encoding."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


# --- wire reading -----------------------------------------------------------------------------


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= end:
            raise _DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _DecodeError("varint longer than 10 bytes")


def _fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Each field of the message in ``buf[pos:end]``: ``(number, wire, start, stop)``.

    ``start:stop`` is the payload of a length-delimited field, else the encoded value.
    """
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _DecodeError("field number 0")
        start = pos
        if wire == _VARINT:
            pos = _varint(buf, pos, end)[1]
        elif wire == _LEN:
            size, start = _varint(buf, pos, end)
            if size > end - start:
                raise _DecodeError(f"length {size} runs past the end of the message")
            pos = start + size
        elif wire in (_FIXED64, _FIXED32):
            pos += 8 if wire == _FIXED64 else 4
            if pos > end:
                raise _DecodeError("truncated fixed-width field")
        else:
            raise _DecodeError(f"unsupported wire type {wire}")
        yield number, wire, start, pos


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(typ: str, raw: int) -> int | bool:
    if typ == "bool":
        return raw != 0
    return _signed(raw, 32 if typ == "int32" else 64)


def _text(raw: bytes) -> str:
    # Go does not check UTF-8 in proto2 strings; its JSON encoder then substitutes U+FFFD.
    return raw.decode("utf-8", errors="replace")


def _last(buf: bytes, pos: int, end: int) -> dict[int, tuple[int, int, int]]:
    """The last occurrence ``(wire, start, stop)`` of each field of a small message."""
    return {number: (wire, start, stop) for number, wire, start, stop in _fields(buf, pos, end)}


def _int_of(buf: bytes, seen: dict[int, tuple[int, int, int]], number: int) -> int:
    if number not in seen:
        return 0
    wire, start, stop = seen[number]
    if wire != _VARINT:
        raise _DecodeError(f"field {number}: wire type {wire}, want varint")
    return _varint(buf, start, stop)[0]


def _bytes_of(buf: bytes, seen: dict[int, tuple[int, int, int]], number: int) -> bytes:
    if number not in seen:
        return b""
    wire, start, stop = seen[number]
    if wire != _LEN:
        raise _DecodeError(f"field {number}: wire type {wire}, want length-delimited")
    return buf[start:stop]


# --- messages ----------------------------------------------------------------------------------


def _format_time(seconds: int, nanos: int, micro: bool) -> str:
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS or not 0 <= nanos < 1_000_000_000:
        raise _DecodeError(f"timestamp out of range: {seconds}s {nanos}ns")
    moment = _EPOCH + timedelta(seconds=seconds)
    # Explicit fields: strftime does not zero-pad years before 1000 everywhere.
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    return f"{text}.{nanos // 1000:06d}Z" if micro else f"{text}Z"


def _go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String`` (``1h0m0s``, ``1.5s``, ``300ms``), as metav1.Duration
    writes itself in JSON."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                whole, frac = divmod(n, size)
                digits = f"{frac:0{len(str(size)) - 1}d}".rstrip("0") if size > 1 else ""
                return f"{sign}{whole}{'.' + digits if digits else ''}{unit}"
    seconds, frac = divmod(n, 1_000_000_000)
    fraction = f"{frac:09d}".rstrip("0")
    text = f"{seconds % 60}{'.' + fraction if fraction else ''}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _json_bytes(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError) as exc:  # deeply nested JSON exhausts the stack
        raise _DecodeError(f"{what} is not JSON: {exc}") from None


def _well_known(typ: str, buf: bytes, pos: int, end: int, depth: int) -> Any:
    """The JSON form of a message that has one of its own (time, quantity, int-or-string...)."""
    seen = _last(buf, pos, end)
    if typ in (proto_schemas.TIME, proto_schemas.MICRO_TIME):
        seconds = _signed(_int_of(buf, seen, 1), 64)
        nanos = _signed(_int_of(buf, seen, 2), 32)
        if seconds == 0 and nanos == 0:
            return None  # Go writes the zero time as an empty message; JSON has null
        return _format_time(seconds, nanos, typ == proto_schemas.MICRO_TIME)
    if typ == proto_schemas.QUANTITY:
        return _text(_bytes_of(buf, seen, 1)) or "0"
    if typ == proto_schemas.INT_OR_STRING:
        if _int_of(buf, seen, 1) == 1:
            return _text(_bytes_of(buf, seen, 3))
        return _signed(_int_of(buf, seen, 2), 32)
    if typ == proto_schemas.DURATION:
        return _go_duration(_signed(_int_of(buf, seen, 1), 64))
    if typ in (proto_schemas.RAW_EXTENSION, proto_schemas.JSON):
        return _json_bytes(_bytes_of(buf, seen, 1), "raw")
    if typ in (
        proto_schemas.PROPS_OR_ARRAY,
        proto_schemas.PROPS_OR_BOOL,
        proto_schemas.PROPS_OR_STRINGS,
    ):
        return _schema_or(typ, buf, pos, end, depth)
    # meta.v1.FieldsV1: the managed-fields set, JSON in a bytes field.
    raw = _bytes_of(buf, seen, 1)
    decoded = _json_bytes(raw, "fieldsV1")
    return {} if decoded is None else decoded


def _schema_or(typ: str, buf: bytes, pos: int, end: int, depth: int) -> Any:
    """apiextensions' JSONSchemaPropsOr{Array,Bool,StringArray}: a schema, or the other."""
    props = proto_schemas.message(proto_schemas.PROPS_OR_ARRAY).fields[0].type
    schema: Any = None
    others: list[Any] = []
    allows: bool | None = None
    schema_number = 2 if typ == proto_schemas.PROPS_OR_BOOL else 1
    for number, wire, start, stop in _fields(buf, pos, end):
        if number == schema_number and wire == _LEN:
            schema = _message(proto_schemas.message(props), buf, start, stop, depth + 1)
        elif typ == proto_schemas.PROPS_OR_ARRAY and number == 2 and wire == _LEN:
            others.append(_message(proto_schemas.message(props), buf, start, stop, depth + 1))
        elif typ == proto_schemas.PROPS_OR_STRINGS and number == 2 and wire == _LEN:
            others.append(_text(buf[start:stop]))
        elif typ == proto_schemas.PROPS_OR_BOOL and number == 1 and wire == _VARINT:
            allows = _varint(buf, start, stop)[0] != 0
    if others:
        return others
    if schema is not None:
        return schema
    return allows if typ == proto_schemas.PROPS_OR_BOOL else None


def _value(field: Field, buf: bytes, wire: int, start: int, stop: int, depth: int) -> Any:
    """One occurrence of a (non-map) value of ``field``'s type."""
    typ = field.type
    if typ in _VARINT_TYPES:
        if wire != _VARINT:
            raise _DecodeError(f"{field.name}: wire type {wire}, want varint")
        return _scalar(typ, _varint(buf, start, stop)[0])
    if typ == proto_schemas.DOUBLE:
        if wire != _FIXED64:
            raise _DecodeError(f"{field.name}: wire type {wire}, want fixed64")
        value = struct.unpack("<d", buf[start:stop])[0]
        if not math.isfinite(value):
            raise _DecodeError(f"{field.name}: {value} is not a JSON number")
        return int(value) if value.is_integer() else value
    if wire != _LEN:
        raise _DecodeError(f"{field.name}: wire type {wire}, want length-delimited")
    if typ == "string":
        return _text(buf[start:stop])
    if typ == "bytes":
        return base64.b64encode(buf[start:stop]).decode("ascii")
    if typ in proto_schemas.WELL_KNOWN:
        return _well_known(typ, buf, start, stop, depth + 1)
    return _message(proto_schemas.message(typ), buf, start, stop, depth + 1)


def _zero(typ: str) -> Any:
    """The JSON value of a map entry whose value the wire left out."""
    if typ in ("string", "bytes"):
        return ""
    if typ == proto_schemas.QUANTITY:
        return "0"
    if typ == proto_schemas.DOUBLE:
        return 0
    if typ in _VARINT_TYPES:
        return typ != "bool" and 0
    if typ in proto_schemas.WELL_KNOWN:
        return None
    return [] if proto_schemas.message(typ).is_list else {}


def _map_entry(field: Field, buf: bytes, pos: int, end: int, depth: int) -> tuple[str, Any]:
    key, value, found = "", None, False
    for number, wire, start, stop in _fields(buf, pos, end):
        if number == 1:
            if wire != _LEN:
                raise _DecodeError(f"{field.name}: map key wire type {wire}")
            key = _text(buf[start:stop])
        elif number == 2:
            value, found = _value(field, buf, wire, start, stop, depth), True
    return key, value if found else _zero(field.type)


def _message(msg: Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _DecodeError(f"messages nested deeper than {MAX_DEPTH}")
    out: dict[str, Any] = {}
    inline: list[dict[str, Any]] = []
    for number, wire, start, stop in _fields(buf, pos, end):
        field = msg.by_number.get(number)
        if field is None:
            continue  # a newer client's field: skipped, as kube-apiserver does
        if field.map:
            if wire != _LEN:
                raise _DecodeError(f"{field.name}: wire type {wire}, want a map entry")
            key, item = _map_entry(field, buf, start, stop, depth)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = out.setdefault(field.name, [])
            if wire == _LEN and field.type in _VARINT_TYPES:  # packed
                at = start
                while at < stop:
                    raw, at = _varint(buf, at, stop)
                    items.append(_scalar(field.type, raw))
            else:
                items.append(_value(field, buf, wire, start, stop, depth))
        else:
            value = _value(field, buf, wire, start, stop, depth)
            if field.inline:
                inline.append(value)
            elif value is None or (
                field.omitempty and not field.pointer and field.type in _OMITTABLE and not value
            ):
                # Plain Go fields always reach the wire; JSON's omitempty drops their zero
                # values. Go pointers reach it only when set, so theirs are kept, and so are
                # the zero values of fields without omitempty (JSON writes them).
                out.pop(field.name, None)
            else:
                out[field.name] = value
    if msg.is_list:
        return out.get("items", [])
    for extra in inline:
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def decode_message(raw: bytes, message: str) -> dict[str, Any]:
    """Decode ``raw`` (no envelope) as message ``message`` (``io.k8s.api.core.v1.Pod``)."""
    try:
        result = _message(proto_schemas.message(message), raw, 0, len(raw), 0)
    except _DecodeError as exc:
        raise bad_request(
            f"unable to decode protobuf {message.rpartition('.')[2]}: {exc}"
        ) from None
    assert isinstance(result, dict)
    return result


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\0``-enveloped request body into the JSON-shaped object.

    The result carries ``apiVersion`` and ``kind`` from the envelope. Raises a 400
    :class:`StatusError` for anything malformed or for a kind the server does not serve.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise bad_request("protobuf body is not bytes")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise bad_request(
            "the body of the request is not Kubernetes protobuf: it does not start with the "
            "'k8s\\x00' prefix"
        )
    try:
        seen = _last(body, len(MAGIC), len(body))
        type_meta = _bytes_of(body, seen, 1)
        meta = _last(type_meta, 0, len(type_meta))
        api_version = _text(_bytes_of(type_meta, meta, 1))
        kind = _text(_bytes_of(type_meta, meta, 2))
        raw = _bytes_of(body, seen, 2)
        encoding = _bytes_of(body, seen, 3)
    except _DecodeError as exc:
        raise bad_request(f"unable to decode protobuf envelope: {exc}") from None
    if encoding:
        raise bad_request(
            f"unsupported protobuf contentEncoding {encoding.decode(errors='replace')!r}"
        )
    if not kind:
        raise bad_request("Object 'Kind' is missing in the protobuf envelope")
    if not api_version:
        raise bad_request("Object 'apiVersion' is missing in the protobuf envelope")
    message = proto_schemas.top_level_message(api_version, kind)
    if message is None:
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(decode_message(raw, message))
    return obj


# --- encoding ----------------------------------------------------------------------------------


def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_len(out: bytearray, number: int, payload: bytes) -> None:
    _put_varint(out, number << 3 | _LEN)
    _put_varint(out, len(payload))
    out += payload


def _parse_time(value: str) -> tuple[int, int]:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds, delta.microseconds * 1000


def _encode_well_known(typ: str, value: Any) -> bytes:
    out = bytearray()
    if typ in (proto_schemas.TIME, proto_schemas.MICRO_TIME):
        seconds, nanos = _parse_time(str(value))
        if seconds:
            _put_varint(out, 1 << 3 | _VARINT)
            _put_varint(out, seconds)
        if nanos and typ == proto_schemas.MICRO_TIME:
            _put_varint(out, 2 << 3 | _VARINT)
            _put_varint(out, nanos)
    elif typ == proto_schemas.QUANTITY:
        _put_len(out, 1, str(value).encode())
    elif typ in (proto_schemas.RAW_EXTENSION, proto_schemas.JSON):
        _put_len(out, 1, json.dumps(value, separators=(",", ":")).encode())
    elif typ == proto_schemas.INT_OR_STRING:
        if isinstance(value, str):
            _put_varint(out, 1 << 3 | _VARINT)
            _put_varint(out, 1)
            _put_len(out, 3, value.encode())
        else:
            _put_varint(out, 2 << 3 | _VARINT)
            _put_varint(out, int(value))
    elif typ == proto_schemas.FIELDS_V1:
        _put_len(out, 1, json.dumps(value, separators=(",", ":")).encode())
    return bytes(out)


def _encode_value(out: bytearray, number: int, typ: str, value: Any) -> None:
    if typ in _VARINT_TYPES:
        _put_varint(out, number << 3 | _VARINT)
        _put_varint(out, int(value))
    elif typ == proto_schemas.DOUBLE:
        _put_varint(out, number << 3 | _FIXED64)
        out += struct.pack("<d", float(value))
    elif typ == "string":
        _put_len(out, number, str(value).encode())
    elif typ == "bytes":
        _put_len(out, number, base64.b64decode(value))
    elif typ in proto_schemas.WELL_KNOWN:
        _put_len(out, number, _encode_well_known(typ, value))
    else:
        _put_len(out, number, encode_message(value, typ))


def encode_message(obj: Any, message: str) -> bytes:
    """Encode a JSON-shaped value as the table message ``message`` (no envelope)."""
    msg = proto_schemas.message(message)
    out = bytearray()
    if msg.is_list:
        for item in obj:
            _put_len(out, 1, str(item).encode())
        return bytes(out)
    for field in msg.fields:
        if field.inline:
            _put_len(out, field.number, encode_message(obj, field.type))
            continue
        value = obj.get(field.name)
        if value is None:
            continue
        if field.map:
            for key, item in value.items():
                entry = bytearray()
                _put_len(entry, 1, str(key).encode())
                _encode_value(entry, 2, field.type, item)
                _put_len(out, field.number, bytes(entry))
        elif field.repeated:
            for item in value:
                _encode_value(out, field.number, field.type, item)
        else:
            _encode_value(out, field.number, field.type, value)
    return bytes(out)


def encode(obj: Mapping[str, Any]) -> bytes:
    """Encode a JSON-shaped object with ``apiVersion``/``kind`` into a ``k8s\\0`` body."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    message = proto_schemas.top_level_message(api_version, kind)
    if message is None:
        raise ValueError(f"no protobuf message for {api_version}/{kind}")
    type_meta = bytearray()
    _put_len(type_meta, 1, api_version.encode())
    _put_len(type_meta, 2, kind.encode())
    out = bytearray(MAGIC)
    _put_len(out, 1, bytes(type_meta))
    _put_len(out, 2, encode_message(obj, message))
    _put_len(out, 3, b"")
    _put_len(out, 4, b"")
    return bytes(out)
