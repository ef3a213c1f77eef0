"""Seeded scenario generator: hypothesis-style strategies over one ``random.Random``.

``generate(seed, index)`` depends on nothing else, so any scenario can be replayed alone
(``CIMP_SEED=<seed> CIMP_ONLY=<index>``). The strategies aim at the places where two servers
can disagree: which impersonation mode applies and which grant it needs (the five constrained
modes and legacy, fitted to the request and then perturbed), which error wins, the identity
that comes out, what the downstream authorizers, admission and storage then say, and the
token, RBAC-write and NodeRestriction paths.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from ._model import Actor, Ref, Scenario, Step

__all__ = ["FAMILIES", "Draw", "generate"]

T = TypeVar("T")
RBAC = "rbac.authorization.k8s.io"
AUTHN = "authentication.k8s.io"
MODES = ("associated-node", "arbitrary-node", "serviceaccount", "user-info")
MERGE = "application/merge-patch+json"
MIRROR = "kubernetes.io/config.mirror"
TOKEN_VOLUME = {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}

# Family weights: most scenarios are about impersonation itself.
FAMILIES: dict[str, int] = {
    "impersonate": 50,
    "rbac-write": 12,
    "node-restriction": 18,
    "tokens": 12,
    "gate-off": 8,
}


class Draw:
    """The strategies: every choice a scenario makes goes through one seeded generator."""

    def __init__(self, seed: int, index: int) -> None:
        # A str seed is hashed (SHA-512), so the stream is the same on every Python run.
        self.rng = random.Random(f"cimp-conformance/{seed}/{index}")

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def weighted(self, options: dict[T, float]) -> T:
        keys = list(options)
        return self.rng.choices(keys, weights=[options[k] for k in keys])[0]

    def some(self, options: Sequence[T], lo: int, hi: int) -> list[T]:
        k = self.rng.randint(lo, min(hi, len(options)))
        return self.rng.sample(list(options), k)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


# --------------------------------------------------------------------------- objects


def _meta(name: str, namespace: str = "", **more: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(more)
    return meta


def role(kind: str, name: str, rules: list[dict[str, Any]], namespace: str = "") -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": _meta(name, namespace if kind == "Role" else ""),
        "rules": rules,
    }


def binding(
    kind: str,
    name: str,
    role_kind: str,
    role_name: str,
    subjects: list[dict[str, Any]],
    namespace: str = "",
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": _meta(name, namespace if kind == "RoleBinding" else ""),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def pod(
    namespace: str,
    name: str,
    node: str | None,
    sa: str | None,
    labels: dict[str, str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "example.com/c:1"}]}
    if node:
        spec["nodeName"] = node
    if sa:
        spec["serviceAccountName"] = sa
    if volumes:
        spec["volumes"] = volumes
    meta = _meta(name, namespace, labels=labels or {"app": name})
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@dataclass
class World:
    """The objects of one scenario, named under its prefix, and what the requests can aim at."""

    d: Draw
    prefix: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    actors: dict[str, Actor] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)  # nodes that exist
    pods: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    gate_off: bool = False

    @property
    def ns(self) -> str:
        return self.prefix

    @property
    def ns2(self) -> str:
        return f"{self.prefix}-b"

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def add(self, *objs: dict[str, Any]) -> None:
        self.objects.extend(objs)

    def namespace(self, name: str) -> None:
        self.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def node(self, name: str, labels: dict[str, str] | None = None) -> None:
        node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        if labels:
            node["metadata"]["labels"] = labels
        self.add(node)
        self.nodes.append(name)

    def service_account(self, namespace: str, name: str) -> None:
        self.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace)})

    def pod(self, namespace: str, name: str, node: str | None, sa: str | None, **kw: Any) -> None:
        self.add(pod(namespace, name, node, sa, **kw))
        self.pods[name] = (namespace, node, sa)

    def configmap(self, namespace: str, name: str, labels: dict[str, str] | None = None) -> None:
        self.add(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(name, namespace, labels=labels or {"app": name}),
                "data": {"k": "v"},
            }
        )

    def secret(self, namespace: str, name: str) -> None:
        self.add(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(name, namespace),
                "stringData": {"k": "v"},
            }
        )

    def grant(
        self,
        name: str,
        rules: list[dict[str, Any]],
        subjects: list[dict[str, Any]],
        namespace: str = "",
    ) -> None:
        """A (Cluster)Role and its binding; a Role when ``namespace`` is given."""
        if not rules:
            return
        if namespace:
            self.add(
                role("Role", name, rules, namespace),
                binding("RoleBinding", name, "Role", name, subjects, namespace),
            )
        else:
            self.add(
                role("ClusterRole", name, rules),
                binding("ClusterRoleBinding", name, "ClusterRole", name, subjects),
            )


def user_subject(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group_subject(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def sa_subject(namespace: str, name: str) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Req:
    """One request and the authorization attributes kube derives from it."""

    verb: str
    method: str
    path: str
    group: str = ""
    resource: str = ""  # with "/<subresource>"
    namespace: str = ""
    name: str = ""
    body: Any = None
    content_type: str = "application/json"
    watch: bool = False
    nonresource: bool = False
    label: str = ""

    def step(self, actor: str, headers: Sequence[tuple[str, str]], label: str = "") -> Step:
        return Step(
            label=label or self.label or f"{self.verb} {self.resource or self.path}",
            actor=actor,
            method=self.method,
            path=self.path,
            headers=tuple(headers),
            body=self.body,
            content_type=self.content_type,
            watch=self.watch,
        )


def _core(namespace: str, resource: str, name: str = "", sub: str = "") -> str:
    path = "/api/v1"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{resource}"
    if name:
        path += "/" + quote(name, safe="")
    if sub:
        path += f"/{sub}"
    return path


def _group_path(group: str, namespace: str, resource: str, name: str = "") -> str:
    path = f"/apis/{group}/v1"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{resource}"
    if name:
        path += "/" + quote(name, safe="")
    return path


def _query(**params: str) -> str:
    parts = [f"{k}={quote(v, safe='')}" for k, v in params.items() if v]
    return ("?" + "&".join(parts)) if parts else ""


def configmap_body(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, namespace, labels={"app": name}),
        "data": {"k": "v"},
    }


def token_request(
    audiences: Sequence[str] = (),
    expiration: int | None = 3600,
    bound: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if expiration is not None:
        spec["expirationSeconds"] = expiration
    if audiences:
        spec["audiences"] = list(audiences)
    if bound is not None:
        spec["boundObjectRef"] = bound
    return {"apiVersion": f"{AUTHN}/v1", "kind": "TokenRequest", "spec": spec}


OTHER_UID = "00000000-0000-0000-0000-00000000000a"


def delete_pod(d: Draw, ns: str, name: str) -> Req:
    """DELETE of a pod: plainly (a pod on a node then stays, terminating), with grace 0 as
    ``kubectl delete --force --grace-period=0`` sends it, a shorter grace in DeleteOptions,
    preconditions that hold or not, or as a dry run."""
    variant = d.weighted(
        {"plain": 3, "grace0": 1, "grace5": 1, "uid": 0.7, "baduid": 0.7, "dry": 0.7, "neg": 0.3}
    )
    path, body = _core(ns, "pods", name), None
    if variant == "grace0":
        path += "?gracePeriodSeconds=0"
    elif variant == "neg":
        path += "?gracePeriodSeconds=-3"
    elif variant == "dry":
        path += "?dryRun=All"
    elif variant == "grace5":
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 5}
    elif variant in ("uid", "baduid"):
        uid: Any = Ref("uid", path=_core(ns, "pods", name)) if variant == "uid" else OTHER_UID
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    return Req(
        "delete",
        "DELETE",
        path,
        "",
        "pods",
        ns,
        name,
        body=body,
        label=f"delete pod {name} ({variant})",
    )


def evict_pod(d: Draw, ns: str, name: str) -> Req:
    """An eviction: plain, without a name, with a precondition that fails, grace 0, dry run."""
    variant = d.weighted({"plain": 4, "nameless": 0.5, "baduid": 0.2, "grace0": 0.5, "dry": 0.5})
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": _meta(name, ns),
    }
    if variant == "nameless":
        del body["metadata"]
    elif variant == "baduid":
        body["deleteOptions"] = {"preconditions": {"uid": OTHER_UID}}
    elif variant == "grace0":
        body["deleteOptions"] = {"gracePeriodSeconds": 0}
    elif variant == "dry":
        body["deleteOptions"] = {"dryRun": ["All"]}
    return Req(
        "create",
        "POST",
        _core(ns, "pods", name, "eviction"),
        "",
        "pods/eviction",
        ns,
        name,
        body=body,
        label=f"evict {name} ({variant})",
    )


def field_selector(d: Draw, w: World) -> str:
    node = d.pick([*w.nodes, w.name("ghost")]) if w.nodes else w.name("ghost")
    return d.weighted(
        {
            "": 3,
            f"spec.nodeName={node}": 4,
            f"spec.nodeName=={node}": 1,
            f"spec.nodeName!={node}": 1,
            f"metadata.name={d.pick(list(w.pods) or ['x'])}": 1,
            f"spec.nodeName={node},metadata.namespace={w.ns}": 1,
            "spec.nodeName": 0.5,  # not a selector: 400 once authorized
        }
    )


def label_selector(d: Draw, w: World) -> str:
    return d.weighted(
        {
            "": 5,
            f"app={w.name('x')}": 1,
            "app in (a,b)": 1,
            "!app": 0.5,
            # Invalid: each answers 400 with the parser's own words.
            "app=a b": 0.3,
            "app=x,": 0.1,
            "=x": 0.1,
            "app x y": 0.1,
            "tier>": 0.1,
            "app in (x": 0.1,
        }
    )


def requests(d: Draw, w: World, k: int) -> list[Req]:
    """``k`` requests aimed at the world's objects (and a few at nothing)."""
    return [_request(d, w) for _ in range(k)]


