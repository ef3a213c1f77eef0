"""``cimp explain``: which impersonation check a 403 reports, and the RBAC that grants it."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

from ..rbac.explain import Explanation, explain_text
from ..rbac.output import FORMATS, dump, read_text

EPILOG = """\
Input (a file, or stdin when FILE is - or omitted): a 403 Status object (JSON), an audit
event, an EventList or JSON lines of audit events, the text of a kubernetes ApiException,
or kubectl's "Error from server (Forbidden): ..." line. Parsed by shape (docs/semantics.md#errors):
an impersonation refusal names the requestor and a verb starting with impersonate; any other
403 names the impersonated user (impersonation succeeded, that user lacks RBAC).

examples:
  kubectl get pods --as alice 2>&1 | cimp explain
  cimp explain status.json -o yaml
  grep '"code":403' audit.log | cimp explain -o json

exit codes: 0 explained, 1 nothing to explain (no 403/400 in the input),
            2 usage or input error (missing file, malformed JSON)
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="explain an impersonation 403: failed check, mode, and the RBAC rule to grant",
        description="Explain a 403 from (constrained) impersonation and print the grant.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", default="-", help="input file (default stdin)")
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format")
    parser.set_defaults(run=run)


def text(explanations: list[Explanation]) -> str:
    out = io.StringIO()
    for index, item in enumerate(explanations):
        if index:
            out.write("\n---\n")
        out.write(f"{item.kind}: {item.summary}\n")
        if item.mode:
            out.write(f"  mode:      {item.mode} ({item.check} check)\n")
        if item.requestor:
            out.write(f"  requestor: {item.requestor}\n")
        if item.rule is not None:
            scope = (
                f"Role in namespace {item.role_namespace}"
                if item.role_kind == "Role"
                else "ClusterRole (cluster-wide)"
            )
            out.write(f"  grant to:  {item.grantee} through a {scope}\n")
        for note in item.notes:
            out.write(f"  note: {note}\n")
        if item.manifests:
            out.write("\n")
            dump(item.manifests, "yaml", out)
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    source = "stdin" if args.file == "-" else args.file
    explanations = explain_text(read_text(args.file), source)
    if not explanations:
        print(f"cimp explain: {source}: no 403 or impersonation 400 to explain", file=sys.stderr)
        return 1
    if args.output == "table":
        sys.stdout.write(text(explanations))
    else:
        dump([e.to_dict() for e in explanations], args.output)
    return 0
