"""Differential conformance: fixtures, scenario selection and the final count.

The scenarios need both servers, so they run only with ``--apiserver=kube`` (which also
guarantees the binaries exist), and only when this directory is named or ``CIMP_SCENARIOS``
is set (``make conformance``; the whole-suite ``make unit-kube`` does not repeat them);
otherwise one placeholder is skipped with the reason. Two
servers of each kind live for the whole session (gate on; gate off started only when a
gate-off scenario comes), and scenarios keep apart by their names.

Environment: ``CIMP_SCENARIOS`` (default 300), ``CIMP_SEED`` (default 5284),
``CIMP_ONLY=<i>[,<j>...]`` to replay given scenarios. The last line of the run is
``differential: N scenarios, D divergences`` (D counts every divergence found, the
allow-listed ones included).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._run import Side

DEFAULT_SCENARIOS = 300
DEFAULT_SEED = 5284
_PROPERTY = "cimp_differential"


def scenario_seed() -> int:
    return int(os.environ.get("CIMP_SEED") or DEFAULT_SEED)


def scenario_indices() -> list[int]:
    only = os.environ.get("CIMP_ONLY", "").strip()
    if only:
        return [int(i) for i in only.split(",") if i.strip()]
    return list(range(int(os.environ.get("CIMP_SCENARIOS") or DEFAULT_SCENARIOS)))


def _kube(config: pytest.Config) -> bool:
    return bool(config.getoption("--apiserver", default="embedded") == "kube")


def _asked_for(config: pytest.Config) -> bool:
    """The differential runs when named (``pytest tests/conformance``, as ``make conformance``
    does) or given a count; a whole-suite run (``make unit-kube``) leaves it to that target."""
    if os.environ.get("CIMP_SCENARIOS") or os.environ.get("CIMP_ONLY"):
        return True
    here = Path(__file__).parent.resolve()
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == here or here in path.parents:
            return True
    return False


def not_running(config: pytest.Config) -> str:
    """Why the differential does not run in this session ("" when it does)."""
    if not _kube(config):
        return "the differential needs both servers: --apiserver=kube (make conformance)"
    if not _asked_for(config):
        return "the differential runs in make conformance (pytest tests/conformance)"
    return ""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario_index" not in metafunc.fixturenames:
        return
    reason = not_running(metafunc.config)
    if reason:
        skip = pytest.mark.skip(reason=reason)
        metafunc.parametrize("scenario_index", [pytest.param(-1, marks=skip)])
    else:
        metafunc.parametrize("scenario_index", scenario_indices())


class Pair:
    """The two servers a scenario runs on."""

    def __init__(self, embedded: Side, kube: Side) -> None:
        self.embedded = embedded
        self.kube = kube


def _pair(apiserver_class: Callable[..., Any], root: Path, **kwargs: Any) -> Iterator[Pair]:
    from constrained_impersonation.testing import APIServer, KubeAPIServer

    assert apiserver_class is KubeAPIServer, "the differential runs with --apiserver=kube"
    e_log, k_log = root / "embedded-audit.log", root / "kube-audit.log"
    with (
        KubeAPIServer(audit_log_path=k_log, **kwargs) as kube,
        APIServer(audit_log_path=e_log, **kwargs) as embedded,
    ):
        pair = Pair(Side("embedded", embedded, e_log), Side("kube", kube, k_log))
        yield pair
        pair.embedded.close()
        pair.kube.close()


@pytest.fixture(scope="session")
def conformance_pair(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    yield from _pair(apiserver_class, tmp_path_factory.mktemp("differential"))


@pytest.fixture(scope="session")
def conformance_pair_gate_off(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    yield from _pair(
        apiserver_class,
        tmp_path_factory.mktemp("differential-gate-off"),
        feature_gates="ConstrainedImpersonation=false",
    )


# --------------------------------------------------------------------------- the count


class _Tally:
    scenarios = 0
    divergences = 0
    allowed = 0
    printed: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _PROPERTY and isinstance(value, dict):
            _Tally.scenarios += int(value.get("scenario", 1))
            _Tally.divergences += int(value["divergences"])
            _Tally.allowed += int(value["allowed"])
            _Tally.printed.extend(value["allowed_lines"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _Tally.scenarios:
        return
    if _Tally.printed:
        terminalreporter.write_sep(
            "-", "allow-listed divergences (tests/conformance/known_divergences.py)"
        )
        for line in _Tally.printed:
            terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"seed {scenario_seed()}: {_Tally.allowed} of the divergences are allow-listed, "
        f"{_Tally.divergences - _Tally.allowed} are not"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    # Outermost wrapper: runs after the terminal reporter printed "N passed in ...".
    result = yield
    if _Tally.scenarios:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = f"differential: {_Tally.scenarios} scenarios, {_Tally.divergences} divergences"
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
    return result


def record(
    request: pytest.FixtureRequest, divergences: int, allowed: list[str], *, scenario: bool = True
) -> None:
    """Count a test's divergences in the final line (``scenario``: it is one of the N)."""
    request.node.user_properties.append(
        (
            _PROPERTY,
            {
                "divergences": divergences,
                "allowed": len(allowed),
                "allowed_lines": allowed,
                "scenario": int(scenario),
            },
        )
    )