def _request(d: Draw, w: World) -> Req:
    ns = d.weighted({w.ns: 8, w.ns2: 1, w.name("missing"): 1, "kube-system": 0.5})
    pods = [p for p, (pns, _, _) in w.pods.items() if pns == ns] or [w.name("nopod")]
    pod_name = d.pick([*pods, w.name("nopod")])
    node = d.pick([*w.nodes, w.name("ghost")]) if w.nodes else w.name("ghost")
    kind = d.weighted(
        {
            "get-pod": 6,
            "list-pods": 6,
            "list-all-pods": 6,
            "watch-pods": 3,
            "watch-path": 2,
            "pod-status": 2,
            "eviction": 1,
            "delete-pod": 1.5,
            "get-node": 3,
            "list-nodes": 2,
            "node-status": 1,
            "get-cm": 4,
            "list-cm": 3,
            "create-cm": 4,
            "update-cm": 2,
            "patch-cm": 2,
            "delete-cm": 2,
            "deletecollection-cm": 1,
            "get-secret": 2,
            "get-sa": 1,
            "sa-token": 2,
            "ssr": 2,
            "ssar": 2,
            "daemonsets": 1,
            "namespace": 1,
            "roles": 1,
            "unknown-resource": 1,
            "unknown-core": 0.7,
            "odd-name": 1,
            "nonresource": 4,
            "api-watch": 0.5,
        }
    )
    if kind == "get-pod":
        return Req("get", "GET", _core(ns, "pods", pod_name), "", "pods", ns, pod_name)
    if kind == "list-pods":
        q = _query(fieldSelector=field_selector(d, w), labelSelector=label_selector(d, w))
        return Req("list", "GET", _core(ns, "pods") + q, "", "pods", ns)
    if kind == "list-all-pods":
        q = _query(fieldSelector=field_selector(d, w))
        return Req("list", "GET", _core("", "pods") + q, "", "pods")
    if kind == "watch-pods":
        scope = d.pick(["", ns])
        timeout = "1" if d.chance(0.4) else ""  # the server ends it: its events are compared
        q = _query(watch="true", fieldSelector=field_selector(d, w), timeoutSeconds=timeout)
        return Req("watch", "GET", _core(scope, "pods") + q, "", "pods", scope, watch=True)
    if kind == "watch-path":
        # The deprecated /watch/ prefix: kube ignores the selectors for authorization there.
        scope = d.pick(["", ns])
        base = "/api/v1/watch" + (f"/namespaces/{scope}" if scope else "") + "/pods"
        q = _query(fieldSelector=field_selector(d, w))
        return Req("watch", "GET", base + q, "", "pods", scope, watch=True)
    if kind == "pod-status":
        if d.chance(0.5):
            return Req(
                "get", "GET", _core(ns, "pods", pod_name, "status"), "", "pods/status", ns, pod_name
            )
        body = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        return Req(
            "patch",
            "PATCH",
            _core(ns, "pods", pod_name, "status"),
            "",
            "pods/status",
            ns,
            pod_name,
            body=body,
            content_type=MERGE,
        )
    if kind in ("eviction", "delete-pod"):
        if pod_name == w.name("agent-pod"):
            pod_name = w.name("web")  # the requestor's token stays bound to a live pod
        return evict_pod(d, ns, pod_name) if kind == "eviction" else delete_pod(d, ns, pod_name)
    if kind == "get-node":
        return Req("get", "GET", _core("", "nodes", node), "", "nodes", "", node)
    if kind == "list-nodes":
        q = _query(fieldSelector=d.pick(["", f"metadata.name={node}"]))
        return Req("list", "GET", _core("", "nodes") + q, "", "nodes")
    if kind == "node-status":
        return Req("get", "GET", _core("", "nodes", node, "status"), "", "nodes/status", "", node)
    cms = [w.name("cm"), w.name("cm2")]
    if kind == "get-cm":
        name = d.pick([*cms, w.name("nocm")])
        return Req("get", "GET", _core(ns, "configmaps", name), "", "configmaps", ns, name)
    if kind == "list-cm":
        q = _query(labelSelector=label_selector(d, w))
        return Req("list", "GET", _core(ns, "configmaps") + q, "", "configmaps", ns)
    if kind == "create-cm":
        name = w.name(f"new{d.integer(0, 3)}")
        return Req(
            "create",
            "POST",
            _core(ns, "configmaps"),
            "",
            "configmaps",
            ns,
            body=configmap_body(name, ns),
        )
    if kind == "update-cm":
        name = d.pick(cms)
        return Req(
            "update",
            "PUT",
            _core(ns, "configmaps", name),
            "",
            "configmaps",
            ns,
            name,
            body=configmap_body(name, ns),
        )
    if kind == "patch-cm":
        name = d.pick([*cms, w.name("nocm")])
        return Req(
            "patch",
            "PATCH",
            _core(ns, "configmaps", name),
            "",
            "configmaps",
            ns,
            name,
            body={"data": {"patched": "yes"}},
            content_type=MERGE,
        )
    if kind == "delete-cm":
        name = d.pick([*cms, w.name("nocm")])
        return Req("delete", "DELETE", _core(ns, "configmaps", name), "", "configmaps", ns, name)
    if kind == "deletecollection-cm":
        q = _query(labelSelector=f"app={w.name('cm2')}")
        return Req("deletecollection", "DELETE", _core(ns, "configmaps") + q, "", "configmaps", ns)
    if kind == "get-secret":
        name = d.pick([w.name("sec"), w.name("sec2")])
        return Req("get", "GET", _core(ns, "secrets", name), "", "secrets", ns, name)
    sas = [w.name("agent"), w.name("nosa")]
    if kind == "get-sa":
        name = d.pick(sas)
        return Req(
            "get", "GET", _core(ns, "serviceaccounts", name), "", "serviceaccounts", ns, name
        )
    if kind == "sa-token":
        name = d.pick(sas)
        bound = None
        if d.chance(0.6):
            bound = {"kind": "Pod", "apiVersion": "v1", "name": pod_name}
        return Req(
            "create",
            "POST",
            _core(ns, "serviceaccounts", name, "token"),
            "",
            "serviceaccounts/token",
            ns,
            name,
            body=token_request(bound=bound),
        )
    if kind == "ssr":
        return Req(
            "create",
            "POST",
            f"/apis/{AUTHN}/v1/selfsubjectreviews",
            AUTHN,
            "selfsubjectreviews",
            body={"apiVersion": f"{AUTHN}/v1", "kind": "SelfSubjectReview"},
            label="selfsubjectreview",
        )
    if kind == "ssar":
        attrs = {"verb": d.pick(["get", "list", "delete"]), "resource": "pods", "namespace": ns}
        return Req(
            "create",
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs},
            },
        )
    if kind == "daemonsets":
        return Req("list", "GET", _group_path("apps", ns, "daemonsets"), "apps", "daemonsets", ns)
    if kind == "namespace":
        name = d.pick([ns, w.name("missing")])
        return Req("get", "GET", _core("", "namespaces", name), "", "namespaces", "", name)
    if kind == "roles":
        return Req("list", "GET", _group_path(RBAC, ns, "roles"), RBAC, "roles", ns)
    if kind == "unknown-resource":
        return Req(
            "list",
            "GET",
            _group_path("example.com", ns, "widgets"),
            "example.com",
            "widgets",
            ns,
        )
    if kind == "unknown-core":
        # Under /api: kube's go-restful answers a JSON 404 (an unknown group is plain text).
        return Req("list", "GET", _core(ns, "widgets"), "", "widgets", ns)
    if kind == "odd-name":
        name = d.pick(["x&<y>", 'q"u', "a b", "Ü"])
        return Req("get", "GET", _core(ns, "configmaps", name), "", "configmaps", ns, name)
    if kind == "api-watch":
        return Req("get", "GET", "/api/v1/watch", nonresource=False, label="GET /api/v1/watch")
    # Not /healthz, /livez, /readyz or /version: two bootstrap bindings allow them, and kube's
    # RBAC names whichever its cache (a Go map) lists first in the audit reason.
    path = d.pick(
        [
            "/api",
            "/apis",
            "/api/v1",
            "/apis/apps",
            "/openapi/v3",
            w.name("/nope/x&<>"),
            "/",
            "/healthz/nope",
            "/apis/example.com",
            "/openapi/v3/apis/example.com/v1",
        ]
    )
    if not path.startswith("/"):
        path = "/" + path
    return Req("get", "GET", path.replace("<", "%3C").replace(">", "%3E"), nonresource=True)


