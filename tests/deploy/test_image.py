"""One image, named the same everywhere, built from hash-pinned inputs only.

The Dockerfile, its labels, ``make image``, both workloads and both kustomizations name one
image (``cimp:<project version>``); the build installs its build backend from a hash-pinned
lock; ``make lock`` writes the lock headers as committed; hack/update-base-image.sh pins the
base by digest. No docker engine is needed: the Dockerfile is read, and ``make image`` is run
against a stand-in ``docker`` that records its arguments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
LOCKS = ("requirements.lock", "requirements-dev.lock", "requirements-build.lock")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = re.search(
    r'^__version__ = "(.+)"$',
    (REPO / "sdk/constrained_impersonation/_version.py").read_text(),
    re.MULTILINE,
).group(1)  # type: ignore[union-attr]
IMAGE = f"cimp:{VERSION}"


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def stages() -> list[list[str]]:
    result: list[list[str]] = [[]]
    for line in instructions():
        if line.startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


def labels() -> dict[str, str]:
    final = stages()[-1]
    [label] = [line for line in final if line.startswith("LABEL ")]
    return dict(re.findall(r'(\S+)="([^"]*)"', label))


def images_in(directory: Path) -> set[str]:
    found: set[str] = set()
    for path in directory.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec") or {}
            for container in [*spec.get("containers", ()), *spec.get("initContainers", ())]:
                found.add(container["image"])
    return found


def fake_docker(tmp_path: Path, info_ok: bool) -> tuple[Path, Path]:
    calls = tmp_path / "calls"
    docker = tmp_path / "docker"
    docker.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n[ "$1" != info ] || exit {0 if info_ok else 1}\n'
    )
    docker.chmod(0o755)
    return docker, calls


def make(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_one_image_name_in_the_dockerfile_its_labels_both_workloads_and_kustomizations() -> None:
    documented = re.findall(r"^#\s+docker build -t (\S+) \.$", DOCKERFILE.read_text(), re.M)
    assert documented == [IMAGE]
    name, _, tag = IMAGE.partition(":")
    assert labels()["org.opencontainers.image.title"] == name
    assert labels()["org.opencontainers.image.version"] == tag
    description = labels()["org.opencontainers.image.description"]
    assert "cimp-node-agent" in description and "cimp-deputy" in description
    for directory in ("daemonset", "deputy"):
        assert images_in(REPO / "deploy" / directory) == {IMAGE}, directory
        kustomization = yaml.safe_load(
            (REPO / "deploy" / directory / "kustomization.yaml").read_text()
        )
        assert kustomization["images"] == [{"name": name, "newTag": tag}], directory


def test_each_workload_runs_the_images_commands() -> None:
    """The daemonset relies on the entry point; the deputy names its console script."""
    [entrypoint] = [line for line in stages()[-1] if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["cimp-node-agent"]
    scripts = set(PYPROJECT["project"]["scripts"])
    for path, kind in (
        ("daemonset/daemonset.yaml", "DaemonSet"),
        ("deputy/deployment.yaml", "Deployment"),
    ):
        [doc] = [d for d in yaml.safe_load_all((REPO / "deploy" / path).read_text()) if d]
        assert doc["kind"] == kind
        for container in doc["spec"]["template"]["spec"]["containers"]:
            command = container.get("command") or ["cimp-node-agent"]
            assert command[0] in scripts


def test_make_image_builds_exactly_that_image_when_an_engine_answers(tmp_path: Path) -> None:
    docker, calls = fake_docker(tmp_path, info_ok=True)
    done = make("image", f"DOCKER={docker}")
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == ["info", f"build -t {IMAGE} ."]


def test_make_image_without_an_engine_says_so_in_one_line_and_fails(tmp_path: Path) -> None:
    docker, calls = fake_docker(tmp_path, info_ok=False)
    done = make("image", f"DOCKER={docker}")
    assert done.returncode != 0
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "no docker engine reachable" in line
    assert f"`{docker} build -t {IMAGE} .`" in line
    assert calls.read_text().splitlines() == ["info"], "nothing is built"


def test_build_context_is_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: nothing enters the build context unless listed"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {"Dockerfile"}
    for line in instructions():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            copied |= {s.rstrip("/") for s in sources}
    assert allowed == copied


def test_the_build_backend_comes_from_its_hash_pinned_lock_and_nothing_unpinned() -> None:
    build = stages()[1]
    text = "\n".join(build)
    assert "COPY requirements-build.lock requirements.lock ./" in text
    installs = [
        part.strip()
        for line in build
        if line.startswith("RUN ")
        for part in line.removeprefix("RUN ").split("&&")
        if re.search(r"\bpip\b.*\b(install|wheel)\b", part)
    ]
    for lock in ("requirements-build.lock", "requirements.lock"):
        [step] = [i for i in installs if f"-r {lock}" in i]
        assert "--require-hashes" in step and "--only-binary=:all:" in step, step
    [wheel] = [i for i in installs if " wheel " in i]
    assert "--no-build-isolation" in wheel and "--no-deps" in wheel, wheel
    assert wheel.startswith("pip --python /opt/build/bin/python "), "built by the locked backend"
    [project] = [i for i in installs if "/tmp/wheels/" in i]
    assert "--no-deps" in project and "--no-index" in project, project
    assert len(installs) == 4, installs  # nothing else is installed
    # The locked backend satisfies what pyproject.toml requires to build.
    pins = lock_pins("requirements-build.lock")
    for required in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(required)
        assert requirement.specifier.contains(pins[requirement.name]), (required, pins)
    assert PYPROJECT["build-system"]["build-backend"].split(".")[0] in pins


def lock_pins(name: str) -> dict[str, str]:
    """name -> version of a lock file, asserting every pin carries hashes."""
    text = (REPO / name).read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{name}: {match[1]} is not hash-pinned"
            pins[match[1].lower()] = match[2]
    return pins


def test_make_lock_writes_the_headers_the_lock_files_carry() -> None:
    for name in LOCKS:
        header = (REPO / name).read_text().splitlines()[:2]
        assert header == [
            "# This file was autogenerated by uv via the following command:",
            "#    make lock",
        ], name
        assert lock_pins(name)
    plan = make("-n", "lock", "UV=.tools/bin/uv")
    assert plan.returncode == 0, plan.stderr
    commands = [line for line in plan.stdout.splitlines() if "pip compile" in line]
    assert len(commands) == len(LOCKS)
    for name, command in zip(LOCKS, commands, strict=True):
        assert command.endswith(f"-o {name}"), command
        assert '--custom-compile-command "make lock"' in command
        assert "--generate-hashes" in command and "--python-platform" in command


def test_the_base_image_is_a_tag_or_a_tag_pinned_by_digest() -> None:
    [arg] = [line for line in stages()[0] if line.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11-slim(@sha256:[0-9a-f]{64})?", arg)
    assert all(
        stage[0] == "FROM ${PYTHON_IMAGE} AS " + stage[0].split()[-1] for stage in stages()[1:]
    )
    assert labels()["org.opencontainers.image.base.name"] == "${PYTHON_IMAGE}"


@pytest.fixture
def isolated_path(tmp_path: Path) -> Path:
    """A PATH with only what the script needs (so no crane or docker of this machine)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "grep", "sed", "dirname"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def update_base_image(dockerfile: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "DOCKERFILE": str(dockerfile)}
    return subprocess.run(
        [str(REPO / "hack" / "update-base-image.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_update_base_image_pins_the_tag_by_digest_and_repins(
    tmp_path: Path, isolated_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(DOCKERFILE, dockerfile)
    original = dockerfile.read_text()
    crane = isolated_path / "crane"
    for digit in "ab":
        digest = "sha256:" + digit * 64
        crane.write_text(f'#!/bin/sh\n[ "$1 $2" = "digest python:3.11-slim" ] && echo {digest}\n')
        crane.chmod(0o755)
        done = update_base_image(dockerfile, isolated_path)
        assert done.returncode == 0, done.stderr
        text = dockerfile.read_text()
        assert f"ARG PYTHON_IMAGE=python:3.11-slim@{digest}\n" in text
        assert text.count("ARG PYTHON_IMAGE=python:3.11-slim") == 1
    # Only that line changed.
    assert [a for a, b in zip(original.splitlines(), text.splitlines(), strict=True) if a != b] == [
        "ARG PYTHON_IMAGE=" + original.split("ARG PYTHON_IMAGE=", 1)[1].split("\n", 1)[0]
    ]


def test_update_base_image_without_a_tool_or_registry_fails_in_one_line(
    tmp_path: Path, isolated_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(DOCKERFILE, dockerfile)
    before = dockerfile.read_text()
    done = update_base_image(dockerfile, isolated_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "update-base-image: cannot resolve python:3.11-slim: neither crane nor docker buildx is installed"
    ]
    crane = isolated_path / "crane"
    crane.write_text(
        "#!/bin/sh\necho 'GET https://index.docker.io/v2/: dial tcp: lookup failed' >&2\nexit 1\n"
    )
    crane.chmod(0o755)
    done = update_base_image(dockerfile, isolated_path)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("update-base-image: crane digest python:3.11-slim failed: GET")
    assert dockerfile.read_text() == before


def test_the_script_is_executable() -> None:
    mode = (REPO / "hack" / "update-base-image.sh").stat().st_mode
    assert mode & stat.S_IXUSR


@pytest.mark.parametrize("script", sorted(PYPROJECT["project"]["scripts"]))
def test_every_console_script_reports_the_package_version(script: str) -> None:
    """What the image build runs last (`<script> --version`); one version, the SDK's _version.py."""
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / script), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{script} {version('constrained-impersonation')}\n"
    assert version("constrained-impersonation") == VERSION


def test_cimp_help_lists_version(capsys: pytest.CaptureFixture[str]) -> None:
    from constrained_impersonation.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "--version" in capsys.readouterr().out
