"""The scenario generator alone (no server): reproducible, varied, and keeping scenarios apart.

These run in every pass (they need neither backend); the differential itself needs
``--apiserver=kube``.
"""

from __future__ import annotations

import collections

from . import known_divergences
from ._gen import FAMILIES, generate
from ._model import Ref

SEED = 5284


def test_a_scenario_depends_only_on_seed_and_index() -> None:
    for index in (0, 7, 123):
        assert generate(SEED, index).describe() == generate(SEED, index).describe()
    assert generate(SEED, 1).describe() != generate(SEED + 1, 1).describe()


def test_the_ci_stream_covers_every_family_and_mode() -> None:
    scenarios = [generate(SEED, i) for i in range(300)]
    families = collections.Counter(s.family for s in scenarios)
    assert set(families) == set(FAMILIES)
    verbs = {
        verb
        for s in scenarios
        for obj in s.objects
        for rule in obj.get("rules", [])
        for verb in rule.get("verbs", [])
    }
    for mode in ("associated-node", "arbitrary-node", "serviceaccount", "user-info"):
        assert f"impersonate:{mode}" in verbs
        assert any(v.startswith(f"impersonate-on:{mode}:") for v in verbs)
    assert "impersonate" in verbs
    headers = {name for s in scenarios for step in s.steps for name, _ in step.headers}
    assert {"Impersonate-User", "Impersonate-Group", "Impersonate-Uid"} <= headers
    assert any(h.startswith("Impersonate-Extra-") for h in headers)
    assert any(step.watch for s in scenarios for step in s.steps)


def test_every_object_is_named_under_its_scenario() -> None:
    """Two long-lived servers serve every scenario: names keep them apart (and identical)."""
    for index in range(200):
        scenario = generate(SEED, index)
        for obj in scenario.objects:
            meta = obj["metadata"]
            assert meta["name"].startswith(scenario.prefix), (index, obj)
            if "namespace" in meta:
                assert meta["namespace"].startswith(scenario.prefix), (index, obj)
        for actor in scenario.actors.values():
            if actor.kind not in ("step-token", "anonymous"):
                assert scenario.prefix in actor.name, (index, actor)


def test_references_point_backwards() -> None:
    """A step may use the token of an earlier TokenRequest step, never of a later one."""

    def refs(value: object) -> list[Ref]:
        if isinstance(value, Ref):
            return [value]
        if isinstance(value, dict):
            return [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    for index in range(300):
        scenario = generate(SEED, index)
        for i, step in enumerate(scenario.steps):
            for ref in refs(step.body):
                assert ref.kind == "uid" or 0 <= ref.step < i
            if step.actor.startswith("step"):
                assert int(step.actor[4:]) < i


def test_allow_list_entries_are_documented() -> None:
    ids = [k.id for k in known_divergences.KNOWN]
    assert len(ids) == len(set(ids))
    assert all(k.why for k in known_divergences.KNOWN)
