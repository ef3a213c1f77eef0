"""``preflight``: access reviews against the live server, exact checks, gaps, over-grants."""

from __future__ import annotations

import pytest

from constrained_impersonation.identity import Identity
from constrained_impersonation.rbac.preflight import MissingGrants, preflight, required_checks
from constrained_impersonation.scope import Rule, Scope

from .conftest import DEPUTY_SCOPE, Live

ALICE = Identity("alice", "uid-alice", ("developers",))


def test_required_checks_have_the_exact_attributes() -> None:
    checks = required_checks(DEPUTY_SCOPE, ALICE, "user-info")
    assert [c.describe() for c in checks] == [
        "impersonate-on:user-info:get virtualmachineinstances/console.subresources.kubevirt.io in default",
        "impersonate:user-info users.authentication.k8s.io 'alice'",
        "impersonate:user-info uids.authentication.k8s.io 'uid-alice'",
        "impersonate:user-info groups.authentication.k8s.io 'developers'",
    ]
    node = required_checks(
        Scope(Rule(["list"], "pods")), Identity("system:node:n1"), "associated-node"
    )
    assert node[-1].review_attributes() == {
        "resourceAttributes": {
            "verb": "impersonate:associated-node",
            "group": "authentication.k8s.io",
            "version": "v1",
            "resource": "nodes",
            "name": "*",
        }
    }
    many = Identity("bob", None, ("a", "b", "c", "d"))
    kinds = [c.kind for c in required_checks(DEPUTY_SCOPE, many, "user-info")]
    assert kinds == ["action", "user", "groups*", "group", "group", "group", "group"]
    with pytest.raises(ValueError, match="system:masters"):
        required_checks(DEPUTY_SCOPE, Identity("x", None, ("system:masters",)), "user-info")


def test_deputy_holds_exactly_what_it_needs(live: Live) -> None:
    report = preflight(
        live.server.api_client(), scope=DEPUTY_SCOPE, identity=ALICE, requestor="deputy-ns/deputy"
    )
    assert report.ok, report.to_dict()
    assert report.mode == "user-info"
    assert [r.allowed for r in report.results] == [True] * 4
    assert report.warnings == [] and report.notes == []  # the RBAC objects were read
    report.raise_if_missing()


def test_gaps_are_listed_with_the_grant_to_add(live: Live) -> None:
    extra = Identity("alice", None, (), {"example.com/scopes": ("console",)})
    wider = Scope(*DEPUTY_SCOPE.rules, Rule(["list"], "configmaps", namespaces=["team-a"]))
    report = preflight(
        live.server.api_client(), scope=wider, identity=extra, requestor="deputy-ns/deputy"
    )
    assert not report.ok
    assert [r.check.describe() for r in report.missing] == [
        "impersonate-on:user-info:list configmaps in team-a",
        "impersonate:user-info userextras/example.com/scopes.authentication.k8s.io 'console'",
    ]
    with pytest.raises(MissingGrants, match="lacks 2 grant"):
        report.raise_if_missing()
    assert any("groups" in w and "not needed" in w for w in report.warnings)
    assert any("uids" in w and "not needed" in w for w in report.warnings)


def test_four_groups_use_the_wildcard_shortcut(live: Live) -> None:
    many = Identity("bob", None, ("a", "b", "c", "d"))
    report = preflight(
        live.server.api_client(), scope=DEPUTY_SCOPE, identity=many, requestor="deputy-ns/deputy"
    )
    assert report.ok
    shortcut = next(r for r in report.results if r.check.kind == "groups*")
    assert shortcut.allowed
    assert all(r.covered_by for r in report.results if r.check.kind == "group")


def test_self_review_and_rules_review(live: Live) -> None:
    from ._scenario import DEPUTY

    token = live.sender.tokens.get(DEPUTY) or live.server.add_user(DEPUTY.user, DEPUTY.groups)
    report = preflight(live.server.api_client(token), scope=DEPUTY_SCOPE, identity=ALICE)
    assert report.ok and report.requestor == "you (the caller)"
    assert report.warnings == [] and report.notes == []  # the rules review was read


def test_legacy_holder_is_warned_and_fails(live: Live) -> None:
    report = preflight(
        live.server.api_client(),
        scope=Scope(Rule(["list"], "pods")),
        identity=Identity("system:node:node-1"),
        requestor="node-agents/node-agent",
    )
    assert not report.ok and len(report.missing) == 2
    assert report.to_dict()["missing"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["nodes"],
            "verbs": ["impersonate:associated-node"],  # never resourceNames (the name is *)
        },
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["impersonate-on:associated-node:list"],
        },
    ]
    assert any(w.startswith("legacy impersonate") for w in report.warnings)
    assert any("node-agent-legacy" in w for w in report.warnings)
    assert any("pod-bound" in n for n in report.notes)


def test_a_controller_preflights_its_session_at_start(live: Live) -> None:
    from constrained_impersonation import UserSession

    from ._scenario import DEPUTY

    token = live.sender.tokens.get(DEPUTY) or live.server.add_user(DEPUTY.user, DEPUTY.groups)
    base = live.server.api_client(token)
    with UserSession(
        base, user="alice", uid="uid-alice", groups=["developers"], scope=DEPUTY_SCOPE
    ) as session:
        report = preflight(base, session)
        assert report.ok and report.mode == "user-info"
        report.raise_if_missing()
    extra = {"example.com/k": ["v"]}
    with (
        UserSession(base, user="alice", extra=extra, scope=DEPUTY_SCOPE) as session,
        pytest.raises(MissingGrants, match="userextras"),
    ):
        preflight(base, session).raise_if_missing()


def test_self_review_finds_over_grants_through_rules_review(live: Live) -> None:
    from ._scenario import AGENT

    token = live.sender.tokens.get(AGENT) or live.server.add_user(
        AGENT.user, AGENT.groups, AGENT.uid, {k: list(v) for k, v in AGENT.extra.items()}
    )
    report = preflight(
        live.server.api_client(token),
        scope=Scope(Rule(["list"], "pods")),
        identity=Identity("system:node:node-1"),
    )
    assert not report.ok
    assert any(
        w.startswith("legacy impersonate") and "your rules in namespace default" in w
        for w in report.warnings
    )
    assert report.notes == [report.notes[0]] and "pod-bound" in report.notes[0]
