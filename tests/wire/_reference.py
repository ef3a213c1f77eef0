"""What the wire-reference tests share: a raw capture server, the probe, line extraction and
the identity strategies.

The capture server keeps each request's header block exactly as it arrived on the socket
(HTTP/1.1; over TLS when kubectl needs it: kubectl sends no bearer token over plain HTTP, and
Python's TLS server offers no ALPN, so Go stays on HTTP/1.1 there too).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import string
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import strategies as st

from constrained_impersonation import headers as h
from constrained_impersonation.identity import Identity
from constrained_impersonation.testing._assets import KubeBinariesNotFound, find_assets

Line = tuple[bytes, bytes]

POD_LIST = json.dumps(
    {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
).encode()


class RawCapture:
    """A loopback server that records every request's header lines as raw bytes.

    One request per connection; every request is answered 200 with an empty ``PodList``.
    """

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.heads: list[bytes] = []
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self._context else 'http'}://127.0.0.1:{self.port}"

    def take(self) -> list[bytes]:
        """The header blocks recorded since the last call (request line first)."""
        with self._lock:
            heads, self.heads = self.heads, []
        return heads

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> RawCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            conn.settimeout(10)
            if self._context is not None:
                conn = self._context.wrap_socket(raw, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            with self._lock:
                self.heads.append(data.partition(b"\r\n\r\n")[0])
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(POD_LIST), POD_LIST)
            )
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def impersonation_lines(head: bytes) -> list[Line]:
    """``Impersonate-*`` lines of a header block, in arrival order, as (name, value) bytes.

    Both Go and Python's http.client write ``name: value``; the one space is not the value's.
    """
    lines: list[Line] = []
    for line in head.split(b"\r\n")[1:]:
        name, _, rest = line.partition(b":")
        if name.lower().startswith(b"impersonate-"):
            assert rest.startswith(b" "), line
            lines.append((name, rest[1:]))
    return lines


def by_name(lines: Sequence[Line]) -> list[Line]:
    """Lines stably sorted by name: the order Go's net/http writes them in.

    A stable sort keeps the order of the values within each name, the only order a server
    reads (kube-apiserver collects lines into a map of name -> values in arrival order).
    """
    return sorted(lines, key=lambda line: line[0])


def encoded(lines: Sequence[tuple[str, str]]) -> list[Line]:
    """Text lines (``headers.encode``) as the bytes that go on the wire."""
    return [(name.encode("ascii"), value.encode("utf-8")) for name, value in lines]


def as_json(identity: Identity) -> dict[str, Any]:
    """An identity as the probe reads it (``rest.ImpersonationConfig``)."""
    return {
        "user": identity.user,
        "uid": identity.uid or "",
        "groups": list(identity.groups),
        "extra": {key: list(values) for key, values in identity.extra.items()},
    }


def raw_json(
    user: str,
    uid: str = "",
    groups: Sequence[str] = (),
    extra: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """An identity for the probe that the SDK's ``Identity`` need not accept."""
    return {
        "user": user,
        "uid": uid,
        "groups": list(groups),
        "extra": {k: list(v) for k, v in (extra or {}).items()},
    }


# --------------------------------------------------------------------------- binaries


def kube_binary(name: str) -> Path | None:
    """A program ``make kube`` builds beside kube-apiserver, if it is there."""
    try:
        directory = find_assets().directory
    except KubeBinariesNotFound:
        return None
    path = directory / name
    return path if os.access(path, os.X_OK) else None


def require_kube_pass(backend: str, binary: str) -> Path:
    """The binary, in the ``--apiserver=kube`` pass only (where ``make`` has built it)."""
    if backend != "kube":
        pytest.skip(f"compares against {binary} (v1.37.2): runs with --apiserver=kube")
    path = kube_binary(binary)
    if path is None:
        pytest.skip(f"{binary} not built: run `make kube`")
    return path


class Probe:
    """``impersonation-probe`` kept running: one JSON identity in, one JSON answer out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._proc = subprocess.Popen(
            [str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout

    def capture(self, identity: Mapping[str, Any]) -> list[Line] | str:
        """client-go's ``Impersonate-*`` lines for ``identity``, or its error text."""
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(identity) + "\n")
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise RuntimeError(f"impersonation-probe exited ({self._proc.poll()})")
        result = json.loads(answer)
        if "error" in result:
            return str(result["error"])
        return [(base64.b64decode(n), base64.b64decode(v)) for n, v in result["impersonate"]]

    def close(self) -> None:
        stdin, _ = self._pipes()
        stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@contextlib.contextmanager
def running_probe(path: Path) -> Iterator[Probe]:
    probe = Probe(path)
    try:
        yield probe
    finally:
        probe.close()