# --------------------------------------------------------------------------- identities


@dataclass(frozen=True)
class Target:
    """Who to impersonate, as header values (``user`` None: no Impersonate-User line)."""

    user: str | None
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    raw_extra: tuple[tuple[str, str], ...] = ()  # header-name suffix, value (malformed keys)
    case: str = ""  # "lower" or "upper": header names as HTTP/2 or a shouting client send them

    def headers(self) -> list[tuple[str, str]]:
        lines = self._lines()
        if self.case == "lower":
            return [(k.lower(), v) for k, v in lines]
        if self.case == "upper":
            return [(k.upper(), v) for k, v in lines]
        return lines

    def _lines(self) -> list[tuple[str, str]]:
        lines: list[tuple[str, str]] = []
        if self.user is not None:
            lines.append(("Impersonate-User", self.user))
        if self.uid is not None:
            lines.append(("Impersonate-Uid", self.uid))
        lines.extend(("Impersonate-Group", g) for g in self.groups)
        for key, values in self.extra:
            escaped = "".join(
                c if (c.isascii() and (c.isalnum() or c in "!#$&'*+-.^_`|~")) else _pct(c)
                for c in key
            )
            lines.extend((f"Impersonate-Extra-{escaped}", v) for v in values)
        lines.extend((f"Impersonate-Extra-{k}", v) for k, v in self.raw_extra)
        return lines

    @property
    def multi_key(self) -> bool:
        return len(self.extra) > 1

    @property
    def only_user(self) -> bool:
        return self.uid is None and not self.groups and not self.extra and not self.raw_extra

    def mode(self, requestor_node: str | None) -> str:
        """The constrained mode kube would pick (before legacy), or "legacy"."""
        user = self.user or ""
        node = _node_of(user)
        if node is not None:
            if not self.only_user:
                return "legacy"
            return "associated-node" if requestor_node == node else "arbitrary-node"
        if _sa_of(user) is not None:
            return "serviceaccount" if self.only_user else "legacy"
        return "user-info"


def _pct(c: str) -> str:
    return "".join(f"%{b:02X}" for b in c.encode())


def _dns_subdomain(value: str) -> bool:
    import re

    return (
        len(value) <= 253
        and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", value)
        is not None
    )


def _node_of(user: str) -> str | None:
    if not user.startswith("system:node:"):
        return None
    name = user[len("system:node:") :]
    return name if _dns_subdomain(name) else None


def _sa_of(user: str) -> tuple[str, str] | None:
    import re

    if not user.startswith("system:serviceaccount:"):
        return None
    parts = user[len("system:serviceaccount:") :].split(":")
    if len(parts) != 2:
        return None
    if re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", parts[0]) is None or len(parts[0]) > 63:
        return None
    return (parts[0], parts[1]) if _dns_subdomain(parts[1]) else None


