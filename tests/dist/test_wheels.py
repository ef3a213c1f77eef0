"""The wheels users install work outside this checkout.

Both distributions are built from their sdists exactly as ``make dist`` does, then installed
into fresh virtualenvs (no editable install, run from an empty directory, so nothing of the
source tree is importable): the SDK alone, as the node agent's image and a controller install
it, and the SDK with the ``testing`` extra, as a user's test suite does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VERSION = re.search(
    r'^__version__ = "(.+)"$',
    (REPO / "sdk/constrained_impersonation/_version.py").read_text(),
    re.MULTILINE,
).group(1)  # type: ignore[union-attr]
README_FIRST_EXAMPLE = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)[0]
SERVER_ONLY = {"constrained-impersonation-server", "cryptography", "cffi", "pycparser"}


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools/bin/uv")
    if not Path(found).is_file():
        pytest.skip("uv is not installed: `make venv` installs it into .tools/bin")
    return found


def _run(
    argv: Sequence[str | Path], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for project in (REPO, REPO / "server"):
        _run([_uv(), "build", "--quiet", "--build-constraint", REPO / "requirements-build.lock",
              "-o", out, project], cwd=REPO)  # fmt: skip
    return out


def _venv(root: Path, dist: Path, requirement: str) -> Path:
    """A fresh virtualenv with ``requirement`` resolved from the wheels in ``dist`` and the
    index, every dependency held to the versions the project locks."""
    venv = root / "venv"
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, venv], cwd=root)
    _run([_uv(), "pip", "install", "--quiet", "--python", venv / "bin/python",
          "--find-links", dist, "--constraint", REPO / "requirements-dev.lock",
          "--no-build", requirement], cwd=root)  # fmt: skip
    return venv


def _installed(venv: Path, cwd: Path) -> set[str]:
    freeze = _run([_uv(), "pip", "freeze", "--python", venv / "bin/python"], cwd=cwd).stdout
    return {line.split("==")[0].lower() for line in freeze.splitlines() if "==" in line}


@pytest.fixture(scope="module")
def sdk_only(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sdk-only")
    return _venv(root, dist, f"constrained-impersonation=={VERSION}"), root


@pytest.fixture(scope="module")
def with_testing(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("with-testing")
    return _venv(root, dist, f"constrained-impersonation[testing]=={VERSION}"), root


def test_both_distributions_carry_one_version(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir() if p.suffix in (".whl", ".gz"))
    assert names == [
        f"constrained_impersonation-{VERSION}-py3-none-any.whl",
        f"constrained_impersonation-{VERSION}.tar.gz",
        f"constrained_impersonation_server-{VERSION}-py3-none-any.whl",
        f"constrained_impersonation_server-{VERSION}.tar.gz",
    ]


def test_the_sdk_wheel_installs_nothing_only_the_server_needs(sdk_only: tuple[Path, Path]) -> None:
    venv, root = sdk_only
    installed = _installed(venv, root)
    assert "constrained-impersonation" in installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    site = _run([venv / "bin/python", "-c", "import constrained_impersonation as ci; "
                 "print(ci.__file__)"], cwd=root).stdout  # fmt: skip
    assert str(venv) in site and str(REPO) not in site, "imported from the checkout"
    found = _run([venv / "bin/python", "-c", "import importlib.util as u; "
                  "print(u.find_spec('cimp_apiserver'))"], cwd=root).stdout  # fmt: skip
    assert found.strip() == "None"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["cimp", "--help"], "usage: cimp"),
        (["cimp", "--version"], f"cimp {VERSION}"),
        (["cimp-node-agent", "--version"], f"cimp-node-agent {VERSION}"),
        (["cimp-deputy", "--help"], "usage: cimp-deputy"),
        (["cimp-deputy", "--version"], f"cimp-deputy {VERSION}"),
    ],
)
def test_the_commands_run_from_the_sdk_wheel(
    sdk_only: tuple[Path, Path], command: list[str], expected: str
) -> None:
    venv, root = sdk_only
    done = _run([venv / "bin" / command[0], *command[1:]], cwd=root)
    assert expected in done.stdout


def test_the_sdk_works_without_the_testing_extra(sdk_only: tuple[Path, Path]) -> None:
    venv, root = sdk_only
    code = (
        "import constrained_impersonation as ci\n"
        "from constrained_impersonation import rbac\n"
        "scope = ci.Scope(ci.Rule(verbs=['list', 'watch'], resources=['pods']))\n"
        "kinds = [m['kind'] for m in rbac.render(scope, 'associated-node', 'ns/sa')]\n"
        "assert kinds == ['ClusterRole', 'ClusterRoleBinding'], kinds\n"
    )
    _run([venv / "bin/python", "-c", code], cwd=root)


def test_testing_without_the_extra_names_the_install_command(sdk_only: tuple[Path, Path]) -> None:
    venv, root = sdk_only
    done = _run([venv / "bin/python", "-c",
                 "from constrained_impersonation.testing import APIServer"],
                cwd=root, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "pip install 'constrained-impersonation[testing]'" in done.stderr
    cli = _run([venv / "bin/cimp", "apiserver"], cwd=root, check=False)
    assert cli.returncode == 2
    assert cli.stderr.startswith("cimp apiserver: error: ")
    assert "pip install 'constrained-impersonation[testing]'" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_the_readme_example_runs_with_the_testing_extra(with_testing: tuple[Path, Path]) -> None:
    venv, root = with_testing
    installed = _installed(venv, root)
    assert {"constrained-impersonation", "constrained-impersonation-server"} <= installed
    done = _run([venv / "bin/python", "-c", README_FIRST_EXAMPLE], cwd=root)
    assert "Traceback" not in done.stderr


def test_the_pytest_plugin_serves_the_fixture_from_the_wheels(
    with_testing: tuple[Path, Path],
) -> None:
    venv, root = with_testing
    _run([_uv(), "pip", "install", "--quiet", "--python", venv / "bin/python",
          "--constraint", REPO / "requirements-dev.lock", "pytest"], cwd=root)  # fmt: skip
    (root / "test_user.py").write_text(
        "def test_whoami(apiserver):\n"
        "    token = apiserver.add_user('alice', groups=['dev'])\n"
        "    status, body = apiserver.request('POST',\n"
        "        '/apis/authentication.k8s.io/v1/selfsubjectreviews',\n"
        "        {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'SelfSubjectReview'},\n"
        "        token=token)\n"
        "    assert status == 201, body\n"
        "    assert body['status']['userInfo']['username'] == 'alice'\n"
    )
    done = _run([venv / "bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "test_user.py"], cwd=root, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout


def test_the_metadata_passes_twine_check(dist: Path) -> None:
    """What PyPI would refuse (a README that does not render, missing fields) fails here."""
    twine = Path(sys.executable).parent / "twine"
    if not twine.is_file():
        pytest.skip("twine is not installed (it is in the dev lock: make venv)")
    built = sorted(p for p in dist.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    done = _run([twine, "check", "--strict", *built], cwd=dist)
    assert done.stdout.count("PASSED") == 4, done.stdout
