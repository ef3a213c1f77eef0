"""``migrate``: constrained roles from observed legacy impersonation, verified by replay."""

from __future__ import annotations

from constrained_impersonation.auditlog import AuditSummary, Impersonation, Stats, summarize
from constrained_impersonation.identity import Identity
from constrained_impersonation.rbac.migrate import migrate, migration_mode, verify
from constrained_impersonation.rbac.objects import RbacSet

from ._offline import impersonate
from ._scenario import AGENT, CONFIGMAPS, CONSOLE, DEPUTY, GATEWAY, NODE_PODS


def _plan(scenario: tuple):
    audit, rbac_file, _ = scenario
    rbac = RbacSet.from_files([rbac_file])
    return rbac, migrate(rbac, summarize([audit], samples=True))


def test_three_impersonators_get_their_modes(scenario: tuple) -> None:
    _, plan = _plan(scenario)
    modes = {str(p.subject): p.modes for p in plan.proposals}
    assert modes == {
        "serviceaccount:node-agents/node-agent": ["associated-node"],
        "serviceaccount:deputy-ns/deputy": ["user-info"],
        "user:gateway": ["user-info"],
    }
    assert all(not p.unmigratable for p in plan.proposals)
    agent = next(p for p in plan.proposals if p.subject.name == "node-agent")
    assert any("stop sending Impersonate-Group system:nodes" in n for n in agent.notes)
    for proposal in plan.proposals:
        assert any("system:masters" in text for text in proposal.lost)


def test_proposed_rbac_covers_exactly_the_observed_requests(scenario: tuple) -> None:
    rbac, plan = _plan(scenario)
    objects = [o for o in rbac.objects() if "legacy" not in o["metadata"]["name"]]
    objects += plan.manifests()
    node = Identity("system:node:node-1")
    alice = Identity("alice", "uid-alice", ("developers",))
    bob = Identity("bob", None, ("team-a",))
    assert impersonate(objects, AGENT, node, "GET", NODE_PODS) == ("ok", "associated-node")
    assert impersonate(objects, DEPUTY, alice, "GET", CONSOLE) == ("ok", "user-info")
    assert impersonate(objects, GATEWAY, bob, "GET", CONFIGMAPS) == ("ok", "user-info")
    # No more than observed: other verbs, other users, other groups, system:masters.
    assert impersonate(objects, GATEWAY, bob, "DELETE", CONFIGMAPS + "/settings")[0] == "denied"
    assert impersonate(objects, GATEWAY, Identity("mallory"), "GET", CONFIGMAPS)[0] == "denied"
    admin = Identity("bob", None, ("system:masters",))
    assert impersonate(objects, GATEWAY, admin, "GET", "/api/v1/namespaces")[0] == "denied"
    assert impersonate(objects, DEPUTY, bob, "GET", CONFIGMAPS)[0] == "denied"


def test_shared_legacy_binding_is_deleted_once(scenario: tuple) -> None:
    _, plan = _plan(scenario)
    deleted = sorted(o["metadata"]["name"] for o in plan.deletions())
    assert deleted == ["impersonators-legacy", "node-agent-legacy"]
    names = [(o["kind"], o["metadata"]["name"]) for o in plan.manifests()]
    assert len(names) == len(set(names))
    assert not any("legacy" in name for _, name in names)


def test_verify_replays_everything_and_proves_masters_is_gone(scenario: tuple) -> None:
    rbac, plan = _plan(scenario)
    results = verify(plan, rbac)
    assert plan.verified, plan.diff()
    allowed = [r for r in results if r.expected == "allowed"]
    assert len(allowed) == 6  # distinct observed requests (the agent's two lists are one)
    assert {r.mode for r in allowed} == {"associated-node", "user-info"}
    masters = [r for r in results if "system:masters" in r.request]
    assert len(masters) == 3 and all(r.outcome == "denied" for r in masters)
    report = plan.diff()
    assert "verification" in report and "FAIL" not in report


def test_verify_reports_what_would_now_fail(scenario: tuple) -> None:
    rbac, plan = _plan(scenario)
    gateway = next(p for p in plan.proposals if p.subject.name == "gateway")
    gateway.manifests = [m for m in gateway.manifests if m["kind"] not in ("Role", "RoleBinding")]
    verify(plan, rbac)
    assert not plan.verified
    failed = [r for r in plan.verification or [] if not r.ok]
    assert failed and all(r.requestor == "gateway" for r in failed)
    assert all("impersonate-on:user-info" in r.detail for r in failed)


def _key(
    target: str,
    groups: tuple[str, ...] = (),
    uid: str = "",
    extra: tuple[str, ...] = (),
    bound: bool = False,
) -> Impersonation:
    return Impersonation(
        DEPUTY.user,
        "legacy",
        target,
        uid,
        (*groups, "system:authenticated"),
        extra,
        "get",
        "",
        "pods",
        "",
        "",
        bound,
    )


def test_mode_selection_follows_the_server() -> None:
    assert migration_mode(_key("system:node:n1", bound=True)) == ("associated-node", "")
    assert migration_mode(_key("system:node:n1")) == ("arbitrary-node", "")
    assert migration_mode(_key("system:node:n1", ("system:nodes",))) == ("arbitrary-node", "")
    assert migration_mode(_key("system:serviceaccount:x:y"))[0] == "serviceaccount"
    assert migration_mode(_key("system:node:n1", ("ops",)))[0] == ""
    assert migration_mode(_key("system:serviceaccount:x:y", uid="1"))[0] == ""
    assert migration_mode(_key("alice", ("system:masters",)))[1].startswith(
        "impersonates group system:masters"
    )
    assert migration_mode(_key("alice", extra=("scopes",)))[0] == ""
    assert migration_mode(_key("alice", ("dev",), "u1", ("example.com/s",))) == ("user-info", "")


def test_unmigratable_requests_are_reported_not_dropped(scenario: tuple) -> None:
    _, rbac_file, _ = scenario
    summary = AuditSummary()
    summary.impersonations[_key("alice", ("system:masters",))] = Stats(3)
    summary.impersonations[_key("bob", ("dev",))] = Stats(1)
    plan = migrate(RbacSet.from_files([rbac_file]), summary)
    [proposal] = plan.proposals
    assert [k.target for k, _, _ in proposal.unmigratable] == ["alice"]
    assert [k.target for k, _, _ in proposal.observed] == ["bob"]
    assert "legacy only" in plan.diff()
    # The other legacy holders were never seen: the plan says to remove their grants.
    assert {str(s) for s, _ in plan.unused} == {
        "serviceaccount:node-agents/node-agent",
        "user:gateway",
    }


def test_many_targets_are_generalized(scenario: tuple) -> None:
    _, rbac_file, _ = scenario
    summary = AuditSummary()
    for i in range(5):
        summary.impersonations[_key(f"user-{i}")] = Stats(1)
    plan = migrate(RbacSet.from_files([rbac_file]), summary, max_names=3)
    [proposal] = plan.proposals
    users = [g for g in proposal.grants if g.resource == "users"]
    assert [g.name for g in users] == [""]
    assert any("granted on any name" in n for n in proposal.notes)
