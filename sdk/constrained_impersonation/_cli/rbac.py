"""``cimp rbac``: render the minimal RBAC a constrained-impersonation session needs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..rbac.output import dump, render_table
from ..rbac.render import render
from ..rbac.spec import add_scope_arguments, spec_from_args

EPILOG = """\
A constrained session needs two grants (docs/semantics.md#rbac): the target grant
impersonate:<mode> on whom it impersonates (nodes, serviceaccounts, users, plus
groups/uids/userextras/<key> it forwards) and action grants impersonate-on:<mode>:<verb> on exactly
the requests it makes. Target grants are cluster-wide (a ClusterRole) except service-account targets
(a Role in the service account's namespace); action grants confined to namespaces become Roles
there. associated-node grants never carry resourceNames (the server checks the name "*").

examples:
  # story 1: a DaemonSet listing pods on its own node
  cimp rbac --mode associated-node --requestor node-agents/node-agent \\
      --verb list --verb watch --verb get --resource pods
  # story 2: a deputy opening VM consoles as the end user, forwarding groups and uid
  cimp rbac --mode user-info --requestor deputy-ns/deputy --forward-groups --forward-uid \\
      --verb get --resource virtualmachineinstances/console \\
      --group subresources.kubevirt.io --namespace default | kubectl apply -f -
  cimp rbac -f session.yaml -o json

session file (-f): YAML with rules, and optionally mode, requestor, targets, forward:
  mode: user-info
  requestor: deputy-ns/deputy
  forward: {uids: true, groups: true, extra: [example.com/scopes]}
  rules:
  - {verbs: [get], resources: [virtualmachineinstances/console],
     group: subresources.kubevirt.io, namespaces: [default]}

exit codes: 0 rendered, 2 usage or input error
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rbac",
        help="render the minimal Roles/ClusterRoles and bindings for a session",
        description="Render kubectl-applicable RBAC for a constrained-impersonation session: "
        "the target grant and the action grants, nothing more.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_arguments(parser)
    targets = parser.add_argument_group("targets (whom the session impersonates)")
    targets.add_argument(
        "--target",
        action="append",
        default=[],
        help="node name (arbitrary-node), NS/NAME or NS/* (serviceaccount), user (user-info); "
        "repeatable; default any",
    )
    targets.add_argument(
        "--forward-uid", action="store_true", help="user-info: the session forwards a UID"
    )
    targets.add_argument(
        "--forward-groups", action="store_true", help="user-info: forwards any group"
    )
    targets.add_argument(
        "--forward-group",
        action="append",
        default=[],
        metavar="GROUP",
        help="user-info: forwards this group (repeatable)",
    )
    targets.add_argument(
        "--forward-extra",
        action="append",
        default=[],
        metavar="KEY",
        help="user-info: forwards this extra key, any value (repeatable)",
    )
    parser.add_argument(
        "--role-name", help="name of the rendered objects (default cimp:<mode>:<requestor>)"
    )
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json", "table"), default="yaml", help="default yaml"
    )
    parser.set_defaults(run=run)


def table(objects: list[dict[str, Any]]) -> str:
    rows = []
    for obj in objects:
        meta = obj["metadata"]
        if "rules" in obj:
            for rule in obj["rules"]:
                what = ",".join(rule.get("resources") or rule.get("nonResourceURLs") or [])
                groups = ",".join(g or '""' for g in rule.get("apiGroups", []))
                names = ",".join(rule.get("resourceNames", [])) or "*"
                rows.append(
                    (
                        obj["kind"],
                        meta["name"],
                        meta.get("namespace", "-"),
                        groups or "-",
                        what,
                        names,
                        ",".join(rule["verbs"]),
                    )
                )
        else:
            subject = obj["subjects"][0]
            ns = subject.get("namespace")
            who = f"{subject['kind']} {ns + '/' if ns else ''}{subject['name']}"
            rows.append((obj["kind"], meta["name"], meta.get("namespace", "-"), "-", who, "-", "-"))
    return render_table(
        ["kind", "name", "namespace", "api groups", "resources / subject", "names", "verbs"], rows
    )


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    if spec.mode is None:
        raise ValueError(
            "--mode is required (associated-node, arbitrary-node, serviceaccount, user-info)"
        )
    if spec.requestor is None:
        raise ValueError("--requestor is required (NS/NAME, user:NAME or group:NAME)")
    groups: bool | list[str] = spec.groups
    if args.forward_groups:
        groups = True
    elif args.forward_group:
        groups = list(args.forward_group)
    extra: dict[str, list[str] | None] = dict(spec.extra)
    extra.update({key: None for key in args.forward_extra})
    objects = render(
        spec.scope,
        spec.mode,
        spec.requestor,
        targets=args.target or spec.targets,
        uids=True if args.forward_uid else spec.uids,
        groups=groups,
        extra=extra or None,
        name=args.role_name,
    )
    if args.output == "table":
        sys.stdout.write(table(objects))
    else:
        dump(objects, args.output)
    return 0
