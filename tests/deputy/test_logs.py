"""The deputy's log cannot be forged through a request, and says nothing for strangers.

The namespace and VMI name come from the URL, where ``%0a`` is a newline: written into a
plain-text log line, they forged whole log lines. The deputy now writes one JSON object per
line (values escaped, ASCII only), and logs URL values only after the caller authenticated and
the values are valid names.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from deputy.logs import JsonFormatter

from .conftest import VMS, Cluster, DeputyProcess, Opened, Refused, open_console

# What an attacker wants to appear in the log: a plain-text line and a logfmt line of its own
# (JSON of its own cannot even reach the handler: the route refuses braces in names).
FAKE_TEXT = "2025-01-01T00:00:00Z INFO deputy console kube-system/root opened for admin"
FAKE_LOGFMT = 'level=info logger=deputy msg="console opened" namespace=kube-system user=admin'
FORGED_NAMESPACE = f"{VMS}\n{FAKE_TEXT}\n"
FORGED_NAME = f"vm1\r\n{FAKE_LOGFMT}\u2028{FAKE_TEXT}\x85x"


def _records(lines: list[str]) -> list[dict[str, Any]]:
    """Every line is one ASCII JSON object with the fixed fields, or the test fails here."""
    records = []
    for line in lines:
        assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line, repr(line)
        assert line.isascii(), repr(line)
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "msg"} <= record.keys(), line
        records.append(record)
    return records


def test_a_forged_url_writes_one_record_per_event_and_nothing_before_authentication(
    cluster: Cluster,
) -> None:
    deputy = DeputyProcess(cluster)
    forged = {"namespace": quote(FORGED_NAMESPACE, safe=""), "name": quote(FORGED_NAME, safe="")}
    try:
        answers = [
            open_console(deputy.url, None, cluster=cluster, **forged),  # no token
            open_console(deputy.url, "not-a-token", cluster=cluster, **forged),
            open_console(deputy.url, cluster.alice, cluster=cluster, **forged),  # authenticated
            open_console(deputy.url, cluster.alice, cluster=cluster),  # the one real console
        ]
    finally:
        lines = deputy.stop()
    assert [a.status if isinstance(a, Refused) else "opened" for a in answers] == [
        401,
        401,
        400,
        "opened",
    ]
    assert isinstance(answers[3], Opened)

    records = _records(lines)
    text = "".join(lines)
    # The forged values reached the deputy (the 400 proves it read them) yet were written
    # nowhere: not raw, not escaped, not in part.
    for piece in ("admin", "kube-system", "root", FAKE_TEXT[:20]):
        assert piece not in text, piece
    assert [r for r in records if r.get("user") == "admin"] == []
    assert [
        (r["namespace"], r["name"], r["user"]) for r in records if r["msg"] == "console opened"
    ] == [(VMS, "vm1", "alice")]
    # Strangers: one record each, the reason and nothing from the URL.
    unauthorized = [r for r in records if r["msg"] == "unauthorized"]
    assert [(r["status"], r["reason"]) for r in unauthorized] == [
        (401, "no bearer token"),
        (401, unauthorized[1]["reason"]),
    ]
    for record in unauthorized:
        assert {"namespace", "name", "user", "path"}.isdisjoint(record), record
    # An authenticated user with invalid names: refused and logged without them.
    (invalid,) = [r for r in records if r.get("status") == 400]
    assert (invalid["msg"], invalid["user"], invalid["reason"]) == (
        "refused",
        "alice",
        "invalid target name",
    )
    assert {"namespace", "name"}.isdisjoint(invalid)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b\x0c\x1c\x1d\x1e", '"}\n{"msg": "x"', "\x00"]
)


@given(msg=_TEXT, values=st.dictionaries(st.sampled_from(["user", "name", "reason"]), _TEXT))
def test_any_value_is_one_ascii_line_that_parses_back(msg: str, values: dict[str, str]) -> None:
    record = logging.LogRecord("deputy", logging.INFO, __file__, 1, "%s", (msg,), None)
    record.fields = values
    line = JsonFormatter().format(record)
    assert line.isascii() and len(line.splitlines()) == 1 and line.isprintable()
    parsed = json.loads(line)
    assert parsed["msg"] == msg
    assert {key: parsed[key] for key in values} == values
