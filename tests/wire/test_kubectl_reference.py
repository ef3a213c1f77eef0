"""kubectl 1.37 and ``session_from_kubeconfig`` send the same impersonation lines (issue 12, 5).

One kubeconfig with ``as``, ``as-uid``, ``as-groups`` and ``as-user-extra`` is given to the
kubectl built beside the reference kube-apiserver (``make kube``, v1.37.2) and to the SDK's
``session_from_kubeconfig``; both talk to a capture server over HTTPS (kubectl sends no bearer
token over plain HTTP), which keeps the header lines as they arrive. The lines must be
identical bytes once sorted by name (kubectl writes names sorted, as client-go does; see
``test_clientgo_reference`` for why that order is no part of what a server reads).

The comparisons need kubectl 1.37, which ``make`` builds for the ``--apiserver=kube`` pass:
the tests take the ``apiserver_class`` fixture (so that pass keeps them) and skip in any other
pass, or when the binary is missing. They start no API server.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from kubernetes import client

import constrained_impersonation as ci
from constrained_impersonation import headers as h
from constrained_impersonation.errors import InvalidIdentityError
from constrained_impersonation.identity import Identity

from ..sdk._wire import self_signed
from ._reference import (
    PINNED,
    YAML_CHARS,
    YAML_TRICKY,
    Line,
    RawCapture,
    by_name,
    impersonation_lines,
    require_kube_pass,
    sdk_identities,
    values,
)

PODS = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"]))
PODS_PATH = "/api/v1/namespaces/default/pods"


@pytest.fixture(scope="module")
def kubectl(apiserver_class: Callable[..., Any], apiserver_backend: str) -> Path:
    """kubectl 1.37 (``apiserver_class`` keeps its tests in the kube pass)."""
    path = require_kube_pass(apiserver_backend, "kubectl")
    out = subprocess.run(
        [str(path), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    version = json.loads(out.stdout)["clientVersion"]
    if (version["major"], version["minor"]) != ("1", "37"):
        pytest.skip(f"{path} is kubectl {version['gitVersion']}, not 1.37")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubectl-wire")


@pytest.fixture(scope="module")
def capture(workdir: Path) -> Iterator[RawCapture]:
    with RawCapture(tls=self_signed(workdir)) as server:
        yield server


def kubeconfig(workdir: Path, server: RawCapture, user: dict[str, Any]) -> Path:
    """A kubeconfig for ``server`` whose user carries ``user``'s fields (``as``, ...)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "capture",
                "cluster": {
                    "server": server.url,
                    "certificate-authority": str(workdir / "tls.crt"),
                },
            }
        ],
        "users": [{"name": "requestor", "user": {"token": "requestor-token", **user}}],
        "contexts": [
            {
                "name": "capture",
                "context": {"cluster": "capture", "user": "requestor", "namespace": "default"},
            }
        ],
        "current-context": "capture",
    }
    path = workdir / "kubeconfig"
    # Raw UTF-8 (no \u escapes): PyYAML and Go's YAML reader then read the same strings.
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def as_fields(identity: Identity) -> dict[str, Any]:
    """The kubeconfig user fields kubectl reads for ``identity``."""
    fields: dict[str, Any] = {"as": identity.user}
    if identity.uid is not None:
        fields["as-uid"] = identity.uid
    if identity.groups:
        fields["as-groups"] = list(identity.groups)
    if identity.extra:
        fields["as-user-extra"] = {k: list(v) for k, v in identity.extra.items()}
    return fields


def kubectl_lines(kubectl: Path, workdir: Path, server: RawCapture, config: Path) -> list[Line]:
    """kubectl's impersonation lines; every request it made must carry the same ones."""
    server.take()
    result = subprocess.run(
        [str(kubectl), f"--kubeconfig={config}", "get", "--raw", PODS_PATH],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(workdir), "KUBECONFIG": str(config)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    heads = server.take()
    assert heads
    lines = [impersonation_lines(head) for head in heads]
    assert all(other == lines[0] for other in lines), lines
    return lines[0]


def sdk_lines(server: RawCapture, config: Path) -> list[Line]:
    server.take()
    with ci.session_from_kubeconfig(str(config), scope=PODS) as session:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    (head,) = server.take()
    return impersonation_lines(head)


@pytest.mark.parametrize(("identity", "lines"), PINNED, ids=["everything", "empty-uid"])
def test_kubectl_sends_the_pinned_client_go_bytes_and_so_does_the_sdk(
    kubectl: Path, workdir: Path, capture: RawCapture, identity: Identity, lines: list[Line]
) -> None:
    config = kubeconfig(workdir, capture, as_fields(identity))
    assert kubectl_lines(kubectl, workdir, capture, config) == lines
    assert by_name(sdk_lines(capture, config)) == lines


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identity=sdk_identities(values(YAML_CHARS, YAML_TRICKY), max_groups=30))
def test_session_from_kubeconfig_sends_what_kubectl_sends(
    kubectl: Path, workdir: Path, capture: RawCapture, identity: Identity
) -> None:
    config = kubeconfig(workdir, capture, as_fields(identity))
    theirs = kubectl_lines(kubectl, workdir, capture, config)
    ours = sdk_lines(capture, config)
    assert theirs == by_name(theirs)
    assert by_name(ours) == theirs


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"as": "alice", "as-user-extra": {"Example.com/Key%x": ["a"]}}, "extra key"),
        ({"as": " alice "}, "user"),
        ({"as": "alice", "as-groups": ["dev", "system:masters"]}, "groups"),
        ({"as": "system:node:n1", "as-groups": ["g"]}, "groups"),
    ],
    ids=["upper-case-extra-key", "user-with-spaces", "system-masters", "node-with-group"],
)
def test_what_kubectl_sends_and_the_sdk_refuses(
    kubectl: Path,
    workdir: Path,
    capture: RawCapture,
    fields: dict[str, Any],
    field: str,
) -> None:
    """The SDK names the field; why each refusal is right: ``test_clientgo_reference``."""
    config = kubeconfig(workdir, capture, fields)
    sent = kubectl_lines(kubectl, workdir, capture, config)
    assert sent
    with pytest.raises(InvalidIdentityError) as refused:
        ci.session_from_kubeconfig(str(config), scope=PODS)
    assert refused.value.field == field
    asked = Identity(
        fields["as"], None, tuple(fields.get("as-groups", ())), fields.get("as-user-extra", {})
    )
    read = h.decode([(n.decode("latin-1"), v.decode("utf-8")) for n, v in sent])
    if field in ("extra key", "user"):  # over HTTP/1.1 the server reads another identity
        assert read != asked
    else:  # sent as asked: only legacy impersonation accepts it
        assert read == asked
