"""TokenRequest (``serviceaccounts/<sa>/token``) and TokenReview, as kube-apiserver serves them.

TokenRequest is how a pod-bound token (and so a real ``node-name`` extra) comes to exist: the
demo and the tests never mint identities by hand, they ask the server as the kubelet would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from .authn import Authenticator, GetObject, ServiceAccountTokens
from .status import bad_request, conflict, invalid, not_found, quote

__all__ = ["TokenEndpoints"]

MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}
ISSUED_CREDENTIAL_ID = "authentication.kubernetes.io/issued-credential-id"


def _group_version(api_version: str) -> tuple[str, str]:
    """apimachinery's ``FromAPIVersionAndKind``: ``v1`` is the core group, ``g/v`` a group;
    anything else parses to no group and no version."""
    if api_version.count("/") == 0:
        return "", api_version
    if api_version.count("/") == 1:
        group, version = api_version.split("/")
        return group, version
    return "", ""


def _jti(token: str) -> str:
    """The ``jti`` claim of a token this server just signed."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return str(claims.get("jti") or "") if isinstance(claims, dict) else ""


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

    def token_request(
        self,
        namespace: str,
        name: str,
        body: dict[str, Any],
        audit_annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Issue a token for service account ``namespace/name``; the TokenRequest response.

        Checks in kube's order (``TokenREST.Create``): the object's own name and namespace,
        the service account, the expiration, then the bound object (a Pod, Node or Secret
        found by kind, whatever the version), its service account and uid. The issued
        credential id goes to ``audit_annotations`` as kube records it.
        """
        if body.get("kind") not in (None, "", "TokenRequest"):
            raise bad_request(f"expected a TokenRequest, got kind {body.get('kind')!r}")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec must be an object")
        meta = body.get("metadata") or {}
        for key, expected, what in (
            ("name", name, "name"),
            ("namespace", namespace, "namespace"),
        ):
            value = meta.get(key) if isinstance(meta, dict) else None
            if value and value != expected:
                raise invalid(
                    "TokenRequest",
                    name,
                    "authentication.k8s.io",
                    [
                        (
                            f"metadata.{key}",
                            "FieldValueInvalid",
                            f"Invalid value: {quote(str(value))}: must match the service account "
                            f"{what} if specified",
                        )
                    ],
                )
        sa = self._get("", "serviceaccounts", namespace, name)
        if sa is None:
            raise not_found("serviceaccounts", name)
        # null means unset (older kubectl sends "expirationSeconds": null).
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = 3600
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise bad_request("spec.expirationSeconds must be an integer")
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise bad_request("spec.audiences must be a list of strings")
        causes: list[tuple[str, str, str]] = []
        if expiration < MIN_EXPIRATION:
            causes.append(
                (
                    "spec.expirationSeconds",
                    "FieldValueInvalid",
                    f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
                )
            )
        if expiration > MAX_EXPIRATION:
            causes.append(
                (
                    "spec.expirationSeconds",
                    "FieldValueInvalid",
                    f"Invalid value: {expiration}: "
                    "may not specify a duration larger than 2^32 seconds",
                )
            )
        if causes:
            # kube reports it without a name (NewInvalid(..., "", errs)).
            raise invalid("TokenRequest", "", "authentication.k8s.io", causes)
        ref = spec.get("boundObjectRef")
        pod = node = secret = None
        node_name = ""
        if ref is not None:
            if not isinstance(ref, dict):
                raise bad_request("spec.boundObjectRef must be an object")
            kind = str(ref.get("kind") or "")
            group, version = _group_version(str(ref.get("apiVersion") or ""))
            resource = _BINDABLE.get(kind) if group == "" else None
            if resource is None:
                raise bad_request(
                    f"cannot bind token to object of type {group}/{version}, Kind={kind}"
                )
            ref_name = str(ref.get("name") or "")
            if not ref_name:
                raise bad_request("Name parameter required.")
            obj = self._get("", resource, "" if kind == "Node" else namespace, ref_name)
            if obj is None:
                raise not_found(resource, ref_name)
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
                node_name = ref_name
            else:
                secret = obj
            uid = obj.get("metadata", {}).get("uid", "")
            if ref.get("uid") and ref["uid"] != uid:
                raise conflict(
                    kind,
                    ref_name,
                    group,
                    why=(
                        f"the UID in the bound object reference ({ref['uid']}) does not match "
                        "the UID in record. The object might have been deleted and then "
                        "recreated"
                    ),
                )
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
        if audit_annotations is not None:
            jti = _jti(token)
            if jti:
                audit_annotations[ISSUED_CREDENTIAL_ID] = f"JTI={jti}"
        out_spec: dict[str, Any] = {
            "audiences": list(audiences or self._tokens.audiences),
            "expirationSeconds": expiration,
            # kube writes the field (no omitempty): null when the token is not bound.
            "boundObjectRef": None
            if ref is None
            else {k: ref[k] for k in ("kind", "apiVersion", "name", "uid") if ref.get(k)},
        }
        sa_meta = sa.get("metadata", {})
        out_meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if sa_meta.get("uid"):
            out_meta["uid"] = sa_meta["uid"]
        out_meta["creationTimestamp"] = _rfc3339(self._clock())
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": out_meta,
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
            # ``authenticated: false`` is Go's zero value: omitted, as kube writes it.
            status = {"user": {}, "error": why or "invalid bearer token"}
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
            "metadata": {},
            "spec": out_spec,
            "status": status,
        }
