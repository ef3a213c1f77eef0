"""A session declared on the command line or in a small YAML file, for ``cimp rbac`` and
``cimp check``.

File format (every key optional except ``rules``; command-line flags win)::

    mode: user-info
    requestor: deputy-ns/deputy        # NS/NAME, user:NAME or group:NAME
    targets: [alice]                   # whom it may impersonate (rbac); omit for any
    impersonate:                       # the exact identity (check)
      user: alice
      uid: "1234"
      groups: [developers]
      extra: {example.com/scopes: [console]}
    forward: {uids: true, groups: true, extra: [example.com/scopes]}
    rules:
    - verbs: [get]
      resources: [virtualmachineinstances/console]
      group: subresources.kubevirt.io
      namespaces: [default]
    - verbs: [get]
      paths: [/version]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..identity import Identity
from ..scope import NonResourceRule, Rule, Scope
from .output import read_text
from .policy import Subject

__all__ = [
    "SessionSpec",
    "add_scope_arguments",
    "load_spec",
    "scope_from_rules",
    "spec_from_args",
]


@dataclass
class SessionSpec:
    """What a session declares: scope, mode, requestor, targets and forwarded attributes."""

    rules: list[Rule | NonResourceRule] = field(default_factory=list)
    mode: str | None = None
    requestor: Subject | None = None
    targets: list[str] | None = None
    identity: Identity | None = None
    uids: bool | list[str] = False
    groups: bool | list[str] = False
    extra: dict[str, list[str] | None] = field(default_factory=dict)

    @property
    def scope(self) -> Scope:
        if not self.rules:
            raise ValueError(
                "no requests declared: give --verb and --resource (or --path), or a file with rules"
            )
        return Scope(*self.rules)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    raise ValueError(f"{what}: expected a string or a list of strings, got {value!r}")


def scope_from_rules(rules: Any, source: str = "rules") -> list[Rule | NonResourceRule]:
    """``rules`` entries as :class:`Rule` / :class:`NonResourceRule` (errors name the entry)."""
    if not isinstance(rules, list):
        raise ValueError(f"{source}: 'rules' must be a list")
    out: list[Rule | NonResourceRule] = []
    for index, raw in enumerate(rules):
        where = f"{source}: rules[{index}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: expected a mapping")
        unknown = set(raw) - {
            "verbs",
            "resources",
            "group",
            "apiGroup",
            "namespaces",
            "names",
            "paths",
        }
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            if "paths" in raw:
                out.append(
                    NonResourceRule(
                        _strings(raw.get("verbs"), where), _strings(raw["paths"], where)
                    )
                )
                continue
            namespaces = _strings(raw.get("namespaces"), where) or None
            names = _strings(raw.get("names"), where) or None
            group = raw.get("group", raw.get("apiGroup", ""))
            out.append(
                Rule(
                    _strings(raw.get("verbs"), where),
                    _strings(raw.get("resources"), where),
                    group=str(group or ""),
                    namespaces=namespaces,
                    names=names,
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return out


def _identity(raw: Any, source: str) -> Identity:
    if isinstance(raw, str):
        return Identity(raw)
    if not isinstance(raw, Mapping) or not raw.get("user"):
        raise ValueError(f"{source}: 'impersonate' needs at least a user")
    extra_raw = raw.get("extra") or {}
    if not isinstance(extra_raw, Mapping):
        raise ValueError(f"{source}: impersonate.extra must map keys to lists of values")
    return Identity(
        str(raw["user"]),
        str(raw["uid"]) if raw.get("uid") else None,
        tuple(_strings(raw.get("groups"), source)),
        {str(k): tuple(_strings(v, source)) for k, v in extra_raw.items()},
    )


def _forwarded(value: Any, source: str) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    return _strings(value, source)


def load_spec(path: str | Path) -> SessionSpec:
    """Read a session file (format in the module docstring)."""
    source = str(path)
    text = read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(
            f"{source}: malformed YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping with 'rules'")
    unknown = set(data) - {"mode", "requestor", "targets", "impersonate", "forward", "rules"}
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}")
    spec = SessionSpec(rules=scope_from_rules(data.get("rules", []), source))
    if data.get("mode"):
        spec.mode = str(data["mode"])
    if data.get("requestor"):
        spec.requestor = Subject.parse(str(data["requestor"]))
    if "targets" in data:
        spec.targets = _strings(data["targets"], f"{source}: targets") or None
    if data.get("impersonate"):
        spec.identity = _identity(data["impersonate"], source)
    forward = data.get("forward") or {}
    if not isinstance(forward, Mapping):
        raise ValueError(f"{source}: 'forward' must be a mapping")
    spec.uids = _forwarded(forward.get("uids", False), f"{source}: forward.uids")
    spec.groups = _forwarded(forward.get("groups", False), f"{source}: forward.groups")
    extra = forward.get("extra") or {}
    if isinstance(extra, Mapping):
        spec.extra = {
            str(k): (_strings(v, source) if v is not None else None) for k, v in extra.items()
        }
    else:
        spec.extra = {k: None for k in _strings(extra, f"{source}: forward.extra")}
    return spec


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags declaring one rule of the session's scope, and the session file."""
    group = parser.add_argument_group("scope (the requests the session makes)")
    group.add_argument("-f", "--filename", metavar="FILE", help="session file (YAML, see below)")
    group.add_argument("--verb", action="append", default=[], help="request verb (repeatable)")
    group.add_argument(
        "--resource",
        action="append",
        default=[],
        help="resource, or resource/subresource (repeatable), e.g. pods, pods/log",
    )
    group.add_argument(
        "--group", dest="api_group", default="", metavar="API_GROUP", help='API group ("" core)'
    )
    group.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="confine to namespace (repeatable); default: all namespaces and cluster scope",
    )
    group.add_argument("--name", action="append", default=[], help="confine to object name")
    group.add_argument(
        "--path", action="append", default=[], help="non-resource path, e.g. /version"
    )
    group.add_argument("--mode", help="associated-node, arbitrary-node, serviceaccount, user-info")
    group.add_argument(
        "--requestor",
        metavar="SUBJECT",
        help="who impersonates: NS/NAME (service account), user:NAME or group:NAME",
    )


def spec_from_args(args: argparse.Namespace) -> SessionSpec:
    """The file's spec (if any) with the command-line flags added and overriding."""
    spec = load_spec(args.filename) if args.filename else SessionSpec()
    if args.verb or args.resource or args.path:
        if not args.verb:
            raise ValueError("--resource/--path need at least one --verb")
        try:
            if args.path:
                spec.rules.append(NonResourceRule(args.verb, args.path))
            if args.resource:
                spec.rules.append(
                    Rule(
                        args.verb,
                        args.resource,
                        group=args.api_group,
                        namespaces=args.namespace or None,
                        names=args.name or None,
                    )
                )
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    if args.mode:
        spec.mode = args.mode
    if args.requestor:
        spec.requestor = Subject.parse(args.requestor)
    return spec


def parse_extra(values: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``key=value`` flags (kubectl's ``--as-user-extra`` style) as a mapping."""
    out: dict[str, tuple[str, ...]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"extra {item!r}: expected KEY=VALUE")
        out[key] = (*out.get(key, ()), value)
    return out
