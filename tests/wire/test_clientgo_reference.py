"""The SDK's impersonation header lines are client-go's, byte for byte (issue 12, item 5).

client-go v0.37.2's own transport (``rest.HTTPClientFor`` with ``rest.Config.Impersonate``)
is run by ``impersonation-probe`` (``hack/kube``, built by ``make kube``), which prints the
lines as they arrive on a socket; the lines of the SDK's sessions (sync on urllib3, asyncio on
aiohttp) are read from a socket the same way.

- Same names, same values, same order of the values within a name. The order *across* names
  differs: Go's net/http writes header names sorted, the SDK writes user, uid, groups, extras.
  No server reads that order: kube-apiserver (Go) collects the lines of a request into a map
  of name -> values in arrival order and reads ``Impersonate-User``/``-Uid`` by name, groups as
  that name's values and extras by iterating the map. The comparison therefore sorts the SDK's
  lines by name with a stable sort (which keeps each name's value order) and then asks for
  identical bytes. (Over HTTP/2 Go lower-cases every name and HPACK-encodes it, so a TLS
  connection to a real server never carries these exact bytes anyway.)
- Where client-go sends what the SDK refuses, the SDK raises ``InvalidIdentityError`` and a
  server with legacy ``impersonate`` rights shows why (SelfSubjectReview through client-go):
  - ``JUSTIFIED``: the server reads another identity (upper-case extra keys arrive lower-cased;
    an empty user means no impersonation at all, or 400 with groups);
  - ``WHITESPACE``: surrounding spaces and tabs are no part of an HTTP/1.1 field value: Go
    trims them before sending and kube-apiserver trims them when reading; only client-go over
    HTTP/2 carries them. The SDK speaks HTTP/1.1 (urllib3, aiohttp), hence the refusal;
  - ``CONSCIOUS``: the server reads what was asked; the SDK's sessions are constrained
    impersonation only, so they refuse what only legacy impersonation accepts (the empty
    group, ``system:masters``, extra keys that are not lower-case domain-prefixed paths, empty
    extra values, a node or service-account target with uid, groups or extras), and they name
    an extra key without values, which client-go silently drops.
  CR, LF, NUL and other control characters are refused by client-go and the SDK alike.

The comparisons need the probe, which ``make`` builds for the ``--apiserver=kube`` pass: they
take the ``apiserver_class`` fixture (so that pass keeps them) and skip in any other pass, or
when the probe is missing. The server checks use the ``apiserver`` fixture and run wherever
the probe exists (both backends). The pinned-bytes test needs neither and runs everywhere.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.aio import client as aclient

import constrained_impersonation as ci
from constrained_impersonation import aio
from constrained_impersonation import headers as h
from constrained_impersonation.errors import InvalidIdentityError
from constrained_impersonation.identity import Identity
from constrained_impersonation.session import session_arguments

from ..sdk._wire import api_client
from ._reference import (
    EXTRA_KEYS,
    PINNED,
    SENDABLE_CHARS,
    Line,
    Probe,
    RawCapture,
    as_json,
    by_name,
    encoded,
    impersonation_lines,
    kube_binary,
    raw_json,
    require_kube_pass,
    review_through_client_go,
    running_probe,
    sdk_identities,
    values,
)

PODS = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"]))


@pytest.fixture(scope="module")
def wire() -> Iterator[RawCapture]:
    with RawCapture() as server:
        yield server


@pytest.fixture(scope="module")
def base(wire: RawCapture) -> Iterator[Any]:
    api = api_client(wire.url)
    yield api
    api.close()


@pytest.fixture(scope="module")
def probe(apiserver_class: Callable[..., Any], apiserver_backend: str) -> Iterator[Probe]:
    """The running probe (``apiserver_class`` keeps its tests in the kube pass)."""
    with running_probe(require_kube_pass(apiserver_backend, "impersonation-probe")) as running:
        yield running


def session_lines(wire: RawCapture, base: Any, identity: Identity) -> list[Line]:
    """What a ``UserSession`` for ``identity`` puts on the socket."""
    wire.take()
    session = ci.UserSession(
        base,
        user=identity.user,
        uid=identity.uid,
        groups=identity.groups,
        extra=identity.extra,
        scope=PODS,
    )
    with session:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    (head,) = wire.take()
    return impersonation_lines(head)


def aio_session_lines(wire: RawCapture, identity: Identity) -> list[Line]:
    """What an asyncio ``UserSession`` (aiohttp) puts on the socket."""

    async def send() -> None:
        base = api_client_aio(wire.url)
        try:
            async with aio.UserSession(
                base,
                user=identity.user,
                uid=identity.uid,
                groups=identity.groups,
                extra=identity.extra,
                scope=PODS,
            ) as session:
                await aclient.CoreV1Api(session.api_client).list_namespaced_pod("default")
        finally:
            await base.close()

    wire.take()
    asyncio.run(send())
    (head,) = wire.take()
    return impersonation_lines(head)


def api_client_aio(url: str) -> Any:
    cfg = aclient.Configuration()
    cfg.host = url
    cfg.api_key["BearerToken"] = "requestor-token"
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(cfg)


# --------------------------------------------------------------------------- pinned bytes


@pytest.mark.parametrize(("identity", "lines"), PINNED, ids=["everything", "empty-uid"])
def test_session_sends_the_bytes_client_go_sent(
    wire: RawCapture, base: Any, identity: Identity, lines: list[Line]
) -> None:
    """Extra header names are spelled as Go spells them (``Example.com%2fscopes``)."""
    assert by_name(session_lines(wire, base, identity)) == lines
    assert by_name(aio_session_lines(wire, identity)) == lines


@pytest.mark.parametrize(("identity", "lines"), PINNED, ids=["everything", "empty-uid"])
def test_pinned_bytes_are_client_gos(probe: Probe, identity: Identity, lines: list[Line]) -> None:
    assert probe.capture(as_json(identity)) == lines


# --------------------------------------------------------------------------- generated

_value = values(SENDABLE_CHARS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identity=sdk_identities(_value))
def test_session_lines_are_client_gos(
    wire: RawCapture, base: Any, probe: Probe, identity: Identity
) -> None:
    ours = session_lines(wire, base, identity)
    assert aio_session_lines(wire, identity) == ours  # aiohttp sends what urllib3 sends
    theirs = probe.capture(as_json(identity))
    assert isinstance(theirs, list), f"client-go refused {identity!r}: {theirs}"
    assert ours == encoded(h.encode(identity))  # the codec's lines, in the codec's order
    assert theirs == by_name(theirs)  # Go writes names sorted ...
    assert by_name(ours) == theirs  # ... and otherwise the very same bytes


# Sendable, but legacy impersonation only: kept in the codec property below.
_legacy_value = _value | st.sampled_from(["", "system:masters"])
_legacy_key = (
    EXTRA_KEYS
    | st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters=string.ascii_uppercase),
        max_size=12,
    )
    | st.sampled_from([" spaced key ", "new\nline", "nul\x00", "", "ünï/cødé", "É/x", "%zz"])
)
# What the SDK must refuse, one flaw at a time.
_BAD_VALUES = [" lead", "trail ", "\tx", "a\r\nImpersonate-Group: system:masters", "nul\x00"]
_BAD_VALUES += ["del\x7f", "bell\x07", " ", ""]
_BAD_KEYS = ["Example.com/Key%x", "A/B", "example.com/Scopes"]


@st.composite
def codec_identities(draw: st.DrawFn) -> Identity:
    """Sendable identities (legacy-only values too), half of them with one flaw added."""
    user = draw(_value)
    uid = draw(st.none() | _value)
    groups = draw(st.lists(_legacy_value, max_size=6))
    extra = draw(st.dictionaries(_legacy_key, st.lists(_legacy_value, min_size=1, max_size=3)))
    flaw = draw(st.sampled_from(["none", "user", "uid", "group", "value", "key", "no-values"]))
    bad = draw(st.sampled_from(_BAD_VALUES))
    if flaw == "user":
        user = bad
    elif flaw == "uid":
        uid = bad or " "
    elif flaw == "group":
        groups.insert(draw(st.integers(0, len(groups))), bad or " ")
    elif flaw == "value":
        extra.setdefault(draw(EXTRA_KEYS), []).append(bad or " ")
    elif flaw == "key":
        extra[draw(st.sampled_from(_BAD_KEYS))] = draw(st.lists(_value, min_size=1, max_size=2))
    elif flaw == "no-values":
        extra[draw(EXTRA_KEYS)] = []
    return Identity(user, uid, tuple(groups), {k: tuple(v) for k, v in extra.items()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identity=codec_identities())
def test_codec_matches_client_go_or_refuses_what_the_server_would_read_otherwise(
    probe: Probe, identity: Identity
) -> None:
    """The codec below the sessions (legacy-only values too): client-go's bytes, or a refusal.

    A refusal is justified when client-go refuses too (CR, LF, NUL, control characters) or
    when kube-apiserver would read what client-go sends over HTTP/1.1 as another identity
    (decoded here by the codec's server half, which reads as kube-apiserver does; the real
    server is asked below).
    """
    theirs = probe.capture(as_json(identity))
    try:
        h.check_sendable(identity)
    except InvalidIdentityError:
        if isinstance(theirs, str):
            assert "invalid header field value" in theirs
            return
        wire = [(n.decode("latin-1"), v.decode("utf-8")) for n, v in theirs]
        try:
            read = h.decode(wire)
        except h.BadImpersonationRequest:
            return  # kube-apiserver answers 400
        assert read != identity, f"refused {identity!r}, which client-go sends faithfully"
        return
    assert isinstance(theirs, list), f"client-go refused {identity!r}: {theirs}"
    assert by_name(encoded(h.encode(identity))) == theirs


def test_client_go_refuses_header_injection_as_the_sdk_does(probe: Probe) -> None:
    for asked, field in (
        (raw_json("alice\r\nImpersonate-Group: system:masters"), "user"),
        (raw_json("alice", groups=["ok", "bad\x01"]), "groups"),
        (raw_json("alice", extra={"example.com/k": ["v\n"]}), "extra['example.com/k']"),
    ):
        theirs = probe.capture(asked)
        assert isinstance(theirs, str) and "invalid header field value" in theirs
        with pytest.raises(InvalidIdentityError) as refused:
            session_arguments(_identity(asked))
        assert refused.value.field == field


# --------------------------------------------------------------------------- the server

IMPERSONATOR = "wire-legacy-impersonator"
LEGACY_RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": IMPERSONATOR},
        "rules": [
            {
                "apiGroups": ["", "authentication.k8s.io"],
                "resources": ["*"],
                "verbs": ["impersonate"],
            }
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": IMPERSONATOR},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": IMPERSONATOR,
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": IMPERSONATOR}
        ],
    },
]


def _identity(asked: dict[str, Any]) -> Identity:
    return Identity(asked["user"], asked["uid"] or None, tuple(asked["groups"]), asked["extra"])


# (asked, the field the SDK names, what the server reads: a status or userInfo fields)
Case = tuple[dict[str, Any], str, int | dict[str, Any]]

# The server reads something other than what was asked, whatever the protocol: the SDK's
# refusal keeps the caller from impersonating someone else by accident.
JUSTIFIED: dict[str, Case] = {
    "upper-case-extra-key": (
        raw_json("alice", extra={"Example.com/Key%x": ["a"]}),
        "extra key",
        {"extra": {"example.com/key%x": ["a"]}},
    ),
    "no-user": (raw_json(""), "user", {"username": IMPERSONATOR}),
    "no-user-with-groups": (raw_json("", groups=["dev"]), "user", 400),
}

# (asked, field, read over HTTP/1.1 (trimmed), read over HTTP/2 (as asked))
Whitespace = tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]

# Surrounding whitespace is no part of an HTTP/1.1 field value: client-go trims it before
# sending and kube-apiserver trims it when reading. Only client-go over HTTP/2 carries it.
# The SDK speaks HTTP/1.1 (urllib3, aiohttp), so it refuses rather than send another name.
WHITESPACE: dict[str, Whitespace] = {
    "user-with-spaces": (
        raw_json(" alice "),
        "user",
        {"username": "alice"},
        {"username": " alice "},
    ),
    "uid-with-space": (raw_json("alice", uid=" u-1"), "uid", {"uid": "u-1"}, {"uid": " u-1"}),
    "group-with-tab": (
        raw_json("alice", groups=["dev\t"]),
        "groups",
        {"groups": ["dev"]},
        {"groups": ["dev\t"]},
    ),
    "extra-value-with-space": (
        raw_json("alice", extra={"example.com/scopes": [" view"]}),
        "extra['example.com/scopes']",
        {"extra": {"example.com/scopes": ["view"]}},
        {"extra": {"example.com/scopes": [" view"]}},
    ),
}

# The server reads what was asked (with legacy rights); the SDK refuses on purpose.
CONSCIOUS: dict[str, Case] = {
    # Constrained impersonation refuses these (docs/semantics.md#validations); a session never falls back on legacy.
    "empty-group": (raw_json("alice", groups=[""]), "groups", {"groups": [""]}),
    "system-masters": (
        raw_json("alice", groups=["system:masters"]),
        "groups",
        {"groups": ["system:masters"]},
    ),
    "extra-key-not-domain-prefixed": (
        raw_json("alice", extra={"scopes": ["view"]}),
        "extra key",
        {"extra": {"scopes": ["view"]}},
    ),
    "extra-key-with-space": (
        raw_json("alice", extra={"example.com/my key": ["v"]}),
        "extra key",
        {"extra": {"example.com/my key": ["v"]}},
    ),
    "empty-extra-value": (
        raw_json("alice", extra={"example.com/scopes": [""]}),
        "extra['example.com/scopes']",
        {"extra": {"example.com/scopes": [""]}},
    ),
    "service-account-with-group": (
        raw_json("system:serviceaccount:ns:sa", groups=["g"]),
        "groups",
        {"username": "system:serviceaccount:ns:sa", "groups": ["g"]},
    ),
    "node-with-uid": (
        raw_json("system:node:n1", uid="u-1"),
        "uid",
        {"username": "system:node:n1", "uid": "u-1"},
    ),
    # client-go drops a key without values; the SDK names it instead of dropping it.
    "extra-key-without-values": (
        raw_json("alice", extra={"example.com/scopes": []}),
        "extra",
        {"username": "alice", "extra": {}},
    ),
}

SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def _reads(user_info: dict[str, Any], expected: dict[str, Any], case: str) -> None:
    for name, value in expected.items():
        got = user_info.get(name, {} if name == "extra" else None)
        if name == "groups":  # the server adds system:authenticated and the like
            assert [g for g in got or () if g in value] == value, (case, user_info)
        else:
            assert got == value, (case, user_info)


def _sdk_refuses(asked: dict[str, Any], field: str, case: str) -> None:
    with pytest.raises(InvalidIdentityError) as refused:
        session_arguments(_identity(asked))
    assert refused.value.field == field, case


@pytest.fixture
def impersonator(apiserver: Any) -> tuple[Any, str]:
    """The server and a token with legacy ``impersonate`` on everything."""
    token = apiserver.add_user(IMPERSONATOR)
    apiserver.apply(*LEGACY_RBAC)
    return apiserver, token


@pytest.fixture
def probe_binary() -> Path:
    path = kube_binary("impersonation-probe")
    if path is None:
        pytest.skip("impersonation-probe not built: run `make kube`")
    return path


def test_what_the_sdk_refuses_the_server_reads_otherwise_or_only_legacy_accepts(
    impersonator: tuple[Any, str], probe_binary: Path
) -> None:
    server, token = impersonator
    for case, (asked, field, expected) in {**JUSTIFIED, **CONSCIOUS}.items():
        _sdk_refuses(asked, field, case)
        status, _, body = review_through_client_go(probe_binary, server, token, asked)
        if isinstance(expected, int):
            assert status == expected, (case, body)
        else:
            assert status == 201, (case, body)
            _reads(body["status"]["userInfo"], expected, case)


def test_surrounding_whitespace_survives_only_http2(
    impersonator: tuple[Any, str], probe_binary: Path, apiserver_backend: str
) -> None:
    server, token = impersonator
    with running_probe(probe_binary) as probe:
        for case, (asked, field, trimmed, untrimmed) in WHITESPACE.items():
            _sdk_refuses(asked, field, case)
            # client-go on HTTP/1.1 trims before sending ...
            sent = probe.capture(asked)
            assert isinstance(sent, list) and sent, (case, sent)
            assert all(value == value.strip(b" \t") for _, value in sent), (case, sent)
            # ... and the server trims what an HTTP/1.1 client sends untrimmed ...
            lines = dict(h.encode(_identity(asked)))
            status, body = server.request(
                "POST", SELF_SUBJECT_REVIEWS, REVIEW, token=token, headers=lines
            )
            assert status == 201, (case, body)
            _reads(body["status"]["userInfo"], trimmed, case)
            # ... while client-go's HTTP/2 carries it (when the server speaks HTTP/2).
            status, proto, body = review_through_client_go(probe_binary, server, token, asked)
            assert status == 201, (case, body)
            if apiserver_backend == "kube":
                assert proto == "HTTP/2.0"
            read = untrimmed if proto == "HTTP/2.0" else trimmed
            _reads(body["status"]["userInfo"], read, case)