def target(d: Draw, w: World, requestor_node: str | None, *, multi_key_ok: bool = True) -> Target:
    node = requestor_node or (w.nodes[0] if w.nodes else w.name("n1"))
    user: str | None = d.weighted(
        {
            w.name("bob"): 6,
            f"system:node:{node}": 5,
            f"system:node:{w.name('n2')}": 2,
            f"system:serviceaccount:{w.ns}:{w.name('agent')}": 3,
            f"system:serviceaccount:{w.ns}:{w.name('other')}": 1,
            f"system:serviceaccount:{w.ns}": 0.5,  # not a service-account name
            "system:node:Node_1": 0.5,  # not a node name
            "system:anonymous": 0.5,
            "system:admin": 0.3,
            w.name("a&<b>") + '"q"': 0.5,
            w.name("ü-ß"): 0.3,
        }
    )
    uid = d.pick([w.name("uid-1"), "", "ÜID"]) if d.chance(0.2) else None
    groups: tuple[str, ...] = ()
    if d.chance(0.3):
        pool = [
            w.name("dev"),
            w.name("ops,qa"),
            "system:authenticated",
            "system:masters",
            "",
            "system:nodes",
            "system:unauthenticated",
            w.name("g3"),
            w.name("g4"),
        ]
        weights = [6, 1, 2, 1, 0.5, 1, 0.5, 2, 2]
        n = d.weighted({1: 5, 2: 3, 3: 1, 4: 1, 5: 1})
        groups = tuple(d.rng.choices(pool, weights=weights, k=n))
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    raw: tuple[tuple[str, str], ...] = ()
    if d.chance(0.2):
        if multi_key_ok and d.chance(0.3):
            # Several keys: kube visits them in Go map order (random), so only keys that
            # pass validation and a grant covering them all give one right answer.
            keys = d.some(
                ["example.com/team", "example.com/scope", "a.b/c/d", "example.com/x"], 2, 3
            )
            extra = tuple((k, tuple(d.some(["v1", "v2", "a,b", "ü"], 1, 2))) for k in keys)
        else:
            key = d.pick(
                [
                    "example.com/team",
                    "example.com/scope",
                    "scopes",
                    "example.com/ü",
                    "a.b/c/d",
                    "Example.com/x",
                ]
            )
            values = tuple(d.some(["v1", "v2", "", "a,b", "ü", "v3", "v4"], 1, 5))
            extra = ((key, values),)
            if d.chance(0.1):
                # A malformed escape: the key stays as sent (and stays the only key).
                extra, raw = (), (("example.com%zz", "v"),)
    if d.chance(0.04):
        user = None  # headers without a user: 400 (or nothing at all)
        # The legacy filter's 400 lists extras in Go map order: one key keeps it one answer.
        extra = extra[:1]
    case = d.weighted({"": 8, "lower": 1, "upper": 1})
    return Target(user, uid, groups, extra, raw, case)


# --------------------------------------------------------------------------- grants


def _rule(
    groups: Sequence[str], resources: Sequence[str], verbs: Sequence[str], names: Sequence[str] = ()
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "apiGroups": list(groups),
        "resources": list(resources),
        "verbs": list(verbs),
    }
    if names:
        rule["resourceNames"] = list(names)
    return rule


def target_rules(d: Draw, t: Target, mode: str) -> list[dict[str, Any]]:
    """The ``impersonate:<mode>`` (or legacy ``impersonate``) rules that fit ``t``."""
    user = t.user or ""
    legacy = mode == "legacy"
    verb = "impersonate" if legacy else f"impersonate:{mode}"
    core = "" if legacy else AUTHN
    rules: list[dict[str, Any]] = []
    sa = _sa_of(user)
    node = _node_of(user)
    names_ok = d.chance(0.3)
    if node is not None and not legacy:
        names = [] if mode == "associated-node" or not names_ok else [d.pick([node, "*", "x"])]
        rules.append(_rule([AUTHN], ["nodes"], [verb], names))
    elif sa is not None:
        names = [d.pick([sa[1], "x"])] if names_ok else []
        rules.append(_rule([core], ["serviceaccounts"], [verb], names))
    else:
        names = [d.pick([user, "x"])] if names_ok else []
        rules.append(_rule([core], ["users"], [verb], names))
    if t.uid:
        rules.append(_rule([AUTHN], ["uids"], [verb]))
    if t.groups:
        names = list(dict.fromkeys(t.groups)) if d.chance(0.3) else []
        if names and d.chance(0.3):
            names.append("*")
        rules.append(_rule([core], ["groups"], [verb], names))
    if t.extra:
        # RBAC: "userextras/*" matches only the literal wildcard check (4+ keys or values),
        # "*/<key>" any resource's <key> subresource, "*" everything.
        style = d.pick(
            ["each", "wild", "subwild"]
            if t.multi_key
            else ["each", "star", "bare", "wild", "subwild"]
        )
        if style == "each":
            resources = [f"userextras/{k}" for k, _ in t.extra]
        elif style == "star":
            resources = ["userextras/*"]
        elif style == "subwild":
            resources = [f"*/{k}" for k, _ in t.extra]
        elif style == "bare":
            resources = ["userextras"]
        else:
            resources = ["*"]
        rules.append(_rule([AUTHN], resources, [verb]))
    return rules


