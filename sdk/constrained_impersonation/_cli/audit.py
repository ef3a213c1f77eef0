"""``cimp audit LOG...``: who impersonated whom, by mode or legacy, from audit logs."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

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


def table(summary: AuditSummary) -> str:
    """Rows per (requestor, mode, target): the verbs and resources used, and how often."""
    rows: dict[tuple[str, str, str], tuple[set[str], set[str], list[int]]] = defaultdict(
        lambda: (set(), set(), [0])
    )
    for key, stats in summary.impersonations.items():
        verbs, resources, count = rows[(key.requestor, key.mode, _target_text(key))]
        verbs.add(key.verb)
        res = key.path or (f"{key.resource}.{key.api_group}" if key.api_group else key.resource)
        resources.add(res + (f" ({key.namespace})" if key.namespace else ""))
        count[0] += stats.count
    out = []
    if rows:
        out.append(
            render_table(
                ["requestor", "mode", "impersonated", "verbs", "resources", "count"],
                [
                    (req, mode, target, ",".join(sorted(v)), ",".join(sorted(r)), c[0])
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
    data = summary.to_dict()["summary"]
    out.append(
        f"\n{data['impersonatedRequests']} impersonated requests "
        f"({data['legacyRequests']} legacy), {data['deniedAttempts']} denied attempts, "
        f"{len(summary.files)} file(s), {summary.bytes_read / 1e6:.1f} MB"
        + (f", {summary.malformed} malformed lines skipped" if summary.malformed else "")
        + "\n"
    )
    return "".join(out)


def _stats_total(items: dict[Any, Stats]) -> int:
    return sum(s.count for s in items.values())


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.logs, progress=False if args.no_progress else None)
    shown = _filter(summary, args.legacy_only, args.requestor)
    if args.output == "table":
        sys.stdout.write(table(shown))
    else:
        dump(shown.to_dict(), args.output)
    if args.fail_on_legacy and _stats_total(summary.legacy):
        return 1
    return 0
