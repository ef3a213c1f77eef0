"""Settings from the environment: defaults, prefixes, and one clear line per bad value."""

from __future__ import annotations

import pytest

import constrained_impersonation as ci
from constrained_impersonation.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CIMP_") or name == "NODE_NAME":
            monkeypatch.delenv(name)


def test_defaults_need_no_environment() -> None:
    settings = Settings()
    assert settings.retry_attempts == 5
    assert settings.qps == 0
    assert settings.otel_enabled is True
    assert settings.node_name is None


def test_environment_with_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMP_REQUEST_TIMEOUT", "2.5")
    monkeypatch.setenv("CIMP_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("CIMP_QPS", "20")
    monkeypatch.setenv("CIMP_BURST", "40")
    monkeypatch.setenv("CIMP_OTEL_ENABLED", "false")
    settings = Settings()
    assert (settings.request_timeout, settings.retry_attempts) == (2.5, 3)
    assert (settings.qps, settings.burst, settings.otel_enabled) == (20.0, 40, False)


def test_node_name_is_read_as_is_and_the_prefixed_name_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_NAME", "worker-1")
    assert Settings().node_name == "worker-1"
    monkeypatch.setenv("CIMP_NODE_NAME", "worker-2")
    assert Settings().node_name == "worker-2"
    assert Settings(node_name="worker-3").node_name == "worker-3"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("CIMP_RETRY_ATTEMPTS", "abc", "valid integer"),
        ("CIMP_RETRY_ATTEMPTS", "0", "greater than or equal to 1"),
        ("CIMP_QPS", "-1", "greater than or equal to 0"),
        ("CIMP_REQUEST_TIMEOUT", "0", "greater than 0"),
        ("CIMP_OTEL_ENABLED", "maybe", "valid boolean"),
        ("CIMP_BURST", "1.5", "valid integer"),
    ],
)
def test_invalid_values_give_one_line_naming_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ci.ConfigurationError) as caught:
        Settings()
    message = str(caught.value)
    assert "\n" not in message
    assert f"{name}={value!r}" in message
    assert fragment in message
    assert "expected" in message


def test_inconsistent_backoff_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMP_RETRY_BACKOFF_BASE", "2")
    monkeypatch.setenv("CIMP_RETRY_BACKOFF_MAX", "1")
    with pytest.raises(ci.ConfigurationError, match="CIMP_RETRY_BACKOFF_MAX"):
        Settings()


def test_keyword_overrides_are_validated_too() -> None:
    with pytest.raises(ci.ConfigurationError, match="CIMP_RETRY_DEADLINE=-3"):
        Settings(retry_deadline=-3)
    with pytest.raises(ci.ConfigurationError, match="unknown setting 'retries'"):
        Settings(retries=3)


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.qps = 3


def test_sessions_read_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from ._wire import api_client

    monkeypatch.setenv("CIMP_CONNECT_TIMEOUT", "1.25")
    monkeypatch.setenv("CIMP_RETRY_ATTEMPTS", "2")
    base = api_client("http://127.0.0.1:1")
    session = ci.UserSession(base, user="alice", scope=ci.Scope(ci.Rule(["get"], ["pods"])))
    target = session.api_client.rest_client.target
    assert target.connect_timeout == 1.25
    assert target.policy.attempts == 2
    monkeypatch.setenv("CIMP_QPS", "fast")
    with pytest.raises(ci.ConfigurationError, match="CIMP_QPS='fast'"):
        ci.UserSession(base, user="alice", scope=ci.Scope(ci.Rule(["get"], ["pods"])))
