"""Generated scenarios sent to the embedded server and to kube-apiserver v1.37.2, compared.

One test per scenario (``CIMP_SCENARIOS``, seed ``CIMP_SEED``). A scenario fails when its
answers differ in a way ``known_divergences.py`` does not list; the failure prints every
divergence with both answers and the scenario, replayable with ``CIMP_SEED=<s>
CIMP_ONLY=<i> pytest tests/conformance --apiserver=kube``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from . import known_divergences
from ._gen import generate
from ._run import render, run_pair
from .conftest import Pair, not_running, record, scenario_seed


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


def _families(text: str) -> dict[str, dict[str, Any]]:
    """HELP, TYPE, label names and bucket bounds of each ``apiserver_impersonation_*`` family."""
    families: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith(("# HELP apiserver_impersonation_", "# TYPE apiserver_impersonation_")):
            _, what, name, rest = line.split(" ", 3)
            families.setdefault(name, {})[what.lower()] = rest
        elif line.startswith("apiserver_impersonation_"):
            match = re.match(r"^(\w+?)(_bucket|_sum|_count)?\{(.*)\} \S+$", line)
            assert match is not None, line
            family = families.setdefault(match.group(1), {})
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3)))
            family.setdefault("labels", set()).update(k for k in labels if k != "le")
            if "le" in labels:
                family.setdefault("buckets", set()).add(labels["le"])
    for family in families.values():
        for key in ("labels", "buckets"):
            if key in family:
                family[key] = sorted(family[key])
    return families


def test_impersonation_metric_families(
    request: pytest.FixtureRequest, apiserver_class: Callable[..., Any]
) -> None:
    """The four families as kube registers them: names, [ALPHA] help, type, labels, buckets."""
    reason = not_running(request.config)
    if reason:
        pytest.skip(reason)
    pair: Pair = request.getfixturevalue("conformance_pair")
    texts = {}
    for side in (pair.embedded, pair.kube):
        server = side.server
        token = server.add_user("metric-families")
        for headers in ({"Impersonate-User": "someone"}, {"Impersonate-Group": "g"}):
            server.request("GET", "/api/v1/pods", token=token, headers=headers)
        server.request("GET", "/api/v1/pods", headers={"Impersonate-User": "someone"})
        texts[side.name] = _families(server.metrics_text())
    divergences = [
        f"{name}: embedded {texts['embedded'].get(name)} kube {texts['kube'].get(name)}"
        for name in sorted(set(texts["embedded"]) | set(texts["kube"]))
        if texts["embedded"].get(name) != texts["kube"].get(name)
    ]
    record(request, len(divergences), [], scenario=False)
    assert len(texts["kube"]) == 4, texts["kube"]
    assert not divergences, "\n".join(divergences)
