"""Paths outside the resource APIs as kube-apiserver 1.37.2 answers them: ``/`` lists the
served paths, a path under a served API that nothing answers is a 404 Status, and any other
path is Go's plain-text ``404 page not found`` (after authentication and authorization).

Run against both backends.
"""

from __future__ import annotations

from typing import Any

import pytest

PLAIN_404 = "404 page not found\n"
STATUS_404 = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server could not find the requested resource",
    "reason": "NotFound",
    "details": {},
    "code": 404,
}


@pytest.mark.parametrize(
    "path",
    [
        "/foo",
        "/apis/foo",
        "/apis/foo/",
        "/apis/foo/v1",
        "/apis/foo/v1/namespaces/default/widgets",
        "/healthz/foo",
        "/livez/no-such-check",
        "/metrics/x",
        "/openapi/v9",
        "/openapi/v2/x",
    ],
)
def test_a_path_nothing_serves_is_plain_text(apiserver: Any, path: str) -> None:
    assert apiserver.request("GET", path) == (404, PLAIN_404)


@pytest.mark.parametrize("path", ["/api/v1/foos", "/api/v2", "/apis/apps/v9", "/version/x"])
def test_a_path_under_a_served_api_is_a_status(apiserver: Any, path: str) -> None:
    assert apiserver.request("GET", path) == (404, STATUS_404)


def test_health_checks_by_name(apiserver: Any) -> None:
    for path in ("/healthz/ping", "/livez/log", "/readyz/ping", "/readyz/shutdown"):
        assert apiserver.request("GET", path) == (200, "ok"), path


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_root_lists_the_served_paths(apiserver: Any, method: str) -> None:
    status, body = apiserver.request(method, "/")
    assert status == 200, body
    paths = body["paths"]
    assert paths == sorted(paths)
    for path in (
        "/api",
        "/api/v1",
        "/apis",
        "/apis/",
        "/apis/apps",
        "/apis/apps/v1",
        "/apis/rbac.authorization.k8s.io/v1",
        "/healthz",
        "/healthz/ping",
        "/livez",
        "/readyz",
        "/metrics",
        "/openapi/v2",
        "/openapi/v3",
        "/openapi/v3/",
        "/version",
    ):
        assert path in paths
    assert "/" not in paths and "/api/" not in paths


def test_root_and_unserved_paths_are_authorized_first(apiserver: Any) -> None:
    token = apiserver.add_user("nobody")
    for path in ("/", "/foo"):
        status, body = apiserver.request("GET", path, token=token)
        assert status == 403, body
        assert body["message"] == f'forbidden: User "nobody" cannot get path "{path}"'
        assert body["details"] == {}


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "application/json"),
        ("/openapi/v3", "text/plain; charset=utf-8"),  # kube-openapi sets none: Go sniffs
        ("/openapi/v3/apis/apps/v1", "application/json"),
        ("/foo", "text/plain; charset=utf-8"),
        ("/api/v1/foos", "application/json"),
    ],
)
def test_content_types(apiserver: Any, path: str, content_type: str) -> None:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=apiserver.ca_file)
    headers = {"Authorization": f"Bearer {apiserver.admin_token}", "Accept": "application/json"}
    request = urllib.request.Request(apiserver.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, context=context) as answer:
            got = answer.headers.get("Content-Type")
    except urllib.error.HTTPError as err:
        got = err.headers.get("Content-Type")
    assert got == content_type


@pytest.mark.parametrize("path", ["/openapi/v3/", "/openapi/v3/apis/foo/v1", "/openapi/v3/x"])
def test_an_unserved_openapi_document_is_an_empty_404(apiserver: Any, path: str) -> None:
    status, body = apiserver.request("GET", path)
    assert status == 404
    assert not body, body
