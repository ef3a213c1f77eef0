"""``cimp``: the command-line entry point (subcommands live in ``_cli``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import _cli

__all__ = ["main", "package_version"]

DISTRIBUTION = "constrained-impersonation"


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one source); the package's
    ``__version__`` when running from a tree that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        from . import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """``cimp --version`` and ``cimp --help`` (which lists it) before any subcommand; the rest
    goes to the subcommands' parser."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] and args[0] in ("--version", "-h", "--help"):
        parser = _cli.build_parser()
        parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
        parser.parse_args(args[:1])  # prints and exits 0
    return _cli.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
