"""Runtime settings for sessions, read from the environment (prefix ``CIMP_``).

Every knob has a safe default, so a session works with no environment at all. ``NODE_NAME``
(the downward API's ``spec.nodeName``) is read as is, because that is how pods receive it.
An invalid value fails fast with one line naming the variable and the value, instead of a
pydantic traceback at the first request.

=================================  =========  =================================================
variable                           default    meaning
=================================  =========  =================================================
``CIMP_REQUEST_TIMEOUT``           60         seconds to wait for a response (not for watches)
``CIMP_CONNECT_TIMEOUT``           10         seconds to establish a connection
``CIMP_RETRY_ATTEMPTS``            5          attempts per request, 1 disables retries
``CIMP_RETRY_DEADLINE``            30         seconds after which no further attempt starts
``CIMP_RETRY_BACKOFF_BASE``        0.2        first backoff ceiling (full jitter, doubling)
``CIMP_RETRY_BACKOFF_MAX``         5          largest backoff ceiling
``CIMP_QPS``                       0          client-side requests per second, 0 = unlimited
``CIMP_BURST``                     10         token bucket size when ``CIMP_QPS`` > 0
``CIMP_OTEL_ENABLED``              true       spans and metrics (when a provider is installed)
``CIMP_TOKEN_REFRESH_INTERVAL``    60         re-read a token file at least this often (s)
``CIMP_SERVICEACCOUNT_DIR``        (pod SA)   where in-cluster ``token`` and ``ca.crt`` live
``NODE_NAME`` / ``CIMP_NODE_NAME``            node of :meth:`NodeSession.from_downward_api`
=================================  =========  =================================================

Client-side rate limiting is off by default: kube-apiserver's priority and fairness is the
flow control that matters, and a limiter in every process only adds latency. Set ``CIMP_QPS``
to behave like client-go's default token bucket (client-go uses 5 QPS, burst 10).
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError

__all__ = ["DEFAULT_SERVICEACCOUNT_DIR", "Settings"]

DEFAULT_SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_PREFIX = "CIMP_"


class Settings(BaseSettings):
    """Session settings; ``Settings()`` reads the environment, keywords override it."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX,
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
    )

    request_timeout: float = Field(
        60.0, gt=0, description="seconds to wait for a response, a number > 0"
    )
    connect_timeout: float = Field(
        10.0, gt=0, description="seconds to establish a connection, a number > 0"
    )
    retry_attempts: int = Field(
        5, ge=1, le=100, description="attempts per request, a whole number from 1 to 100"
    )
    retry_deadline: float = Field(
        30.0, gt=0, description="seconds after which no retry starts, a number > 0"
    )
    retry_backoff_base: float = Field(
        0.2, gt=0, description="first backoff ceiling in seconds, a number > 0"
    )
    retry_backoff_max: float = Field(
        5.0, gt=0, description="largest backoff ceiling in seconds, >= CIMP_RETRY_BACKOFF_BASE"
    )
    qps: float = Field(
        0.0, ge=0, description="client-side requests per second, a number >= 0 (0: unlimited)"
    )
    burst: int = Field(10, ge=1, description="token bucket size, a whole number >= 1")
    otel_enabled: bool = Field(True, description="true or false")
    token_refresh_interval: float = Field(
        60.0, gt=0, description="seconds between token file re-reads, a number > 0"
    )
    serviceaccount_dir: str = Field(
        DEFAULT_SERVICEACCOUNT_DIR,
        min_length=1,
        description="directory holding the in-cluster token and ca.crt",
    )
    node_name: str | None = Field(
        None,
        validation_alias=AliasChoices("CIMP_NODE_NAME", "NODE_NAME"),
        description="the node this pod runs on (downward API spec.nodeName)",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(_one_line(exc)) from None

    @model_validator(mode="after")
    def _backoff_order(self) -> Settings:
        if self.retry_backoff_max < self.retry_backoff_base:
            raise ValueError(
                f"CIMP_RETRY_BACKOFF_MAX={self.retry_backoff_max!r} is smaller than "
                f"CIMP_RETRY_BACKOFF_BASE={self.retry_backoff_base!r}"
            )
        return self


def _env_name(field: str) -> str:
    if field in ("node_name", "NODE_NAME", "CIMP_NODE_NAME"):
        return "NODE_NAME"
    if field.startswith(_PREFIX):
        return field
    return _PREFIX + field.upper()


def _one_line(exc: ValidationError) -> str:
    """The first problem, as ``invalid setting CIMP_X='value': why; expected ...``."""
    error = exc.errors(include_url=False)[0]
    loc = error.get("loc") or ()
    if not loc:
        # Model-level check (our own message already names the variables).
        message = str(error.get("msg", "invalid settings")).removeprefix("Value error, ")
        return f"invalid settings: {message}"
    field = str(loc[0])
    name = _env_name(field)
    if error.get("type") == "extra_forbidden":
        known = ", ".join(_env_name(f) for f in Settings.model_fields)
        return f"unknown setting {field!r}; known settings: {known}"
    value = error.get("input")
    info = Settings.model_fields.get(field) or Settings.model_fields.get(
        "node_name" if name == "NODE_NAME" else ""
    )
    expected = f"; expected {info.description}" if info is not None and info.description else ""
    reason = str(error.get("msg", "invalid value"))
    return f"invalid setting {name}={value!r}: {reason}{expected}"
