"""The testing harness as users drive it: lifecycle, restart, faults, the CLI.

Tests taking ``apiserver_class``/``apiserver`` run on the backend ``--apiserver`` picks;
the ``KubeAPIServer`` tests at the end check the real backend's own promises (nothing left
behind, restarts, identities, a clear error without binaries).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from constrained_impersonation.testing import (
    APIServer,
    FaultProxy,
    KubeAPIServer,
    KubeAPIServerError,
    KubeBinariesNotFound,
)

from ._raw import request


def _ns(name: str) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name))


def test_restart_with_data_dir_keeps_objects_tokens_and_resource_versions(
    apiserver_class: Callable[..., Any], tmp_path: Path
) -> None:
    server = apiserver_class(data_dir=tmp_path / "data")
    with server:
        token = server.add_user("keeper", groups=["system:masters"])
        core = client.CoreV1Api(server.api_client(token))
        created = core.create_namespace(_ns("kept"))
        rv_before = int(created.metadata.resource_version)
        port = server.port
        server.restart()
        assert server.port == port
        core = client.CoreV1Api(server.api_client(token))  # same token still authenticates
        assert core.read_namespace("kept").metadata.uid == created.metadata.uid
        again = core.create_namespace(_ns("after-restart"))
        assert int(again.metadata.resource_version) > rv_before


@pytest.mark.embedded_only("in-memory storage: a restart without data_dir forgets objects")
def test_restart_without_data_dir_starts_empty_but_keeps_users() -> None:
    with APIServer() as server:
        token = server.add_user("u", groups=["system:masters"])
        client.CoreV1Api(server.api_client(token)).create_namespace(_ns("gone"))
        server.restart()
        names = {
            n.metadata.name
            for n in client.CoreV1Api(server.api_client(token)).list_namespace().items
        }
        assert "gone" not in names and "default" in names


@pytest.mark.embedded_only("compact()")
def test_compaction_makes_old_watches_expire() -> None:
    with APIServer() as server:
        core = client.CoreV1Api(server.api_client())
        rv = core.list_namespace().metadata.resource_version
        core.create_namespace(_ns("n1"))
        server.compact()
        status, data, _ = request(
            server,
            "GET",
            f"/api/v1/namespaces?watch=1&resourceVersion={rv}&timeoutSeconds=2",
            token=server.admin_token,
        )
        # kube answers an expired watch with 200 and an ERROR event carrying a 410 Status.
        if status == 200:
            assert (
                isinstance(data, dict) and data["type"] == "ERROR" and data["object"]["code"] == 410
            )
        else:
            assert status == 410


@pytest.mark.embedded_only("faults")
def test_injected_429_carries_retry_after_and_a_status() -> None:
    with APIServer() as server:
        server.faults.fail_next(1, 429, retry_after=2)
        status, data, headers = request(
            server, "GET", "/api/v1/namespaces", token=server.admin_token
        )
        assert status == 429 and headers["Retry-After"] == "2"
        assert data["reason"] == "TooManyRequests" and data["details"]["retryAfterSeconds"] == 2
        status, _, _ = request(server, "GET", "/api/v1/namespaces", token=server.admin_token)
        assert status == 200


def test_fault_proxy_drops_a_watch_and_clients_see_it(apiserver: Any) -> None:
    server = apiserver
    with FaultProxy("127.0.0.1", server.port) as proxy:
        api = server.api_client()
        api.configuration.host = proxy.url
        core = client.CoreV1Api(client.ApiClient(api.configuration))
        assert core.list_namespace().items
        w = watch.Watch()
        stream = w.stream(core.list_namespace, timeout_seconds=30)
        next(stream)  # the watch is open through the proxy
        assert proxy.drop_connections() >= 2
        with pytest.raises(Exception):  # noqa: B017 - urllib3 surfaces the reset in several ways
            for _ in stream:
                pass
        w.stop()
        assert core.list_namespace().items  # new connections work again


def test_kubeconfig_drives_the_official_client(apiserver: Any) -> None:
    server = apiserver
    token = server.add_user("viewer", groups=["viewers"])
    path = server.kubeconfig(token)
    api = config.new_client_from_config(config_file=path)
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 403
    assert (
        'User "viewer" cannot list resource "namespaces"' in json.loads(err.value.body)["message"]
    )


def test_anonymous_requests_see_only_public_info(apiserver: Any) -> None:
    server = apiserver
    assert request(server, "GET", "/version")[0] == 200
    status, data, _ = request(server, "GET", "/api/v1/namespaces")
    assert status == 403 and 'User "system:anonymous"' in data["message"]


def test_unknown_feature_gate_is_a_clear_error(apiserver_class: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="unrecognized feature gate: Bogus"):
        apiserver_class(feature_gates="Bogus=true")


def test_cli_serves_until_sigterm_and_writes_a_working_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "constrained_impersonation.cli",
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--feature-gates",
            "ConstrainedImpersonation=false",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving on https://127.0.0.1:"), line
        api = config.new_client_from_config(config_file=str(kubeconfig))
        assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_bad_arguments_are_one_line_errors() -> None:
    env = dict(os.environ)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "constrained_impersonation.cli",
            "apiserver",
            "--listen",
            "nonsense",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "HOST:PORT" in out.stderr
    start = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "constrained_impersonation.cli",
            "apiserver",
            "--token-auth-file",
            "/nonexistent.csv",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "no such file" in out.stderr and "Traceback" not in out.stderr
    assert time.monotonic() - start < 60


def test_token_request_with_null_fields_uses_defaults(apiserver: Any) -> None:
    # kubectl 1.27-1.31 send "expirationSeconds": null and "audiences": null.
    server = apiserver
    # No controller creates `default` service accounts on a bare kube-apiserver.
    server.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": None, "expirationSeconds": None, "boundObjectRef": None},
    }
    status, data, _ = request(
        server,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        token=server.admin_token,
        body=body,
    )
    assert status == 201, data
    assert data["spec"]["expirationSeconds"] == 3600 and data["status"]["token"]


# --------------------------------------------------------------------------- KubeAPIServer


def _kube(**kwargs: Any) -> KubeAPIServer:
    try:
        return KubeAPIServer(**kwargs)
    except KubeBinariesNotFound as exc:
        pytest.skip(str(exc))


def _work_dir(server: KubeAPIServer) -> Path:
    """The server's private directory (PKI, etcd data, logs): the parent of ``pki/``."""
    return Path(server.ca_file).parents[1]


