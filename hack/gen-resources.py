#!/usr/bin/env python3
"""Regenerate the embedded server's built-in resource data from kube-apiserver v1.37.2 itself.

    .venv/bin/python hack/gen-resources.py          # needs .tools/kube/v1.37.2 (make kube)

Starts the pinned kube-apiserver (``constrained_impersonation.testing.KubeAPIServer``), reads
what it publishes and writes ``server/cimp_apiserver/data/kube-v1.37.2.zip`` (one JSON member
each, loaded lazily by the server) plus the test fixture
``tests/server/data/kube-v1.37.2-discovery.json.gz`` (the documents as captured):

``resources.json``
    Every group, version and resource in kube's discovery order, from the aggregated discovery
    documents (verbs, scope, singular name, short names, categories, subresources and their
    kinds) and the legacy ones (``storageVersionHash``); per listable resource the field labels
    its ``fieldSelector`` accepts (candidates from the Go source of k8s.io/kubernetes, each
    confirmed by a list against the real server) with kube's error text for the others, and the
    ``Table`` column definitions kube prints it with; ``generation`` where the resource's
    registry strategy keeps ``metadata.generation`` (its Go source says so), ``returnsDeleted``
    where a DELETE answers with the object (its store says so); ``deprecated``: the
    warning kube sends with every request to a deprecated kind (the types' lifecycle methods).
``types.json``
    Per schema (OpenAPI v3 component): each field's JSON type, the Go type kube names in
    ``cannot unmarshal`` errors and how Go's JSON encoder writes it (pointer, ``omitempty``,
    ``omitzero``: from the Go struct fields in the k8s.io/api module cache), and the
    ``x-kubernetes-*`` list/map/patch markers; per apiVersion/kind its schema.
``proto.json``
    Protobuf field numbers, wire types and JSON names per message, read from the
    ``generated.proto`` files of k8s.io/api, apimachinery, apiextensions-apiserver and
    kube-aggregator v0.37.2 in the Go module cache (OpenAPI carries no field numbers), with
    pointer-ness and ``omitempty`` from the Go struct tags.
``openapi/v3/<path>.json``, ``openapi/v3-index.json``, ``openapi/v2.json``, ``openapi/v2.pb``
    The OpenAPI documents exactly as served, minus the ``description`` of every schema,
    parameter and operation (they are nine tenths of the bytes; only ``kubectl explain`` shows
    them); responses keep theirs. The index maps each document's path to the hash of its
    bytes; ``v2.pb`` is the protobuf form kubectl asks for (definitions only);
    ``v2-definitions.json`` names the definitions (so custom ones are added without parsing).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "sdk"), str(ROOT / "server")]

from cimp_apiserver import openapi  # noqa: E402
from constrained_impersonation.testing import KubeAPIServer  # noqa: E402
from constrained_impersonation.testing._assets import KUBE_VERSION  # noqa: E402

MOD = Path.home() / "go" / "pkg" / "mod" / "k8s.io"
STAGING = KUBE_VERSION.replace("v1.", "v0.", 1)
KUBERNETES = MOD / f"kubernetes@{KUBE_VERSION}"
OUT = ROOT / "server" / "cimp_apiserver" / "data" / f"kube-{KUBE_VERSION}.zip"
FIXTURE = ROOT / "tests" / "server" / "data" / f"kube-{KUBE_VERSION}-discovery.json.gz"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
# Go packages of the schemas, by the prefix of their OpenAPI component names.
PACKAGES = {
    "io.k8s.api.": "api",
    "io.k8s.apimachinery.": "apimachinery",
    "io.k8s.apiextensions-apiserver.": "apiextensions-apiserver",
    "io.k8s.kube-aggregator.": "kube-aggregator",
}
# Schemas with a JSON form of their own (not an object of their fields).
SPECIAL = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "any",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "intstr",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": (
        "any"
    ),
}
GO_BUILTINS = {"string", "bool", "int", "int32", "int64", "uint32", "uint64", "float64", "byte"}
PROTO_SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}
_MARKERS = (
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
)


def strip(node: Any, responses: bool = False) -> Any:
    """The document without descriptions (most of its bytes, read by no client but ``kubectl
    explain``), except those of responses, which OpenAPI requires ("OK", "Created")."""
    if isinstance(node, dict):
        if responses:
            return {code: strip(response) for code, response in node.items()}
        out = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                continue
            out[key] = strip(value, key == "responses")
        return out
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    """The hash kube-openapi puts in a v3 document's URL, of the bytes we serve."""
    return hashlib.sha512(compact(value)).hexdigest().upper()


