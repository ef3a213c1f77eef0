"""Divergences the differential knows about and tolerates until they are fixed.

Each entry says what differs, where it is fixed (or who owns it) and how to recognise it. A
divergence matching an entry is counted and printed but does not fail its scenario; anything
else fails. The goal is an empty tuple: an entry is removed in the commit that fixes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._model import Scenario

__all__ = ["KNOWN", "Known", "match"]

# (scenario, index of the step the divergence is in, or -1 for the whole scenario) -> applies
When = Callable[[Scenario, int], bool]


@dataclass(frozen=True)
class Known:
    """``aspect``/``where`` are regexes on the divergence's location; ``embedded``/``kube``
    regexes searched in the JSON of each side's value (empty: anything); ``when`` an optional
    predicate on the scenario and the step."""

    id: str
    why: str
    aspect: str
    embedded: str = ""
    kube: str = ""
    where: str = ""
    when: When | None = None

    def matches(
        self, scenario: Scenario, where: str, aspect: str, embedded: Any, kube: Any
    ) -> bool:
        if not re.search(self.aspect, aspect) or (self.where and not re.search(self.where, where)):
            return False
        e = json.dumps(embedded, ensure_ascii=False, sort_keys=True)
        k = json.dumps(kube, ensure_ascii=False, sort_keys=True)
        if self.embedded and re.search(self.embedded, e) is None:
            return False
        if self.kube and re.search(self.kube, k) is None:
            return False
        if self.when is not None:
            step = re.match(r"step (\d+) ", where)
            return self.when(scenario, int(step.group(1)) if step else -1)
        return True


KNOWN: tuple[Known, ...] = ()


def match(scenario: Scenario, where: str, aspect: str, embedded: Any, kube: Any) -> Known | None:
    for known in KNOWN:
        if known.matches(scenario, where, aspect, embedded, kube):
            return known
    return None
