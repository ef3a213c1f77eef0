"""Warnings added while a request is served, sent as ``Warning: 299 - "..."`` headers the way
kube-apiserver's warning recorder sends them (``k8s.io/apiserver`` ``WithWarningRecorder``).

Each distinct text is sent once, in the order added, after the warnings the handler already
put on the response (typed decoding's ``unknown field``). Past 4096 characters in total every
warning is cut to 256 characters, and once that budget is spent again the rest are dropped.
A text with control characters is never sent. Warnings go out on errors too, as in kube.
"""

from __future__ import annotations

import re

from aiohttp import web

__all__ = ["add_warning", "queued_warnings", "recorded_headers", "write_warnings"]

_WARNINGS: web.RequestKey[list[str]] = web.RequestKey("cimp.warnings", list)
_TOTAL_RUNES = 4 * 1024
_ITEM_RUNES = 256
_SENT = re.compile(r'299 - "((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")


def add_warning(request: web.Request, text: str) -> None:
    """Queue ``text`` for this request's response."""
    if text:
        request.setdefault(_WARNINGS, []).append(text)


def queued_warnings(request: web.Request) -> list[str]:
    """What was queued for this request so far."""
    return list(request.get(_WARNINGS, []))


def _header(text: str) -> str | None:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return None
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def recorded_headers(texts: list[str]) -> list[str]:
    """The header values kube's recorder leaves after ``AddWarning`` of each text in turn."""
    headers: list[str] = []
    ordered: list[str] = []
    seen: set[str] = set()
    written, truncating = 0, False
    for text in texts:
        if not text or (written >= _TOTAL_RUNES and truncating) or text in seen:
            continue
        seen.add(text)
        ordered.append(text)
        sent = text[:_ITEM_RUNES] if truncating else text
        header = _header(sent)
        if header is None:
            continue
        if written + len(sent) <= _TOTAL_RUNES or truncating:
            written += len(sent)
            headers.append(header)
            continue
        truncating, written, headers = True, 0, []
        for earlier in ordered:
            cut = earlier[:_ITEM_RUNES]
            if (header := _header(cut)) is not None:
                written += len(cut)
                headers.append(header)
    return headers


async def write_warnings(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: put the queued warnings on the response."""
    added = request.get(_WARNINGS)
    if not added:
        return
    sent = []
    for value in response.headers.getall("Warning", []):
        match = _SENT.fullmatch(value)
        if match is not None:
            sent.append(_UNESCAPE.sub(r"\1", match[1]))
    response.headers.popall("Warning", None)
    for header in recorded_headers(sent + added):
        response.headers.add("Warning", header)