def action_rules(
    d: Draw, reqs: Sequence[Req], mode: str
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """``impersonate-on:<mode>:<verb>`` for the requests: (cluster rules, namespace -> rules)."""
    cluster: list[dict[str, Any]] = []
    namespaced: dict[str, list[dict[str, Any]]] = {}
    for r in reqs:
        verb = f"impersonate-on:{mode}:{r.verb}"
        if r.nonresource:
            cluster.append(
                {"nonResourceURLs": [d.pick([r.path.split("?")[0], "*"])], "verbs": [verb]}
            )
            continue
        if not r.resource:
            continue
        resources = [r.resource]
        if d.chance(0.1):
            resources = ["*"]
        elif "/" in r.resource and d.chance(0.15):
            resources = [r.resource.split("/")[0]]  # the parent does not cover a subresource
        names = [r.name] if (r.name and d.chance(0.15)) else []
        rule = _rule([r.group], resources, [verb], names)
        if r.namespace and d.chance(0.4):
            namespaced.setdefault(r.namespace, []).append(rule)
        else:
            cluster.append(rule)
    return cluster, namespaced


def _other_mode(d: Draw, verb: str) -> str:
    """The same grant for another mode (``impersonate`` becomes a constrained verb)."""
    for mode in MODES:
        if mode in verb:
            return verb.replace(mode, d.pick([m for m in MODES if m != mode]))
    return "impersonate:user-info" if verb == "impersonate" else verb


def _extras_rule(rule: dict[str, Any]) -> bool:
    return any(r == "*" or r.startswith(("userextras", "*/")) for r in rule.get("resources", []))


def perturb(
    d: Draw, rules: list[dict[str, Any]], keep_extras: bool = False
) -> list[dict[str, Any]]:
    """Break a fitting grant in one small way (or not): a missing rule, verb or resource.

    ``keep_extras``: leave the rules on user extras alone (several extra keys are checked in
    Go map order, so a denied one would make kube's answer a coin toss)."""
    if not rules or not d.chance(0.35):
        return rules
    rules = [dict(r) for r in rules]
    candidates = [i for i, r in enumerate(rules) if not (keep_extras and _extras_rule(r))]
    if not candidates:
        return rules
    i = d.pick(candidates)
    how = d.pick(["drop", "mode", "resource", "names"])
    if how == "drop":
        del rules[i]
    elif how == "mode":
        rules[i]["verbs"] = [_other_mode(d, v) for v in rules[i]["verbs"]]
    elif how == "resource" and "resources" in rules[i]:
        rules[i]["resources"] = [r + "x" for r in rules[i]["resources"]]
    elif "resources" in rules[i]:
        rules[i]["resourceNames"] = ["nobody"]
    return rules


# --------------------------------------------------------------------------- requestors


def requestor(
    d: Draw, w: World, kinds: dict[str, float]
) -> tuple[str, dict[str, Any] | None, str | None]:
    """Register the scenario's requestor; returns (actor key, RBAC subject, its node-name).

    An anonymous requestor gets no subject: a grant to ``system:anonymous`` would reach every
    later scenario's anonymous requests."""
    kind = d.weighted(kinds)
    if kind == "anonymous":
        w.actors["requestor"] = Actor("anonymous", "system:anonymous")
        return "requestor", None, None
    if kind == "user":
        name = d.weighted({w.name("alice"): 8, w.name("al&<i>ce"): 1, w.name("ålice"): 1})
        groups = tuple(d.some([w.name("team"), w.name("eng")], 0, 2))
        uid = w.name("uid-a") if d.chance(0.3) else None
        extra = (("example.com/tier", ("gold",)),) if d.chance(0.2) else ()
        w.actors["requestor"] = Actor("user", name, groups, uid, extra)
        subject = user_subject(name) if not groups or d.chance(0.7) else group_subject(groups[0])
        return "requestor", subject, None
    if kind == "node":
        node = w.nodes[0] if w.nodes else w.name("n1")
        w.actors["requestor"] = Actor("user", f"system:node:{node}", ("system:nodes",))
        return "requestor", user_subject(f"system:node:{node}"), node
    # A service account with a token: pod-bound (its node existing or not), node-bound, unbound.
    sa = w.name("agent")
    w.service_account(w.ns, sa)
    binding_kind = d.weighted({"pod": 6, "node": 1.5, "none": 2})
    node_name: str | None = None
    if binding_kind == "pod":
        node_name = (
            d.weighted({(w.nodes[0] if w.nodes else w.name("n1")): 6, w.name("ghost"): 2, "": 1})
            or None
        )
        w.pod(w.ns, w.name("agent-pod"), node_name, sa, volumes=[TOKEN_VOLUME])
        w.actors["requestor"] = Actor("token", sa, namespace=w.ns, pod=w.name("agent-pod"))
    elif binding_kind == "node" and w.nodes:
        node_name = w.nodes[0]
        w.actors["requestor"] = Actor("token", sa, namespace=w.ns, node=node_name)
    else:
        w.actors["requestor"] = Actor("token", sa, namespace=w.ns)
    subject = (
        sa_subject(w.ns, sa) if d.chance(0.85) else group_subject(f"system:serviceaccounts:{w.ns}")
    )
    return "requestor", subject, node_name


def actor_name(w: World, key: str) -> str:
    """The user name an actor authenticates as."""
    actor = w.actors[key]
    if actor.kind == "token":
        return f"system:serviceaccount:{actor.namespace}:{actor.name}"
    return actor.name


def base_world(d: Draw, w: World, *, n1: float = 0.85) -> None:
    w.namespace(w.ns)
    if d.chance(0.3):
        w.namespace(w.ns2)
    if d.chance(n1):
        w.node(w.name("n1"), labels={"kubernetes.io/hostname": w.name("n1")})
    w.node(w.name("n2"))
    n1_name = w.name("n1")
    w.pod(w.ns, w.name("web"), n1_name, None, labels={"app": w.name("x")})
    if d.chance(0.5):
        w.pod(w.ns, w.name("db"), w.name("n2"), None)
    w.configmap(w.ns, w.name("cm"))
    w.configmap(w.ns, w.name("cm2"))
    w.secret(w.ns, w.name("sec"))


# --------------------------------------------------------------------------- families


def _impersonate(d: Draw, w: World) -> list[Step]:
    base_world(d, w)
    actor, subject, req_node = requestor(d, w, {"user": 5, "token": 4, "node": 1, "anonymous": 0.3})
    # Gate off, only legacy grants count: several extra keys would be checked in Go map order.
    t = target(d, w, req_node, multi_key_ok=not w.gate_off)
    reqs = requests(d, w, d.weighted({1: 3, 2: 3, 3: 2, 4: 1}))
    fitted = t.mode(req_node)

    def give(name: str, rules: list[dict[str, Any]], namespace: str = "") -> None:
        if subject is not None:
            w.grant(name, rules, [subject], namespace=namespace)

    modes = [fitted]
    if d.chance(0.25):
        modes.append(d.pick([*MODES, "legacy"]))
    if d.chance(0.2) and "legacy" not in modes:
        modes.append("legacy")
    for i, mode in enumerate(modes):
        rules = target_rules(d, t, mode)
        cluster: list[dict[str, Any]] = []
        namespaced: dict[str, list[dict[str, Any]]] = {}
        if mode != "legacy":
            cluster, namespaced = action_rules(d, reqs, mode)
        sa = _sa_of(t.user or "")
        if mode in ("serviceaccount", "legacy") and sa is not None and d.chance(0.4):
            sa_rules = [r for r in rules if "serviceaccounts" in r.get("resources", [])]
            rules = [r for r in rules if r not in sa_rules]
            namespaced.setdefault(sa[0], []).extend(sa_rules)
        give(w.name(f"imp{i}"), perturb(d, rules + cluster, t.multi_key))
        for j, (ns, ns_rules) in enumerate(sorted(namespaced.items())):
            if ns in (w.ns, w.ns2) and any(
                o["metadata"]["name"] == ns for o in w.objects if o["kind"] == "Namespace"
            ):
                give(w.name(f"imp{i}-{j}"), perturb(d, ns_rules, t.multi_key), ns)
    # A superuser requestor must never act as itself (nor impersonate itself): its grant
    # would allow beside a bootstrap or view binding, and kube names either (map order).
    has_star = d.chance(0.05) and subject is not None and t.user is not None
    has_star = has_star and actor_name(w, actor) != t.user
    if has_star:
        everything = [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ]
        give(w.name("star"), everything)
    if d.chance(0.05) and subject is not None:
        w.add(
            binding(
                "ClusterRoleBinding", w.name("dangling"), "ClusterRole", w.name("gone"), [subject]
            )
        )
    if d.chance(0.5) and t.user and not has_star:
        view = [
            _rule(
                [""],
                ["pods", "configmaps", "nodes", "secrets", "namespaces"],
                ["get", "list", "watch"],
            ),
            _rule(
                [""], ["configmaps"], ["create", "update", "patch", "delete", "deletecollection"]
            ),
        ]
        # Only subjects of this scenario: kube's RBAC visits bindings in cache (map) order, so
        # a second matching binding from another scenario would make its reason a coin toss.
        mine = [g for g in t.groups if g.startswith(w.prefix)]
        who = None
        if mine and d.chance(0.5):
            who = group_subject(mine[0])
        elif t.user.startswith((w.prefix, f"system:node:{w.prefix}")) or (
            _sa_of(t.user) or ("", "")
        )[0].startswith(w.prefix):
            who = user_subject(t.user)
        if who is not None:
            w.grant(w.name("view"), view, [who])
    steps: list[Step] = []
    for i, r in enumerate(reqs):
        tt = t
        if d.chance(0.12):
            tt = target(d, w, req_node, multi_key_ok=False)
            if has_star and (tt.user is None or tt.user == actor_name(w, actor)):
                tt = t
        # Now and then the requestor asks for itself; not with the star grant, which would
        # allow beside a bootstrap binding (kube names either, in map order).
        headers = [] if d.chance(0.05) and not has_star else tt.headers()
        steps.append(r.step(actor, headers, f"{i}: {r.verb} {r.resource or r.path}"))
        if d.chance(0.15):
            steps.append(r.step(actor, headers, f"{i}: again (cached)"))
    if d.chance(0.6):
        ssr = Req(
            "create",
            "POST",
            f"/apis/{AUTHN}/v1/selfsubjectreviews",
            AUTHN,
            "selfsubjectreviews",
            body={"apiVersion": f"{AUTHN}/v1", "kind": "SelfSubjectReview"},
        )
        steps.append(ssr.step(actor, t.headers(), "whoami"))
    return steps


def _rbac_write(d: Draw, w: World) -> list[Step]:
    w.namespace(w.ns)
    writer = w.name("writer")
    w.actors["writer"] = Actor("user", writer, (w.name("team"),))
    pool = [
        _rule([""], ["pods"], ["get", "list"]),
        _rule([""], ["configmaps"], ["get", "create", "delete"]),
        _rule([""], ["secrets"], ["get"]),
        _rule(["apps"], ["daemonsets"], ["list"]),
        _rule([""], ["pods/log"], ["get"]),
    ]
    held = d.some(pool, 0, 3)
    rbac_resources = d.some(["roles", "rolebindings", "clusterroles", "clusterrolebindings"], 1, 4)
    write_verbs = d.some(["create", "update", "patch", "get"], 1, 3)
    writes = [_rule([RBAC], rbac_resources, write_verbs)]
    if d.chance(0.3):
        writes.append(
            _rule(
                [RBAC],
                ["roles", "clusterroles"],
                ["escalate"],
                [w.name("r0")] if d.chance(0.3) else [],
            )
        )
    if d.chance(0.3):
        writes.append(
            _rule(
                [RBAC],
                ["roles", "clusterroles"],
                ["bind"],
                [d.pick([w.name("held"), "cluster-admin", w.name("wide")])]
                if d.chance(0.4)
                else [],
            )
        )
    subject = user_subject(writer) if d.chance(0.7) else group_subject(w.name("team"))
    namespaced = d.chance(0.5)
    w.grant(w.name("writer"), writes + held, [subject], namespace=w.ns if namespaced else "")
    if namespaced and d.chance(0.5):
        w.grant(w.name("writer-c"), [_rule([RBAC], ["clusterroles"], ["get"])], [subject])
    w.add(role("Role", w.name("held"), held or [_rule([""], ["pods"], ["get"])], w.ns))
    wide = [_rule([""], ["secrets"], ["get", "list", "delete"]), _rule([""], ["nodes"], ["get"])]
    w.add(role("ClusterRole", w.name("wide"), wide))
    actor = "writer"
    headers: list[tuple[str, str]] = []
    if d.chance(0.25):
        # The writes arrive through a deputy impersonating the writer (user-info).
        deputy = w.name("deputy")
        w.actors["deputy"] = Actor("user", deputy)
        w.grant(
            w.name("deputy"),
            [
                _rule([AUTHN], ["users", "groups"], ["impersonate:user-info"]),
                _rule(
                    [RBAC],
                    ["*"],
                    [f"impersonate-on:user-info:{v}" for v in ("create", "update", "patch")],
                ),
            ],
            [user_subject(deputy)],
        )
        actor = "deputy"
        headers = [("Impersonate-User", writer), ("Impersonate-Group", w.name("team"))]
    steps: list[Step] = []
    for i in range(d.integer(1, 4)):
        what = d.weighted(
            {
                "role": 3,
                "clusterrole": 2,
                "rolebinding": 3,
                "clusterrolebinding": 2,
                "update-role": 1,
            }
        )
        rules = d.some(held or pool, 0, 2)
        if d.chance(0.5):
            rules = [*rules, d.pick(pool)]
        if d.chance(0.1):
            rules = [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]
        name = w.name(f"r{i}")
        if what == "role":
            body = role("Role", name, rules, w.ns)
            path = _group_path(RBAC, w.ns, "roles")
            steps.append(Step(f"create role {i}", actor, "POST", path, tuple(headers), body))
        elif what == "clusterrole":
            body = role("ClusterRole", name, rules)
            path = _group_path(RBAC, "", "clusterroles")
            steps.append(Step(f"create clusterrole {i}", actor, "POST", path, tuple(headers), body))
        elif what == "update-role":
            body = role("Role", w.name("held"), rules, w.ns)
            path = _group_path(RBAC, w.ns, "roles", w.name("held"))
            steps.append(Step(f"update role {i}", actor, "PUT", path, tuple(headers), body))
        else:
            ref_kind, ref_name = d.pick(
                [
                    ("Role", w.name("held")),
                    ("ClusterRole", w.name("wide")),
                    ("ClusterRole", "cluster-admin"),
                    ("ClusterRole", w.name("none")),
                    ("Role", w.name("none")),
                    # Not admin/edit/view: aggregated, they have rules only where a
                    # controller-manager fills them (the reference runs none).
                    ("ClusterRole", "system:basic-user"),
                    ("ClusterRole", "system:discovery"),
                    ("ClusterRole", "system:node-proxier"),
                    ("ClusterRole", "system:aggregate-to-view"),
                ]
            )
            subjects = [user_subject(w.name(d.pick(["carol", "dave"])))]
            if what == "rolebinding":
                body = binding("RoleBinding", name, ref_kind, ref_name, subjects, w.ns)
                path = _group_path(RBAC, w.ns, "rolebindings")
            else:
                if ref_kind == "Role":
                    ref_kind = "ClusterRole"
                body = binding("ClusterRoleBinding", name, ref_kind, ref_name, subjects)
                path = _group_path(RBAC, "", "clusterrolebindings")
            steps.append(
                Step(
                    f"create {what} {i} -> {ref_kind}/{ref_name}",
                    actor,
                    "POST",
                    path,
                    tuple(headers),
                    body,
                )
            )
    return steps


def _node_restriction(d: Draw, w: World) -> list[Step]:
    w.namespace(w.ns)
    n1, n2 = w.name("n1"), w.name("n2")
    w.node(n1, labels={"kubernetes.io/hostname": n1, "example.com/keep": "x"})
    w.node(n2)
    agent = w.name("agent")
    w.service_account(w.ns, agent)
    secret_volume = {"name": "s", "secret": {"secretName": w.name("sec")}}
    w.pod(w.ns, w.name("on1"), n1, agent, volumes=[TOKEN_VOLUME, secret_volume])
    w.pod(w.ns, w.name("on2"), n2, agent, volumes=[TOKEN_VOLUME])
    w.pod(w.ns, w.name("unsched"), None, agent)
    w.secret(w.ns, w.name("sec"))
    w.secret(w.ns, w.name("sec2"))
    w.configmap(w.ns, w.name("cm"))
    how = d.weighted({"node": 5, "arbitrary": 3, "associated": 2})
    headers: list[tuple[str, str]] = []
    actor = "node"
    steps_reqs: list[Req] = []
    # Requests first: the impersonating requestors need action grants fitted to them.
    for _ in range(d.integer(2, 5)):
        steps_reqs.append(_node_request(d, w, n1, n2, keep_on1=how == "associated"))
    if how == "node":
        w.actors["node"] = Actor("user", f"system:node:{n1}", ("system:nodes",))
    else:
        headers = [("Impersonate-User", f"system:node:{n1}")]
        mode = "arbitrary-node" if how == "arbitrary" else "associated-node"
        if how == "arbitrary":
            w.actors["node"] = Actor("user", w.name("imp"))
            subject = user_subject(w.name("imp"))
        else:
            w.actors["node"] = Actor("token", agent, namespace=w.ns, pod=w.name("on1"))
            subject = sa_subject(w.ns, agent)
        cluster, namespaced = action_rules(d, steps_reqs, mode)
        for ns_rules in namespaced.values():
            cluster.extend(ns_rules)
        rules = [_rule([AUTHN], ["nodes"], [f"impersonate:{mode}"]), *cluster]
        w.grant(w.name("imp"), rules, [subject])
    return [
        r.step(actor, headers, f"{i}: {r.label or r.verb + ' ' + r.resource}")
        for i, r in enumerate(steps_reqs)
    ]


def _node_request(d: Draw, w: World, n1: str, n2: str, keep_on1: bool) -> Req:
    ns = w.ns
    kind = d.weighted(
        {
            "token": 5,
            "mirror": 4,
            "ordinary-pod": 1,
            "delete-pod": 2,
            "node-labels": 3,
            "node-taints": 2,
            "create-node": 1,
            "pod-status": 3,
            "eviction": 2,
            "secret": 2,
            "list-pods": 1.5,
            "get-pod": 1,
        }
    )
    if kind == "token":
        agent = d.pick([w.name("agent"), w.name("agent"), w.name("nosa")])
        bound = d.weighted(
            {
                "on1": 4,
                "on2": 2,
                "unsched": 1,
                "none": 1.5,
                "node": 1,
                "node2": 0.5,
                "uid": 1,
                "baduid": 0.5,
                "secret": 0.5,
            }
        )
        ref: dict[str, Any] | None
        if bound in ("on1", "on2", "unsched"):
            ref = {"kind": "Pod", "apiVersion": "v1", "name": w.name(bound)}
        elif bound == "uid":
            ref = {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": w.name("on1"),
                "uid": Ref("uid", path=_core(ns, "pods", w.name("on1"))),
            }
        elif bound == "baduid":
            ref = {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": w.name("on1"),
                "uid": "00000000-0000-0000-0000-000000000000",
            }
        elif bound == "node":
            ref = {"kind": "Node", "apiVersion": "v1", "name": n1}
        elif bound == "node2":
            ref = {"kind": "Node", "apiVersion": "v1", "name": n2}
        elif bound == "secret":
            ref = {"kind": "Secret", "apiVersion": "v1", "name": w.name("sec")}
        else:
            ref = None
        audiences = d.weighted(
            {(): 4, ("https://kubernetes.default.svc.cluster.local",): 1, ("other",): 1}
        )
        return Req(
            "create",
            "POST",
            _core(ns, "serviceaccounts", agent, "token"),
            "",
            "serviceaccounts/token",
            ns,
            agent,
            body=token_request(audiences, 3600, ref),
            label=f"token {bound} {list(audiences)}",
        )
    if kind in ("mirror", "ordinary-pod"):
        node = d.weighted({n1: 4, n2: 1})
        annotations = {MIRROR: "hash"} if kind == "mirror" else None
        body = pod(ns, w.name(f"m{d.integer(0, 9)}"), node, None, annotations=annotations)
        variant = d.weighted(
            {"plain": 3, "owner": 2, "sa": 1, "secret": 1, "token": 1, "badowner": 1}
        )
        if variant == "owner":
            body["metadata"]["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": node,
                    "uid": Ref("uid", path=_core("", "nodes", node)),
                    "controller": True,
                }
            ]
        elif variant == "badowner":
            body["metadata"]["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": node,
                    "uid": "00000000-0000-0000-0000-000000000001",
                    "controller": True,
                }
            ]
        elif variant == "sa":
            body["spec"]["serviceAccountName"] = w.name("agent")
        elif variant == "secret":
            body["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": w.name("sec")}}]
        elif variant == "token":
            body["spec"]["volumes"] = [TOKEN_VOLUME]
        return Req(
            "create",
            "POST",
            _core(ns, "pods"),
            "",
            "pods",
            ns,
            body=body,
            label=f"create {kind} on {node} ({variant})",
        )
    if kind == "delete-pod":
        # A requestor whose token is bound to on1 keeps it: once the pod is gone (grace 0),
        # kube would still accept the token for up to 10 s (its authentication cache), the
        # embedded server not at all.
        name = d.pick([w.name("on2")] if keep_on1 else [w.name("on1"), w.name("on2")])
        return delete_pod(d, ns, name)
    if kind == "get-pod":
        name = d.pick([w.name("on1"), w.name("on2"), w.name("unsched")])
        return Req(
            "get", "GET", _core(ns, "pods", name), "", "pods", ns, name, label=f"get pod {name}"
        )
    if kind in ("node-labels", "node-taints"):
        node = d.weighted({n1: 4, n2: 1})
        if kind == "node-labels":
            key = d.pick(
                [
                    "node-restriction.kubernetes.io/x",
                    "kubernetes.io/hostname",
                    "example.com/free",
                    "node-role.kubernetes.io/worker",
                    "topology.kubernetes.io/zone",
                    "kubelet.kubernetes.io/x",
                    "example.com/keep",
                ]
            )
            value: Any = d.pick(["v", None])
            patch: dict[str, Any] = {"metadata": {"labels": {key: value}}}
            label = f"label {key}={value} on {node}"
        else:
            taints = d.pick([[{"key": "example.com/t", "effect": "NoSchedule"}], []])
            patch = {"spec": {"taints": taints}}
            label = f"taints {taints} on {node}"
        return Req(
            "patch",
            "PATCH",
            _core("", "nodes", node),
            "",
            "nodes",
            "",
            node,
            body=patch,
            content_type=MERGE,
            label=label,
        )
    if kind == "create-node":
        name = d.pick([n1, w.name("n3")])
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        return Req(
            "create",
            "POST",
            _core("", "nodes"),
            "",
            "nodes",
            "",
            body=body,
            label=f"create node {name}",
        )
    if kind == "pod-status":
        name = d.pick([w.name("on1"), w.name("on2")])
        patch = d.pick(
            [
                {"status": {"phase": "Running"}},
                {"metadata": {"labels": {"app": "changed"}}},
                {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            ]
        )
        return Req(
            "patch",
            "PATCH",
            _core(ns, "pods", name, "status"),
            "",
            "pods/status",
            ns,
            name,
            body=patch,
            content_type=MERGE,
            label=f"pod status {name} {list(patch)}",
        )
    if kind == "eviction":
        name = d.pick([w.name("on2")] if keep_on1 else [w.name("on1"), w.name("on2")])
        return evict_pod(d, ns, name)
    if kind == "secret":
        name = d.pick([w.name("sec"), w.name("sec2")])
        return Req(
            "get",
            "GET",
            _core(ns, "secrets", name),
            "",
            "secrets",
            ns,
            name,
            label=f"get secret {name}",
        )
    selector = d.pick([f"spec.nodeName={n1}", f"spec.nodeName={n2}", ""])
    if d.chance(0.4):  # a watch the server ends after a second: its events are compared
        q = _query(watch="true", fieldSelector=selector, timeoutSeconds="1")
        return Req(
            "watch", "GET", _core("", "pods") + q, "", "pods", watch=True, label="watch pods " + q
        )
    q = _query(fieldSelector=selector)
    return Req("list", "GET", _core("", "pods") + q, "", "pods", label="list pods " + q)


def _tokens(d: Draw, w: World) -> list[Step]:
    w.namespace(w.ns)
    n1 = w.name("n1")
    if d.chance(0.7):
        w.node(n1)
    sa, sa2 = w.name("sa"), w.name("sa2")
    w.service_account(w.ns, sa)
    w.service_account(w.ns, sa2)
    w.pod(w.ns, w.name("pod"), n1 if d.chance(0.7) else None, sa)
    w.pod(w.ns, w.name("pod2"), None, sa2)
    w.secret(w.ns, w.name("sec"))
    minter = w.name("minter")
    w.actors["minter"] = Actor("user", minter)
    # A superuser of its own (the harness's admin differs between backends: a static token
    # with uid "admin" on kube, none on the embedded server).
    w.actors["root"] = Actor("user", w.name("root"), ("system:masters",))
    rules = [_rule([""], ["serviceaccounts/token"], ["create"])] if d.chance(0.7) else []
    if d.chance(0.5):
        rules.append(_rule([AUTHN], ["tokenreviews"], ["create"]))
    if rules:
        w.grant(w.name("minter"), rules, [user_subject(minter)])
    steps: list[Step] = []
    issued: list[int] = []
    used: set[int] = set()
    deleted = False
    for i in range(d.integer(2, 5)):
        # kube keeps a successful token authentication 10 s: once a bound pod is gone, only
        # tokens never used before show what the server checks now.
        usable = [k for k in issued if not (deleted and k in used)]
        what = d.weighted(
            {
                "request": 5,
                "review": 3 if usable else 0.5,
                "use": 2 if usable else 0,
                "delete-pod": 0.5 if issued else 0,
            }
        )
        actor = d.weighted({"root": 2, "minter": 1})
        if what == "request":
            target_sa = d.weighted({sa: 6, sa2: 1, w.name("nosa"): 0.5})
            bound_kind = d.weighted(
                {
                    "none": 2,
                    "pod": 4,
                    "pod2": 1,
                    "nopod": 0.5,
                    "node": 1,
                    "nonode": 0.5,
                    "secret": 1,
                    "configmap": 0.5,
                    "noname": 0.3,
                    "v2": 0.3,
                    "uid": 0.5,
                    "baduid": 0.5,
                }
            )
            ref: dict[str, Any] | None = {
                "none": None,
                "pod": {"kind": "Pod", "apiVersion": "v1", "name": w.name("pod")},
                "pod2": {"kind": "Pod", "apiVersion": "v1", "name": w.name("pod2")},
                "nopod": {"kind": "Pod", "apiVersion": "v1", "name": w.name("nopod")},
                "node": {"kind": "Node", "apiVersion": "v1", "name": n1},
                "nonode": {"kind": "Node", "apiVersion": "v1", "name": w.name("nonode")},
                "secret": {"kind": "Secret", "apiVersion": "v1", "name": w.name("sec")},
                "configmap": {"kind": "ConfigMap", "apiVersion": "v1", "name": w.name("sec")},
                "noname": {"kind": "Pod", "apiVersion": "v1"},
                "v2": {"kind": "Pod", "apiVersion": "v2", "name": w.name("pod")},
                "uid": {
                    "kind": "Pod",
                    "apiVersion": "v1",
                    "name": w.name("pod"),
                    "uid": Ref("uid", path=_core(w.ns, "pods", w.name("pod"))),
                },
                "baduid": {
                    "kind": "Pod",
                    "apiVersion": "v1",
                    "name": w.name("pod"),
                    "uid": "00000000-0000-0000-0000-000000000000",
                },
            }[bound_kind]
            expiration = d.weighted({3600: 6, None: 1, 600: 1, 599: 0.5, 1 << 33: 0.5})
            audiences = d.weighted({(): 5, ("api",): 1, ("a", "b"): 1})
            body = token_request(audiences, expiration, ref)
            path = _core(w.ns, "serviceaccounts", target_sa, "token")
            steps.append(
                Step(
                    f"{i}: token {target_sa} {bound_kind} exp={expiration} aud={list(audiences)}",
                    actor,
                    "POST",
                    path,
                    (),
                    body,
                )
            )
            issued.append(len(steps) - 1)
        elif what == "review":
            token: Any = d.pick(["not-a-token", "eyJhbGciOiJub25lIn0.e30.", ""])
            if usable and d.chance(0.8):
                k = d.pick(usable)
                used.add(k)
                token = Ref("token", step=k)
            spec: dict[str, Any] = {"token": token}
            aud = d.weighted(
                {(): 4, ("api",): 1, ("https://kubernetes.default.svc.cluster.local",): 1}
            )
            if aud:
                spec["audiences"] = list(aud)
            body = {"apiVersion": f"{AUTHN}/v1", "kind": "TokenReview", "spec": spec}
            steps.append(
                Step(
                    f"{i}: review aud={list(aud)}",
                    actor,
                    "POST",
                    f"/apis/{AUTHN}/v1/tokenreviews",
                    (),
                    body,
                )
            )
        elif what == "use":
            k = d.pick(usable)
            used.add(k)
            w.actors[f"step{k}"] = Actor("step-token", f"step{k}")
            body = {"apiVersion": f"{AUTHN}/v1", "kind": "SelfSubjectReview"}
            steps.append(
                Step(
                    f"{i}: whoami with the token of step {k}",
                    f"step{k}",
                    "POST",
                    f"/apis/{AUTHN}/v1/selfsubjectreviews",
                    (),
                    body,
                )
            )
        else:
            name = d.pick([w.name("pod"), w.name("pod2")])
            steps.append(
                Step(f"{i}: delete pod {name}", "root", "DELETE", _core(w.ns, "pods", name))
            )
            deleted = True
    return steps


def generate(seed: int, index: int) -> Scenario:
    """Scenario ``index`` of the stream ``seed``."""
    d = Draw(seed, index)
    family = d.weighted({k: float(v) for k, v in FAMILIES.items()})
    w = World(d, f"s{index}", gate_off=family == "gate-off")
    builders: dict[str, Callable[[Draw, World], list[Step]]] = {
        "impersonate": _impersonate,
        "gate-off": _impersonate,
        "rbac-write": _rbac_write,
        "node-restriction": _node_restriction,
        "tokens": _tokens,
    }
    steps = builders[family](d, w)
    return Scenario(
        seed=seed,
        index=index,
        family=family,
        prefix=w.prefix,
        gate_off=family == "gate-off",
        objects=w.objects,
        actors=w.actors,
        steps=steps,
    )
