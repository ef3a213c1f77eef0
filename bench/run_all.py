"""Run every benchmark once, in its own process, and print their tables (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments): each prints its own table and targets.
BENCHES = [
    ("session_overhead.py", []),
    ("apiserver.py", ["--serve"]),
    ("agent.py", []),
    ("audit.py", []),
    ("fleet.py", []),
    ("startup.py", []),  # start-up/RSS before vs after every resource (issue 14 budget)
    ("backends.py", []),  # embedded vs the real kube-apiserver (skipped when not built)
]


def main() -> int:
    failed = []
    for script, args in BENCHES:
        path = HERE / script
        if not path.exists():
            print(f"\n### {script}: not present, skipped")
            continue
        print(f"\n### {script} {' '.join(args)}".rstrip(), flush=True)
        start = time.monotonic()
        result = subprocess.run([sys.executable, str(path), *args], check=False)
        print(
            f"({script} took {time.monotonic() - start:.0f} s, exit {result.returncode})",
            flush=True,
        )
        if result.returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
