"""Streaming audit logs: what the server wrote for real requests, gzip, bad input, speed path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from cimp_apiserver.filters import AuditSink
from constrained_impersonation.auditlog import iter_candidate_lines, summarize

from ._scenario import AGENT, DEPUTY, GATEWAY


def test_scenario_log_counts_every_legacy_impersonation(scenario: tuple) -> None:
    audit, _, traffic = scenario
    summary = summarize([audit])
    assert summary.malformed == 0
    assert sum(s.count for s in summary.impersonations.values()) == len(traffic)
    assert all(k.mode == "legacy" for k in summary.impersonations)
    by_requestor = {}
    for key, stats in summary.impersonations.items():
        by_requestor[key.requestor] = by_requestor.get(key.requestor, 0) + stats.count
    assert by_requestor == {AGENT.user: 2, DEPUTY.user: 2, GATEWAY.user: 3}
    agent = next(k for k in summary.impersonations if k.requestor == AGENT.user)
    assert agent.target == "system:node:node-1"
    assert agent.node_bound  # the token carries node-name node-1: associated-node is possible
    assert agent.requested_groups() == ("system:nodes",)
    assert (agent.verb, agent.resource, agent.namespace) == ("list", "pods", "")
    deputy = {k.target: k for k in summary.impersonations if k.requestor == DEPUTY.user}
    assert deputy["alice"].uid == "uid-alice"
    assert deputy["alice"].resource == "virtualmachineinstances/console"
    assert deputy["alice"].api_group == "subresources.kubevirt.io"


def test_samples_keep_what_a_replay_needs(scenario: tuple) -> None:
    audit, _, _ = scenario
    summary = summarize([audit], samples=True)
    for key, stats in summary.impersonations.items():
        assert stats.sample["requestURI"].startswith("/")
        assert stats.sample["user"]["username"] == key.requestor
        assert stats.sample["impersonatedUser"]["username"] == key.target
    assert all(not s.sample for s in summarize([audit]).impersonations.values())


def test_gzip_and_several_files_add_up(scenario: tuple, tmp_path: Path) -> None:
    audit, _, traffic = scenario
    packed = tmp_path / "audit.log.1"  # gzip is recognised by content, not by name
    packed.write_bytes(gzip.compress(audit.read_bytes()))
    summary = summarize([audit, packed])
    assert sum(s.count for s in summary.impersonations.values()) == 2 * len(traffic)
    assert summary.files == [str(audit), str(packed)]


def _event(stage: str, **fields: object) -> dict:
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "stage": stage,
        "verb": "watch",
        "requestURI": "/api/v1/pods?watch=1",
        "user": {"username": "u"},
        "objectRef": {"resource": "pods", "apiGroup": "", "apiVersion": "v1"},
        "requestReceivedTimestamp": "2025-01-01T00:00:00.000000Z",
    }
    event.update(fields)
    return event


def test_constrained_modes_denials_and_stages(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    sink = AuditSink(path)  # the embedded server's own writer
    imp = {"username": "system:node:n1", "groups": ["system:nodes", "system:authenticated"]}
    meta = {"impersonationConstraint": "impersonate:arbitrary-node"}
    sink.write(_event("ResponseStarted", impersonatedUser=imp, authenticationMetadata=meta))
    sink.write(_event("ResponseComplete", impersonatedUser=imp, authenticationMetadata=meta))
    sink.write(_event("ResponseComplete"))  # not impersonated
    message = (
        'pods is forbidden: User "u" cannot impersonate-on:user-info:list resource "pods" '
        'in API group "" at the cluster scope'
    )
    status = {"code": 403, "status": "Failure", "reason": "Forbidden", "message": message}
    sink.write(_event("ResponseComplete", verb="list", responseStatus=status))
    sink.close()
    summary = summarize([path])
    [(key, stats)] = summary.impersonations.items()
    assert (key.mode, key.target, key.verb, stats.count) == (
        "arbitrary-node",
        "system:node:n1",
        "watch",
        1,
    )
    assert not key.node_bound
    [(denial, dstats)] = summary.denials.items()
    assert (denial.requestor, denial.missing, denial.request) == (
        "u",
        "impersonate-on:user-info:list",
        "list pods",
    )
    assert dstats.count == 1


def test_empty_log_truncated_line_and_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert summarize([empty]).impersonations == {}
    truncated = tmp_path / "truncated.log"
    line = json.dumps(_event("ResponseComplete", impersonatedUser={"username": "x"}))
    truncated.write_text(line + "\n" + line[: line.index("impersonatedUser") + 20])
    summary = summarize([truncated])
    assert sum(s.count for s in summary.impersonations.values()) == 1
    assert summary.malformed == 1
    not_json = tmp_path / "rbac.yaml"
    not_json.write_text("kind: ClusterRole\n")
    with pytest.raises(ValueError, match="not a JSON-lines audit log"):
        summarize([not_json])
    with pytest.raises(OSError, match="no such file"):
        summarize([tmp_path / "missing.log"])
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(line.encode() * 50)[:40])
    with pytest.raises(OSError, match="cannot read"):
        summarize([broken])


def test_candidate_lines_cross_block_boundaries() -> None:
    import io

    lines = [b'{"a":1}', b'{"impersonatedUser":1}', b'{"b":2}', b'{"x":"impersonation"}']
    data = b"\n".join(lines * 50) + b"\n" + b'{"impersonatedUser":"last, no newline"}'
    for chunk in (7, 16, 64, 1 << 20):
        found = list(iter_candidate_lines(io.BytesIO(data), chunk=chunk))
        assert found == [lines[1], lines[3]] * 50 + [b'{"impersonatedUser":"last, no newline"}']


def test_progress_bar_only_when_asked_or_on_a_terminal(
    scenario: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    audit, _, _ = scenario
    summarize([audit])
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    summarize([audit], progress=True)
    err = capsys.readouterr().err
    assert "audit.log:" in err and "MB/s" in err and err.endswith("\r\x1b[K")
