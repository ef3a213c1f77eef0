"""The guide's code blocks run as written, and the docs link only inside the repository.

Fences in ``docs/guide/*.md`` say what a block is:

- ``python``: run in a fresh interpreter from the repo root; a block defining ``test_*``
  functions is run by pytest instead. With ``--apiserver=kube`` the blocks that start
  ``APIServer`` run on the real kube-apiserver (the class name swapped, as for the README).
- ``sh``: run by bash (``-euo pipefail``), the blocks of one page in order in one empty
  directory, with ``cimp`` on ``PATH`` and ``KUBECONFIG`` pointing at a fresh server of the
  chosen backend (admin credentials): what a reader's terminal would have.
- ``yaml``: Kubernetes manifests, parsed.
- ``console``: shown, not run; only installs and commands against a real cluster.
- ``text``: output.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GUIDE = sorted((ROOT / "docs" / "guide").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.S | re.M)
KNOWN = {"python", "sh", "yaml", "console", "text"}
BIN = str(Path(sys.executable).parent)


def blocks(page: Path, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(page.read_text()) if lang == language]


def _ids(pairs: list[tuple[Path, str]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for page, _ in pairs:
        n = seen[page.stem] = seen.get(page.stem, -1) + 1
        out.append(f"{page.stem}-{n}")
    return out


PYTHON = [(page, code) for page in GUIDE for code in blocks(page, "python")]
SHELL_PAGES = [page for page in GUIDE if blocks(page, "sh")]


def _env(**extra: str) -> dict[str, str]:
    # Where the kube binaries are stays (KUBEBUILDER_ASSETS, CIMP_KUBE_ASSETS); a kubeconfig or
    # agent settings of the caller's shell do not leak into the examples.
    drop = ("KUBECONFIG", "CIMP_AGENT_", "CIMP_DEPUTY_", "CIMP_APISERVER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _links() -> ModuleType:
    """The MkDocs hook that judges outward links (docs/_hooks/links.py)."""
    spec = importlib.util.spec_from_file_location("cimp_doc_links", ROOT / "docs/_hooks/links.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_has_every_page_and_runnable_blocks() -> None:
    names = {page.stem for page in GUIDE}
    assert {"getting-started", "node-agent", "deputy", "testing", "tools", "migrating"} <= names
    assert len(PYTHON) >= 8
    assert len(SHELL_PAGES) >= 2


def test_every_block_says_what_it_is() -> None:
    for page in GUIDE:
        for lang, code in FENCE.findall(page.read_text()):
            assert lang in KNOWN, f"{page.name}: a ```{lang} block: use one of {sorted(KNOWN)}"
            if lang == "console":  # shown only: nothing runnable may hide here
                for line in code.splitlines():
                    assert line.startswith(("pip install", "kubectl ")), (page.name, line)


@pytest.mark.parametrize("page", GUIDE, ids=[p.stem for p in GUIDE])
def test_guide_manifests_parse(page: Path) -> None:
    for code in blocks(page, "yaml"):
        for doc in yaml.safe_load_all(code):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), doc


@pytest.mark.parametrize(("page", "code"), PYTHON, ids=_ids(PYTHON))
def test_guide_python_block_runs(
    page: Path, code: str, apiserver_class: Callable[..., Any], tmp_path: Path
) -> None:
    backend = getattr(apiserver_class, "__name__", "APIServer")
    if re.search(r"^def test_", code, flags=re.M):
        example = tmp_path / f"test_{page.stem.replace('-', '_')}_example.py"
        example.write_text(code)
        mode = "kube" if backend == "KubeAPIServer" else "embedded"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "no:randomly", f"--apiserver={mode}", str(example)]
    else:
        command = [sys.executable, "-c", re.sub(r"\bAPIServer\b", backend, code)]
    result = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.parametrize("page", SHELL_PAGES, ids=[p.stem for p in SHELL_PAGES])
def test_guide_shell_blocks_run(
    page: Path, apiserver_class: Callable[..., Any], tmp_path: Path
) -> None:
    with apiserver_class() as server:
        env = _env(KUBECONFIG=server.kubeconfig(), HOME=str(tmp_path))
        for code in blocks(page, "sh"):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", code],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert result.returncode == 0, f"{code}\n{result.stdout}{result.stderr}"[-4000:]


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = [ROOT / name for name in listed.split("\0") if name]
    return [f for f in files if f.is_file() and f.suffix not in {".lock", ".json", ".png"}]


def test_no_file_refers_outside_the_repository() -> None:
    """The semantics live in docs/semantics.md: nothing points at notes kept elsewhere."""
    words = ["../" + "shared", "SPEC" + "-impersonation", "/work/" + "shared"]
    section = r"|\b" + "SPEC" + r" (?:sections? |story |\d)"  # "<note> 3.5", "<note> section 4"
    outside = re.compile("|".join(map(re.escape, words)) + section)
    found = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_links_leave_the_repository_only_for_upstream_source() -> None:
    links = _links()
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    bad = []
    for page in pages:
        for url in re.findall(r"\]\((\w[\w+.-]*://[^)\s]+)\)", page.read_text()):
            why = links.problem(url)
            if why:
                bad.append(f"{page.relative_to(ROOT)}: {url} {why}")
        for url in re.findall(r"^\[[^\]]+\]:\s*(\S+)", page.read_text(), flags=re.M):
            why = links.problem(url) if "://" in url else None
            if why:
                bad.append(f"{page.relative_to(ROOT)}: {url} {why}")
    assert not bad, "\n".join(bad)


def test_the_link_rule_refuses_what_it_should() -> None:
    links = _links()
    upstream = links.UPSTREAM
    assert links.problem("https://example.com/") is not None
    assert links.problem("https://github.com/kubernetes/kubernetes/blob/master/go.mod") is not None
    assert links.problem(upstream + "pkg/auth/nodeidentifier/default.go") is None
    if (links._module_cache() / "k8s.io" / "kubernetes@v1.37.2").is_dir():
        assert links.problem(upstream + "pkg/auth/nodeidentifier/nope.go") is not None
        assert links.problem(upstream + "pkg/auth/nodeidentifier/default.go#L1-L99999")


def test_the_site_builds_strict(tmp_path: Path) -> None:
    """What `make docs` does, into a temporary directory (about 2 s)."""
    pytest.importorskip("mkdocstrings", reason="the docs tools are not installed in this venv")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "semantics.html").is_file()
    assert (tmp_path / "reference" / "sessions.html").is_file()
