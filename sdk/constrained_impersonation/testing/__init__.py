"""An embedded, faithful Kubernetes API server for tests: TLS, tokens, RBAC, impersonation."""

from __future__ import annotations

__all__: list[str] = []
