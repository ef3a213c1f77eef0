"""``cimp migrate``: propose constrained roles replacing legacy impersonate, from audit logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..auditlog import summarize
from ..rbac.migrate import DEFAULT_MAX_NAMES, migrate, verify
from ..rbac.output import FORMATS, dump
from .scan import add_rbac_arguments, load_rbac

EPILOG = """\
For every requestor seen impersonating through legacy impersonate in the audit logs, proposes
constrained roles covering exactly what it was seen doing: the mode the server will pick
(a bare node target: associated-node when the requestor's token is bound to that node, else
arbitrary-node; a bare service account: serviceaccount; anything else: user-info), the
targets (users, groups, uids, extra keys, nodes, service accounts) and the
impersonate-on:<mode>:<verb> action grants per resource and namespace. Requests only legacy
can carry (system:masters, a node or service account with groups) are listed, not migrated.
The legacy bindings of the requestor are trimmed (the subject removed, or the binding deleted
when it was the only subject).

output: -o table (default) prints a readable report with a YAML diff; -o yaml prints the
manifests to apply (kubectl apply -f); -o json the whole plan. --manifests FILE writes the
manifests while printing the report.

--verify starts an embedded API server (feature gate on), loads the RBAC as it will be after
the migration, replays every observed request as its requestor with the same impersonation
headers, and checks that each still succeeds through a constrained mode and that what only
legacy allowed (impersonating system:masters, other users) is now refused. Needs the
requests' URIs from the logs, so pass the same logs.

examples:
  cimp migrate -f rbac.yaml audit.log audit.log.1.gz
  cimp migrate audit.log --verify                 # RBAC from the current context
  cimp migrate -f rbac.yaml audit.log -o yaml > migrated.yaml

exit codes: 0 plan produced (and verified, with --verify), 1 --verify found a request that
            would fail or a legacy-only capability that still works, 2 usage or input error
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate",
        help="propose constrained roles replacing legacy impersonate, from audit logs",
        description="Propose constrained-impersonation RBAC covering exactly the legacy "
        "impersonations observed in audit logs, with a diff and optional verification.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logs", nargs="+", metavar="AUDIT_LOG", help="audit logs (.gz too)")
    add_rbac_arguments(parser)
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--manifests", type=Path, metavar="FILE", help="also write manifests")
    parser.add_argument("--verify", action="store_true", help="replay on an embedded server")
    parser.add_argument(
        "--max-names",
        type=int,
        default=DEFAULT_MAX_NAMES,
        metavar="N",
        help=f"past N distinct targets of one kind, grant any name (default {DEFAULT_MAX_NAMES})",
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.max_names < 1:
        raise ValueError("--max-names must be at least 1")
    rbac = load_rbac(args)
    summary = summarize(args.logs, samples=True, progress=False if args.no_progress else None)
    plan = migrate(rbac, summary, max_names=args.max_names)
    if args.verify and plan.proposals:
        verify(plan, rbac)
    if args.manifests is not None:
        with args.manifests.open("w", encoding="utf-8") as out:
            dump(plan.manifests(), "yaml", out)
    if args.output == "table":
        if not plan.proposals and not plan.unused:
            sys.stdout.write("no legacy impersonation found: nothing to migrate\n")
        else:
            sys.stdout.write(plan.diff())
    elif args.output == "yaml":
        dump(plan.manifests(), "yaml")
    else:
        dump(plan.to_dict(), "json")
    if args.verify and plan.verification is not None and not plan.verified:
        return 1
    return 0
