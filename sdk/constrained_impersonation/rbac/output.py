"""Reading documents and printing results the same way in every ``cimp`` command.

Input mistakes (a missing file, malformed YAML or JSON) become one-line ``ValueError`` /
``OSError`` messages naming the file, which the CLI prints without a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

__all__ = [
    "FORMATS",
    "dump",
    "load_documents",
    "read_text",
    "render_table",
]

FORMATS = ("table", "json", "yaml")


def read_text(source: str | Path) -> str:
    """The text of a file, or of stdin for ``-``; a missing file is a one-line error."""
    if str(source) == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.exists():
        raise OSError(f"{source}: no such file")
    if path.is_dir():
        raise OSError(f"{source}: is a directory, expected a file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not UTF-8 text") from None


def _yaml_error(source: str, exc: yaml.YAMLError) -> ValueError:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ValueError(f"{source}: malformed YAML{where}: {problem}")


def _flatten(doc: Any, source: str) -> Iterator[dict[str, Any]]:
    if doc is None:
        return
    if not isinstance(doc, Mapping):
        raise ValueError(f"{source}: expected Kubernetes objects, found {type(doc).__name__}")
    kind = str(doc.get("kind") or "")
    if kind == "List" or (kind.endswith("List") and isinstance(doc.get("items"), list)):
        for item in doc.get("items") or ():
            yield from _flatten(item, source)
        return
    yield dict(doc)


def load_documents(sources: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Every object in YAML or JSON files (multi-document, ``List`` kinds flattened);
    directories are read for ``*.yaml``, ``*.yml`` and ``*.json`` files."""
    objects: list[dict[str, Any]] = []
    for source in sources:
        path = Path(source)
        if str(source) != "-" and path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
            )
            objects.extend(load_documents(files))
            continue
        text = read_text(source)
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise _yaml_error(str(source), exc) from None
        for doc in docs:
            objects.extend(_flatten(doc, str(source)))
    return objects


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks: what people paste into kubectl."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, fmt: str, out: IO[str] | None = None) -> None:
    """Print ``data`` as JSON or YAML; a list of manifests becomes a YAML stream (``---``)."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    if fmt != "yaml":
        raise ValueError(f"unknown output format {fmt!r}; use {', '.join(FORMATS)}")
    if (
        isinstance(data, list)
        and data
        and all(isinstance(d, Mapping) and "kind" in d for d in data)
    ):
        out.write(
            yaml.dump_all(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
        )
        return
    out.write(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """kubectl-style columns: upper-case headers, left-aligned, three spaces apart."""
    cells = [[str(h).upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines) + "\n"
