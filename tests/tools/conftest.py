"""Fixtures: the three-impersonator scenario, run once per worker on the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from constrained_impersonation.scope import Rule, Scope
from constrained_impersonation.testing import APIServer

from ._scenario import Sender, build, legacy_rbac, setup

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
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """(audit log written by the server, RBAC YAML file, traffic with statuses)."""
    return build(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A running server: the scenario's namespaces and objects, the node agent's legacy grant
    (the deputy's and the gateway's are left out), and the constrained RBAC ``cimp rbac``
    renders for the deputy (console ``get`` in ``default``, any user, groups and uids)."""
    import urllib3

    from constrained_impersonation.rbac.render import render

    deputy_rbac = render(DEPUTY_SCOPE, "user-info", "deputy-ns/deputy", groups=True, uids=True)
    audit = tmp_path_factory.mktemp("live") / "audit.log"
    with APIServer(audit_log_path=audit) as server:
        objects = [o for o in legacy_rbac() if o["metadata"]["name"] != "impersonators-legacy"]
        setup(server, objects + deputy_rbac)
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=server.ca_file)
        yield Live(server, Sender(server, pool), audit)
        pool.clear()
