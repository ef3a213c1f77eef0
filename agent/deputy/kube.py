"""The deputy's own connection to the API server: TokenReview and the console websocket.

Both run on aiohttp with the credentials of a ``kubernetes.client.Configuration`` (in-cluster or
kubeconfig), read again for every request so a rotated service-account token is picked up. The
official client cannot carry impersonation headers over a websocket, which is why the console
goes through here with the lines a :class:`~constrained_impersonation.UserSession` prepared.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict

__all__ = [
    "HandshakeRefused",
    "KubeAPI",
    "ReviewUnavailable",
    "ReviewedUser",
    "TokenRejected",
    "keep_refusal_body",
    "ssl_context_for",
]

_log = logging.getLogger("deputy")

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
# A refusal body is a Status of a few hundred bytes; never buffer more than this of one.
MAX_REFUSAL_BODY = 64 * 1024
MAX_MESSAGE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ReviewedUser:
    """Who a token belongs to, as the API server's TokenReview said."""

    username: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    audiences: tuple[str, ...] = ()


class TokenRejected(Exception):
    """The token does not authenticate for the deputy's audiences (the user gets 401)."""


class ReviewUnavailable(Exception):
    """The TokenReview itself failed (API server down, deputy lacks the grant): a 503."""


class HandshakeRefused(Exception):
    """The API server answered the websocket upgrade with an HTTP error (usually a Status)."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(f"websocket upgrade refused with HTTP {status}")
        self.status = status
        self.body = body
        self.content_type = content_type


async def keep_refusal_body(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Client middleware: ``ws_connect`` drops the body of a refused upgrade, and that body is
    the Status whose message says why (e.g. which permission the user lacks)."""
    response = await handler(request)
    if response.status == 101 or request.headers.get("Upgrade", "").lower() != "websocket":
        return response
    try:
        body = b""
        while len(body) < MAX_REFUSAL_BODY:
            chunk = await response.content.read(MAX_REFUSAL_BODY - len(body))
            if not chunk:
                break
            body += chunk
    finally:
        response.close()
    raise HandshakeRefused(response.status, body, response.content_type)


def ssl_context_for(configuration: Any) -> ssl.SSLContext | bool:
    """The TLS settings of a ``kubernetes.client.Configuration``, for aiohttp."""
    if not configuration.verify_ssl:
        _log.warning(
            "TLS verification of the API server is OFF (insecure-skip-tls-verify): user "
            "tokens sent for review could be intercepted"
        )
        return False
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert or None,
        cadata=getattr(configuration, "ca_cert_data", None) or None,
    )
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


class KubeAPI:
    """TokenReview and console connections with the deputy's credentials."""

    def __init__(
        self,
        configuration: Any,
        *,
        audiences: Sequence[str] = (),
        review_timeout: float = 10.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self._configuration = configuration
        self.host = str(configuration.host).rstrip("/")
        self.audiences = tuple(audiences)
        self._ssl = ssl_context_for(configuration)
        self._server_hostname: str | None = getattr(configuration, "tls_server_name", None) or None
        self._review_timeout = aiohttp.ClientTimeout(total=review_timeout)
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            # No total timeout: it would end every console after it; each call bounds itself.
            self._session = aiohttp.ClientSession(
                middlewares=(keep_refusal_body,),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("KubeAPI.start() was not awaited")
        return self._session

    def _credentials(self) -> dict[str, str]:
        """The Authorization header, read now (rotating tokens refresh themselves here)."""
        auth = self._configuration.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            return {"Authorization": str(auth["value"])}
        return {}

    async def review(self, token: str) -> ReviewedUser:
        """Authenticate ``token`` for the configured audiences; :class:`TokenRejected` if it
        does not, :class:`ReviewUnavailable` if the review could not be made."""
        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        try:
            async with self.session.post(
                self.host + TOKEN_REVIEW_PATH,
                json=body,
                headers={**self._credentials(), "Accept": "application/json"},
                ssl=self._ssl,
                server_hostname=self._server_hostname,
                timeout=self._review_timeout,
            ) as response:
                if response.status not in (200, 201):
                    text = (await response.content.read(MAX_REFUSAL_BODY)).decode(errors="replace")
                    raise ReviewUnavailable(f"TokenReview answered HTTP {response.status}: {text}")
                result = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ReviewUnavailable(f"TokenReview failed: {type(exc).__name__}: {exc}") from None
        status = result.get("status") if isinstance(result, dict) else None
        if not isinstance(status, dict):
            raise ReviewUnavailable("TokenReview answered without a status")
        if status.get("authenticated") is not True:
            raise TokenRejected(str(status.get("error") or "not authenticated"))
        audiences = tuple(str(a) for a in status.get("audiences") or ())
        if self.audiences and not set(audiences) & set(self.audiences):
            # A review for specific audiences must say which of them the token is for; an
            # audience-agnostic answer would let tokens minted for another service through.
            raise TokenRejected(f"token audiences {list(audiences)} are not accepted")
        return _reviewed_user(status.get("user"), audiences)

    async def open_console(
        self,
        path: str,
        impersonation: Sequence[tuple[str, str]],
        protocols: Sequence[str],
    ) -> aiohttp.ClientWebSocketResponse:
        """Open the websocket at ``path`` with the impersonation lines, one header each.

        Raises :class:`HandshakeRefused` with the server's Status when it answers with an error.
        """
        headers: CIMultiDict[str] = CIMultiDict(self._credentials())
        for name, value in impersonation:
            headers.add(name, value)
        async with asyncio.timeout(self._connect_timeout):
            return await self.session.ws_connect(
                self.host + path,
                headers=headers,
                protocols=tuple(protocols),
                ssl=self._ssl,
                server_hostname=self._server_hostname,
                heartbeat=30.0,
                max_msg_size=MAX_MESSAGE,
            )


def _reviewed_user(user: Any, audiences: tuple[str, ...]) -> ReviewedUser:
    if not isinstance(user, dict) or not isinstance(user.get("username"), str):
        raise ReviewUnavailable("TokenReview authenticated a token without a user name")
    username = user["username"]
    if not username:
        raise TokenRejected("the token authenticates without a user name")
    uid = user.get("uid")
    groups = user.get("groups") or []
    extra = user.get("extra") or {}
    if not isinstance(groups, list) or not isinstance(extra, dict):
        raise ReviewUnavailable("TokenReview returned malformed groups or extras")
    return ReviewedUser(
        username=username,
        uid=str(uid) if uid else None,
        groups=tuple(str(g) for g in groups),
        extra={
            str(key): tuple(str(v) for v in (values or ()))
            for key, values in extra.items()
            if isinstance(values, list)
        },
        audiences=audiences,
    )
