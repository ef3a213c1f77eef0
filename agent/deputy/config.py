"""Command line of ``cimp-deputy``.

Everything that decides *whose* identity the deputy forwards (audiences, the extra-key
allow-list, namespaces) is validated here, at start, so a misconfiguration is one line and exit
status 2 instead of a 403 for every user later.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from constrained_impersonation._version import __version__
from constrained_impersonation.headers import extra_key_problem
from constrained_impersonation.identity import is_dns1123_label

__all__ = [
    "DEFAULT_FORWARD_EXTRA",
    "DEFAULT_LISTEN",
    "DEFAULT_SERVICE_ACCOUNT",
    "DeputyConfig",
    "build_parser",
    "parse_args",
    "parse_listen",
]

DEFAULT_LISTEN = "0.0.0.0:8443"
DEFAULT_SERVICE_ACCOUNT = "cimp-deputy/deputy"
# Forwarded by default: which credential of the user opened the console, so the API server's
# audit log ties the console session to one token or certificate. It passes constrained
# validation (lower case, domain-prefixed) and reveals nothing the API server lacks.
DEFAULT_FORWARD_EXTRA: tuple[str, ...] = ("authentication.kubernetes.io/credential-id",)
LOG_LEVELS = ("debug", "info", "warning", "error")

DESCRIPTION = """\
Open KubeVirt VM serial consoles for end users, as those users (KEP-5284 story 2).

A user connects with a websocket to  GET /console/<namespace>/<vmi>  presenting
"Authorization: Bearer <token>". The deputy authenticates the token with a TokenReview
(its own credentials, the audiences of --audience), then opens
  /apis/subresources.kubevirt.io/v1/namespaces/<namespace>/virtualmachineinstances/<vmi>/console
through constrained impersonation (mode user-info) of that user: name, uid, groups and the
allowed extras. The API server authorizes the console for the user, never for the deputy, and
the deputy's session can send nothing but that one request. Frames are relayed both ways until
either side closes.

Answers before the upgrade are Status JSON: 401 for a missing, invalid, expired or
wrong-audience token (nothing is impersonated); 403 as relayed from the API server with its
message (the user may not open that console), or from the deputy for identities it will not
carry (service accounts, nodes, system:masters); 404 for a missing VMI. GET /healthz answers
"ok"."""

EPILOG = """\
user extras (--forward-extra):
  A TokenReview may return extras under any key. Only keys on the allow-list are forwarded;
  all others are dropped (logged by key name, never by value). The default list is
  authentication.kubernetes.io/credential-id. Every listed key must be lower case and
  domain-prefixed (example.com/key): constrained impersonation refuses anything else, so
  such a key is rejected at start. Each forwarded key needs its own RBAC rule
  (impersonate:user-info on userextras/<key>): print it with --print-rbac.

RBAC (deploy/deputy/rbac.yaml, or --print-rbac for the current flags):
  create tokenreviews; impersonate:user-info on users, uids, groups and
  userextras/<forwarded key>; impersonate-on:user-info:get on
  virtualmachineinstances/console in subresources.kubevirt.io. Nothing else.

logs: one JSON object per line on stderr (ts, level, logger, msg, then fields such as
  status, user, namespace, name); values are escaped, so no request can forge a line. The
  namespace and name of a request are logged only after its token authenticated and they
  are valid names; tokens never.

credentials: --kubeconfig PATH, else in-cluster (the pod's projected service-account token,
re-read when rotated, and its CA).

