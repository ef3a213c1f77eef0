"""``scan``: who can impersonate whom, through which bindings, ranked by risk."""

from __future__ import annotations

from constrained_impersonation.rbac.kube import KubeClient
from constrained_impersonation.rbac.objects import RbacSet
from constrained_impersonation.rbac.render import render
from constrained_impersonation.rbac.scan import scan
from constrained_impersonation.scope import Rule, Scope

from .conftest import Live

RBAC = "rbac.authorization.k8s.io"


def _crb(name: str, role: str, subject: dict) -> dict:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


def _cr(name: str, rules: list[dict], **extra: object) -> dict:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
        **extra,
    }


ADMIN = _cr("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
OPS = {"kind": "User", "apiGroup": RBAC, "name": "ops"}


def by_subject(findings: list) -> dict[str, object]:
    return {str(f.subject): f for f in findings}


def test_scenario_legacy_impersonators_are_cluster_admin(scenario: tuple) -> None:
    _, rbac_file, _ = scenario
    findings = by_subject(scan(RbacSet.from_files([rbac_file])))
    assert set(findings) == {
        "serviceaccount:node-agents/node-agent",
        "serviceaccount:deputy-ns/deputy",
        "user:gateway",
    }
    for finding in findings.values():
        assert finding.risk == "critical"
        assert any("system:masters" in r for r in finding.reasons)
        assert finding.reach["legacy"]["groups"].any
    assert findings["user:gateway"].via == [
        "ClusterRoleBinding/impersonators-legacy -> ClusterRole/legacy-impersonator"
    ]


def test_ranking_and_reach() -> None:
    objects = [
        ADMIN,
        _crb("cluster-admin", "cluster-admin", OPS),
        _cr(
            "imp-ops",
            [
                {
                    "apiGroups": [""],
                    "resources": ["users"],
                    "resourceNames": ["ops"],
                    "verbs": ["impersonate"],
                }
            ],
        ),
        _crb(
            "helper", "imp-ops", {"kind": "ServiceAccount", "name": "helper", "namespace": "tools"}
        ),
        _cr(
            "imp-dev",
            [
                {
                    "apiGroups": [""],
                    "resources": ["users"],
                    "resourceNames": ["dev"],
                    "verbs": ["impersonate"],
                }
            ],
        ),
        _crb("intern", "imp-dev", {"kind": "User", "apiGroup": RBAC, "name": "intern"}),
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "sa-imp", "namespace": "team-a"},
            "rules": [
                {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
            ],
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "sa-imp", "namespace": "team-a"},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "sa-imp"},
            "subjects": [{"kind": "User", "apiGroup": RBAC, "name": "lead"}],
        },
        _cr(
            "only-actions",
            [{"apiGroups": [""], "resources": ["pods"], "verbs": ["impersonate-on:user-info:get"]}],
        ),
        _crb("half", "only-actions", {"kind": "User", "apiGroup": RBAC, "name": "half"}),
    ]
    objects += render(Scope(Rule(["list"], "pods")), "associated-node", "agents/agent")
    objects += render(Scope(Rule(["get"], "pods")), "user-info", "user:deputy", targets=["alice"])
    objects += render(Scope(Rule(["get"], "pods")), "arbitrary-node", "user:debugger")
    findings = scan(RbacSet(objects))
    ranked = [(str(f.subject), f.risk) for f in findings]
    assert ranked == [
        ("serviceaccount:tools/helper", "critical"),  # impersonates an admin user
        ("user:ops", "critical"),  # the admin itself, after the impersonators
        ("user:lead", "high"),  # every service account of team-a, no action limit
        ("user:debugger", "medium"),  # any node
        ("user:intern", "medium"),  # a named, non-admin user through legacy
        ("serviceaccount:agents/agent", "low"),
        ("user:deputy", "low"),
        ("user:half", "info"),
    ]
    helper = by_subject(findings)["serviceaccount:tools/helper"]
    assert "user ops" in helper.reasons[0]
    lead = by_subject(findings)["user:lead"]
    assert lead.reach["legacy"]["serviceaccounts"].any_in == {"team-a"}
    assert by_subject(findings)["user:deputy"].actions == {"user-info": ["get pods (core)"]}
    assert [str(f.subject) for f in scan(RbacSet(objects), include_superusers=False)][
        1
    ] == "user:lead"


def test_aggregated_cluster_roles_are_resolved() -> None:
    label = {"aggregate-to-impersonators": "true"}
    objects = [
        _cr("aggregated", [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": label}]}),
        {
            **_cr(
                "piece", [{"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"]}]
            ),
            "metadata": {"name": "piece", "labels": label},
        },
        _crb("agg", "aggregated", {"kind": "Group", "apiGroup": RBAC, "name": "robots"}),
    ]
    [finding] = scan(RbacSet(objects))
    assert str(finding.subject) == "group:robots" and finding.risk == "critical"


def test_live_cluster_has_bootstrap_admins_and_the_legacy_agent(live: Live) -> None:
    findings = by_subject(scan(RbacSet.from_cluster(KubeClient(live.server.api_client()))))
    assert findings["group:system:masters"].superuser
    assert findings["serviceaccount:node-agents/node-agent"].risk == "critical"
    deputy = findings["serviceaccount:deputy-ns/deputy"]
    assert deputy.modes == ["user-info"] and deputy.risk in ("medium", "high")