def _processes_under(directory: Path) -> list[int]:
    """Processes whose command line names ``directory`` (etcd and kube-apiserver do)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(directory) in argv and state != "Z":
            found.append(int(proc.name))
    return found


def _port_is_free(port: int) -> bool:
    """Whether a new server can listen on ``port``. Like kube-apiserver, etcd and aiohttp,
    it sets SO_REUSEADDR: connections of a killed server linger in TIME_WAIT, owned by no
    process, and do not keep a listener off the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_kube_close_leaves_no_process_port_or_temporary_directory() -> None:
    server = _kube()
    work = _work_dir(server)
    with server:
        assert len(_processes_under(work)) == 2  # etcd and kube-apiserver
        port = server.port
        assert not _port_is_free(port)
    assert _processes_under(work) == []
    assert _port_is_free(port)
    assert not work.exists()


@pytest.mark.parametrize(
    ("extra_args", "logged"),
    [
        (["--feature-gates=NoSuchGate=true"], "unrecognized feature gate: NoSuchGate"),
        (["--no-such-flag"], "unknown flag: --no-such-flag"),
    ],
    ids=["bad-feature-gate", "unknown-flag"],
)
def test_kube_failed_start_says_why_and_leaves_nothing_behind(
    extra_args: list[str], logged: str
) -> None:
    server = _kube(extra_args=extra_args)
    work = _work_dir(server)
    with pytest.raises(KubeAPIServerError) as caught, server:
        pytest.fail("a server with a bad flag started")
    assert "kube-apiserver exited" in str(caught.value)
    assert logged in str(caught.value)  # the tail of kube-apiserver's own log
    assert _processes_under(work) == []
    assert not work.exists()


def test_embedded_failed_start_leaves_no_temporary_directory() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = APIServer(port=busy.getsockname()[1])
        work = Path(server.ca_file).parent.parent
        assert work.exists()
        with pytest.raises(OSError), server:
            pytest.fail("started on a port already in use")
    assert not work.exists()


def test_kube_restart_keeps_objects_users_and_port(tmp_path: Path) -> None:
    with _kube() as server:
        token = server.add_user("keeper", groups=["system:masters"])
        core = client.CoreV1Api(server.api_client(token))
        created = core.create_namespace(_ns("kept"))
        port = server.port
        server.restart()
        assert server.port == port
        core = client.CoreV1Api(server.api_client(token))  # the webhook still knows the token
        assert core.read_namespace("kept").metadata.uid == created.metadata.uid


def test_kube_add_user_is_exactly_the_identity_a_self_subject_review_reports() -> None:
    with _kube() as server:
        token = server.add_user(
            "alice", groups=["dev", "ops,qa"], uid="42", extra={"example.com/team": ["a", "b"]}
        )
        status, data, _ = request(
            server,
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            token=token,
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert status == 201, data
        assert data["status"]["userInfo"] == {
            "username": "alice",
            "uid": "42",
            "groups": ["dev", "ops,qa", "system:authenticated"],
            "extra": {"example.com/team": ["a", "b"]},
        }


def test_kube_without_binaries_names_make_kube(tmp_path: Path) -> None:
    with pytest.raises(KubeBinariesNotFound, match="make kube") as caught:
        KubeAPIServer(assets=tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_reference_version_is_the_one_hack_kube_builds() -> None:
    from constrained_impersonation._kube_version import KUBE_VERSION

    go_mod = Path(__file__).parents[2] / "hack" / "kube" / "go.mod"
    assert f"require k8s.io/kubernetes {KUBE_VERSION}\n" in go_mod.read_text()
    staging = KUBE_VERSION.replace("v1.", "v0.")
    replaced = [line for line in go_mod.read_text().splitlines() if "=> k8s.io/" in line]
    assert replaced, "k8s.io/kubernetes needs a replace line per staging module"
    assert all(line.endswith(f" {staging}") for line in replaced), replaced


def test_kube_start_survives_a_port_taken_between_pick_and_bind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A free port can be taken by another process before etcd binds it (seen under xdist):
    the harness retries on new ports instead of failing the test."""
    from constrained_impersonation.testing import _kube as harness

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        real = harness._free_port
        picks = iter([taken, taken])
        monkeypatch.setattr(harness, "_free_port", lambda: next(picks, None) or real())
        server = _kube()
        with server:
            assert server.request("GET", "/readyz")[0] == 200
        assert next(picks, None) is None, "the busy port was offered and refused"
