"""Move legacy impersonators to constrained impersonation, from what they were seen doing.

Inputs: the cluster's RBAC (who holds legacy ``impersonate``, through which bindings) and its
audit logs (what each requestor impersonated through legacy: targets, verbs, resources,
namespaces). For every requestor the plan proposes constrained roles covering exactly the
observed impersonations, in the mode the server would pick (docs/semantics.md#which-mode: a bare
node target goes to associated-node when the requestor's token is bound to that node, else
arbitrary-node; a bare service account to serviceaccount; anything else to user-info). Requests that
only legacy can carry (a node or service account with groups, ``system:masters``, invalid extras)
are reported, never silently dropped. The plan shows what the legacy grants allowed that the new
ones do not (``system:masters``, any user, no action limit).

``verify`` replays every observed request against an embedded API server loaded with the
RBAC after migration (legacy bindings of the requestor removed, proposal added) and the gate
on, and probes what only legacy allowed.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..auditlog import AuditSummary, Impersonation, Stats
from ..headers import extra_key_problem
from ..identity import (
    ALL_AUTHENTICATED,
    NODES_GROUP,
    SERVICE_ACCOUNTS_GROUP,
    SYSTEM_MASTERS,
    Identity,
    node_name_of,
    service_account_of,
)
from .objects import Holding, RbacSet
from .policy import (
    AUTHENTICATION_GROUP,
    LEGACY,
    Grant,
    Subject,
    action_verb,
    manifests,
    target_verb,
)
from .scan import Reach, scan

__all__ = [
    "MigrationPlan",
    "Proposal",
    "ReplayResult",
    "client_groups",
    "migrate",
    "migration_mode",
    "verify",
]

DEFAULT_MAX_NAMES = 50


def _implied_groups(target: str) -> frozenset[str]:
    """Groups the server itself gives a node or service-account target in constrained modes."""
    if node_name_of(target) is not None:
        return frozenset({NODES_GROUP, ALL_AUTHENTICATED})
    sa = service_account_of(target)
    if sa is not None:
        return frozenset(
            {SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{sa[0]}", ALL_AUTHENTICATED}
        )
    return frozenset()


def client_groups(key: Impersonation) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(groups the client still sends after migration, groups it must stop sending).

    A legacy client impersonating ``system:node:<n>`` had to send ``Impersonate-Group:
    system:nodes`` itself; constrained node and service-account modes set those groups and
    refuse any group header, so the client drops the groups the server now adds.
    """
    groups = key.requested_groups()
    implied = _implied_groups(key.target)
    dropped = tuple(g for g in groups if g in implied)
    return tuple(g for g in groups if g not in implied), dropped


def migration_mode(key: Impersonation) -> tuple[str, str]:
    """(constrained mode, "") for an observed impersonation, or ("", why it must stay legacy)."""
    groups, _ = client_groups(key)
    node = node_name_of(key.target)
    sa = service_account_of(key.target)
    bare = not key.uid and not groups and not key.extra_keys
    if node is not None or sa is not None:
        if not bare:
            kind = "node" if node is not None else "service account"
            return "", (
                f"a {kind} target with uid/group/extra headers can only be impersonated through "
                f"legacy; send only Impersonate-User (the server sets {kind} groups itself)"
            )
        if node is not None:
            return ("associated-node" if key.node_bound else "arbitrary-node"), ""
        return "serviceaccount", ""
    if SYSTEM_MASTERS in groups:
        return "", (
            "impersonates group system:masters, which constrained impersonation always refuses "
            "(it is cluster-admin): this must not be migrated"
        )
    if "" in groups:
        return "", "impersonates the empty group, which constrained impersonation refuses"
    for extra_key in key.extra_keys:
        problem = extra_key_problem(extra_key)
        if problem is not None:
            return "", f"extra key {extra_key!r} is refused by constrained impersonation: {problem}"
    return "user-info", ""


