"""``cimp audit LOG...``: who impersonated whom, by mode or legacy, from audit logs."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import IO, Any

from ..auditlog import AuditSummary, Impersonation, Stats, summarize
from ..rbac.output import FORMATS, dump, render_table

EPILOG = """\
Reads kube-apiserver audit logs (JSON lines, as written with --audit-log-format=json;
gzip-compressed files are detected automatically; - reads stdin) of any size in constant
memory. An impersonated request is one with impersonatedUser; its mode is
authenticationMetadata.impersonationConstraint, or "legacy" when that is absent. Denied
attempts are 403s naming the requestor and an impersonate verb. A progress bar is shown on
stderr when it is a terminal.

examples:
  cimp audit /var/log/kubernetes/audit.log audit-2024-*.log.gz
  cimp audit --legacy-only -o json audit.log

exit codes: 0 success, 1 --fail-on-legacy and legacy impersonation was found,
            2 usage or input error (missing file, not a JSON-lines log)
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="summarize impersonation (constrained and legacy) found in audit logs",
        description="Stream audit logs and report who impersonated whom, by mode or legacy, "
        "with verbs, resources and counts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logs", nargs="+", metavar="LOG", help="audit log files (.gz too, - stdin)")
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--legacy-only", action="store_true", help="show only legacy impersonation")
    parser.add_argument(
        "--requestor", metavar="USER", help="show only impersonation by this requestor"
    )
    parser.add_argument(
        "--by",
        choices=("target", "requestor"),
        default="target",
        help="table rows per impersonated identity (default) or per requestor and mode",
    )
    parser.add_argument(
        "--fail-on-legacy",
        action="store_true",
        help="exit 1 when any legacy impersonation was found (for CI and cron jobs)",
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    parser.set_defaults(run=run)


def _filter(summary: AuditSummary, legacy_only: bool, requestor: str | None) -> AuditSummary:
    if not legacy_only and requestor is None:
        return summary
    keep = AuditSummary(
        bytes_read=summary.bytes_read,
        lines_parsed=summary.lines_parsed,
        malformed=summary.malformed,
        files=summary.files,
    )
    for key, stats in summary.impersonations.items():
        if (not legacy_only or key.legacy) and requestor in (None, key.requestor):
            keep.impersonations[key] = stats
    for denial, stats in summary.denials.items():
        if not legacy_only and requestor in (None, denial.requestor):
            keep.denials[denial] = stats
    return keep


def _target_text(key: Impersonation) -> str:
    text = key.target
    groups = key.requested_groups()
    if groups:
        text += " [" + ",".join(groups) + "]"
    if key.uid:
        text += " uid"
    if key.extra_keys:
        text += " +extra:" + ",".join(key.extra_keys)
    return text


def _resources_text(namespaces_by_resource: dict[str, set[str]]) -> str:
    """``pods``, ``configmaps (team-a,team-b)``, ``deployments.apps (12 namespaces)``."""
    parts = []
    for resource in sorted(namespaces_by_resource):
        namespaces = sorted(namespaces_by_resource[resource] - {""})
        if not namespaces:
            parts.append(resource)
        elif len(namespaces) <= 3:
            parts.append(f"{resource} ({','.join(namespaces)})")
        else:
            parts.append(f"{resource} ({len(namespaces)} namespaces)")
        if "" in namespaces_by_resource[resource] and namespaces:
            parts[-1] += " +cluster"
    return ",".join(parts)


def _targets_text(targets: set[str]) -> str:
    if len(targets) <= 3:
        return ",".join(sorted(targets))
    return f"{len(targets)} identities ({','.join(sorted(targets)[:2])},...)"


def table(summary: AuditSummary, by: str = "target") -> str:
    """Rows per (requestor, mode, target), or per (requestor, mode) with ``by="requestor"``:
    the verbs and resources used, and how often."""
    Row = tuple[set[str], dict[str, set[str]], list[int]]
    rows: dict[tuple[str, str, str], Row] = defaultdict(lambda: (set(), defaultdict(set), [0]))
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, stats in summary.impersonations.items():
        target = _target_text(key)
        if by == "requestor":
            targets[(key.requestor, key.mode)].add(key.target)
            target = ""
        verbs, resources, count = rows[(key.requestor, key.mode, target)]
        verbs.add(key.verb)
        res = key.path or (f"{key.resource}.{key.api_group}" if key.api_group else key.resource)
        resources[res].add(key.namespace)
        count[0] += stats.count
    out = []
    if rows:
        out.append(
            render_table(
                ["requestor", "mode", "impersonated", "verbs", "resources", "count"],
                [
                    (
                        req,
                        mode,
                        target or _targets_text(targets[(req, mode)]),
                        ",".join(sorted(v)),
                        _resources_text(r),
                        c[0],
                    )
                    for (req, mode, target), (v, r, c) in sorted(
                        rows.items(), key=lambda item: (item[0][1] != "legacy", item[0])
                    )
                ],
            )
        )
    else:
        out.append("no impersonated requests found\n")
    if summary.denials:
        out.append("\ndenied impersonation attempts:\n")
        out.append(
            render_table(
                ["requestor", "missing", "request", "count"],
                [
                    (d.requestor, d.missing, d.request, s.count)
                    for d, s in sorted(summary.denials.items())
                ],
            )
        )
    data = summary.to_dict_head()
    out.append(
        f"\n{data['impersonatedRequests']} impersonated requests "
        f"({data['legacyRequests']} legacy), {data['deniedAttempts']} denied attempts, "
        f"{len(summary.files)} file(s), {summary.bytes_read / 1e6:.1f} MB"
        + (f", {summary.malformed} malformed lines skipped" if summary.malformed else "")
        + "\n"
    )
    return "".join(out)


def write_json(summary: AuditSummary, out: IO[str]) -> None:
    """The JSON document of ``AuditSummary.to_dict``, written row by row: a log with many
    distinct impersonations must not need its whole report in memory as one string."""
    head = summary.to_dict_head()
    out.write('{\n  "summary": ' + json.dumps(head, indent=2).replace("\n", "\n  "))
    for name, rows in (("impersonations", summary.iter_rows()), ("denied", summary.iter_denials())):
        out.write(f',\n  "{name}": [')
        for index, row in enumerate(rows):
            out.write(("," if index else "") + "\n    " + json.dumps(row, ensure_ascii=False))
        out.write("\n  ]")
    out.write("\n}\n")


def _stats_total(items: dict[Any, Stats]) -> int:
    return sum(s.count for s in items.values())


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.logs, progress=False if args.no_progress else None)
    shown = _filter(summary, args.legacy_only, args.requestor)
    if args.output == "table":
        sys.stdout.write(table(shown, args.by))
    elif args.output == "json":
        write_json(shown, sys.stdout)
    else:
        dump(shown.to_dict(), args.output)
    if args.fail_on_legacy and _stats_total(summary.legacy):
        return 1
    return 0