# --------------------------------------------------------------------------- capture


class Capture:
    """Everything read from the running server."""

    def __init__(self, server: KubeAPIServer) -> None:
        self.server = server

    def get(self, path: str, accept: str = "application/json") -> Any:
        status, body = self.server.request("GET", path, headers={"Accept": accept})
        if status != 200:
            raise SystemExit(f"GET {path}: {status} {body}")
        return body

    def status_of(self, path: str) -> tuple[int, Any]:
        return self.server.request("GET", path)


def capture_discovery(cap: Capture) -> dict[str, Any]:
    docs: dict[str, Any] = {
        "aggregated/api": cap.get("/api", AGGREGATED),
        "aggregated/apis": cap.get("/apis", AGGREGATED),
        "api": cap.get("/api"),
        "apis": cap.get("/apis"),
        "api/v1": cap.get("/api/v1"),
    }
    docs["api"]["serverAddressByClientCIDRs"] = []  # the port of this run
    for group in docs["apis"]["groups"]:
        docs[f"apis/{group['name']}"] = cap.get(f"/apis/{group['name']}")
        for version in group["versions"]:
            gv = version["groupVersion"]
            docs[f"apis/{gv}"] = cap.get(f"/apis/{gv}")
    return docs


def kubectl_api_resources(server: KubeAPIServer) -> str:
    kubectl = server.kubectl
    if kubectl is None:
        raise SystemExit("no kubectl next to kube-apiserver")
    config = server.kubeconfig(server.admin_token)
    result = subprocess.run(  # noqa: S603 - our own kubectl build
        [str(kubectl), "--kubeconfig", str(config), "api-resources"],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


# --------------------------------------------------------------------------- field selectors

_LABEL = re.compile(r'"((?:[a-z][A-Za-z]*\.)*[a-z][A-Za-z]*)"')


def label_candidates() -> tuple[set[str], set[str]]:
    """String literals that look like field labels: in kube's field label conversions (tried
    on every resource), and in its registry strategies and API types (tried where they name
    a field of the resource's schema)."""
    conversions: set[str] = set()
    for path in KUBERNETES.glob("pkg/apis/**/conversion.go"):
        conversions.update(_LABEL.findall(path.read_text()))
    others: set[str] = set()
    for path in KUBERNETES.glob("pkg/registry/**/strategy.go"):
        others.update(_LABEL.findall(path.read_text()))
    for path in (MOD / f"api@{STAGING}").glob("*/*/types.go"):
        text = path.read_text()
        others.update(m for m in _LABEL.findall(text) if "." in m and m.split(".")[0] == "spec")
    short = {c for c in conversions if len(c) < 60}
    return short, {c for c in others if len(c) < 60} - short


def _path_exists(schemas: dict[str, Any], name: str, path: list[str]) -> bool:
    schema = schemas.get(name) or {}
    for i, part in enumerate(path):
        props = schema.get("properties") or {}
        if part not in props:
            return False
        prop = props[part]
        if prop.get("type") == "array":
            prop = prop.get("items") or {}
        ref = _ref_of(prop)
        if ref is None:
            return i == len(path) - 1
        schema = schemas.get(ref) or {}
    return True


def probe_field_selectors(
    cap: Capture, resource: dict[str, Any], gv_path: str, component: str, schemas: dict[str, Any]
) -> dict[str, Any]:
    base = f"/{gv_path}/{resource['resource']}"
    status, body = cap.status_of(base + "?fieldSelector=" + quote("zz.unknown=x"))
    if status != 400:
        raise SystemExit(f"{base}: an unknown field label was answered {status}")
    error = body["message"].replace("zz.unknown", "{label}")
    labels = []
    conversions, others = CANDIDATES
    for label in sorted(conversions | others):
        parts = label.split(".")
        if label in others and not _path_exists(schemas, component, parts):
            continue
        status, _ = cap.status_of(base + "?limit=1&fieldSelector=" + quote(f"{label}=x"))
        if status == 200:
            labels.append(label)
    return {"labels": labels, "error": error}


CANDIDATES: tuple[set[str], set[str]] = (set(), set())


# --------------------------------------------------------------------------- resources


def generation_kinds() -> set[tuple[str, str]]:
    """``(group's first label, kind in lower case)`` of the resources whose registry strategy
    sets ``metadata.generation`` (``Generation = 1`` in PrepareForCreate)."""
    found: set[tuple[str, str]] = set()
    roots = [
        KUBERNETES / "pkg" / "registry",
        MOD / f"apiextensions-apiserver@{STAGING}" / "pkg" / "registry",
        MOD / f"kube-aggregator@{STAGING}" / "pkg" / "registry",
    ]
    for root in roots:
        for path in root.glob("**/strategy.go"):
            if "Generation = 1" in path.read_text():
                group_dir = path.parent.parent.name
                if root.parent.name == "pkg" and root.parent.parent.name.startswith(
                    "apiextensions"
                ):
                    group_dir = "apiextensions"
                found.add((group_dir, path.parent.name))
    return found


GENERATION: set[tuple[str, str]] = set()


def returns_deleted_kinds() -> set[tuple[str, str]]:
    """``(group's first label, kind in lower case)`` of the resources whose DELETE answers
    with the deleted object rather than a Status (``ReturnDeletedObject`` in their store)."""
    found: set[tuple[str, str]] = set()
    for path in (KUBERNETES / "pkg" / "registry").glob("**/storage/storage.go"):
        if re.search(r"ReturnDeletedObject:\s*(true|returnDeletedObject)", path.read_text()):
            found.add((path.parent.parent.parent.name, path.parent.parent.name))
    return found


RETURNS_DELETED: set[tuple[str, str]] = set()
_LIFECYCLE = re.compile(
    r"func \(in \*(\w+)\) APILifecycle(Deprecated|Removed|Replacement)\(\) "
    r"[^{]*\{\s*return ([^\n]+)"
)


def deprecations(group: str, version: str) -> dict[str, str]:
    """Kind → the warning kube-apiserver sends with every request to a deprecated kind of a
    served group version (from the API types' lifecycle methods)."""
    directory = MOD / f"api@{STAGING}" / (group.split(".", 1)[0] if group else "core") / version
    found: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*lifecycle*.go")):
        for kind, what, value in _LIFECYCLE.findall(path.read_text()):
            found.setdefault(kind, {})[what] = value.strip()
    warnings: dict[str, str] = {}
    gv = f"{group}/{version}" if group else version
    for kind, marks in found.items():
        if "Deprecated" not in marks:
            continue
        major, minor = (int(x) for x in re.findall(r"\d+", marks["Deprecated"])[:2])
        text = f"{gv} {kind} is deprecated in v{major}.{minor}+"
        if "Removed" in marks:
            removed = [int(x) for x in re.findall(r"\d+", marks["Removed"])[:2]]
            text += f", unavailable in v{removed[0]}.{removed[1]}+"
        if "Replacement" in marks:
            fields = dict(re.findall(r'(Group|Version|Kind): "([^"]*)"', marks["Replacement"]))
            replacement = (
                f"{fields.get('Group')}/{fields['Version']}"
                if fields.get("Group")
                else fields.get("Version", "")
            )
            text += f"; use {replacement} {fields.get('Kind', '')}"
        warnings[kind] = text
    return warnings


def _kind_ref(ref: dict[str, str], group: str, version: str) -> list[str]:
    return [ref.get("group") or group, ref.get("version") or version, ref["kind"]]


def build_resources(
    cap: Capture, docs: dict[str, Any], schemas: dict[str, Any], gvk_index: dict[str, str]
) -> dict[str, Any]:
    groups = []
    for item in docs["aggregated/api"]["items"] + docs["aggregated/apis"]["items"]:
        group = item["metadata"].get("name", "")
        versions = []
        for entry in item["versions"]:
            version = entry["version"]
            gv_path = f"apis/{group}/{version}" if group else f"api/{version}"
            legacy = {r["name"]: r for r in docs[gv_path]["resources"]}
            warnings = deprecations(group, version)
            listed = []
            for res in entry["resources"]:
                name = res["resource"]
                out: dict[str, Any] = {
                    "resource": name,
                    "scope": res["scope"],
                    "singular": res["singularResource"],
                    "verbs": res["verbs"],
                }
                if "responseKind" in res:
                    out["kind"] = _kind_ref(res["responseKind"], group, version)
                for key in ("shortNames", "categories"):
                    if res.get(key):
                        out[key] = res[key]
                if "kind" in out and out["kind"][2] in warnings:
                    out["deprecated"] = warnings[out["kind"][2]]
                if "kind" in out:
                    first = group.split(".")[0] if group else "core"
                    if (first, out["kind"][2].lower()) in GENERATION:
                        out["generation"] = True
                    if (first, out["kind"][2].lower()) in RETURNS_DELETED:
                        out["returnsDeleted"] = True
                svh = legacy.get(name, {}).get("storageVersionHash")
                if svh:
                    out["storageVersionHash"] = svh
                subs = []
                for sub in res.get("subresources", ()):
                    subs.append(
                        {
                            "name": sub["subresource"],
                            "kind": _kind_ref(sub["responseKind"], group, version),
                            "verbs": sub["verbs"],
                        }
                    )
                if subs:
                    out["subresources"] = subs
                if "list" in res["verbs"]:
                    kind = out["kind"][2]
                    component = gvk_index[f"{group}/{version}/{kind}"]
                    out["fieldSelectors"] = probe_field_selectors(
                        cap, res, gv_path, component, schemas
                    )
                    table = cap.get(f"/{gv_path}/{name}?limit=1", TABLE)
                    out["columns"] = [
                        [c["name"], c["type"], c["format"], c["priority"], c["description"]]
                        for c in table["columnDefinitions"]
                    ]
                listed.append(out)
            versions.append({"version": version, "resources": listed})
        groups.append({"name": group, "versions": versions})
    return {"version": KUBE_VERSION, "groups": groups}


# --------------------------------------------------------------------------- schemas


def _ref_of(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2]
    for member in schema.get("allOf") or ():
        if "$ref" in member:
            return str(member["$ref"]).rpartition("/")[2]
    return None


def merge_schemas(v3: dict[str, Any]) -> dict[str, Any]:
    """Every component of every document (the same name is the same schema, but for the GVK
    list of DeleteOptions and WatchEvent, which each document tags with its own)."""
    merged: dict[str, Any] = {}
    for doc in v3.values():
        for name, schema in (doc.get("components") or {}).get("schemas", {}).items():
            if name in merged:
                tags = merged[name].get("x-kubernetes-group-version-kind") or []
                for tag in schema.get("x-kubernetes-group-version-kind") or ():
                    if tag not in tags:
                        tags.append(tag)
                continue
            merged[name] = strip(schema)
    return merged


def gvk_index_of(schemas: dict[str, Any]) -> dict[str, str]:
    index: dict[str, str] = {}
    for name, schema in schemas.items():
        for tag in schema.get("x-kubernetes-group-version-kind") or ():
            key = f"{tag['group']}/{tag['version']}/{tag['kind']}"
            if tag["kind"] == "WatchEvent":
                continue
            index.setdefault(key, name)
    return index


class GoPackage:
    """The struct fields of one Go package: JSON name → Go type, pointer, omitempty, proto."""

    _IMPORT = re.compile(r'^\s*(\w+\s+)?"([^"]+)"', re.M)
    _STRUCT = re.compile(r"^type (\w+) struct \{$")
    _FIELD = re.compile(r"^\t(\w+\s+)?(\S+)\s+`([^`]*)`")
    _TAG = re.compile(r'(\w+):"([^"]*)"')

    def __init__(self, directory: Path) -> None:
        self.name = directory.name
        self.structs: dict[str, dict[str, dict[str, Any]]] = {}
        # Named slice types (``type ExtraValue []string``): protobuf wraps them in a message.
        self.slices: set[str] = set()
        for path in sorted(directory.glob("*.go")):
            if path.name.endswith("_test.go") or path.name.startswith("zz_generated"):
                continue
            self._read(path.read_text())

    def _read(self, text: str) -> None:
        aliases: dict[str, str] = {}
        block = re.search(r"^import \((.*?)^\)", text, re.M | re.S)
        imports = block.group(1) if block else ""
        for single in re.findall(r'^import ((?:\w+\s+)?"[^"]+")', text, re.M):
            imports += "\n" + single
        for alias, path in self._IMPORT.findall(imports):
            real = path.rsplit("/", 1)[-1]
            aliases[alias.strip() or real] = real
        package = re.search(r"^package (\w+)", text, re.M)
        if package:
            self.name = package.group(1)
        self.slices.update(re.findall(r"^type (\w+) \[\]\w+$", text, re.M))
        current: str | None = None
        for line in text.splitlines():
            if match := self._STRUCT.match(line):
                current = match.group(1)
                self.structs.setdefault(current, {})
                continue
            if line == "}":
                current = None
                continue
            if current is None:
                continue
            match = self._FIELD.match(line)
            if not match:
                continue
            field_name, go_type, raw_tags = match.groups()
            tags = dict(self._TAG.findall(raw_tags))
            json_tag = tags.get("json")
            if json_tag is None or json_tag == "-":
                continue
            json_name, *options = json_tag.split(",")
            embedded = field_name is None
            inline = "inline" in options or (embedded and not json_name)
            proto = tags.get("protobuf", "")
            number = int(proto.split(",")[1]) if proto.count(",") >= 1 else 0
            proto_name = ""
            for part in proto.split(","):
                if part.startswith("name="):
                    proto_name = part[5:]
            self.structs[current][json_name if not inline else f"<inline:{number}>"] = {
                "json": json_name,
                "go": self.render(go_type, aliases),
                "pointer": go_type.startswith("*"),
                "omitempty": "omitempty" in options,
                "omitzero": "omitzero" in options,
                "inline": inline,
                "number": number,
                "proto": proto_name,
            }

    def render(self, expr: str, aliases: dict[str, str]) -> str:
        """A Go type as reflect prints it (what ``cannot unmarshal`` errors name)."""
        if expr.startswith("*"):
            return self.render(expr[1:], aliases)
        if expr.startswith("[]"):
            return "[]" + self.render(expr[2:], aliases)
        if expr.startswith("map["):
            depth, i = 0, 3
            for i in range(3, len(expr)):
                depth += {"[": 1, "]": -1}.get(expr[i], 0)
                if depth == 0:
                    break
            key, value = expr[4:i], expr[i + 1 :]
            return f"map[{self.render(key, aliases)}]{self.render(value, aliases)}"
        if "." in expr:
            alias, _, name = expr.partition(".")
            return f"{aliases.get(alias, alias)}.{name}"
        if expr in GO_BUILTINS:
            return "uint8" if expr == "byte" else expr
        return f"{self.name}.{expr}"


_GO_PACKAGES: dict[str, GoPackage | None] = {}


def package_dir(component: str) -> Path | None:
    prefix, _, _ = component.rpartition(".")
    for start, module in PACKAGES.items():
        if component.startswith(start):
            rest = prefix[len(start) :].replace(".", "/")
            return MOD / f"{module}@{STAGING}" / rest
    return None


def go_package(component: str) -> GoPackage | None:
    directory = package_dir(component)
    if directory is None or not directory.is_dir():
        return None
    key = str(directory)
    if key not in _GO_PACKAGES:
        _GO_PACKAGES[key] = GoPackage(directory)
    return _GO_PACKAGES[key]


def go_struct(component: str) -> dict[str, dict[str, Any]]:
    package = go_package(component)
    if package is None:
        return {}
    return package.structs.get(component.rpartition(".")[2], {})


def go_json_fields(component: str, depth: int = 0) -> dict[str, dict[str, Any]]:
    """The Go fields of a struct by JSON name, with inline (embedded) structs' fields in line,
    as encoding/json sees them."""
    out: dict[str, dict[str, Any]] = {}
    prefix = component.rpartition(".")[0]
    package = go_package(component)
    for key, info in go_struct(component).items():
        if not info["inline"]:
            out[key] = info
            continue
        alias, _, name = info["go"].partition(".")
        if package is not None and alias == package.name and depth < 4:
            for inner_key, inner in go_json_fields(f"{prefix}.{name}", depth + 1).items():
                out.setdefault(inner_key, inner)
    return out


def go_flags(info: dict[str, Any]) -> str:
    """How encoding/json writes a field: ``p`` a pointer (absent when nil), ``o`` omitempty,
    ``z`` omitzero; none: always written, as its zero value when unset."""
    return (
        ("p" if info.get("pointer") else "")
        + ("o" if info.get("omitempty") else "")
        + ("z" if info.get("omitzero") else "")
    )


def schema_type(schema: dict[str, Any]) -> str:
    ref = _ref_of(schema)
    if ref is not None:
        return SPECIAL.get(ref, ref)
    if schema.get("x-kubernetes-int-or-string"):
        return "intstr"
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return "any"
    typ = schema.get("type")
    if typ == "string":
        return {"byte": "bytes", "date-time": "time"}.get(schema.get("format", ""), "string")
    if typ in ("integer", "boolean", "number"):
        return str(typ)
    if typ == "array":
        return "[]" + schema_type(schema.get("items") or {})
    if typ == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "{}" + schema_type(schema["additionalProperties"])
    return "any"


def _go_default(typ: str) -> str:
    if typ.startswith("[]"):
        return "[]" + _go_default(typ[2:])
    if typ.startswith("{}"):
        return "map[string]" + _go_default(typ[2:])
    return {
        "string": "string",
        "integer": "int64",
        "boolean": "bool",
        "number": "float64",
        "time": "v1.Time",
        "bytes": "[]uint8",
        "quantity": "resource.Quantity",
        "intstr": "intstr.IntOrString",
        "any": "interface {}",
    }.get(typ, "v1." + typ.rpartition(".")[2])


def build_types(schemas: dict[str, Any], gvk_index: dict[str, str]) -> dict[str, Any]:
    structs: dict[str, Any] = {}
    for name, schema in sorted(schemas.items()):
        if name in SPECIAL or schema.get("type") != "object" or "properties" not in schema:
            continue
        go = go_json_fields(name)
        fields: dict[str, Any] = {}
        for prop, sub in sorted(schema["properties"].items()):
            typ = schema_type(sub)
            info = go.get(prop) or {"omitempty": True}  # unknown to Go: never filled in
            entry: list[Any] = [typ, info.get("go") or _go_default(typ), go_flags(info)]
            markers = {k.removeprefix("x-kubernetes-"): sub[k] for k in _MARKERS if k in sub}
            if markers:
                entry.append(markers)
            fields[prop] = entry
        structs[name] = {"go": name.rpartition(".")[2], "fields": fields}
        if schema.get("required"):
            structs[name]["required"] = schema["required"]
    kinds = {gvk: name for gvk, name in sorted(gvk_index.items()) if name in structs}
    return {"kinds": kinds, "structs": structs}


# --------------------------------------------------------------------------- protobuf

_MESSAGE = re.compile(r"^message (\w+) \{(.*?)^\}", re.M | re.S)
_PROTO_FIELD = re.compile(r"^\s*(optional|repeated) (\S+) (\w+) = (\d+);", re.M)
_PROTO_MAP = re.compile(r"^\s*map<(\S+), (\S+)> (\w+) = (\d+);", re.M)


def proto_files() -> Iterator[Path]:
    for module in PACKAGES.values():
        yield from sorted((MOD / f"{module}@{STAGING}").glob("**/generated.proto"))


def proto_component(package: str, typ: str) -> str:
    """A proto type reference as the OpenAPI component name of that message."""
    if typ in PROTO_SCALARS:
        return typ
    full = typ[1:] if typ.startswith(".") else f"{package}.{typ}"
    rest = full.removeprefix("k8s.io.")
    return "io.k8s." + rest.replace("_", "-")


def build_proto(schemas: dict[str, Any], gvk_index: dict[str, str]) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for path in proto_files():
        text = path.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M)
        if package is None:
            continue
        for name, body in _MESSAGE.findall(text):
            component = proto_component(package.group(1), name)
            go = {f["number"]: f for f in go_struct(component).values()}
            fields: list[tuple[int, list[Any]]] = []
            for label, typ, field, number in _PROTO_FIELD.findall(body):
                fields.append(
                    (int(number), _proto_field(package.group(1), typ, field, int(number), go))
                )
                if label == "repeated":
                    fields[-1][1][3] += "r"
            for _, value, field, number in _PROTO_MAP.findall(body):
                entry = _proto_field(package.group(1), value, field, int(number), go)
                entry[3] += "m"
                fields.append((int(number), entry))
            package_of = go_package(component)
            if package_of is not None and name in package_of.slices:
                messages[component] = "list"  # JSON: the repeated field's values, bare
            else:
                messages[component] = [entry for _, entry in sorted(fields)]
    # Only what a served kind can reach.
    reachable: set[str] = set()
    todo = [
        n for n, s in schemas.items() if s.get("x-kubernetes-group-version-kind") and n in messages
    ]
    while todo:
        name = todo.pop()
        if name in reachable or name not in messages:
            continue
        reachable.add(name)
        if messages[name] != "list":
            todo.extend(e[2] for e in messages[name] if e[2] not in PROTO_SCALARS)
    kinds = {gvk: name for gvk, name in sorted(gvk_index.items()) if name in reachable}
    return {"kinds": kinds, "messages": {name: messages[name] for name in sorted(reachable)}}


