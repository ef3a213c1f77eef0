"""``cimp``: the command-line entry point (subcommands live in ``_cli``)."""

from __future__ import annotations

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