def review_through_client_go(
    probe: Path, server: Any, token: str, identity: Mapping[str, Any]
) -> tuple[int, str, Any]:
    """POST a SelfSubjectReview through client-go's transport: (status, protocol, body).

    The status is 0 and the body client-go's error text when client-go sent nothing.
    """
    result = subprocess.run(
        [str(probe), f"--url={server.url}", f"--token={token}", f"--ca-file={server.ca_file}"],
        input=json.dumps(identity),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(result.stdout)
    if "error" in answer:
        return 0, "", answer["error"]
    return int(answer["status"]), str(answer["proto"]), answer["body"]


# --------------------------------------------------------------------------- identities

# Recorded with impersonation-probe (client-go v0.37.2); checked again by the probe tests.
PINNED: list[tuple[Identity, list[Line]]] = [
    (
        Identity(
            "jürgen",
            "u-1",
            ("dev", "ops,qa", "100%"),
            {
                "example.com/scopes": ("view", "edit"),
                "example.com/key%x": ("a b",),
                "authentication.kubernetes.io/credential-id": ("JTI=1",),
                "example.com/team:role=x": ("東京",),
            },
        ),
        [
            (b"Impersonate-Extra-Authentication.kubernetes.io%2fcredential-Id", b"JTI=1"),
            (b"Impersonate-Extra-Example.com%2fkey%25x", b"a b"),
            (b"Impersonate-Extra-Example.com%2fscopes", b"view"),
            (b"Impersonate-Extra-Example.com%2fscopes", b"edit"),
            (b"Impersonate-Extra-Example.com%2fteam%3arole%3dx", "東京".encode()),
            (b"Impersonate-Group", b"dev"),
            (b"Impersonate-Group", b"ops,qa"),
            (b"Impersonate-Group", b"100%"),
            (b"Impersonate-Uid", b"u-1"),
            (b"Impersonate-User", "jürgen".encode()),
        ],
    ),
    # An empty uid is not sent, by client-go nor by the SDK.
    (Identity("alice", ""), [(b"Impersonate-User", b"alice")]),
]


TRICKY = [
    "ops,qa",
    "x,y, z",
    "100%",
    "%",
    "%2F",
    "a%zz",
    "a b",
    "a\tb",
    "東京",
    "jürgen",
    "😀",
    "\u00a0nbsp\u00a0",
    "\ufeffbom",
    "line\u2028sep",
    "\u0085nel",
    ",",
]
#: Everything HTTP/1.1 carries in a value: no control character but tab, no lone surrogate.
SENDABLE_CHARS = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t")
#: What PyYAML and Go's YAML reader both take verbatim inside a quoted kubeconfig string
#: (no control, format or line-separator characters: YAML folds or refuses some of them).
YAML_CHARS = st.characters(categories=("L", "M", "N", "P", "S", "Zs", "Co"))
YAML_TRICKY = [t for t in TRICKY if not any(ord(c) in (0x85, 0xFEFF, 0x2028) for c in t)]


def values(chars: st.SearchStrategy[str], tricky: Sequence[str] = TRICKY) -> Any:
    """Non-empty values without surrounding whitespace (what the SDK can send)."""
    return (
        (st.sampled_from(list(tricky)) | st.text(chars, min_size=1, max_size=16))
        .map(lambda s: s.strip(" \t"))
        .filter(bool)
    )


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_path_chars = "".join(sorted(set(h.DOMAIN_PATH_CHARS) - set(string.ascii_uppercase)))
#: Extra keys constrained impersonation accepts: lower-case domain-prefixed paths, '%' too.
EXTRA_KEYS = st.sampled_from(
    [
        "example.com/key%x",
        "example.com/a%2fb",
        "example.com/scopes",
        "authentication.kubernetes.io/credential-id",
        "example.com/team:role=x",
        "x.y/~!$&'()*+,;=:%",
    ]
) | st.builds(
    lambda labels, path: ".".join(labels) + "/" + path,
    st.lists(_label, min_size=1, max_size=3),
    st.text(st.sampled_from(_path_chars), min_size=1, max_size=16),
)


def sdk_identities(value: Any, *, max_groups: int = 60) -> Any:
    """Identities a ``UserSession`` accepts: unicode, commas, ``%``, escaped extra keys, many
    groups or none, empty extras."""

    @st.composite
    def build(draw: st.DrawFn) -> Identity:
        user = draw(value.filter(lambda u: not u.startswith("system:")))
        uid = draw(st.none() | value)
        group = value.filter(lambda g: g != "system:masters")
        groups = draw(
            st.lists(group, max_size=5) | st.lists(group, min_size=20, max_size=max_groups)
        )
        extra = draw(
            st.dictionaries(EXTRA_KEYS, st.lists(value, min_size=1, max_size=4), max_size=5)
        )
        return Identity(user, uid, tuple(groups), {k: tuple(v) for k, v in extra.items()})

    return build()
