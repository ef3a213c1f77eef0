"""deploy/deputy/: the committed RBAC is what the SDK renders and grants exactly what the deputy
needs; the other manifests agree with it and with the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

import constrained_impersonation as ci
from constrained_impersonation import rbac
from deputy import rbac as deputy_rbac
from deputy.config import parse_args

from .conftest import (
    CLUSTER,
    CREDENTIAL_ID,
    DEPLOY,
    VMS,
    Opened,
    RunningDeputy,
    TLSFiles,
    deputy_config,
    is_console_session,
    open_console,
)
from .kubevirt import kubevirt

SA = {"kind": "ServiceAccount", "name": "deputy", "namespace": "cimp-deputy"}
CONSOLE_SCOPE = ci.Scope(
    ci.Rule(["get"], ["virtualmachineinstances/console"], group="subresources.kubevirt.io")
)


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def _granted(docs: list[dict[str, Any]], subject: dict[str, str]) -> set[tuple[str, ...]]:
    """(kind of binding, namespace, apiGroup, resource, verb) for every rule bound to subject."""
    roles = {
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs
    }
    grants: set[tuple[str, ...]] = set()
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if subject not in binding["subjects"]:
            continue
        namespace = binding["metadata"].get("namespace", "")
        ref = binding["roleRef"]
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else "", ref["name"])]
        for rule in role["rules"]:
            assert "resourceNames" not in rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        grants.add((binding["kind"], namespace, group, resource, verb))
    return grants


def test_committed_rbac_is_what_print_rbac_renders() -> None:
    assert (DEPLOY / "rbac.yaml").read_text() == deputy_rbac.render_yaml()


def test_committed_impersonation_grants_are_the_sdks_render() -> None:
    committed = _docs("rbac.yaml")
    rendered = rbac.render(
        CONSOLE_SCOPE,
        "user-info",
        "cimp-deputy/deputy",
        uids=True,
        groups=True,
        extra=[CREDENTIAL_ID],
        name="cimp-deputy",
    )
    assert [d for d in committed if d["metadata"]["name"] == "cimp-deputy"] == rendered


def test_the_deputy_is_granted_exactly_what_it_needs() -> None:
    authn = "authentication.k8s.io"
    assert _granted(_docs("rbac.yaml"), SA) == {
        ("ClusterRoleBinding", "", authn, "tokenreviews", "create"),
        ("ClusterRoleBinding", "", authn, "users", "impersonate:user-info"),
        ("ClusterRoleBinding", "", authn, "uids", "impersonate:user-info"),
        ("ClusterRoleBinding", "", authn, "groups", "impersonate:user-info"),
        ("ClusterRoleBinding", "", authn, f"userextras/{CREDENTIAL_ID}", "impersonate:user-info"),
        (
            "ClusterRoleBinding",
            "",
            "subresources.kubevirt.io",
            "virtualmachineinstances/console",
            "impersonate-on:user-info:get",
        ),
    }


def test_rbac_for_other_flags_is_namespaced_and_sufficient(
    tmp_path: Path, tls: TLSFiles, apiserver: Any, apiserver_backend: str
) -> None:
    """--namespace vms --no-forward-extra: a Role for the console, no userextras; a deputy
    with those flags works under exactly that RBAC and forwards no extras."""
    text = deputy_rbac.render_yaml(forward_extra=(), namespaces=(VMS,))
    docs = [d for d in yaml.safe_load_all(text) if d]
    grants = _granted(docs, SA)
    assert not any("userextras" in g[3] for g in grants)
    assert (
        "RoleBinding",
        VMS,
        "subresources.kubevirt.io",
        "virtualmachineinstances/console",
        "impersonate-on:user-info:get",
    ) in grants
    server = apiserver
    with kubevirt(server, apiserver_backend, tmp_path):
        server.apply(DEPLOY / "namespace.yaml", DEPLOY / "serviceaccount.yaml")
        server.apply(CLUSTER)
        server.apply(text)
        alice = server.add_user("alice", groups=["vm-operators"], extra={CREDENTIAL_ID: ["x"]})
        base = server.api_client(server.token_for("cimp-deputy", "deputy"))
        config = deputy_config(tls, forward_extra=(), namespaces=(VMS,))
        running = RunningDeputy(config, base)
        try:
            opened = open_console(running.url, alice, tls=tls)
        finally:
            running.stop()
        assert isinstance(opened, Opened)
        [event] = _eventually_one(
            lambda: [e for e in server.audit_events() if is_console_session(e)]
        )
        assert event["impersonatedUser"]["username"] == "alice"
        assert "extra" not in event["impersonatedUser"]


def _eventually_one(events: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The events ``events()`` finds once there is one (the console's ends after it closed)."""
    deadline = time.monotonic() + timeout
    while not (found := events()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(found)


def test_manifests_agree_with_each_other_and_the_command_line() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files

    [namespace] = _docs("namespace.yaml")
    [account] = _docs("serviceaccount.yaml")
    [deployment] = _docs("deployment.yaml")
    [service] = _docs("service.yaml")
    name = namespace["metadata"]["name"]
    for doc in (account, deployment, service):
        assert doc["metadata"]["namespace"] == name
    assert (account["metadata"]["namespace"], account["metadata"]["name"]) == (
        SA["namespace"],
        SA["name"],
    )
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA["name"]
    assert account["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["command"] == ["cimp-deputy"]
    config, _ = parse_args(container["args"])  # the flags exist and validate
    assert config is not None

    # Extras forwarded by the Deployment are exactly those the RBAC allows.
    granted_extras = {
        g[3].removeprefix("userextras/")
        for g in _granted(_docs("rbac.yaml"), SA)
        if g[3].startswith("userextras/")
    }
    assert set(config.forward_extra) == granted_extras

    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert str(config.tls_cert_file).startswith(mounts["tls"] + "/")
    assert str(config.tls_private_key_file).startswith(mounts["tls"] + "/")
    assert volumes["tls"]["secret"]["secretName"] == "cimp-deputy-tls"
    sources = volumes["kube-api-access"]["projected"]["sources"]
    assert any("serviceAccountToken" in s for s in sources)

    [port] = container["ports"]
    assert port["containerPort"] == config.listen[1]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert service["spec"]["selector"].items() <= pod_labels(deployment).items()
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels
