"""Normalise only what must differ between two servers answering the same request.

* uids: generated per object; a uid of an object the scenario set up becomes
  ``<uid:Kind/namespace/name>`` (so *which* object a token or an owner reference names is
  still compared), any other UUID becomes ``<uid>``;
* timestamps (RFC 3339 strings, JWT ``iat``/``nbf``/``exp`` become durations), ``resourceVersion``;
* tokens: a JWT is replaced by its decoded header and claims (the claims are compared; the
  key id, the signature and ``jti`` cannot be equal);
* the credential id ``JTI=<uuid>`` of a service-account token;
* ``metadata.managedFields``: kube's field manager records who set which field of a review
  or TokenRequest it answers; the embedded server keeps no field ownership (a documented
  difference, docs/conformance.md);
* the server's own address (``host:port``, in ``/api``'s ``serverAddressByClientCIDRs``).

Nothing else: names are identical on both servers by construction, and messages, reasons,
groups, extras and codes are compared as they are.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

__all__ = ["Normalizer"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_FIXED_UIDS = {"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"}
_VOLATILE_KEYS = {"resourceVersion"}


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


class Normalizer:
    """Per server: learns the uids of the objects it set up, then rewrites values."""

    def __init__(self, address: str = "") -> None:
        self.uids: dict[str, str] = {}
        self.address = address  # this server's host:port

    def learn(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if isinstance(uid, str) and uid:
            where = "/".join(p for p in (meta.get("namespace", ""), meta.get("name", "")) if p)
            self.uids.setdefault(uid, f"<uid:{obj.get('kind', '?')}/{where}>")

    def learn_answer(self, body: Any) -> None:
        """Objects created by steps get labelled uids too (their names are deterministic)."""
        if not isinstance(body, dict) or "metadata" not in body:
            return
        kind = str(body.get("kind", ""))
        if kind and kind != "Status" and not kind.endswith("List"):
            self.learn(body)

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ("<rv>" if k in _VOLATILE_KEYS and v else self.apply(v))
                for k, v in value.items()
                if k != "managedFields"
            }
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, str):
            return self._string(value)
        return value

    def _string(self, value: str) -> Any:
        if self.address and self.address in value:
            value = value.replace(self.address, "<server>")
        if _JWT.match(value):
            return self._jwt(value)
        if value.startswith("JTI=") and _UUID.fullmatch(value[4:]):
            return "JTI=<jti>"
        if value in _FIXED_UIDS:
            return value
        if _UUID.fullmatch(value):
            return self.uids.get(value, "<uid>")
        if _UUID.search(value):
            value = _UUID.sub(
                lambda m: (
                    self.uids.get(m.group(0), "<uid>")
                    if m.group(0) not in _FIXED_UIDS
                    else m.group(0)
                ),
                value,
            )
        return _RFC3339.sub("<time>", value)

    def _jwt(self, token: str) -> Any:
        head, claims, _ = token.split(".")
        try:
            header = _b64json(head)
            body = _b64json(claims)
        except ValueError:
            return "<token>"
        header = {k: ("<kid>" if k == "kid" else v) for k, v in header.items()}
        iat = body.get("iat")
        out: dict[str, Any] = {}
        for key, val in body.items():
            if key in ("iat", "nbf") and isinstance(val, int | float):
                out[key] = "<time>" if key == "iat" else f"iat{val - (iat or 0):+g}"
            elif key == "exp" and isinstance(val, int | float) and isinstance(iat, int | float):
                out[key] = f"iat{val - iat:+g}"
            elif key == "jti":
                out[key] = "<jti>"
            else:
                out[key] = self.apply(val)
        if isinstance(out.get("kubernetes.io"), dict):
            inner = dict(out["kubernetes.io"])
            warn = body["kubernetes.io"].get("warnafter")
            if isinstance(warn, int | float) and isinstance(iat, int | float):
                inner["warnafter"] = f"iat{warn - iat:+g}"
            out["kubernetes.io"] = inner
        return {"$jwt": {"header": header, "claims": out}}
