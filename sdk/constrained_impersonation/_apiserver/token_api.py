"""TokenRequest (``serviceaccounts/<sa>/token``) and TokenReview, as kube-apiserver serves them.

TokenRequest is how a pod-bound token (and so a real ``node-name`` extra) comes to exist: the
demo and the tests never mint identities by hand, they ask the server as the kubelet would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .authn import Authenticator, GetObject, ServiceAccountTokens
from .status import bad_request, conflict, invalid, not_found

__all__ = ["TokenEndpoints"]

MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenEndpoints:
    """Handlers for the token subresource and TokenReview."""

    def __init__(
        self,
        authenticator: Authenticator,
        tokens: ServiceAccountTokens,
        get_object: GetObject,
        clock: Callable[[], float],
    ) -> None:
        self._authn = authenticator
        self._tokens = tokens
        self._get = get_object
        self._clock = clock

    def token_request(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a token for service account ``namespace/name``; the TokenRequest response."""
        if body.get("kind") not in (None, "", "TokenRequest"):
            raise bad_request(f"expected a TokenRequest, got kind {body.get('kind')!r}")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec must be an object")
        sa = self._get("", "serviceaccounts", namespace, name)
        if sa is None:
            raise not_found("serviceaccounts", name)
        # null means unset (older kubectl sends "expirationSeconds": null).
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = 3600
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise bad_request("spec.expirationSeconds must be an integer")
        causes: list[tuple[str, str, str]] = []
        if expiration < MIN_EXPIRATION:
            causes.append(
                (
                    "spec.expirationSeconds",
                    "FieldValueInvalid",
                    f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
                )
            )
        elif expiration > MAX_EXPIRATION:
            causes.append(
                (
                    "spec.expirationSeconds",
                    "FieldValueInvalid",
                    f"Invalid value: {expiration}: "
                    "may not specify a duration larger than 2^32 seconds",
                )
            )
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise bad_request("spec.audiences must be a list of strings")
        ref = spec.get("boundObjectRef")
        pod = node = secret = None
        node_name = ""
        if ref is not None:
            if not isinstance(ref, dict):
                raise bad_request("spec.boundObjectRef must be an object")
            kind = ref.get("kind", "")
            resource = _BINDABLE.get(kind)
            if resource is None:
                causes.append(
                    (
                        "spec.boundObjectRef.kind",
                        "FieldValueNotSupported",
                        f'Unsupported value: "{kind}": supported values: "Node", "Pod", "Secret"',
                    )
                )
            elif ref.get("apiVersion", "v1") != "v1":
                causes.append(
                    (
                        "spec.boundObjectRef.apiVersion",
                        "FieldValueInvalid",
                        f'Invalid value: "{ref.get("apiVersion")}": must be "v1"',
                    )
                )
            if not ref.get("name"):
                causes.append(("spec.boundObjectRef.name", "FieldValueRequired", "Required value"))
            if causes:
                raise invalid("TokenRequest", name, "authentication.k8s.io", causes)
            assert resource is not None
            obj = self._get("", resource, "" if kind == "Node" else namespace, ref["name"])
            if obj is None:
                raise not_found(resource, ref["name"])
            uid = obj.get("metadata", {}).get("uid", "")
            if ref.get("uid") and ref["uid"] != uid:
                raise conflict(
                    resource,
                    ref["name"],
                    why=(
                        f"the UID in the bound object reference ({ref['uid']}) does not match "
                        f"the UID in record ({uid}). The object might have been deleted and "
                        "then recreated"
                    ),
                )
            if kind == "Pod":
                pod = obj
                pod_sa = obj.get("spec", {}).get("serviceAccountName") or "default"
                if pod_sa != name:
                    raise bad_request(
                        f'cannot bind token for serviceaccount "{name}" to pod running with '
                        "different serviceaccount name."
                    )
                node_name = obj.get("spec", {}).get("nodeName") or ""
                if node_name:
                    node = self._get("", "nodes", "", node_name)
            elif kind == "Node":
                node = obj
                node_name = ref["name"]
            else:
                secret = obj
        if causes:
            raise invalid("TokenRequest", name, "authentication.k8s.io", causes)
        token, exp = self._tokens.issue(
            namespace,
            sa,
            audiences=audiences,
            expiration_seconds=expiration,
            pod=pod,
            node=node,
            node_name=node_name,
            secret=secret,
        )
        out_spec: dict[str, Any] = {
            "audiences": list(audiences or self._tokens.audiences),
            "expirationSeconds": expiration,
            "boundObjectRef": ref,
        }
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": _rfc3339(self._clock()),
            },
            "spec": out_spec,
            "status": {"token": token, "expirationTimestamp": _rfc3339(exp)},
        }

    def token_review(self, body: dict[str, Any]) -> dict[str, Any]:
        """Authenticate ``spec.token`` for ``spec.audiences``; the TokenReview response."""
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec must be an object")
        token = spec.get("token")
        if not token or not isinstance(token, str):
            raise bad_request("token is required for TokenReview in authentication")
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise bad_request("spec.audiences must be a list of strings")
        result, why = self._authn.authenticate_token(token, audiences)
        status: dict[str, Any]
        if result is None:
            status = {"authenticated": False, "user": {}, "error": why or "invalid bearer token"}
        else:
            status = {
                "authenticated": True,
                "user": result.identity.to_user_info(),
                "audiences": list(result.audiences),
            }
        # As kube does, the spec comes back as sent (clients require spec.token); the token
        # never reaches the audit log, which records metadata only.
        out_spec: dict[str, Any] = {"token": token}
        if audiences:
            out_spec["audiences"] = audiences
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": out_spec,
            "status": status,
        }
