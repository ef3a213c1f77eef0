"""Put a kube-apiserver's etcd back to the state it had right after start-up.

Starting etcd and kube-apiserver costs about two seconds of CPU, most of a small test's time.
The ``apiserver`` fixture therefore keeps one ``KubeAPIServer`` per pytest worker and, before
each test, rewrites etcd to the snapshot taken after start-up: keys a test created are deleted,
keys it changed or deleted are written back. kube-apiserver watches etcd, so its caches and
informers see those writes as ordinary events.

Only what informers settle quickly, and what the harness can wait for, is reset this way. CRDs
a test created are forgotten too: their keys, their objects' and the APIServices kube
registered for them go, and the harness waits until kube stops serving their group versions.
A test that touched anything else kube-apiserver also keeps in memory where no barrier can see
it (APIServices of aggregated APIs, admission webhooks and policies, quotas, limit ranges,
priority, runtime and storage classes, DRA objects, volume attachments, the bootstrap
namespaces) gets a fresh server instead. Classification is by etcd key, so it sees what was
actually written, whoever wrote it.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "APISERVICES",
    "CRDS",
    "Diff",
    "EtcdKV",
    "Snapshot",
    "diff",
    "needs_fresh_server",
]

_ROOT = "/registry/"

# Written by kube-apiserver itself on a timer (identity and peer leases): never restored,
# never a reason for a fresh server.
_SERVER_OWNED = ("/registry/leases/kube-system/", "/registry/peerserverleases/")

# Updated by kube-apiserver's own controllers (status conditions): a change is not the test's,
# but a key that appears or disappears is.
_STATUS_OWNED = (
    "/registry/apiregistration.k8s.io/apiservices/",
    "/registry/flowschemas/",
    "/registry/prioritylevelconfigurations/",
)

CRDS = "/registry/apiextensions.k8s.io/customresourcedefinitions/"
APISERVICES = "/registry/apiregistration.k8s.io/apiservices/"

# State that kube-apiserver caches where the harness cannot wait for it: any change here and
# the next test gets a fresh server.
_NEEDS_FRESH = (
    "/registry/apiextensions.k8s.io/",
    "/registry/apiregistration.k8s.io/",
    "/registry/validatingwebhookconfigurations/",
    "/registry/mutatingwebhookconfigurations/",
    "/registry/validatingadmissionpolicies/",
    "/registry/validatingadmissionpolicybindings/",
    "/registry/mutatingadmissionpolicies/",
    "/registry/mutatingadmissionpolicybindings/",
    "/registry/flowschemas/",
    "/registry/prioritylevelconfigurations/",
    "/registry/resourcequotas/",
    "/registry/limitranges/",
    "/registry/priorityclasses/",
    "/registry/runtimeclasses/",
    "/registry/storageclasses/",
    "/registry/ingressclasses/",
    "/registry/volumeattachments/",
    "/registry/csinodes/",
    "/registry/csidrivers/",
    "/registry/resourceslices/",
    "/registry/resourceclaims/",
    "/registry/resourceclaimtemplates/",
    "/registry/deviceclasses/",
    "/registry/devicetaintrules/",
    "/registry/servicecidrs/",
    "/registry/ranges/",
)

_BOOTSTRAP_NAMESPACES = frozenset(
    f"/registry/namespaces/{ns}"
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease")
)


@dataclass(frozen=True)
class EtcdKV:
    """One key as etcd reports it: the revision of its last write and its raw value."""

    mod_revision: int
    value: str = ""  # base64, as the gateway sends it


@dataclass
class Snapshot:
    """Every key under ``/registry/`` right after start-up."""

    keys: dict[str, EtcdKV] = field(default_factory=dict)


@dataclass
class Diff:
    """What a test wrote: keys it created, changed and deleted (server-owned keys left out)."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.deleted)

    @property
    def touched(self) -> Iterable[str]:
        yield from self.created
        yield from self.changed
        yield from self.deleted


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _key(kv: Mapping[str, Any]) -> str:
    return base64.b64decode(str(kv["key"])).decode()


class Etcd:
    """The few calls of etcd's v3 JSON gateway a reset needs (plain HTTP on loopback)."""

    def __init__(self, port: int) -> None:
        self._base = f"http://127.0.0.1:{port}/v3/"

    def _call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback URL of our own etcd
            self._base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def read(self, *, values: bool) -> dict[str, EtcdKV]:
        """Every key under ``/registry/``, with its value when ``values``."""
        body: dict[str, Any] = {"key": _b64(_ROOT), "range_end": _b64("/registry0")}
        if not values:
            body["keys_only"] = True
        answer = self._call("kv/range", body)
        return {
            _key(kv): EtcdKV(int(kv.get("mod_revision", 0)), str(kv.get("value", "")))
            for kv in answer.get("kvs", [])
        }

    def apply(self, deletes: Iterable[str], puts: Mapping[str, str]) -> None:
        """Delete ``deletes`` and write ``puts`` (key -> base64 value), 100 per transaction."""
        ops: list[dict[str, Any]] = [{"requestDeleteRange": {"key": _b64(key)}} for key in deletes]
        ops += [{"requestPut": {"key": _b64(key), "value": value}} for key, value in puts.items()]
        for start in range(0, len(ops), 100):  # etcd's default --max-txn-ops is 128
            self._call("kv/txn", {"success": ops[start : start + 100]})


def _server_owned(key: str) -> bool:
    return key.startswith(_SERVER_OWNED)


def diff(snapshot: Snapshot, now: Mapping[str, EtcdKV]) -> Diff:
    """The keys a test created, changed or deleted since ``snapshot``."""
    result = Diff()
    for key, kv in now.items():
        if _server_owned(key):
            continue
        before = snapshot.keys.get(key)
        if before is None:
            result.created.append(key)
        elif before.mod_revision != kv.mod_revision and not key.startswith(_STATUS_OWNED):
            result.changed.append(key)
    result.deleted = [k for k in snapshot.keys if k not in now and not _server_owned(k)]
    return result


def needs_fresh_server(changes: Diff, forgettable: Collection[str] = ()) -> str | None:
    """Why a reset cannot stand in for a fresh server after ``changes``, or None.

    ``forgettable``: created keys the caller knows how to wait for (the CRDs a test created
    and the APIServices kube registered for them).
    """
    for key in changes.touched:
        if key in forgettable and key in changes.created:
            continue
        if key.startswith(_NEEDS_FRESH) or key in _BOOTSTRAP_NAMESPACES:
            return key
    return None
