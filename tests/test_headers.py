"""The header codec: what the SDK sends is exactly what the server reads."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from constrained_impersonation import Identity, InvalidIdentityError
from constrained_impersonation import headers as h


def test_groups_are_one_line_each_and_commas_stay_inside_a_group() -> None:
    ident = Identity("alice", groups=("dev", "ops,qa"))
    lines = h.encode(ident)
    assert lines == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "ops,qa"),
    ]
    assert h.decode(lines) == ident


def test_extra_keys_are_escaped_like_client_go() -> None:
    assert h.escape_extra_key("pandas.io/scopes") == "pandas.io%2Fscopes"
    assert (
        h.escape_extra_key("example.com/escapedᛄscopes") == "example.com%2Fescaped%E1%9B%84scopes"
    )
    assert h.escape_extra_key("100%") == "100%25"


def test_server_lowercases_before_unescaping() -> None:
    parsed = h.parse([("Impersonate-User", "u"), ("IMPERSONATE-EXTRA-%46oo%2Fbar", "v")])
    assert parsed is not None
    assert dict(parsed.extra) == {"Foo/bar": ("v",)}


def test_malformed_escape_keeps_whole_key_undecoded() -> None:
    parsed = h.parse([("Impersonate-User", "u"), ("Impersonate-Extra-a%2Fb%zz", "v")])
    assert parsed is not None
    assert list(parsed.extra) == ["a%2fb%zz"]


def test_plus_is_not_a_space() -> None:
    assert h.unescape_extra_key("a+b%20c") == "a+b c"


def test_no_user_with_other_headers_is_a_bad_request() -> None:
    with pytest.raises(h.BadImpersonationRequest, match="without impersonating a user"):
        h.parse([("Impersonate-Group", "")])
    with pytest.raises(h.BadImpersonationRequest):
        h.parse([("Impersonate-Uid", "1234")])
    assert h.parse([("Impersonate-User", "")]) is None
    assert h.parse([("Impersonate-Uid", "")]) is None


def test_first_user_and_uid_win() -> None:
    parsed = h.parse(
        [
            ("Impersonate-User", "a"),
            ("impersonate-user", "b"),
            ("Impersonate-Uid", "1"),
            ("Impersonate-Uid", "2"),
        ]
    )
    assert parsed is not None and parsed.user == "a" and parsed.uid == "1"


@pytest.mark.parametrize(
    ("ident", "field"),
    [
        (Identity("alice\r\nImpersonate-Group: system:masters"), "user"),
        (Identity("alice", groups=("ok", "bad\n")), "groups"),
        (Identity("alice", uid="x\x00"), "uid"),
        (Identity("alice", extra={"example.com/k": ["v\r"]}), "extra['example.com/k']"),
        (Identity(" alice"), "user"),
        (Identity("alice", extra={"Example.com/k": ["v"]}), "extra key"),
    ],
)
def test_unsendable_values_are_refused_naming_the_field(ident: Identity, field: str) -> None:
    with pytest.raises(InvalidIdentityError) as err:
        h.check_sendable(ident)
    assert err.value.field == field


@pytest.mark.parametrize(
    "ident",
    [
        Identity("alice", groups=("",)),
        Identity("alice", groups=("system:masters",)),
        Identity("alice", extra={"scopes": ["view"]}),
        Identity("alice", extra={"example.com/scopes": [""]}),
        Identity("system:node:n1", groups=("g",)),
        Identity("system:serviceaccount:ns:sa", uid="u"),
        Identity("system:serviceaccount:ns:sa", extra={"example.com/a": ["b"]}),
    ],
)
def test_constrained_refuses_what_only_legacy_accepts(ident: Identity) -> None:
    h.check_sendable(ident)  # sendable...
    with pytest.raises(InvalidIdentityError):
        h.check_constrained(ident)  # ...but would leave constrained impersonation


_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    min_size=1,
    max_size=20,
)
_key = st.text(
    st.sampled_from(string.ascii_lowercase + string.digits + "/.-_%~ ᛄé"), min_size=1, max_size=20
)


@given(
    user=_text,
    uid=st.none() | _text,
    groups=st.lists(st.text(max_size=10), max_size=5),
    extra=st.dictionaries(_key, st.lists(st.text(max_size=10), min_size=1, max_size=3), max_size=4),
)
def test_round_trip_for_everything_the_codec_accepts(
    user: str, uid: str | None, groups: list[str], extra: dict[str, list[str]]
) -> None:
    ident = Identity(user, uid, tuple(groups), extra)
    try:
        h.check_sendable(ident)
    except InvalidIdentityError:
        return
    # What goes on the wire is bytes: UTF-8 values, ASCII names; the server decodes UTF-8.
    wire = [
        (name.encode("ascii").decode("ascii"), value.encode("utf-8").decode("utf-8"))
        for name, value in h.encode(ident)
    ]
    assert h.decode(wire) == ident
