"""What creating a Service allocates, as kube-apiserver's service registry does.

A ClusterIP, NodePort or LoadBalancer Service gets a cluster IP from the service range (the
kube-apiserver of the test harness runs with ``--service-cluster-ip-range=10.96.0.0/16``, so
the same range here), a single-stack IPv4 family, and node ports in 30000-32767 for the types
that expose them. A headless Service (``clusterIP: None``) gets the family but no address; an
ExternalName Service gets neither. Updates keep what was allocated when the client leaves it
out, as kube's ``patchAllocatedValues``.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import TYPE_CHECKING, Any

from .storage import Store

if TYPE_CHECKING:
    import ipaddress

__all__ = ["SERVICE_RANGE", "allocate", "keep_allocated", "kubernetes_service", "service_range"]

Obj = dict[str, Any]
SERVICE_RANGE = "10.96.0.0/16"
NODE_PORTS = range(30000, 32768)
_ATTEMPTS = 64


def _used(store: Store | None) -> tuple[set[str], set[int]]:
    ips: set[str] = set()
    ports: set[int] = set()
    if store is None:
        return ips, ports
    for service in store.list_objects("", "services"):
        spec = service.get("spec") or {}
        ips.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip)
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and port.get("nodePort"):
                ports.add(int(port["nodePort"]))
    return ips, ports


@cache
def service_range() -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    import ipaddress  # only when a Service is created: not on every start

    return ipaddress.ip_network(SERVICE_RANGE)


def _free_ip(used: set[str]) -> str:
    import ipaddress

    network = service_range()
    first, size = int(network.network_address), network.num_addresses
    for _ in range(_ATTEMPTS):
        candidate = str(ipaddress.ip_address(first + 2 + secrets.randbelow(size - 3)))
        if candidate not in used:
            return candidate
    for offset in range(2, size - 1):  # a crowded range: the first free one
        candidate = str(ipaddress.ip_address(first + offset))
        if candidate not in used:
            return candidate
    raise RuntimeError("the service IP range is full")


def _free_port(used: set[int]) -> int:
    for _ in range(_ATTEMPTS):
        candidate = NODE_PORTS.start + secrets.randbelow(len(NODE_PORTS))
        if candidate not in used:
            used.add(candidate)
            return candidate
    for candidate in NODE_PORTS:
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise RuntimeError("no node port is free")


def allocate(service: Obj, store: Store | None) -> None:
    """Give a new Service its cluster IP, IP family and node ports (in place)."""
    spec = service.get("spec")
    if not isinstance(spec, dict):
        return
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        return
    ips, ports = _used(store)
    cluster_ip = spec.get("clusterIP") or ""
    if not cluster_ip and spec.get("clusterIPs"):
        cluster_ip = str(spec["clusterIPs"][0])
    if not cluster_ip:
        cluster_ip = _free_ip(ips)
    spec["clusterIP"] = cluster_ip
    spec["clusterIPs"] = spec.get("clusterIPs") or [cluster_ip]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = _free_port(ports)


def keep_allocated(service: Obj, old: Obj) -> None:
    """An update that leaves allocated values out keeps the old ones (in place)."""
    spec, old_spec = service.get("spec"), old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    if (spec.get("type") or "ClusterIP") == "ExternalName":
        return
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if not spec.get(key) and old_spec.get(key):
            spec[key] = old_spec[key]
    old_ports = {
        (p.get("port"), p.get("protocol") or "TCP"): p.get("nodePort")
        for p in old_spec.get("ports") or ()
        if isinstance(p, dict)
    }
    if (spec.get("type") or "ClusterIP") in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and not port.get("nodePort"):
                found = old_ports.get((port.get("port"), port.get("protocol") or "TCP"))
                if found:
                    port["nodePort"] = found


def kubernetes_service(secure_port: int, created: str) -> Obj:
    """The ``default/kubernetes`` Service kube-apiserver's bootstrap controller writes at start:
    the first address of the service range, ``https`` 443 to the secure port, owned by the
    ``kube-apiserver`` field manager."""
    network = service_range()
    cluster_ip = str(network.network_address + 1)
    fields: Obj = {
        "f:metadata": {"f:labels": {".": {}, "f:component": {}, "f:provider": {}}},
        "f:spec": {
            "f:clusterIP": {},
            "f:internalTrafficPolicy": {},
            "f:ipFamilyPolicy": {},
            "f:ports": {
                ".": {},
                'k:{"port":443,"protocol":"TCP"}': {
                    ".": {},
                    "f:name": {},
                    "f:port": {},
                    "f:protocol": {},
                    "f:targetPort": {},
                },
            },
            "f:sessionAffinity": {},
            "f:type": {},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
            "managedFields": [
                {
                    "manager": "kube-apiserver",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": created,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                }
            ],
        },
        "spec": {
            "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": secure_port}],
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }
