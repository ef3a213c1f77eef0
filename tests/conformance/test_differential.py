"""Generated scenarios sent to the embedded server and to kube-apiserver v1.37.2, compared.

One test per scenario (``CIMP_SCENARIOS``, seed ``CIMP_SEED``). A scenario fails when its
answers differ in a way ``known_divergences.py`` does not list; the failure prints every
divergence with both answers and the scenario, replayable with ``CIMP_SEED=<s>
CIMP_ONLY=<i> pytest tests/conformance --apiserver=kube``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from . import known_divergences
from ._gen import generate
from ._run import render, run_pair
from .conftest import Pair, record, scenario_seed


def test_scenario(
    scenario_index: int, request: pytest.FixtureRequest, apiserver_class: Callable[..., Any]
) -> None:
    # ``apiserver_class`` is what keeps this test in a --apiserver=kube run (and that is the
    # KubeAPIServer the pair fixtures check for).
    scenario = generate(scenario_seed(), scenario_index)
    fixture = "conformance_pair_gate_off" if scenario.gate_off else "conformance_pair"
    pair: Pair = request.getfixturevalue(fixture)
    divergences = run_pair(scenario, pair.embedded, pair.kube)
    unexpected = []
    allowed: list[str] = []
    for d in divergences:
        known = known_divergences.match(scenario, d.where, d.aspect, d.embedded, d.kube)
        if known is None:
            unexpected.append(d)
        else:
            allowed.append(f"({known.id}) " + d.render().replace("\n", "\n  "))
    record(request, len(divergences), allowed)
    if unexpected:
        pytest.fail(
            f"{len(unexpected)} divergence(s) between the embedded server and kube-apiserver:\n"
            + render(scenario, unexpected),
            pytrace=False,
        )
