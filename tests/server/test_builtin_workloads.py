"""Built-in workloads and services through the official ``kubernetes`` client, on both backends.

Deployments, ReplicaSets, StatefulSets, ReplicationControllers, Services, Jobs, CronJobs and
APIServices are served as kube-apiserver v1.37.2 serves them: its defaults, generation,
status and scale subresources, validation messages, field selectors and table columns. No
controller runs on either backend (as kube-apiserver alone or envtest): a Deployment makes no
ReplicaSet and a Job no Pod.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k

NAMES = (f"builtin-{i}" for i in itertools.count())
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def server(apiserver_class: Any) -> Iterator[Any]:
    with apiserver_class() as started:
        yield started


@pytest.fixture
def ns(server: Any) -> str:
    name = next(NAMES)
    status, body = server.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    assert status == 201, body
    return name


@pytest.fixture(scope="module")
def api(server: Any) -> Iterator[k.ApiClient]:
    with server.api_client() as client:
        yield client


def template(labels: dict[str, str], restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels}, "spec": spec}


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    body = {"selector": {"matchLabels": {"app": name}}, "template": template({"app": name})}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def invalid(err: pytest.ExceptionInfo[k.ApiException]) -> tuple[int, str, list[str]]:
    body = json.loads(err.value.body)
    fields = [c.get("field", "") for c in (body.get("details") or {}).get("causes", [])]
    return err.value.status, body["message"], fields


# --- Deployments --------------------------------------------------------------------------------


def test_deployment_gets_kubes_defaults_and_no_replica_set(api: k.ApiClient, ns: str) -> None:
    apps = k.AppsV1Api(api)
    created = apps.create_namespaced_deployment(ns, deployment("web"))
    assert created.metadata.generation == 1
    assert created.metadata.uid
    spec = created.spec
    assert spec.replicas == 1
    assert spec.revision_history_limit == 10
    assert spec.progress_deadline_seconds == 600
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update.max_surge == "25%"
    assert spec.strategy.rolling_update.max_unavailable == "25%"
    pod = spec.template.spec
    assert pod.restart_policy == "Always"
    assert pod.dns_policy == "ClusterFirst"
    assert pod.termination_grace_period_seconds == 30
    assert pod.containers[0].image_pull_policy == "IfNotPresent"
    assert pod.containers[0].termination_message_path == "/dev/termination-log"
    assert created.status.replicas is None  # nothing reconciled it
    # No controllers: nothing creates the ReplicaSet or its pods.
    assert k.AppsV1Api(api).list_namespaced_replica_set(ns).items == []
    assert k.CoreV1Api(api).list_namespaced_pod(ns).items == []


def test_deployment_generation_scale_and_status(api: k.ApiClient, ns: str) -> None:
    apps = k.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("web"))
    patched = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 2}})
    assert (patched.spec.replicas, patched.metadata.generation) == (2, 2)
    labelled = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 2  # metadata is not the spec

    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (2, 0, "app=web")
    assert scale.metadata.uid == patched.metadata.uid
    scale.spec.replicas = 5
    replaced = apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert replaced.spec.replicas == 5
    assert (
        apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}}).spec.replicas
        == 3
    )
    current = apps.read_namespaced_deployment("web", ns)
    assert (current.spec.replicas, current.metadata.generation) == (3, 4)

    status = {"status": {"replicas": 3, "readyReplicas": 1}, "spec": {"replicas": 9}}
    written = apps.patch_namespaced_deployment_status("web", ns, status)
    assert written.status.ready_replicas == 1
    assert written.spec.replicas == 3  # a status write keeps the spec
    assert written.metadata.generation == 4
    main = apps.patch_namespaced_deployment("web", ns, {"status": {"readyReplicas": 7}})
    assert main.status.ready_replicas == 1  # the main resource keeps the status


def test_scale_refuses_negative_replicas_and_stale_versions(api: k.ApiClient, ns: str) -> None:
    apps = k.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("web"))
    scale = apps.read_namespaced_deployment_scale("web", ns)
    scale.spec.replicas = -1
    with pytest.raises(k.ApiException) as err:
        apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert invalid(err) == (
        422,
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0",
        ["spec.replicas"],
    )
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 2}})
    scale.spec.replicas = 4  # its resourceVersion is now stale
    with pytest.raises(k.ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["message"].startswith(
        'Operation cannot be fulfilled on deployments.apps "web"'
    )


def test_deployment_validation_messages(server: Any, api: k.ApiClient, ns: str) -> None:
    apps = k.AppsV1Api(api)
    bad = deployment("web")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(k.ApiException) as err:
        apps.create_namespaced_deployment(ns, bad)
    assert invalid(err) == (
        422,
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"web"}: `selector` does not match template `labels`',
        ["spec.template.metadata.labels"],
    )
    missing = deployment("web")
    del missing["spec"]["selector"]  # the client itself refuses to send that: raw request
    status, body = server.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", missing)
    causes = [c["field"] for c in body["details"]["causes"]]
    assert (status, causes) == (422, ["spec.selector", "spec.template.metadata.labels"])
    apps.create_namespaced_deployment(ns, deployment("web"))
    with pytest.raises(k.ApiException) as err:
        apps.patch_namespaced_deployment(
            "web", ns, {"spec": {"selector": {"matchLabels": {"app": "web", "v": "2"}}}}
        )
    assert invalid(err)[2] == ["spec.template.metadata.labels", "spec.selector"]
    assert "field is immutable" in invalid(err)[1]


def test_dry_run_finalizers_and_deletecollection(api: k.ApiClient, ns: str) -> None:
    apps = k.AppsV1Api(api)
    dry = apps.create_namespaced_deployment(ns, deployment("dry"), dry_run="All")
    assert dry.metadata.name == "dry" and dry.spec.replicas == 1
    assert apps.list_namespaced_deployment(ns).items == []
    kept = deployment("kept")
    kept["metadata"]["finalizers"] = ["example.com/hold"]
    apps.create_namespaced_deployment(ns, kept)
    apps.delete_namespaced_deployment("kept", ns)
    held = apps.read_namespaced_deployment("kept", ns)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.generation == 2  # kube's BeforeDelete bumps it
    apps.patch_namespaced_deployment("kept", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(k.ApiException) as gone:
        apps.read_namespaced_deployment("kept", ns)
    assert gone.value.status == 404
    for name in ("a", "b"):
        apps.create_namespaced_deployment(ns, deployment(name))
    apps.delete_collection_namespaced_deployment(ns)
    assert apps.list_namespaced_deployment(ns).items == []


# --- other workloads ------------------------------------------------------------------------------


def test_replica_sets_stateful_sets_and_replication_controllers_scale(
    api: k.ApiClient, ns: str
) -> None:
    apps, core = k.AppsV1Api(api), k.CoreV1Api(api)
    body = deployment("rs")
    body["kind"] = "ReplicaSet"
    apps.create_namespaced_replica_set(ns, body)
    body = deployment("sts")
    body["kind"] = "StatefulSet"
    created = apps.create_namespaced_stateful_set(ns, body)
    assert created.spec.pod_management_policy == "OrderedReady"
    assert created.spec.update_strategy.rolling_update.partition == 0
    rc = core.create_namespaced_replication_controller(
        ns,
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "rc"},
            "spec": {"template": template({"app": "rc"})},
        },
    )
    assert rc.spec.selector == {"app": "rc"}  # defaulted from the template's labels
    assert rc.metadata.labels == {"app": "rc"}
    assert (
        apps.patch_namespaced_replica_set_scale("rs", ns, {"spec": {"replicas": 2}}).spec.replicas
        == 2
    )
    assert (
        apps.patch_namespaced_stateful_set_scale("sts", ns, {"spec": {"replicas": 3}}).spec.replicas
        == 3
    )
    scaled = core.patch_namespaced_replication_controller_scale("rc", ns, {"spec": {"replicas": 4}})
    assert (scaled.spec.replicas, scaled.status.selector) == (4, "app=rc")
    with pytest.raises(k.ApiException) as err:
        apps.patch_namespaced_stateful_set("sts", ns, {"spec": {"serviceName": "other"}})
    assert invalid(err)[2] == ["spec.serviceName"]


def test_jobs_get_a_generated_selector_and_cron_jobs_a_checked_schedule(
    api: k.ApiClient, ns: str
) -> None:
    batch = k.BatchV1Api(api)
    job = batch.create_namespaced_job(
        ns,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {"template": template({}, restart="Never")},
        },
    )
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["job-name"] == "once"
    assert job.metadata.labels["batch.kubernetes.io/controller-uid"] == uid
    assert (job.spec.backoff_limit, job.spec.completions, job.spec.parallelism) == (6, 1, 1)
    assert k.CoreV1Api(api).list_namespaced_pod(ns).items == []  # no job controller
    with pytest.raises(k.ApiException) as err:
        batch.create_namespaced_job(
            ns,
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "always"},
                "spec": {"template": template({})},
            },
        )
    assert invalid(err) == (
        422,
        'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Required value: valid '
        'values: "OnFailure", "Never"',
        ["spec.template.spec.restartPolicy"],
    )
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "61 * * * *",
            "jobTemplate": {"spec": {"template": template({}, restart="OnFailure")}},
        },
    }
    with pytest.raises(k.ApiException) as err:
        batch.create_namespaced_cron_job(ns, cron)
    assert invalid(err)[1] == (
        'CronJob.batch "tick" is invalid: spec.schedule: Invalid value: "61 * * * *": end of '
        "range (61) above maximum (59): 61"
    )
    cron["spec"]["schedule"] = "*/5 * * * *"
    created = batch.create_namespaced_cron_job(ns, cron)
    assert (created.spec.concurrency_policy, created.spec.successful_jobs_history_limit) == (
        "Allow",
        3,
    )


# --- Services and APIServices -------------------------------------------------------------------


def test_services_get_a_cluster_ip_and_node_ports(api: k.ApiClient, ns: str) -> None:
    core = k.CoreV1Api(api)
    service = core.create_namespaced_service(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    ip = service.spec.cluster_ip
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/16")
    assert service.spec.cluster_ips == [ip]
    assert service.spec.type == "ClusterIP"
    assert service.spec.ip_families == ["IPv4"]
    assert service.spec.ports[0].target_port == 80
    assert service.spec.ports[0].protocol == "TCP"
    replaced = core.read_namespaced_service("web", ns)
    replaced.spec.cluster_ip = None
    replaced.spec.cluster_ips = None
    assert core.replace_namespaced_service("web", ns, replaced).spec.cluster_ip == ip
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_service(
            "web", ns, {"spec": {"clusterIP": "10.96.0.99", "clusterIPs": ["10.96.0.99"]}}
        )
    assert invalid(err)[1] == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.99"]: may not '
        "change once set"
    )
    node_port = core.create_namespaced_service(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "np"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    assert 30000 <= node_port.spec.ports[0].node_port <= 32767
    assert node_port.spec.external_traffic_policy == "Cluster"
    with pytest.raises(k.ApiException) as err:
        core.create_namespaced_service(
            ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bare"}, "spec": {}}
        )
    assert invalid(err) == (
        422,
        'Service "bare" is invalid: spec.ports: Required value',
        ["spec.ports"],
    )


def test_services_select_by_type_and_print_as_kube(server: Any, api: k.ApiClient, ns: str) -> None:
    core = k.CoreV1Api(api)
    for name, kind in (("a", "ClusterIP"), ("b", "NodePort")):
        core.create_namespaced_service(
            ns,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"type": kind, "ports": [{"port": 80}]},
            },
        )
    listed = core.list_namespaced_service(ns, field_selector="spec.type=NodePort")
    assert [s.metadata.name for s in listed.items] == ["b"]
    status, body = server.request(
        "GET", f"/api/v1/namespaces/{ns}/services?fieldSelector=spec.bogus%3Dx"
    )
    assert (status, body["message"]) == (400, "field label not supported: spec.bogus")
    status, table = server.request(
        "GET", f"/api/v1/namespaces/{ns}/services", headers={"Accept": TABLE}
    )
    assert status == 200 and table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    cells = {row["cells"][0]: row["cells"] for row in table["rows"]}
    assert cells["a"][1:5] == ["ClusterIP", cells["a"][2], "<none>", "80/TCP"]
    assert cells["b"][4].startswith("80:") and cells["b"][4].endswith("/TCP")


def test_deployment_table_and_unknown_field_selector(
    server: Any, api: k.ApiClient, ns: str
) -> None:
    k.AppsV1Api(api).create_namespaced_deployment(ns, deployment("web", replicas=2))
    status, table = server.request(
        "GET", f"/apis/apps/v1/namespaces/{ns}/deployments", headers={"Accept": TABLE}
    )
    assert status == 200
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
    ]  # fmt: skip
    (row,) = table["rows"]
    assert row["cells"][:4] == ["web", "0/2", 0, 0]
    assert row["cells"][5:] == ["app", "nginx:1.27", "app=web"]
    status, body = server.request(
        "GET", f"/apis/apps/v1/namespaces/{ns}/deployments?fieldSelector=spec.replicas%3D2"
    )
    assert (status, body["message"]) == (
        400,
        '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
    )


def test_api_services(api: k.ApiClient) -> None:
    registration = k.ApiregistrationV1Api(api)
    body = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.builtin.example.com"},
        "spec": {
            "group": "builtin.example.com",
            "version": "v1beta1",
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "service": {"namespace": "default", "name": "nowhere"},
            "insecureSkipTLSVerify": True,
        },
    }
    created = registration.create_api_service(body)
    assert created.spec.service.port == 443  # kube-aggregator's default
    assert registration.read_api_service("v1beta1.builtin.example.com").spec.group == (
        "builtin.example.com"
    )
    registration.delete_api_service("v1beta1.builtin.example.com")
    body["metadata"]["name"] = "wrong"
    with pytest.raises(k.ApiException) as err:
        registration.create_api_service(body)
    status, message, fields = invalid(err)
    assert (status, fields) == (422, ["metadata.name"])
    assert message.endswith('must be `spec.version+"."+spec.group`: "v1beta1.builtin.example.com"')
