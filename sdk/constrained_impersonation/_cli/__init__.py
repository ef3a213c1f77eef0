"""The ``cimp`` command: one module per subcommand, each registering its own parser.

Exit codes: 0 success, 1 the check or operation failed, 2 usage or input error. A user
mistake prints one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ImpersonationError
from . import apiserver, audit, check, explain, migrate, rbac, scan

__all__ = ["main"]

_SUBCOMMANDS = (apiserver, audit, check, explain, migrate, rbac, scan)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cimp",
        description=(
            "Tools for Kubernetes constrained impersonation (KEP-5284): an embedded API "
            "server for tests, and RBAC helpers."
        ),
        epilog="Exit codes: 0 success, 1 failure found or operation failed, 2 usage error.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except (ImpersonationError, ValueError, OSError) as exc:
        print(f"cimp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
