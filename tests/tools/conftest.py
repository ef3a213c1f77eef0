"""Fixtures: the three-impersonator scenario, run once per worker on the server of the
backend ``--apiserver`` picks (embedded or a real kube-apiserver)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constrained_impersonation.scope import Rule, Scope

from ._scenario import APIServer, Sender, build, legacy_rbac, setup

DEPUTY_SCOPE = Scope(
    Rule(
        ["get"],
        "virtualmachineinstances/console",
        group="subresources.kubevirt.io",
        namespaces=["default"],
    )
)


@dataclass
class Live:
    server: APIServer
    sender: Sender
    audit: Path


@pytest.fixture(scope="session")
def scenario(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, list]:
    """(audit log written by the server, RBAC YAML file, traffic with statuses)."""
    return build(tmp_path_factory.mktemp("scenario"), apiserver_class)


@pytest.fixture(scope="session")
def live(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A running server: the scenario's namespaces and objects, the node agent's legacy grant
    (the deputy's and the gateway's are left out), and the constrained RBAC ``cimp rbac``
    renders for the deputy (console ``get`` in ``default``, any user, groups and uids)."""
    import urllib3

    from constrained_impersonation.rbac.render import render

    deputy_rbac = render(DEPUTY_SCOPE, "user-info", "deputy-ns/deputy", groups=True, uids=True)
    audit = tmp_path_factory.mktemp("live") / "audit.log"
    with apiserver_class(audit_log_path=audit) as server:
        objects = [o for o in legacy_rbac() if o["metadata"]["name"] != "impersonators-legacy"]
        setup(server, objects + deputy_rbac)
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=server.ca_file)
        yield Live(server, Sender(server, pool), audit)
        pool.clear()
