"""pytest plugin (registered through the ``pytest11`` entry point): the ``apiserver`` fixture.

``--apiserver=embedded`` (default) serves tests from the embedded server; ``--apiserver=kube``
from a real kube-apiserver and etcd (``KubeAPIServer``), so one suite checks both. The
environment variable ``CIMP_APISERVER`` sets the default. Tests that need a power only the
embedded server has (fault injection, a fake clock, forced compaction, its internals) say so
with ``@pytest.mark.embedded_only("<power>")`` and are skipped on the real one.

With ``--apiserver=kube`` each pytest worker keeps one kube-apiserver and puts its etcd back to
the start-up state before every test (two seconds of CPU saved per test); a test that writes
what a reset cannot undo reliably (CRDs, APIServices, webhooks, ...) makes the next test get a
fresh server. ``@pytest.mark.fresh_apiserver`` asks for a fresh one outright (for example to
read metrics counters from zero); ``--apiserver-reuse=no`` turns sharing off.

Imports nothing heavy at collection time, so installing the package costs pytest runs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

BACKENDS = ("embedded", "kube")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("constrained-impersonation")
    group.addoption(
        "--apiserver",
        choices=BACKENDS,
        default=os.environ.get("CIMP_APISERVER") or "embedded",
        help="API server behind the `apiserver` fixture: the embedded one (default) or a real "
        "kube-apiserver built by `make kube` or found in KUBEBUILDER_ASSETS "
        "(default from $CIMP_APISERVER)",
    )
    group.addoption(
        "--apiserver-reuse",
        choices=("yes", "no"),
        default="yes",
        help="with --apiserver=kube: share one kube-apiserver per worker, reset between tests "
        "(yes, default) or start one per test (no)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_only(power): needs a power only the embedded API server has (named); "
        "skipped with --apiserver=kube",
    )
    config.addinivalue_line(
        "markers",
        "fresh_apiserver: the `apiserver` fixture starts a server for this test alone",
    )
    if config.getoption("--apiserver", default="embedded") == "kube":
        from ._assets import KubeBinariesNotFound, find_assets

        try:
            find_assets()
        except KubeBinariesNotFound as exc:
            raise pytest.UsageError(f"--apiserver=kube: {exc}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--apiserver", default="embedded") != "kube":
        return
    # A test that starts no server through these fixtures cannot tell the backends apart:
    # it already ran with the embedded one, so a kube run leaves it out.
    kept: list[pytest.Item] = []
    independent: list[pytest.Item] = []
    for item in items:
        uses_backend = {"apiserver", "apiserver_class"} & set(getattr(item, "fixturenames", ()))
        (kept if uses_backend else independent).append(item)
        marker = item.get_closest_marker("embedded_only")
        if uses_backend and marker is not None:
            power = marker.args[0] if marker.args else "the embedded server"
            item.add_marker(pytest.mark.skip(reason=f"needs {power} (embedded server only)"))
    if independent:
        config.hook.pytest_deselected(items=independent)
        items[:] = kept


@pytest.fixture(scope="session")
def apiserver_backend(request: pytest.FixtureRequest) -> str:
    """``"embedded"`` or ``"kube"``: which server the ``apiserver`` fixtures start."""
    return str(request.config.getoption("--apiserver", default="embedded"))


@pytest.fixture(scope="session")
def apiserver_class(apiserver_backend: str) -> Callable[..., Any]:
    """The server class of the chosen backend: ``APIServer`` or ``KubeAPIServer``.

    Both take ``feature_gates``, ``data_dir`` and ``audit_log_path`` and offer the same
    methods, so ``with apiserver_class(audit_log_path=p) as server:`` runs on either.
    """
    from . import APIServer, KubeAPIServer  # type: ignore[attr-defined,unused-ignore]

    return KubeAPIServer if apiserver_backend == "kube" else APIServer  # type: ignore[no-any-return]


class _SharedKube:
    """One kube-apiserver per worker, handed to each test as if fresh (see the module doc)."""

    def __init__(self, factory: Callable[..., Any]) -> None:
        self._factory = factory
        self._server: Any = None
        self.last_replaced = ""  # why the last server was replaced (for tests of the reset)

    def acquire(self) -> Any:
        if self._server is not None:
            try:
                reason = self._server._reset()
            except Exception as exc:  # a reset that fails for any reason: a fresh server
                reason = str(exc)
            if reason is not None:
                self.last_replaced = reason
                self.close()
        if self._server is None:
            server = self._factory()
            try:
                server.start()
                server._take_snapshot()
            except BaseException:
                server.close()
                raise
            self._server = server
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


@pytest.fixture(scope="session")
def _cimp_shared_kube(apiserver_class: Callable[..., Any]) -> Iterator[_SharedKube]:
    shared = _SharedKube(apiserver_class)
    yield shared
    shared.close()


@pytest.fixture
def apiserver(apiserver_class: Callable[..., Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """An API server of the chosen backend (constrained impersonation on) in its start-up state.

    Embedded: a new server per test. kube: the worker's shared server after a reset, unless
    the test is marked ``fresh_apiserver`` or ``--apiserver-reuse=no`` is given.
    """
    shared = (
        request.config.getoption("--apiserver", default="embedded") == "kube"
        and request.config.getoption("--apiserver-reuse", default="yes") == "yes"
        and request.node.get_closest_marker("fresh_apiserver") is None
    )
    if not shared:
        with apiserver_class() as server:
            yield server
        return
    yield request.getfixturevalue("_cimp_shared_kube").acquire()
