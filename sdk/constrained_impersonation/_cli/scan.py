"""``cimp scan``: every subject that can impersonate, how, and how dangerous it is."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..rbac.kube import add_cluster_arguments, kube_from_args
from ..rbac.objects import RbacSet
from ..rbac.output import FORMATS, dump, render_table
from ..rbac.scan import RISKS, Finding, scan

EPILOG = """\
Reads Roles, ClusterRoles and their bindings from files (-f, YAML or JSON, directories too)
or from the cluster (needs list on the four RBAC kinds), and reports every subject holding
legacy impersonate or constrained impersonate:<mode> / impersonate-on:<mode>:<verb> grants:
whom it can impersonate, which actions constrained modes limit it to, and through which
bindings. Ranked by risk:
  critical  effectively cluster-admin (* on *, or legacy impersonation of system:masters,
            any group, or an identity bound to * on *)
  high      legacy impersonation of any user/group/service account (no action limit), or a
            constrained mode reaching a cluster-admin identity
  medium    legacy impersonation of named identities, constrained impersonation of any target
  low       constrained impersonation of named targets, associated-node
  info      impersonate-on grants without a target grant (unusable alone)

examples:
  cimp scan                              # the current kubeconfig context
  cimp scan -f rbac-dump.yaml -o json
  cimp scan --fail-on high --no-superusers

exit codes: 0 success, 1 a finding at or above --fail-on, 2 usage or input error
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scan",
        help="find every subject that can impersonate (legacy or constrained), ranked by risk",
        description="Scan RBAC for impersonation grants and rank their holders by risk.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_rbac_arguments(parser)
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "--no-superusers",
        action="store_true",
        help="hide subjects bound to every verb on every resource (they can do anything)",
    )
    parser.add_argument(
        "--fail-on", choices=RISKS, metavar="RISK", help=f"exit 1 at this risk or above {RISKS}"
    )
    parser.set_defaults(run=run)


def add_rbac_arguments(parser: argparse.ArgumentParser) -> None:
    """Where RBAC comes from: ``-f`` files, else the cluster (``--kubeconfig``/``--context``)."""
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        metavar="PATH",
        help="RBAC objects from YAML/JSON files or directories (repeatable); default: live",
    )
    add_cluster_arguments(parser)


def load_rbac(args: argparse.Namespace) -> RbacSet:
    """RBAC from ``-f`` files, else from the cluster."""
    if args.filename:
        return RbacSet.from_files(args.filename)
    return RbacSet.from_cluster(kube_from_args(args))


def table(findings: list[Finding]) -> str:
    if not findings:
        return "no subject holds impersonation grants\n"
    rows = [
        (f.risk.upper(), str(f.subject), f.reach_text(), "; ".join(f.reasons), ", ".join(f.via))
        for f in findings
    ]
    return render_table(["risk", "subject", "can impersonate", "why", "via"], rows)


def run(args: argparse.Namespace) -> int:
    findings = scan(load_rbac(args), include_superusers=not args.no_superusers)
    if args.output == "table":
        sys.stdout.write(table(findings))
    else:
        dump({"findings": [f.to_dict() for f in findings]}, args.output)
    if args.fail_on is not None:
        threshold = RISKS.index(args.fail_on)
        if any(f.score >= threshold for f in findings):
            return 1
    return 0
