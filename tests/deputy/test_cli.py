"""``cimp-deputy`` as an operator runs it: help, one-line configuration errors, a real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deputy.__main__ import main

from .conftest import DEPLOY, VMS, Cluster, DeputyProcess, Opened, TLSFiles, open_console


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deputy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_explains_the_extra_allow_list() -> None:
    result = _run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Only keys on the allow-list are forwarded; all others are dropped" in text
    assert "authentication.kubernetes.io/credential-id" in text
    assert "--forward-extra KEY" in result.stdout
    assert "--audience AUD" in result.stdout


def test_print_rbac_is_the_committed_rbac() -> None:
    result = _run("--print-rbac")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (DEPLOY / "rbac.yaml").read_text()


def test_configuration_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    tls: TLSFiles,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = ["--tls-cert-file", str(tls.cert), "--tls-private-key-file", str(tls.key)]
    for args, message in (
        ([*files, "--forward-extra", "scopes"], "--forward-extra 'scopes': extra keys must be"),
        ([*files, "--forward-extra", "example.com/Key"], "must be lower case"),
        ([*files, "--namespace", "Not_A_Namespace"], "not a valid namespace name"),
        ([], "--tls-cert-file and --tls-private-key-file are required"),
        ([*files, "--listen", "nowhere"], "--listen: expected HOST:PORT"),
        ([*files, "--no-forward-extra", "--forward-extra", "a.b/c"], "exclude each other"),
        ([*files, "--kubeconfig", str(tmp_path / "missing")], "cannot load kubeconfig"),
        (
            [
                "--tls-cert-file",
                str(tmp_path / "none.crt"),
                "--tls-private-key-file",
                "x",
                "--kubeconfig",
                str(_kubeconfig(tmp_path)),
                "--listen",
                "127.0.0.1:0",
            ],
            "cannot load --tls-cert-file",
        ),
        (
            [*files, "--kubeconfig", str(_kubeconfig(tmp_path)), "--listen", "192.0.2.1:8443"],
            "cannot serve on 192.0.2.1:8443",
        ),
    ):
        caplog.clear()
        try:
            status = main(args)
        except SystemExit as exit_:  # argparse's own errors
            status = exit_.code
        output = capsys.readouterr().err + caplog.text
        assert status == 2, (args, output)
        assert message in output, output
        assert "Traceback" not in output


def _kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


def test_a_real_run_serves_consoles_and_stops_on_sigterm(cluster: Cluster) -> None:
    deputy = DeputyProcess(cluster)
    try:
        opened = open_console(deputy.url, cluster.alice, cluster=cluster)
    finally:
        log = "".join(deputy.stop())
    assert isinstance(opened, Opened)
    assert opened.greeting.startswith(f"connected to {VMS}/vm1 as alice ")
    records = [json.loads(line) for line in log.splitlines()]
    assert {"msg": "console opened", "namespace": VMS, "name": "vm1", "user": "alice"}.items() <= (
        next(r for r in records if r["msg"] == "console opened").items()
    )
    assert cluster.alice not in log and cluster.deputy_token not in log
