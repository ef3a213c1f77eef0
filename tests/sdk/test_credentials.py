"""In-cluster credentials with token rotation, and kubeconfig impersonation fields."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

import constrained_impersonation as ci
from constrained_impersonation.identity import Identity
from constrained_impersonation.kubeconfig import RotatingTokenFile, read_impersonation

from ._wire import WireServer, api_client, self_signed

PODS = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"]))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIMP_") or name in ("NODE_NAME", "KUBECONFIG"):
            monkeypatch.delenv(name)
        if name.startswith("KUBERNETES_SERVICE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[WireServer, Path]]:
    cert, key = self_signed(tmp_path)
    with WireServer(tls=(cert, key)) as server:
        yield server, cert


@pytest.fixture
def pod_env(
    https: tuple[WireServer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    server, cert = https
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "ca.crt").write_bytes(cert.read_bytes())
    (sa_dir / "token").write_text("token-1")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    monkeypatch.setenv("CIMP_SERVICEACCOUNT_DIR", str(sa_dir))
    monkeypatch.setenv("NODE_NAME", "worker-1")
    return sa_dir


def test_node_session_from_downward_api_uses_in_cluster_credentials_over_https(
    https: tuple[WireServer, Path], pod_env: Path
) -> None:
    server, _ = https
    with ci.NodeSession.from_downward_api(PODS) as session:
        assert session.node == "worker-1"
        assert session.mode == "associated-node"
        client.CoreV1Api(session.api_client).list_pod_for_all_namespaces(
            field_selector="spec.nodeName=worker-1"
        )
    (request,) = server.requests
    assert request.header("authorization") == "Bearer token-1"
    assert request.header_lines("Impersonate-User") == [b"system:node:worker-1"]
    assert session._base.rest_client.pool_manager.pools.keys() == set()  # closed with the session


def test_a_rotated_token_file_is_read_again(https: tuple[WireServer, Path], pod_env: Path) -> None:
    server, _ = https
    session = ci.NodeSession.from_downward_api(PODS)
    core = client.CoreV1Api(session.api_client)
    core.list_pod_for_all_namespaces()
    token = pod_env / "token"
    stat = token.stat()
    token.write_text("token-2")
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    core.list_pod_for_all_namespaces()
    session.close()
    assert [r.header("authorization") for r in server.requests] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_token_is_re_read_every_interval_even_without_an_mtime_change(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "token"
    path.write_text("one")
    tokens = RotatingTokenFile(path, interval=60, clock=lambda: now[0])
    stat = path.stat()
    path.write_text("two")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    assert tokens.token() == "one"
    now[0] = 61.0
    assert tokens.token() == "two"


def test_a_vanished_token_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("good\n")
    tokens = RotatingTokenFile(path)
    path.unlink()
    assert tokens.token() == "good"


def test_missing_token_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ci.ConfigurationError, match="token"):
        RotatingTokenFile(tmp_path / "nope")


def test_invalid_node_name_is_refused_naming_the_variable(
    pod_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODE_NAME", "Worker_1")
    with pytest.raises(ci.InvalidIdentityError) as caught:
        ci.NodeSession.from_downward_api(PODS)
    assert caught.value.field == "NODE_NAME"
    assert caught.value.value == "Worker_1"
    assert "'Worker_1'" in str(caught.value)


def test_missing_node_name_is_a_configuration_error(
    pod_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODE_NAME")
    with pytest.raises(ci.ConfigurationError, match="NODE_NAME is not set"):
        ci.NodeSession.from_downward_api(PODS)


def test_outside_a_pod_without_a_client_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_NAME", "worker-1")
    with pytest.raises(ci.ConfigurationError, match="KUBERNETES_SERVICE_HOST"):
        ci.NodeSession.from_downward_api(PODS)


def test_from_downward_api_with_a_given_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_NAME", "worker-9")
    with WireServer() as server:
        base = api_client(server.url)
        session = ci.NodeSession.from_downward_api(PODS, api_client=base)
        client.CoreV1Api(session.api_client).list_pod_for_all_namespaces()
        session.close()
        client.CoreV1Api(base).list_pod_for_all_namespaces()  # the caller's client stays open
        assert server.requests[0].header("Impersonate-User") == "system:node:worker-9"
        base.close()


# --------------------------------------------------------------------------- kubeconfig


def write_kubeconfig(path: Path, server: str, user: dict[str, Any], context: str = "ctx") -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "kube-token", **user}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


def test_kubeconfig_as_fields_are_honoured(wire: WireServer, tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        wire.url,
        {
            "as": "alice",
            "as-uid": "1234",
            "as-groups": ["dev", "ops,qa"],
            "as-user-extra": {"example.com/scopes": ["view", "edit"]},
        },
    )
    with ci.session_from_kubeconfig(str(path), scope=PODS) as session:
        assert isinstance(session, ci.UserSession)
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    (request,) = wire.requests
    assert request.header("authorization") == "Bearer kube-token"
    assert request.header_lines("Impersonate-Group") == [b"dev", b"ops,qa"]
    assert request.header_lines("Impersonate-Extra-example.com%2Fscopes") == [b"view", b"edit"]
    assert request.header("Impersonate-Uid") == "1234"


@pytest.mark.parametrize(
    ("target", "cls", "mode"),
    [
        ("system:node:worker-1", ci.NodeSession, "associated-node"),
        ("system:serviceaccount:ci:builder", ci.ServiceAccountSession, "serviceaccount"),
        ("bob", ci.UserSession, "user-info"),
    ],
)
def test_kubeconfig_target_picks_the_session_class(
    wire: WireServer, tmp_path: Path, target: str, cls: type, mode: str
) -> None:
    path = write_kubeconfig(tmp_path / "config", wire.url, {"as": target})
    session = ci.session_from_kubeconfig(str(path), scope=PODS)
    assert type(session) is cls
    assert session.mode == mode
    assert session.identity == Identity(target)
    session.close()


def test_node_target_with_groups_is_refused_rather_than_sent_as_legacy(
    wire: WireServer, tmp_path: Path
) -> None:
    path = write_kubeconfig(
        tmp_path / "config", wire.url, {"as": "system:node:worker-1", "as-groups": ["x"]}
    )
    with pytest.raises(ci.InvalidIdentityError) as caught:
        ci.session_from_kubeconfig(str(path), scope=PODS)
    assert caught.value.field == "groups"


def test_kubeconfig_without_as_has_nobody_to_impersonate(wire: WireServer, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", wire.url, {})
    with pytest.raises(ci.ConfigurationError, match="no 'as'"):
        ci.session_from_kubeconfig(str(path), scope=PODS)


def test_unknown_context_lists_the_known_ones(wire: WireServer, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", wire.url, {"as": "alice"})
    with pytest.raises(ci.ConfigurationError, match=r"no context 'other' \(contexts: ctx\)"):
        ci.session_from_kubeconfig(str(path), "other", scope=PODS)


def test_kubeconfig_path_list_merges_first_wins(
    wire: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_kubeconfig(tmp_path / "a", wire.url, {"as": "alice"})
    second = write_kubeconfig(tmp_path / "b", wire.url, {"as": "mallory"}, context="other")
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    wanted = read_impersonation()
    assert (wanted.context, wanted.user) == ("ctx", "alice")
    session = ci.session_from_kubeconfig(scope=PODS)
    assert session.identity.user == "alice"
    session.close()


def test_missing_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ci.ConfigurationError, match="no kubeconfig found"):
        ci.session_from_kubeconfig(str(tmp_path / "absent"), scope=PODS)
