"""The official Python client's own end-to-end tests against both servers (``make peer``).

kubernetes-client/python ships ``kubernetes/e2e_test/`` (45 tests) in its repository, not in
its sdist or wheel, and runs them against whatever cluster ``~/.kube/config`` names. This runs
them, unchanged, against the embedded API server and against the real kube-apiserver (each
fresh, admin kubeconfig in a private temporary HOME) and prints one line per server and the
summary line ``python-client e2e: embedded P/45, kube Q/45``.

The tests come from a checkout of the client's repository: ``PYTHON_CLIENT_SRC`` (its root),
else ``.tools/python-client`` (cloned there on first use when GitHub is reachable). They are
imported as ``kubernetes.e2e_test`` beside the installed client through a symlinked overlay of
the installed package, so the client under test is the project's locked one.

Neither server runs a kubelet: tests that exec, port-forward, wait for Running pods or read
metrics fail on both, as they would against kube-apiserver alone or envtest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLONE = REPO / ".tools" / "python-client"
UPSTREAM = "https://github.com/kubernetes-client/python"


class PeerSuiteError(Exception):
    """What is missing, said in one line."""


@dataclass
class Result:
    """One server's run: outcome per test id."""

    name: str
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes.values() if o == "passed")


def locate_tests() -> Path:
    """The client repository's ``kubernetes/e2e_test`` directory."""
    explicit = os.environ.get("PYTHON_CLIENT_SRC")
    roots = [Path(explicit)] if explicit else [CLONE]
    for root in roots:
        tests = root / "kubernetes" / "e2e_test"
        if (tests / "base.py").is_file():
            return tests
    if explicit:
        raise PeerSuiteError(f"PYTHON_CLIENT_SRC={explicit}: no kubernetes/e2e_test/base.py there")
    CLONE.parent.mkdir(parents=True, exist_ok=True)
    clone = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "clone", "--quiet", "--depth", "1", UPSTREAM, str(CLONE)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if clone.returncode != 0 or not (CLONE / "kubernetes/e2e_test/base.py").is_file():
        shutil.rmtree(CLONE, ignore_errors=True)
        raise PeerSuiteError(
            f"the client's e2e tests are not here and {UPSTREAM} could not be cloned "
            f"({clone.stderr.strip().splitlines()[-1] if clone.stderr.strip() else 'no output'}): "
            "set PYTHON_CLIENT_SRC to a checkout of kubernetes-client/python"
        )
    return CLONE / "kubernetes" / "e2e_test"


def overlay(tests: Path, into: Path) -> Path:
    """A directory whose ``kubernetes`` package is the installed client plus ``e2e_test``."""
    import kubernetes

    installed = Path(kubernetes.__file__).parent
    package = into / "kubernetes"
    package.mkdir(parents=True)
    for entry in installed.iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    shutil.copytree(tests, package / "e2e_test")
    return into


def run_against(name: str, server_class: type, root: Path, timeout: int) -> Result:
    """Start a fresh server, point ``~/.kube/config`` at it, run the tests, read the report."""
    with tempfile.TemporaryDirectory(prefix=f"peer-{name}-") as scratch:
        home = Path(scratch) / "home"
        (home / ".kube").mkdir(parents=True, mode=0o700)
        report = Path(scratch) / "report.xml"
        (Path(scratch) / "pytest.ini").write_text("[pytest]\n")  # no project settings
        with server_class() as server:
            server.kubeconfig(path=home / ".kube" / "config")
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("KUBE")},
                "HOME": str(home),
                "PYTHONPATH": str(root),
            }
            subprocess.run(  # noqa: S603 - this interpreter, fixed argv
                [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                 "no:cacheprovider", "-c", str(Path(scratch) / "pytest.ini"),
                 "--rootdir", str(root), f"--timeout={timeout}", f"--junitxml={report}",
                 str(root / "kubernetes" / "e2e_test")],
                cwd=root, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
        result = Result(name)
        for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - pytest wrote it
            test_id = f"{case.get('classname')}::{case.get('name')}"
            children = {child.tag for child in case}
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if tag in children:
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                    break
            result.outcomes[test_id] = outcome
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make peer", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--apiserver",
        choices=("both", "embedded", "kube"),
        default="both",
        help="which servers to run against (default: both)",
    )
    parser.add_argument("--timeout", type=int, default=30, help="seconds per test (default 30)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every test's outcome")
    args = parser.parse_args(argv)
    try:
        tests = locate_tests()
    except PeerSuiteError as exc:
        print(f"make peer: {exc}", file=sys.stderr)
        return 2
    from constrained_impersonation.testing import APIServer, KubeAPIServer, KubeBinariesNotFound

    servers: list[tuple[str, type]] = []
    if args.apiserver in ("both", "embedded"):
        servers.append(("embedded", APIServer))
    if args.apiserver in ("both", "kube"):
        servers.append(("kube", KubeAPIServer))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="peer-overlay-") as scratch:
        root = overlay(tests, Path(scratch))
        for name, server_class in servers:
            try:
                results.append(run_against(name, server_class, root, args.timeout))
            except KubeBinariesNotFound as exc:
                print(f"make peer: {exc}", file=sys.stderr)
                return 2
    ids = sorted({t for r in results for t in r.outcomes})
    for test_id in ids:
        outcomes = [r.outcomes.get(test_id, "missing") for r in results]
        if args.verbose or len(set(outcomes)) > 1:
            cells = "  ".join(f"{r.name}={o}" for r, o in zip(results, outcomes, strict=True))
            print(f"{test_id}: {cells}")
    summary = ", ".join(f"{r.name} {r.passed}/{len(r.outcomes)}" for r in results)
    print(f"python-client e2e: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
