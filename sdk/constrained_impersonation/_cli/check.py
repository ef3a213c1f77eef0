"""``cimp check``: preflight a session against the live server's RBAC."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

from ..identity import Identity
from ..rbac.kube import add_cluster_arguments, kube_from_args
from ..rbac.output import FORMATS, dump, render_table
from ..rbac.preflight import Report, preflight
from ..rbac.spec import add_scope_arguments, parse_extra, spec_from_args

EPILOG = """\
Asks the server, with the exact attributes kube-apiserver uses (docs/semantics.md#attributes),
every check a session will need: one action check impersonate-on:<mode>:<verb> per declared verb,
resource, namespace and name, and the target checks impersonate:<mode> for the identity
given with --as/--as-group/--as-uid/--as-extra. Without --requestor the checks are asked
for your own credentials (SelfSubjectAccessReview); with it, for that subject
(SubjectAccessReview: you need create on subjectaccessreviews). Then looks for over-grants
(legacy impersonate, '*' verbs, target grants of other modes or kinds, actions outside the
scope) in the requestor's rules.

examples:
  cimp check --mode user-info --as alice --as-group developers \\
      --requestor deputy-ns/deputy --verb get \\
      --resource virtualmachineinstances/console --group subresources.kubevirt.io -n default
  cimp check --as system:node:node-1 --mode associated-node --verb list --resource pods
  cimp check -f session.yaml -o json

exit codes: 0 every check allowed, 1 a check is denied (or --strict and an over-grant),
            2 usage or input error, unreachable or untrusted server
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="preflight: does the requestor hold exactly what a session needs?",
        description="Check with the live server that a requestor holds every grant a "
        "constrained-impersonation session needs, and warn about over-grants.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_arguments(parser)
    who = parser.add_argument_group("impersonated identity")
    who.add_argument("--as", dest="as_user", metavar="USER", help="user to impersonate")
    who.add_argument("--as-group", action="append", default=[], metavar="GROUP")
    who.add_argument("--as-uid", metavar="UID")
    who.add_argument("--as-extra", action="append", default=[], metavar="KEY=VALUE")
    add_cluster_arguments(parser)
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--no-overgrants", action="store_true", help="skip the over-grant analysis")
    parser.add_argument("--strict", action="store_true", help="exit 1 on over-grants too")
    parser.set_defaults(run=run)


def table(report: Report) -> str:
    rows = []
    for result in report.results:
        if result.covered_by:
            answer = f"allowed (by {result.covered_by})"
        elif result.allowed:
            answer = "allowed"
        else:
            answer = "denied (server tries it first; not needed)" if result.shortcut else "DENIED"
        rows.append((result.check.kind, result.check.describe(), answer))
    out = [
        f"{report.mode} session impersonating {report.identity!r}, requestor {report.requestor}\n",
        render_table(["check", "attributes", "result"], rows),
    ]
    for warning in report.warnings:
        out.append(f"warning: {warning}\n")
    for note in report.notes:
        out.append(f"note: {note}\n")
    if report.ok:
        out.append("ok: every required check is allowed\n")
    else:
        out.append(f"FAILED: {len(report.missing)} check(s) denied; grant:\n")
        buf = io.StringIO()
        dump(report.to_dict()["missing"], "yaml", buf)
        out.append("".join("  " + line + "\n" for line in buf.getvalue().splitlines()))
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    identity = spec.identity
    if args.as_user:
        identity = Identity(
            args.as_user, args.as_uid, tuple(args.as_group), parse_extra(args.as_extra)
        )
    elif args.as_group or args.as_uid or args.as_extra:
        raise ValueError("--as-group/--as-uid/--as-extra need --as USER")
    if identity is None:
        raise ValueError("give the identity to impersonate with --as USER (or 'impersonate' in -f)")
    kube = kube_from_args(args)
    report = preflight(
        kube,
        scope=spec.scope,
        identity=identity,
        mode=spec.mode,
        requestor=spec.requestor,
        look_for_overgrants=not args.no_overgrants,
    )
    if args.output == "table":
        sys.stdout.write(table(report))
    else:
        dump(report.to_dict(), args.output)
    if not report.ok or (args.strict and report.warnings):
        return 1
    return 0
