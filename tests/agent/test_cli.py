"""The command line a platform team configures: documented, environment-driven, fail-fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node_agent.config import parse_args

AGENT = [sys.executable, "-m", "node_agent"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CIMP_", "KUBE"))}
    base.pop("NODE_NAME", None)
    return subprocess.run(
        [*AGENT, *args], env={**base, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def test_help_documents_every_option_and_variable() -> None:
    result = run("--help")
    assert result.returncode == 0
    text = result.stdout
    for option in (
        "--node",
        "--kubeconfig",
        "--context",
        "--listen",
        "--metrics-listen",
        "--output",
        "--watch-timeout",
        "--max-label-bytes",
        "--label-key",
        "--log-level",
        "--version",
    ):
        assert option in text
    for variable in (
        "NODE_NAME",
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "CIMP_AGENT_LISTEN",
        "CIMP_AGENT_METRICS_LISTEN",
        "CIMP_AGENT_OUTPUT",
        "CIMP_AGENT_WATCH_TIMEOUT",
        "CIMP_AGENT_LOG_LEVEL",
        "CIMP_AGENT_MAX_LABEL_BYTES",
        "CIMP_AGENT_LABEL_KEYS",
        # The SDK's settings, read from its Settings model.
        "CIMP_REQUEST_TIMEOUT",
        "CIMP_CONNECT_TIMEOUT",
        "CIMP_RETRY_ATTEMPTS",
        "CIMP_RETRY_BACKOFF_BASE",
        "CIMP_RETRY_BACKOFF_MAX",
        "CIMP_TOKEN_REFRESH_INTERVAL",
        "CIMP_SERVICEACCOUNT_DIR",
    ):
        assert variable in text, variable
    assert "127.0.0.1:9102" in text and "/run/cimp/pods.json" in text
    # The label bound, its default and its marker are documented where operators look.
    assert "(default: 16384, at most 1572864;" in " ".join(text.split())
    assert '"labelsOmitted": <how many>' in text


def test_flags_win_over_environment_over_defaults() -> None:
    defaults = parse_args([], environ={})
    assert defaults.listen == ("127.0.0.1", 9102)
    assert defaults.output == Path("/run/cimp/pods.json")
    assert defaults.node is None and defaults.kubeconfig is None
    env = {
        "NODE_NAME": "node-a",
        "KUBECONFIG": "/k",
        "CIMP_AGENT_LISTEN": "127.0.0.1:7000",
        "CIMP_AGENT_OUTPUT": "",
        "CIMP_AGENT_WATCH_TIMEOUT": "30",
    }
    from_env = parse_args([], environ=env)
    assert from_env.node == "node-a" and from_env.kubeconfig == "/k"
    assert from_env.listen == ("127.0.0.1", 7000)
    assert from_env.output is None, "an empty value disables the file"
    assert from_env.watch_timeout == 30
    flags = parse_args(["--node", "node-b", "--listen", ":7001", "--output", "/tmp/x"], env)
    assert flags.node == "node-b" and flags.listen == ("0.0.0.0", 7001)
    assert flags.output == Path("/tmp/x")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--listen", "9102"], {}, "HOST:PORT"),
        (["--watch-timeout", "0"], {}, "between 1 and 3600"),
        ([], {"CIMP_AGENT_LOG_LEVEL": "loud"}, "CIMP_AGENT_LOG_LEVEL"),
    ],
)
def test_invalid_options_exit_2_with_one_line(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_node_and_unwritable_output_fail_fast_with_a_json_log_line(tmp_path: Path) -> None:
    result = run("--output", "", "--kubeconfig", str(tmp_path / "none"))
    assert result.returncode == 2
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["level"] == "error" and "NODE_NAME" in line["error"]

    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run("--output", str(blocked / "pods.json"), env={"NODE_NAME": "node-a"})
    assert result.returncode == 2
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert "--output" in line["error"] and "--output ''" in line["error"]


def test_bad_sdk_setting_is_reported_by_variable_name() -> None:
    result = run("--output", "", env={"NODE_NAME": "node-a", "CIMP_RETRY_ATTEMPTS": "many"})
    assert result.returncode == 2
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert "CIMP_RETRY_ATTEMPTS" in line["error"]


def test_port_in_use_fails_fast(tmp_path: Path) -> None:
    import socket

    import yaml

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run(
            f"--listen=127.0.0.1:{port}",
            "--output=",
            f"--kubeconfig={kubeconfig}",
            env={"NODE_NAME": "node-a"},
        )
    assert result.returncode == 2
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert "cannot listen" in line["error"]