def _proto_field(
    package: str, typ: str, field: str, number: int, go: dict[int, dict[str, Any]]
) -> list[Any]:
    info = go.get(number) or {}
    flags = ""
    if info.get("pointer"):
        flags += "p"
    if info.get("omitempty") or info.get("omitzero"):
        flags += "o"
    if info.get("inline"):
        flags += "i"
    json_name = info.get("json") or field
    if info and info.get("proto") and info["proto"] != field:
        raise SystemExit(f"{package} {field}: Go tag names proto field {info['proto']}")
    return [number, json_name, proto_component(package, typ), flags]


# --------------------------------------------------------------------------- main


def write_zip(members: dict[str, bytes]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(OUT, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    started = time.monotonic()
    CANDIDATES[0].update(label_candidates()[0])
    CANDIDATES[1].update(label_candidates()[1])
    GENERATION.update(generation_kinds())
    RETURNS_DELETED.update(returns_deleted_kinds())
    with KubeAPIServer() as server:
        cap = Capture(server)
        docs = capture_discovery(cap)
        index = cap.get("/openapi/v3")
        v3 = {path: cap.get(entry["serverRelativeURL"]) for path, entry in index["paths"].items()}
        v2 = strip(cap.get("/openapi/v2"))
        schemas = merge_schemas(v3)
        gvk_index = gvk_index_of(schemas)
        table = build_resources(cap, docs, schemas, gvk_index)
        docs["kubectl api-resources"] = kubectl_api_resources(server)
    members: dict[str, bytes] = {
        "resources.json": compact(table),
        "types.json": compact(build_types(schemas, gvk_index)),
        "proto.json": compact(build_proto(schemas, gvk_index)),
        "openapi/v3-index.json": compact({path: digest(strip(doc)) for path, doc in v3.items()}),
        "openapi/v2.json": compact(v2),
        "openapi/v2-definitions.json": compact(sorted(v2["definitions"])),
        "openapi/v2.pb": openapi.swagger_protobuf(v2),
    }
    for path, doc in v3.items():
        members[f"openapi/v3/{path}.json"] = compact(strip(doc))
    write_zip(members)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_bytes(gzip.compress(compact(docs), 9, mtime=0))
    print(
        f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes) and "
        f"{FIXTURE.relative_to(ROOT)} ({FIXTURE.stat().st_size:,} bytes) "
        f"in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
