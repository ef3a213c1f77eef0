"""Every ``cimp`` RBAC command end to end: outputs, exit codes, one-line errors."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml

from constrained_impersonation._cli import main

from ._scenario import AGENT, DEPUTY, GATEWAY
from .conftest import Live

COMMANDS = ("rbac", "check", "explain", "audit", "migrate", "scan")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err, err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_documents_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and "examples:" in out


def test_rbac_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rbac", "--mode", "associated-node", "--requestor", "node-agents/node-agent"]
    args += ["--verb", "list", "--verb", "watch", "--resource", "pods"]
    code, out, _ = run(capsys, *args)
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding"]
    code, out, _ = run(capsys, *args, "-o", "json")
    assert json.loads(out) == docs
    code, out, _ = run(capsys, *args, "-o", "table")
    assert out.splitlines()[0].split()[:3] == ["KIND", "NAME", "NAMESPACE"]


def test_rbac_from_session_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "session.yaml"
    session.write_text(
        "mode: user-info\nrequestor: deputy-ns/deputy\n"
        "forward: {uids: true, groups: [developers]}\n"
        "rules:\n- verbs: [get]\n  resources: [virtualmachineinstances/console]\n"
        "  group: subresources.kubevirt.io\n  namespaces: [default]\n"
    )
    code, out, _ = run(capsys, "rbac", "-f", str(session))
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    assert [(d["kind"], d["metadata"].get("namespace")) for d in docs] == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("Role", "default"),
        ("RoleBinding", "default"),
    ]
    assert docs[0]["rules"][0]["resourceNames"] == ["developers"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("rules: [\n", "malformed YAML"),
        ("- just a list\n", "expected a mapping"),
        ("rules:\n- verbs: [fly]\n  resources: [pods]\n", "unknown verb 'fly'"),
        ("rules: []\nmode: user-info\nrequestor: a/b\nextra: 1\n", "unknown keys"),
    ],
)
def test_rbac_bad_session_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    session = tmp_path / "s.yaml"
    session.write_text(content)
    code, _, err = run(
        capsys, "rbac", "-f", str(session), "--mode", "user-info", "--requestor", "a/b"
    )
    assert_one_line_error(code, err, fragment)


def test_rbac_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "rbac", "--verb", "get", "--resource", "pods", "--requestor", "a/b")
    assert_one_line_error(code, err, "--mode is required")
    code, _, err = run(capsys, "rbac", "-f", "/nonexistent/session.yaml")
    assert_one_line_error(code, err, "no such file")
    code, _, err = run(capsys, "rbac", "--mode", "user-info", "--requestor", "a/b")
    assert_one_line_error(code, err, "no requests declared")


def test_audit_command(scenario: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit, _, _ = scenario
    code, out, err = run(capsys, "audit", str(audit))
    assert code == 0 and err == ""  # no progress bar: stderr is not a terminal
    assert "system:node:node-1 [system:nodes]" in out
    assert "7 impersonated requests (7 legacy)" in out
    code, out, _ = run(capsys, "audit", str(audit), "-o", "json", "--requestor", "gateway")
    data = json.loads(out)
    assert {row["requestor"] for row in data["impersonations"]} == {"gateway"}
    code, out, _ = run(capsys, "audit", str(audit), "-o", "yaml", "--legacy-only")
    assert yaml.safe_load(out)["summary"]["legacyRequests"] == 7
    code, out, _ = run(capsys, "audit", str(audit), "--by", "requestor")
    rows = [line.split()[0] for line in out.splitlines()[1:4]]
    assert sorted(rows) == sorted([GATEWAY.user, DEPUTY.user, AGENT.user])
    assert "2 identities" not in out and "alice,bob" in out
    assert run(capsys, "audit", str(audit), "--fail-on-legacy")[0] == 1
    empty = tmp_path / "empty.log"
    empty.write_text("")
    code, out, _ = run(capsys, "audit", str(empty))
    assert code == 0 and "no impersonated requests found" in out
    assert_one_line_error(*run(capsys, "audit", str(tmp_path / "nope.log"))[::2], "no such file")
    bad = tmp_path / "bad.log"
    bad.write_text("this is not json\n")
    assert_one_line_error(*run(capsys, "audit", str(bad))[::2], "not a JSON-lines audit log")


def test_explain_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = (
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:a:b" '
        'cannot impersonate-on:user-info:list resource "pods" in API group "" in the namespace "x"'
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    code, out, _ = run(capsys, "explain")
    assert code == 0
    assert "action check failed in mode user-info" in out and "kind: Role" in out
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"kind": "Status", "code": 403, "message": line.split(": ", 1)[1]}))
    code, out, _ = run(capsys, "explain", str(path), "-o", "json")
    assert json.loads(out)[0]["roleKind"] == "Role"
    path.write_text(json.dumps({"kind": "Status", "code": 404, "message": "gone"}))
    code, _, err = run(capsys, "explain", str(path))
    assert code == 1 and "nothing" not in err and "no 403" in err
    path.write_text("{")
    assert_one_line_error(*run(capsys, "explain", str(path))[::2], "malformed JSON")
    assert_one_line_error(*run(capsys, "explain", str(tmp_path / "x"))[::2], "no such file")


def test_scan_command(scenario: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    _, rbac_file, _ = scenario
    code, out, _ = run(capsys, "scan", "-f", str(rbac_file))
    assert code == 0 and out.count("CRITICAL") == 3
    code, out, _ = run(capsys, "scan", "-f", str(rbac_file), "-o", "json", "--fail-on", "critical")
    assert code == 1 and len(json.loads(out)["findings"]) == 3
    code, out, _ = run(capsys, "scan", "-f", str(rbac_file), "-o", "yaml")
    assert yaml.safe_load(out)["findings"][0]["risk"] == "critical"


def test_migrate_command(
    scenario: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit, rbac_file, _ = scenario
    manifests = tmp_path / "migrated.yaml"
    code, out, _ = run(
        capsys,
        "migrate",
        "-f",
        str(rbac_file),
        str(audit),
        "--verify",
        "--manifests",
        str(manifests),
    )
    assert code == 0, out
    assert "15/15 as expected" in out and "delete ClusterRoleBinding node-agent-legacy" in out
    docs = list(yaml.safe_load_all(manifests.read_text()))
    assert {d["metadata"]["name"] for d in docs} == {
        "cimp:migrated:user:gateway",
        "cimp:migrated:sa:deputy-ns:deputy",
        "cimp:migrated:sa:node-agents:node-agent",
    }
    code, out, _ = run(capsys, "migrate", "-f", str(rbac_file), str(audit), "-o", "yaml")
    assert list(yaml.safe_load_all(out)) == docs
    code, out, _ = run(capsys, "migrate", "-f", str(rbac_file), str(audit), "-o", "json")
    assert len(json.loads(out)["proposals"]) == 3
    bad = tmp_path / "rbac.yaml"
    bad.write_text("kind: ClusterRole\nmetadata: {name: x\n")
    assert_one_line_error(
        *run(capsys, "migrate", "-f", str(bad), str(audit))[::2], "malformed YAML"
    )


# --------------------------------------------------------------------------- live server


def _check_args(kubeconfig: str, *extra: str) -> list[str]:
    return [
        "check",
        "--kubeconfig",
        kubeconfig,
        "--mode",
        "user-info",
        "--requestor",
        "deputy-ns/deputy",
        "--as",
        "alice",
        "--as-uid",
        "uid-alice",
        "--as-group",
        "developers",
        "--verb",
        "get",
        "--resource",
        "virtualmachineinstances/console",
        "--group",
        "subresources.kubevirt.io",
        "-n",
        "default",
        *extra,
    ]


def test_check_command(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = live.server.kubeconfig()
    code, out, _ = run(capsys, *_check_args(kubeconfig))
    assert code == 0, out
    assert "ok: every required check is allowed" in out
    code, out, _ = run(
        capsys, *_check_args(kubeconfig, "--as-extra", "example.com/k=v", "-o", "json")
    )
    assert code == 1
    data = json.loads(out)
    assert not data["ok"]
    assert data["missing"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["userextras/example.com/k"],
            "resourceNames": ["v"],
            "verbs": ["impersonate:user-info"],
        }
    ]
    code, out, _ = run(capsys, "scan", "--kubeconfig", kubeconfig, "--no-superusers")
    assert code == 0 and "serviceaccount:node-agents/node-agent" in out


def _rewrite(kubeconfig: str, tmp_path: Path, **cluster: object) -> str:
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    doc["clusters"][0]["cluster"].update(cluster)
    for key in [k for k, v in cluster.items() if v is None]:
        del doc["clusters"][0]["cluster"][key]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_unreachable_untrusted_and_insecure_servers(
    live: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cimp_apiserver.certs import load_or_create

    kubeconfig = live.server.kubeconfig()
    closed = _rewrite(kubeconfig, tmp_path, server="https://127.0.0.1:1")
    assert_one_line_error(
        *run(capsys, *_check_args(closed))[::2], "cannot reach https://127.0.0.1:1"
    )
    other_ca = load_or_create(tmp_path / "other-pki")
    del other_ca
    ca = (tmp_path / "other-pki" / "ca.pem").read_bytes()
    untrusted = _rewrite(
        kubeconfig,
        tmp_path,
        **{
            "certificate-authority-data": base64.b64encode(ca).decode(),
            "certificate-authority": None,
        },
    )
    assert_one_line_error(*run(capsys, *_check_args(untrusted))[::2], "TLS verification failed")
    insecure = _rewrite(
        kubeconfig,
        tmp_path,
        **{
            "insecure-skip-tls-verify": True,
            "certificate-authority-data": None,
            "certificate-authority": None,
        },
    )
    assert_one_line_error(*run(capsys, *_check_args(insecure))[::2], "disables TLS verification")
    missing = str(tmp_path / "no-kubeconfig")
    assert_one_line_error(*run(capsys, "scan", "--kubeconfig", missing)[::2], "no such file")
    code, _, err = run(capsys, "scan", "--kubeconfig", kubeconfig, "--context", "nope")
    assert_one_line_error(code, err, "nope")
    malformed = tmp_path / "malformed-kubeconfig"
    malformed.write_text("apiVersion: v1\nkind: Config\nclusters: 5\n")
    code, _, err = run(capsys, "scan", "--kubeconfig", str(malformed))
    assert_one_line_error(code, err, f"cannot load {malformed}")


def test_no_kubeconfig_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = run(capsys, "scan")
    assert_one_line_error(code, err, "not running in a pod; pass --kubeconfig")


def test_migrate_from_the_live_cluster(
    live: Live, scenario: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    """RBAC read from the server (bootstrap roles included, replaced on the verification
    server), audit logs from the scenario."""
    audit, _, _ = scenario
    kubeconfig = live.server.kubeconfig()
    code, out, _ = run(
        capsys, "migrate", "--kubeconfig", kubeconfig, str(audit), "--verify", "-o", "json"
    )
    assert code == 0, out
    plan = json.loads(out)
    assert plan["verification"]["ok"]
    agent = next(p for p in plan["proposals"] if p["requestor"].endswith("node-agent"))
    assert agent["legacyGrantsVia"] == [
        "ClusterRoleBinding/node-agent-legacy -> ClusterRole/legacy-impersonator"
    ]
    assert plan["delete"] == [{"kind": "ClusterRoleBinding", "name": "node-agent-legacy"}]
    gateway = next(p for p in plan["proposals"] if p["requestor"] == "user:gateway")
    assert any("no legacy impersonate grant" in n for n in gateway["notes"])