exit status: 0 after SIGTERM/SIGINT, 2 for invalid configuration, 1 for other failures."""


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces); port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 0.0.0.0:8443, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)  # noqa: S104 - ":port" asks for all interfaces


@dataclass(frozen=True)
class DeputyConfig:
    """Validated options."""

    tls_cert_file: Path
    tls_private_key_file: Path
    listen: tuple[str, int] = ("0.0.0.0", 8443)  # noqa: S104 - a service behind a Service
    kubeconfig: str | None = None
    context: str | None = None
    audiences: tuple[str, ...] = ()
    forward_extra: tuple[str, ...] = DEFAULT_FORWARD_EXTRA
    namespaces: tuple[str, ...] | None = None
    review_timeout: float = 10.0
    connect_timeout: float = 30.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        for key in self.forward_extra:
            problem = extra_key_problem(key)
            if problem is not None:
                raise ValueError(f"--forward-extra {key!r}: {problem}")
        for namespace in self.namespaces or ():
            if not is_dns1123_label(namespace):
                raise ValueError(f"--namespace {namespace!r} is not a valid namespace name")
        for audience in self.audiences:
            if not audience or audience != audience.strip():
                raise ValueError(f"--audience {audience!r} must be a non-empty string")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cimp-deputy",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=DEFAULT_LISTEN,
        help=f"serve HTTPS here (default: {DEFAULT_LISTEN}; port 0 picks a free port and logs it)",
    )
    parser.add_argument("--tls-cert-file", metavar="PATH", help="serving certificate (PEM chain)")
    parser.add_argument("--tls-private-key-file", metavar="PATH", help="its private key (PEM)")
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="the deputy's own credentials (default: in-cluster service account)",
    )
    parser.add_argument(
        "--context", metavar="NAME", help="kubeconfig context (default: its current-context)"
    )
    parser.add_argument(
        "--audience",
        metavar="AUD",
        action="append",
        default=[],
        help="accept only user tokens issued for this audience (repeatable; default: the "
        "API server's own audiences). Tokens for other audiences get 401",
    )
    parser.add_argument(
        "--forward-extra",
        metavar="KEY",
        action="append",
        default=None,
        help="forward the user's extra KEY (repeatable; replaces the default allow-list "
        f"{', '.join(DEFAULT_FORWARD_EXTRA)}); extras not listed are dropped",
    )
    parser.add_argument(
        "--no-forward-extra",
        action="store_true",
        help="forward no extras at all",
    )
    parser.add_argument(
        "--namespace",
        metavar="NS",
        action="append",
        default=None,
        help="serve consoles only in this namespace (repeatable; default: all)",
    )
    parser.add_argument(
        "--review-timeout",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="timeout of each TokenReview (default: 10)",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="timeout to open a console on the API server (default: 30)",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="log verbosity (default: info)"
    )
    parser.add_argument(
        "--print-rbac",
        action="store_true",
        help="print the RBAC these flags need (YAML, for --service-account) and exit",
    )
    parser.add_argument(
        "--service-account",
        metavar="NS/NAME",
        default=DEFAULT_SERVICE_ACCOUNT,
        help=f"the deputy's service account, for --print-rbac (default: {DEFAULT_SERVICE_ACCOUNT})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[DeputyConfig | None, argparse.Namespace]:
    """Validated config (``None`` with ``--print-rbac``, which needs no TLS files) and the raw
    arguments; exits 2 with one line on invalid values."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_forward_extra and args.forward_extra:
        parser.error("--no-forward-extra and --forward-extra exclude each other")
    forward: tuple[str, ...] = (
        ()
        if args.no_forward_extra
        else tuple(args.forward_extra)
        if args.forward_extra is not None
        else DEFAULT_FORWARD_EXTRA
    )
    args.forward = tuple(dict.fromkeys(forward))
    args.namespaces = tuple(dict.fromkeys(args.namespace)) if args.namespace else None
    try:
        listen = parse_listen(args.listen)
    except ValueError as exc:
        parser.error(f"--listen: {exc}")
    for name in ("review_timeout", "connect_timeout"):
        if not 0 < getattr(args, name) <= 600:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 600 seconds")
    if args.print_rbac:
        try:
            DeputyConfig(Path(), Path(), forward_extra=args.forward, namespaces=args.namespaces)
        except ValueError as exc:
            parser.error(str(exc))
        return None, args
    if not args.tls_cert_file or not args.tls_private_key_file:
        parser.error(
            "--tls-cert-file and --tls-private-key-file are required: user tokens must only "
            "travel over TLS"
        )
    try:
        config = DeputyConfig(
            tls_cert_file=Path(args.tls_cert_file),
            tls_private_key_file=Path(args.tls_private_key_file),
            listen=listen,
            kubeconfig=args.kubeconfig,
            context=args.context,
            audiences=tuple(dict.fromkeys(args.audience)),
            forward_extra=args.forward,
            namespaces=args.namespaces,
            review_timeout=args.review_timeout,
            connect_timeout=args.connect_timeout,
            log_level=args.log_level,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return config, args