def _client_notes(key: Impersonation, mode: str) -> list[str]:
    """What the requestor's client must change for ``mode`` to apply, and what changes."""
    notes = []
    _, dropped = client_groups(key)
    if dropped:
        notes.append(
            f"the client must stop sending Impersonate-Group {', '.join(dropped)} for "
            f"{key.target}: in {mode} the server sets the groups itself (and refuses group "
            "headers for node and service-account targets)"
        )
    if node_name_of(key.target) is not None and NODES_GROUP not in key.groups:
        notes.append(
            f"{key.target} now gets group system:nodes (legacy gave only the groups sent), so "
            "the Node authorizer applies to it"
        )
    if mode == "arbitrary-node":
        notes.append(
            f"{key.requestor} impersonates {key.target} without a token bound to that node: "
            "arbitrary-node may impersonate any granted node; a pod-bound token would allow "
            "associated-node (own node only)"
        )
    return notes


@dataclass
class ReplayResult:
    """One replayed request (or legacy-only probe) against the verification server."""

    requestor: str
    target: str
    request: str
    expected: str  # "allowed" | "denied"
    outcome: str  # "allowed" | "denied" | "error"
    mode: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and (
            self.expected == "denied" or self.mode not in ("", LEGACY)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "requestor": self.requestor,
            "target": self.target,
            "request": self.request,
            "expected": self.expected,
            "outcome": self.outcome,
            "mode": self.mode,
            "ok": self.ok,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass
class Proposal:
    """The constrained replacement for one legacy requestor."""

    subject: Subject
    requestor: Identity
    observed: list[tuple[Impersonation, Stats, str]] = field(default_factory=list)
    unmigratable: list[tuple[Impersonation, Stats, str]] = field(default_factory=list)
    legacy_via: list[Holding] = field(default_factory=list)
    legacy_reach: dict[str, Reach] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    binding_changes: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(
        default_factory=list
    )
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def modes(self) -> list[str]:
        return sorted({mode for _, _, mode in self.observed})

    def to_dict(self) -> dict[str, Any]:
        return {
            "requestor": str(self.subject),
            "modes": self.modes,
            "observed": [
                {**k.to_dict(), "count": s.count, "proposedMode": m} for k, s, m in self.observed
            ],
            "unmigratable": [
                {**k.to_dict(), "count": s.count, "reason": why} for k, s, why in self.unmigratable
            ],
            "legacyGrantsVia": [h.via() for h in self.legacy_via],
            "lost": list(self.lost),
            "notes": list(self.notes),
            "manifests": self.manifests,
            "bindingChanges": [
                {"before": before, "after": after} for before, after in self.binding_changes
            ],
        }


@dataclass
class MigrationPlan:
    """Proposals per requestor, legacy holders never seen using it, and verification."""

    proposals: list[Proposal] = field(default_factory=list)
    unused: list[tuple[Subject, list[str]]] = field(default_factory=list)
    verification: list[ReplayResult] | None = None

    def changes(self) -> dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each touched legacy binding once (proposals sharing a binding share its change)."""
        return {_object_key(b): (b, a) for p in self.proposals for b, a in p.binding_changes}

    def manifests(self) -> list[dict[str, Any]]:
        """Every object to apply: new roles and bindings, then the trimmed legacy bindings."""
        out = [m for p in self.proposals for m in p.manifests]
        out.extend(a for _, a in self.changes().values() if a is not None)
        return out

    def deletions(self) -> list[dict[str, Any]]:
        """Legacy bindings whose every subject was migrated (``kubectl delete`` them)."""
        return [b for b, a in self.changes().values() if a is None]

    @property
    def verified(self) -> bool:
        return self.verification is not None and all(r.ok for r in self.verification)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "proposals": [p.to_dict() for p in self.proposals],
            "unusedLegacyGrants": [{"subject": str(s), "via": via} for s, via in self.unused],
            "delete": [
                {"kind": o["kind"], "name": o["metadata"]["name"], **_ns(o)}
                for o in self.deletions()
            ],
        }
        if self.verification is not None:
            out["verification"] = {
                "ok": self.verified,
                "results": [r.to_dict() for r in self.verification],
            }
        return out

    def diff(self) -> str:
        """A readable report: per requestor what changes, what is lost, and a YAML diff."""
        lines: list[str] = []
        for proposal in self.proposals:
            lines.append(f"=== {proposal.subject} ({', '.join(proposal.modes) or 'no mode'})")
            for key, stats, mode in proposal.observed:
                lines.append(
                    f"  observed {stats.count:>6}x  {mode:<15} as {_target_text(key)}: "
                    f"{key.request_text()}"
                )
            for key, stats, why in proposal.unmigratable:
                lines.append(
                    f"  KEEP?    {stats.count:>6}x  legacy only     as {_target_text(key)}: "
                    f"{key.request_text()}: {why}"
                )
            for text in proposal.lost:
                lines.append(f"  lost: {text}")
            for note in proposal.notes:
                lines.append(f"  note: {note}")
            for before, after in proposal.binding_changes:
                kind, namespace, name = _object_key(before)
                where = f"{namespace}/{name}" if namespace else name
                if after is None:
                    lines.append(f"  delete {kind} {where}: every subject is migrated")
                    continue
                lines.extend(
                    difflib.unified_diff(
                        _yaml([before]).splitlines(),
                        _yaml([after]).splitlines(),
                        f"{kind} {where} (current)",
                        f"{kind} {where} (proposed)",
                        lineterm="",
                    )
                )
            if proposal.manifests:
                lines.append(f"--- /dev/null\n+++ {proposal.subject} (new)")
                lines.extend("+" + line for line in _yaml(proposal.manifests).splitlines())
            lines.append("")
        for subject, via in self.unused:
            lines.append(
                f"=== {subject}: holds legacy impersonate ({'; '.join(via)}) but was never seen "
                "using it in these logs: remove the grant"
            )
        if self.verification is not None:
            lines.append("=== verification (embedded API server, gate on, RBAC after migration)")
            for result in self.verification:
                mark = "ok  " if result.ok else "FAIL"
                mode = f" via {result.mode}" if result.mode else ""
                lines.append(
                    f"  {mark} {result.expected:<7} -> {result.outcome}{mode}: "
                    f"{result.requestor} as {result.target}: {result.request}"
                    + (f" ({result.detail})" if result.detail and not result.ok else "")
                )
            failed = sum(not r.ok for r in self.verification)
            lines.append(
                f"  {len(self.verification) - failed}/{len(self.verification)} as expected"
            )
        return "\n".join(lines).rstrip() + "\n"


def _ns(obj: Mapping[str, Any]) -> dict[str, str]:
    namespace = obj.get("metadata", {}).get("namespace")
    return {"namespace": namespace} if namespace else {}


def _yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False) if objects else ""


def _target_text(key: Impersonation) -> str:
    parts = [key.target]
    groups = key.requested_groups()
    if groups:
        parts.append(f"groups={','.join(groups)}")
    if key.uid:
        parts.append(f"uid={key.uid}")
    if key.extra_keys:
        parts.append(f"extra={','.join(key.extra_keys)}")
    return " ".join(parts)


def _requestor_identity(requestor: str, samples: Iterable[Stats]) -> Identity:
    for stats in samples:
        user = stats.sample.get("user") if stats.sample else None
        if isinstance(user, Mapping) and user.get("username") == requestor:
            return Identity.from_user_info(user)
    return Identity(requestor)


def _grants_for(key: Impersonation, mode: str) -> tuple[list[Grant], list[Grant]]:
    """(target grants, action grants) covering one observed impersonation in ``mode``."""
    verb, auth = target_verb(mode), AUTHENTICATION_GROUP
    targets: list[Grant] = []
    if mode == "associated-node":
        targets.append(Grant(verb, auth, "nodes"))
    elif mode == "arbitrary-node":
        targets.append(Grant(verb, auth, "nodes", node_name_of(key.target) or ""))
    elif mode == "serviceaccount":
        namespace, name = service_account_of(key.target) or ("", "")
        targets.append(Grant(verb, auth, "serviceaccounts", name, namespace))
    else:
        targets.append(Grant(verb, auth, "users", key.target))
        if key.uid:
            targets.append(Grant(verb, auth, "uids", key.uid))
        targets.extend(Grant(verb, auth, "groups", g) for g in client_groups(key)[0])
        targets.extend(Grant(verb, auth, f"userextras/{k}") for k in key.extra_keys)
    action = action_verb(mode, key.verb)
    if key.path:
        actions = [Grant(action, path=key.path)]
    else:
        actions = [Grant(action, key.api_group, key.resource, "", key.namespace)]
    return targets, actions


def _generalize(grants: list[Grant], max_names: int, notes: list[str]) -> list[Grant]:
    """Past ``max_names`` distinct names for one verb and resource, grant any name."""
    names: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for grant in grants:
        if grant.resource:
            names[(grant.verb, grant.group, grant.resource, grant.namespace)].add(grant.name)
    wide = {k for k, v in names.items() if len(v) > max_names}
    out: list[Grant] = []
    for grant in grants:
        key = (grant.verb, grant.group, grant.resource, grant.namespace)
        out.append(
            Grant(grant.verb, grant.group, grant.resource, "", grant.namespace)
            if key in wide
            else grant
        )
    for key in sorted(wide):
        notes.append(
            f"{len(names[key])} distinct {key[2]} were seen for {key[0]}: granted on any name "
            "(raise --max-names to list them)"
        )
    return list(dict.fromkeys(out))


def _lost(reach: Mapping[str, Reach], proposal: Proposal) -> list[str]:
    """What the legacy grants allowed that the proposal does not."""
    lost: list[str] = []
    groups = reach.get("groups")
    if groups is not None and groups.covers(SYSTEM_MASTERS):
        lost.append("impersonating group system:masters (cluster-admin): now refused")
    granted_names: dict[str, set[str]] = defaultdict(set)
    for grant in proposal.grants:
        if grant.verb.startswith("impersonate:"):
            granted_names[grant.resource.split("/", 1)[0]].add(grant.name)
    for kind in ("users", "groups", "serviceaccounts", "uids", "userextras"):
        old = reach.get(kind)
        if old is None or not old:
            continue
        new = granted_names.get(kind, set())
        if old.any or old.any_in:
            scope = "any" if old.any else f"any in {', '.join(sorted(old.any_in))}"
            if "" in new:
                continue
            now = f"now only {', '.join(sorted(new))}" if new else "now none"
            lost.append(f"legacy impersonation of {scope} {kind}: {now}")
        else:
            dropped = sorted(old.names - new)
            if dropped:
                lost.append(f"legacy impersonation of {kind} {', '.join(dropped)}: never used")
    if reach:
        lost.append(
            "no action limit: the impersonated identities could do anything they may; now "
            "only the observed verbs and resources (impersonate-on grants)"
        )
    return lost


def _trim_binding(obj: Mapping[str, Any], subjects: set[Subject]) -> dict[str, Any] | None:
    """The binding without ``subjects`` (None when no subject is left)."""
    namespace = str(obj.get("metadata", {}).get("namespace") or "")
    keep = []
    for raw in obj.get("subjects") or ():
        try:
            if Subject.from_dict(raw, namespace) in subjects:
                continue
        except ValueError:
            pass
        keep.append(raw)
    if not keep:
        return None
    trimmed = {k: v for k, v in obj.items() if k != "subjects"}
    trimmed["metadata"] = _clean_metadata(obj.get("metadata") or {})
    trimmed["subjects"] = keep
    return trimmed


def _object_key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _clean_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    drop = {"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"}
    return {k: v for k, v in meta.items() if k not in drop}


def _binding_objects(rbac: RbacSet) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for plural in ("clusterrolebindings", "rolebindings"):
        for obj in rbac.by_plural[plural]:
            out[_object_key(obj)] = obj
    return out


def migrate(
    rbac: RbacSet,
    audit: AuditSummary,
    *,
    max_names: int = DEFAULT_MAX_NAMES,
    name_prefix: str = "cimp:migrated",
) -> MigrationPlan:
    """Propose constrained RBAC for every requestor seen impersonating through legacy."""
    findings = {f.subject: f for f in scan(rbac) if LEGACY in f.reach and not f.superuser}
    holdings = rbac.by_subject()
    bindings = _binding_objects(rbac)
    by_requestor: dict[str, list[tuple[Impersonation, Stats]]] = defaultdict(list)
    for key, stats in sorted(audit.legacy.items()):
        by_requestor[key.requestor].append((key, stats))
    plan = MigrationPlan()
    matched: set[Subject] = set()
    removals: dict[tuple[str, str, str], set[Subject]] = defaultdict(set)
    touched: dict[tuple[str, str, str], list[Proposal]] = defaultdict(list)
    for requestor, observed in sorted(by_requestor.items()):
        identity = _requestor_identity(requestor, (s for _, s in observed))
        subject = Subject.from_user(requestor)
        proposal = Proposal(subject=subject, requestor=identity)
        targets: list[Grant] = []
        actions: list[Grant] = []
        for key, stats in observed:
            mode, why = migration_mode(key)
            if not mode:
                proposal.unmigratable.append((key, stats, why))
                continue
            proposal.observed.append((key, stats, mode))
            proposal.notes.extend(n for n in _client_notes(key, mode) if n not in proposal.notes)
            t, a = _grants_for(key, mode)
            targets += t
            actions += a
        proposal.grants = _generalize(targets, max_names, proposal.notes) + list(
            dict.fromkeys(actions)
        )
        if proposal.grants:
            proposal.manifests = manifests(
                subject, f"{name_prefix}:{subject.slug()}", proposal.grants
            )
        legacy_reach: dict[str, Reach] = {}
        for holder, finding in findings.items():
            if not holder.matches(identity):
                continue
            matched.add(holder)
            for kind, reach in finding.reach[LEGACY].items():
                merged = legacy_reach.setdefault(kind, Reach())
                merged.any |= reach.any
                merged.any_in |= reach.any_in
                merged.names |= reach.names
            legacy_holdings = [h for h in holdings.get(holder, []) if h.via() in finding.via]
            proposal.legacy_via.extend(legacy_holdings)
            for holding in legacy_holdings:
                if holder != subject:
                    proposal.notes.append(
                        f"legacy grant through {holder} ({holding.via()}): remove {requestor} "
                        f"from {holder.name} or narrow that binding; it is not changed here"
                    )
                    continue
                key3 = (holding.binding_kind, holding.namespace, holding.binding_name)
                if key3 in bindings:
                    removals[key3].add(subject)
                    touched[key3].append(proposal)
        if not proposal.legacy_via:
            proposal.notes.append(
                "no legacy impersonate grant for this requestor in the given RBAC (system:masters, "
                "another authorizer, or RBAC not included?)"
            )
        proposal.legacy_reach = legacy_reach
        proposal.lost = _lost(legacy_reach, proposal)
        plan.proposals.append(proposal)
    for key3, subjects in sorted(removals.items()):
        change = (bindings[key3], _trim_binding(bindings[key3], subjects))
        for proposal in {id(p): p for p in touched[key3]}.values():
            proposal.binding_changes.append(change)
    for holder, finding in sorted(findings.items()):
        if holder not in matched:
            plan.unused.append((holder, [v for v in finding.via]))
    return plan


# --------------------------------------------------------------------------- verification

_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}


def _method(key: Impersonation) -> str:
    if key.path:
        return key.verb.upper()
    return _METHODS.get(key.verb, "GET")


def _replay_target(key: Impersonation, stats: Stats) -> Identity:
    sample = stats.sample.get("impersonatedUser") if stats.sample else None
    extra: dict[str, tuple[str, ...]] = {}
    if isinstance(sample, Mapping):
        for k, v in (sample.get("extra") or {}).items():
            extra[str(k)] = tuple(str(x) for x in v or ())
    for k in key.extra_keys:
        extra.setdefault(k, ("replayed",))
    return Identity(key.target, key.uid or None, client_groups(key)[0], extra)


def _request_uri(key: Impersonation, stats: Stats) -> str:
    uri = str(stats.sample.get("requestURI") or "") if stats.sample else ""
    if not uri:
        uri = key.path or "/"
    return uri


def verify(plan: MigrationPlan, rbac: RbacSet, *, timeout: float = 10.0) -> list[ReplayResult]:
    """Replay the plan against an embedded API server (gate on) with the RBAC after migration.

    Every observed request must still be impersonated, through a constrained mode; every
    legacy-only capability the plan reports as lost (``system:masters``, any other user) must
    now be refused. Needs the events' samples (``summarize(..., samples=True)``).
    """
    from ._replay import Replayer

    after = _after_migration(plan, rbac)
    results: list[ReplayResult] = []
    with Replayer(after, timeout=timeout) as replayer:
        for proposal in plan.proposals:
            requestor = proposal.requestor
            for key, stats, _ in proposal.observed:
                target = _replay_target(key, stats)
                results.append(
                    replayer.replay(
                        requestor,
                        target,
                        _method(key),
                        _request_uri(key, stats),
                        expected="allowed",
                        label=key.request_text(),
                    )
                )
            for probe_target, label in _legacy_probes(proposal):
                results.append(
                    replayer.replay(
                        requestor,
                        probe_target,
                        "GET",
                        "/api/v1/namespaces",
                        expected="denied",
                        label=label,
                    )
                )
    plan.verification = results
    return results


def _legacy_probes(proposal: Proposal) -> list[tuple[Identity, str]]:
    """Identities only the legacy grants could impersonate, to prove they are gone."""
    probes: list[tuple[Identity, str]] = []
    reach = proposal.legacy_reach
    observed_users = {key.target for key, _, _ in proposal.observed}
    groups = reach.get("groups")
    if groups is not None and groups.covers(SYSTEM_MASTERS):
        probes.append(
            (
                Identity("cimp-verify-admin", None, (SYSTEM_MASTERS,)),
                "list namespaces as system:masters",
            )
        )
    users = reach.get("users")
    if users is not None and (users.any or users.names - observed_users):
        other = next(iter(sorted(users.names - observed_users)), "cimp-verify-someone-else")
        probes.append((Identity(other), f"list namespaces as unobserved user {other}"))
    sas = reach.get("serviceaccounts")
    if sas is not None and (sas.any or sas.any_in):
        namespace = "kube-system" if sas.any else sorted(sas.any_in)[0]
        target = f"system:serviceaccount:{namespace}:cimp-verify-other"
        if target not in observed_users:
            probes.append((Identity(target), f"list namespaces as unobserved {target}"))
    return probes


def _after_migration(plan: MigrationPlan, rbac: RbacSet) -> list[dict[str, Any]]:
    """The cluster's RBAC after applying the plan: trimmed bindings, deletions, proposals."""
    changes = plan.changes()
    out: list[dict[str, Any]] = []
    for obj in rbac.objects():
        key = _object_key(obj)
        if key in changes:
            after = changes[key][1]
            if after is not None:
                out.append(after)
            continue
        out.append({**obj, "metadata": _clean_metadata(obj.get("metadata") or {})})
    out.extend(m for p in plan.proposals for m in p.manifests)
    return out
