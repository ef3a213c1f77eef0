"""Server configuration: feature gates and where state lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KNOWN_GATES", "ServerConfig", "parse_feature_gates"]

# Gate → default in the 1.36 line.
KNOWN_GATES: Mapping[str, bool] = {
    "ConstrainedImpersonation": True,
    # Locked on since 1.34; accepted so that kube-style flags keep working.
    "AuthorizeNodeWithSelectors": True,
    "AuthorizeWithSelectors": True,
}


def parse_feature_gates(value: str | Mapping[str, bool] | None) -> dict[str, bool]:
    """``"A=true,B=false"`` or a mapping → full gate map; unknown gates or values raise."""
    gates = dict(KNOWN_GATES)
    if value is None:
        return gates
    items: list[tuple[str, object]]
    if isinstance(value, str):
        items = []
        for raw_part in value.split(","):
            part = raw_part.strip()
            if not part:
                continue
            name, sep, text = part.partition("=")
            if not sep:
                raise ValueError(f"missing bool value for {name.strip()!r} in --feature-gates")
            items.append((name.strip(), text.strip()))
    else:
        items = list(value.items())
    for name, raw in items:
        if name not in KNOWN_GATES:
            raise ValueError(
                f"unrecognized feature gate: {name} (known: {', '.join(sorted(KNOWN_GATES))})"
            )
        if isinstance(raw, bool):
            enabled = raw
        elif isinstance(raw, str) and raw.lower() in ("true", "false"):
            enabled = raw.lower() == "true"
        else:
            raise ValueError(f"invalid value of {name}={raw}, err: expected true or false")
        gates[name] = enabled
    return gates


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    feature_gates: dict[str, bool] = field(default_factory=lambda: dict(KNOWN_GATES))
    data_dir: Path | None = None
    audit_log_path: Path | None = None
    token_auth_file: Path | None = None
    # Where generated certificates and kubeconfigs go when there is no data dir.
    work_dir: Path = field(default_factory=lambda: Path("."))

    @property
    def constrained_impersonation(self) -> bool:
        return self.feature_gates.get("ConstrainedImpersonation", True)
