"""Start-up cost of the embedded API server, before and after it served every resource.

Issue 14 allows serving every built-in resource, CRDs, Pod Security and the KubeVirt
aggregated API to grow the embedded server's start-up time and RSS by at most 20%. This
measures both sides in one run, on the same machine, venv and load:

* ``before``: the last commit before that work (``BEFORE``: every built-in resource, the
  per-app registry, CRDs, Pod Security and the aggregated API came after it), checked out
  with ``git worktree add`` into a temporary directory that is removed afterwards;
* ``current``: this working tree.

Each side runs the same child program in a fresh interpreter of this venv, with
``PYTHONPATH`` naming that tree's ``sdk``, ``server`` and ``agent`` folders (so its sources
shadow the editable install either way). Measured, median of ``--runs`` (sides taken in
turn, after one discarded warm-up each that also writes the byte-code caches):

* start-up: from ``Popen`` to ``/readyz`` answering 200 to ``APIServer().start()``;
* import: ``-X importtime`` of what ``APIServer.start()`` imports (the harness and
  ``cimp_apiserver.server``), in all and the server package's own share;
* RSS (``VmRSS``) once ready, and after fetching every OpenAPI v3 document the
  ``/openapi/v3`` index names (as kubectl's discovery cache would).

    .venv/bin/python bench/startup.py [--runs 7] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# f36ab63 "Node admission as kube 1.37.2": the parent of 0580ccc (resources.Registry), the
# first commit of the every-resource / CRD work (git log on server/cimp_apiserver/resources.py,
# data/ and crd/); the server had already moved to server/cimp_apiserver there.
BEFORE = "f36ab634691abb1eef7c912830a8c719e0fcee6f"
BUDGET = 1.20

# The child: identical for both trees; only the harness's public API.
CHILD = r"""
import json, ssl, sys, urllib.request
from constrained_impersonation.testing import APIServer

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

server = APIServer()
server.start()
ctx = ssl.create_default_context(cafile=server.ca_file)

def get(path):
    req = urllib.request.Request(
        server.url + path,
        headers={"Authorization": "Bearer " + server.admin_token, "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
        return resp.status, resp.read()

while get("/readyz")[0] != 200:
    pass
print("READY", flush=True)
ready = rss_kb()
index = json.loads(get("/openapi/v3")[1])
documents = 0
for entry in index["paths"].values():
    status, _ = get(entry["serverRelativeURL"])
    assert status == 200, entry
    documents += 1
print(json.dumps({"ready_kb": ready, "openapi_kb": rss_kb(), "documents": documents}), flush=True)
server.stop()
"""

SERVER_PACKAGES = ("cimp_apiserver", "constrained_impersonation._apiserver")


@dataclass
class Side:
    """One tree's samples."""

    name: str
    tree: Path
    startup_s: list[float] = field(default_factory=list)
    import_ms: list[float] = field(default_factory=list)
    own_import_ms: list[float] = field(default_factory=list)
    ready_mb: list[float] = field(default_factory=list)
    openapi_mb: list[float] = field(default_factory=list)
    documents: int = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(self.tree / part) for part in ("sdk", "server", "agent")]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def start_once(self) -> None:
        """One fresh interpreter: time to ready, RSS ready and after every OpenAPI v3 doc."""
        begin = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            env=self.env(),
            cwd=self.tree,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready = time.perf_counter() - begin
        if line.strip() != "READY":
            proc.kill()
            raise SystemExit(f"{self.name}: the server did not become ready ({line!r})")
        facts = json.loads(proc.stdout.readline())
        if proc.wait(timeout=60) != 0:
            raise SystemExit(f"{self.name}: the child failed")
        self.startup_s.append(ready)
        self.ready_mb.append(facts["ready_kb"] / 1024)
        self.openapi_mb.append(facts["openapi_kb"] / 1024)
        self.documents = facts["documents"]

    def import_once(self) -> None:
        """``-X importtime`` of what ``APIServer.start()`` imports, from a marker on."""
        code = (
            "import sys; sys.stderr.write('--mark--\\n'); "
            "from constrained_impersonation.testing import APIServer; "
            "import cimp_apiserver.server"
        )
        if not (self.tree / "server" / "cimp_apiserver").is_dir():
            code = code.replace(
                "cimp_apiserver.server", "constrained_impersonation._apiserver.server"
            )
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            env=self.env(),
            cwd=self.tree,
            capture_output=True,
            text=True,
            check=True,
        )
        total = own = 0
        marked = False
        for line in result.stderr.splitlines():
            if line == "--mark--":
                marked = True
                continue
            if not marked or not line.startswith("import time:") or "|" not in line:
                continue
            self_us, cumulative_us, name = line[len("import time:") :].split("|")
            if not self_us.strip().isdigit():
                continue  # the header line
            if not name.startswith("  "):  # one space of padding: a top-level import
                total += int(cumulative_us)
            if name.strip().startswith(SERVER_PACKAGES):
                own += int(self_us)
        self.import_ms.append(total / 1000)
        self.own_import_ms.append(own / 1000)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _row(label: str, before: float, after: float, unit: str, fmt: str, budget: bool) -> str:
    ratio = after / before if before else float("nan")
    verdict = ("ok" if ratio <= BUDGET else "OVER") if budget else ""
    return (
        f"| {label:<34} | {before:{fmt}} {unit:<2} | {after:{fmt}} {unit:<2} "
        f"| {ratio:5.2f}x | {verdict:<4} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh starts per side")
    parser.add_argument("--before", default=BEFORE, help="the commit to compare against")
    args = parser.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("git is needed to check out the before commit")
    temp = Path(tempfile.mkdtemp(prefix="cimp-startup-"))
    tree = temp / "before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), args.before],
        check=True,
    )
    try:
        sides = [Side("before", tree), Side("current", ROOT)]
        for side in sides:  # warm-up: byte-code caches, page cache; discarded
            side.start_once()
            side.import_once()
            side.startup_s.clear()
            side.import_ms.clear()
            side.own_import_ms.clear()
            side.ready_mb.clear()
            side.openapi_mb.clear()
        for _ in range(args.runs):
            for side in sides:
                side.start_once()
                side.import_once()
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )
        shutil.rmtree(temp, ignore_errors=True)
    before, current = sides
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.before],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"\nEmbedded server start-up, before ({rev}) vs current tree: median of {args.runs} "
        f"fresh interpreters each, load {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
        f"budget {BUDGET:.2f}x\n"
    )
    print(f"| {'measure':<34} | {'before':>9} | {'current':>9} | ratio  | 20%  |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|--------|------|")
    rows = [
        ("start to /readyz 200", before.startup_s, current.startup_s, "s", "6.3f", True),
        (
            "import (harness + server), total",
            before.import_ms,
            current.import_ms,
            "ms",
            "6.0f",
            True,
        ),
        (
            "  of which the server package's own",
            before.own_import_ms,
            current.own_import_ms,
            "ms",
            "6.0f",
            False,
        ),
        ("RSS when ready", before.ready_mb, current.ready_mb, "MB", "6.1f", True),
        (
            "RSS after every OpenAPI v3 document",
            before.openapi_mb,
            current.openapi_mb,
            "MB",
            "6.1f",
            True,
        ),
    ]
    over = False
    for label, b, c, unit, fmt, budget in rows:
        print(_row(label, _median(b), _median(c), unit, fmt, budget))
        over |= budget and _median(c) > BUDGET * _median(b)
    print(f"\nOpenAPI v3 documents fetched: before {before.documents}, current {current.documents}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
