"""The review endpoints: access reviews, rules reviews and ``SelfSubjectReview``.

Pure functions from (acting identity, request body, authorizer, path namespace) to the response
object, restating kube's ``pkg/registry/authorization/*`` and ``authentication/selfsubjectreview``
REST handlers and their validation: same status fields, same 400/422 errors and wording. The
acting identity is the user after impersonation, so a requestor impersonating someone sees that
someone's decisions. The REST layer routes ``create`` on these resources here (see
:data:`REVIEW_HANDLERS`) and answers 201 with the returned object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from constrained_impersonation._authz.base import Authorizer, Decision
from constrained_impersonation.identity import DNS1123_SUBDOMAIN, Identity
from constrained_impersonation.resolver import Attributes
from constrained_impersonation.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)

from .status import StatusError, bad_request, invalid, quote

__all__ = [
    "REVIEW_HANDLERS",
    "ReviewHandler",
    "local_subject_access_review",
    "self_subject_access_review",
    "self_subject_review",
    "self_subject_rules_review",
    "subject_access_review",
]

AUTHORIZATION_GROUP = "authorization.k8s.io"
AUTHENTICATION_GROUP = "authentication.k8s.io"

ReviewHandler = Callable[[Identity, Mapping[str, Any], Authorizer, str], Awaitable[dict[str, Any]]]

# A field error: (field path, cause type, message without the field), as status.invalid takes.
_FieldError = tuple[str, str, str]


# --------------------------------------------------------------------------- decoding


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


class _Decoder:
    """Reads a review body with the type strictness of Go's JSON decoder (400 on a mismatch)."""

    def __init__(self, kind: str, api_version: str) -> None:
        self.kind = kind
        self.version = api_version.rpartition("/")[2] or "v1"

    def fail(self, value: Any, path: str, go_type: str) -> StatusError:
        return bad_request(
            f"{self.kind} in version {quote(self.version)} cannot be handled as a {self.kind}: "
            f"json: cannot unmarshal {_json_type(value)} into Go struct field "
            f"{self.kind}.{path} of type {go_type}"
        )

    def string(self, obj: Mapping[str, Any], key: str, path: str) -> str:
        value = obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(value, f"{path}.{key}", "string")
        return value

    def strings(self, obj: Mapping[str, Any], key: str, path: str) -> list[str]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(value, f"{path}.{key}", "[]string")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(item, f"{path}.{key}", "string")
        return list(value)

    def object(self, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        """A nested object; None when absent or ``null`` (Go's nil pointer)."""
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.fail(value, f"{path}.{key}", "struct")
        return value

    def extra_values(self, obj: Mapping[str, Any], path: str) -> dict[str, tuple[str, ...]]:
        value = obj.get("extra")
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(value, f"{path}.extra", "map[string]ExtraValue")
        return {str(k): tuple(self.strings(value, k, f"{path}.extra")) for k in value}


def _api_version(body: Mapping[str, Any], group: str) -> str:
    version = body.get("apiVersion")
    if isinstance(version, str) and version.startswith(group + "/"):
        return version
    return f"{group}/v1"


def _metadata(body: Mapping[str, Any], decoder: _Decoder) -> dict[str, Any]:
    meta = decoder.object(body, "metadata", "metadata")
    return dict(meta) if meta else {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- validation


def _go_json(value: Any) -> str:
    """Go's ``json.Marshal``: compact, map keys sorted, ``<``, ``>`` and ``&`` escaped. kube
    renders a struct in an ``Invalid value`` text this way."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _non_resource_value(fields: Mapping[str, str] | None) -> str:
    """The internal ``NonResourceAttributes`` as kube shows it: a nil pointer is ``null``, the
    struct has no JSON tags (Go field names, no omission)."""
    if fields is None:
        return "null"
    path, verb = fields.get("path", ""), fields.get("verb", "")
    return f"{{{_go_json('Path')}:{_go_json(path)},{_go_json('Verb')}:{_go_json(verb)}}}"


# metav1.ObjectMeta's JSON field order (every field omitempty).
_OBJECT_META_FIELDS = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def _object_meta_value(meta: Mapping[str, Any]) -> str:
    shown = [
        f"{_go_json(key)}:{_go_json(meta[key])}"
        for key in _OBJECT_META_FIELDS
        if meta.get(key) not in (None, "", {}, [])
    ]
    return "{" + ",".join(shown) + "}"


def _invalid(field: str, value: str, detail: str) -> _FieldError:
    return field, "FieldValueInvalid", f"Invalid value: {value}: {detail}"


def _required(field: str, detail: str) -> _FieldError:
    return field, "FieldValueRequired", f"Required value: {detail}"


def _forbidden(field: str, detail: str) -> _FieldError:
    return field, "FieldValueForbidden", f"Forbidden: {detail}"


def _metadata_errors(meta: Mapping[str, Any], allow_namespace: bool) -> list[_FieldError]:
    """``metadata`` must be empty (managed fields aside; a local review may carry its
    namespace). Empty values (``creationTimestamp: null``) decode to the zero value."""
    ignored = {"managedFields", "namespace"} if allow_namespace else {"managedFields"}
    present = {k: v for k, v in meta.items() if k not in ignored and v not in (None, "", {}, [])}
    if not present:
        return []
    detail = "must be empty except for namespace" if allow_namespace else "must be empty"
    # kube shows the whole ObjectMeta, with the managedFields its field manager added (which
    # this server does not keep for reviews).
    return [_invalid("metadata", _object_meta_value(meta), detail)]


_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_PREFIX_MSG = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
    "'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _qualified_name_errors(key: str) -> list[str]:
    """kube's ``IsQualifiedName`` messages for a label key."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name " + _NAME_MSG.removeprefix("name part ") + " with an optional DNS "
            "subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errors.append("prefix part must be no more than 253 characters")
            if not DNS1123_SUBDOMAIN.fullmatch(prefix):
                errors.append(_PREFIX_MSG)
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _LABEL_NAME.fullmatch(name):
        errors.append(_NAME_MSG)
    return errors


def _label_value_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(_VALUE_MSG)
    return errors


class _Selector:
    """A decoded ``fieldSelector``/``labelSelector`` of ResourceAttributes."""

    def __init__(self, raw: str, requirements: list[dict[str, Any]]) -> None:
        self.raw = raw
        self.requirements = requirements


def _decode_selector(
    decoder: _Decoder, attrs: Mapping[str, Any], key: str, path: str
) -> _Selector | None:
    selector = decoder.object(attrs, key, path)
    if selector is None:
        return None
    here = f"{path}.{key}"
    raw = decoder.string(selector, "rawSelector", here)
    value = selector.get("requirements")
    requirements: list[dict[str, Any]] = []
    if value is not None:
        if not isinstance(value, list):
            raise decoder.fail(value, f"{here}.requirements", "[]Requirement")
        for item in value:
            if not isinstance(item, Mapping):
                raise decoder.fail(item, f"{here}.requirements", "Requirement")
            requirements.append(
                {
                    "key": decoder.string(item, "key", f"{here}.requirements"),
                    "operator": decoder.string(item, "operator", f"{here}.requirements"),
                    "values": decoder.strings(item, "values", f"{here}.requirements"),
                }
            )
    return _Selector(raw, requirements)


def _selector_errors(selector: _Selector | None, path: str, labels: bool) -> list[_FieldError]:
    if selector is None:
        return []
    errors: list[_FieldError] = []
    if selector.raw and selector.requirements:
        errors.append(
            _invalid(
                f"{path}.rawSelector",
                quote(selector.raw),
                "may not specified at the same time as requirements",
            )
        )
    if not selector.raw and not selector.requirements:
        errors.append(
            _required(
                f"{path}.requirements",
                f"when {path} is specified, requirements or rawSelector is required",
            )
        )
    for index, req in enumerate(selector.requirements):
        here = f"{path}.requirements[{index}]"
        if not labels and not req["key"]:
            errors.append(_required(f"{here}.key", "must be specified"))
        operator, values = req["operator"], req["values"]
        if operator in ("In", "NotIn") and not values:
            errors.append(
                _required(f"{here}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif operator in ("Exists", "DoesNotExist") and values:
            errors.append(
                _forbidden(
                    f"{here}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
        if labels:
            errors.extend(
                _invalid(f"{here}.key", quote(req["key"]), msg)
                for msg in _qualified_name_errors(req["key"])
            )
            for value_index, value in enumerate(values):
                errors.extend(
                    _invalid(f"{here}.values[{value_index}]", quote(value), msg)
                    for msg in _label_value_errors(value)
                )
    return errors


# --------------------------------------------------------------------------- selectors


def _escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _field_selector(selector: _Selector | None) -> tuple[str, str]:
    """``(raw selector for the authorizer, parse problem)``; problem is "" / "partial" /
    "all", following kube's ``ResourceAttributesFrom`` (bad requirements are dropped)."""
    if selector is None:
        return "", ""
    if selector.requirements:
        terms: list[str] = []
        failed = False
        for req in selector.requirements:
            values, operator = req["values"], req["operator"]
            if len(values) != 1 or operator not in ("In", "NotIn"):
                failed = True
                continue
            op = "=" if operator == "In" else "!="
            terms.append(f"{req['key']}{op}{_escape_field_value(values[0])}")
        raw = ",".join(terms)
        return raw, ("partial" if terms else "all") if failed else ""
    try:
        parse_field_selector(selector.raw)
    except SelectorError:
        return "", "all"
    return selector.raw, ""


_LABEL_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "", "DoesNotExist": "!"}


def _label_selector(selector: _Selector | None) -> tuple[str, str]:
    """Like :func:`_field_selector`, for labels (requirements kube cannot build are dropped)."""
    if selector is None:
        return "", ""
    if selector.requirements:
        terms: list[str] = []
        failed = False
        for req in selector.requirements:
            operator, key, values = req["operator"], req["key"], req["values"]
            if operator not in _LABEL_OPERATORS:
                failed = True
                continue
            # ``labels.NewRequirement``: a valid key, values only (and then valid) for In/NotIn.
            broken = bool(_qualified_name_errors(key)) or (
                bool(values) != (operator in ("In", "NotIn"))
                or any(_label_value_errors(value) for value in values)
            )
            if broken:
                failed = True
                continue
            if operator in ("In", "NotIn"):
                term = f"{key} {_LABEL_OPERATORS[operator]} ({','.join(values)})"
            else:
                term = f"{_LABEL_OPERATORS[operator]}{key}"
            terms.append(term)
        raw = ",".join(terms)
        return raw, ("partial" if terms else "all") if failed else ""
    try:
        parse_label_selector(selector.raw)
    except SelectorError:
        return "", "all"
    return selector.raw, ""


def _selector_evaluation_errors(field_problem: str, label_problem: str) -> list[str]:
    errors = []
    for name, problem in (("fieldSelector", field_problem), ("labelSelector", label_problem)):
        if problem:
            how = "partially ignored" if problem == "partial" else "ignored"
            errors.append(f"spec.resourceAttributes.{name} {how} due to parse error")
    return errors


# --------------------------------------------------------------------------- access reviews


class _AccessSpec:
    """A decoded SubjectAccessReviewSpec (or the self/local variants)."""

    def __init__(self, decoder: _Decoder, spec: Mapping[str, Any], with_subject: bool) -> None:
        path = "spec"
        self.resource = decoder.object(spec, "resourceAttributes", path)
        self.non_resource = decoder.object(spec, "nonResourceAttributes", path)
        self.field_selector: _Selector | None = None
        self.label_selector: _Selector | None = None
        self.resource_fields: dict[str, str] = {}
        if self.resource is not None:
            here = f"{path}.resourceAttributes"
            for key in (
                "namespace",
                "verb",
                "group",
                "version",
                "resource",
                "subresource",
                "name",
            ):
                self.resource_fields[key] = decoder.string(self.resource, key, here)
            self.field_selector = _decode_selector(decoder, self.resource, "fieldSelector", here)
            self.label_selector = _decode_selector(decoder, self.resource, "labelSelector", here)
        self.non_resource_fields: dict[str, str] = {}
        if self.non_resource is not None:
            here = f"{path}.nonResourceAttributes"
            for key in ("path", "verb"):
                self.non_resource_fields[key] = decoder.string(self.non_resource, key, here)
        self.user = self.uid = ""
        self.groups: list[str] = []
        self.extra: dict[str, tuple[str, ...]] = {}
        if with_subject:
            self.user = decoder.string(spec, "user", path)
            self.uid = decoder.string(spec, "uid", path)
            self.groups = decoder.strings(spec, "groups", path)
            self.extra = decoder.extra_values(spec, path)

    def errors(self, with_subject: bool) -> list[_FieldError]:
        """``ValidateSubjectAccessReviewSpec`` / ``ValidateSelfSubjectAccessReviewSpec``."""
        errors: list[_FieldError] = []
        if (self.resource is None) == (self.non_resource is None):
            # One union error on ``spec`` for both cases, showing nonResourceAttributes.
            errors.append(
                _invalid(
                    "spec",
                    _non_resource_value(
                        None if self.non_resource is None else self.non_resource_fields
                    ),
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )
            )
        if with_subject and not self.user and not self.groups:
            errors.append(
                _invalid(
                    "spec.user", quote(self.user), "at least one of user or group must be specified"
                )
            )
        base = "spec.resourceAttributes"
        errors.extend(_selector_errors(self.field_selector, f"{base}.fieldSelector", labels=False))
        errors.extend(_selector_errors(self.label_selector, f"{base}.labelSelector", labels=True))
        return errors

    def subject(self) -> Identity:
        return Identity(
            user=self.user, uid=self.uid or None, groups=tuple(self.groups), extra=self.extra
        )

    def attributes(self, user: Identity) -> tuple[Attributes, list[str]]:
        """Authorization attributes plus the selector evaluation errors kube reports."""
        if self.resource is None:
            return (
                Attributes(
                    user=user,
                    verb=self.non_resource_fields.get("verb", ""),
                    resource_request=False,
                    path=self.non_resource_fields.get("path", ""),
                ),
                [],
            )
        fields = self.resource_fields
        field_selector, field_problem = _field_selector(self.field_selector)
        label_selector, label_problem = _label_selector(self.label_selector)
        attrs = Attributes(
            user=user,
            verb=fields["verb"],
            resource_request=True,
            api_group=fields["group"],
            # An unspecified version means every version.
            api_version=fields["version"] or "*",
            resource=fields["resource"],
            subresource=fields["subresource"],
            namespace=fields["namespace"],
            name=fields["name"],
            field_selector=field_selector,
            label_selector=label_selector,
        )
        return attrs, _selector_evaluation_errors(field_problem, label_problem)


def _decide(
    authorizer: Authorizer, attrs: Attributes, evaluation_errors: Sequence[str]
) -> dict[str, Any]:
    decision, reason = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    if evaluation_errors:
        status["evaluationError"] = "; ".join(evaluation_errors)
    return status


# Struct pointers of the review specs: encoded even when empty (the other fields omitempty).
_STRUCT_FIELDS = frozenset(
    {"resourceAttributes", "nonResourceAttributes", "fieldSelector", "labelSelector"}
)


def _encoded(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` as kube writes it back after decoding: empty strings, lists, maps and nulls
    left out (``omitempty``), nested attribute structs and selector requirements likewise."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _STRUCT_FIELDS and isinstance(value, Mapping):
            out[key] = _encoded(value)
        elif value is None or (isinstance(value, str | list | dict) and not value):
            continue
        elif key == "requirements" and isinstance(value, list):
            out[key] = [_encoded(r) if isinstance(r, Mapping) else r for r in value]
        else:
            out[key] = value
    return out


def _spec(body: Mapping[str, Any], decoder: _Decoder) -> Mapping[str, Any]:
    spec = decoder.object(body, "spec", "spec")
    return spec if spec is not None else {}


def _access_review(
    kind: str,
    body: Mapping[str, Any],
    authorizer: Authorizer,
    acting: Identity | None,
    namespace: str | None,
) -> dict[str, Any]:
    """Shared path of the three access reviews. ``acting`` set: a self review; ``namespace``
    set: a local review in that namespace."""
    api_version = _api_version(body, AUTHORIZATION_GROUP)
    decoder = _Decoder(kind, api_version)
    meta = _metadata(body, decoder)
    spec = _spec(body, decoder)
    with_subject = acting is None
    parsed = _AccessSpec(decoder, spec, with_subject)
    if namespace is not None:
        if not namespace:
            raise bad_request(f"namespace is required on this type: {namespace}")
        given = meta.get("namespace")
        if given and given != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = namespace
    errors = parsed.errors(with_subject)
    errors.extend(_metadata_errors(meta, allow_namespace=namespace is not None))
    if namespace is not None:
        if parsed.resource is not None and parsed.resource_fields["namespace"] != namespace:
            errors.append(
                _invalid(
                    "spec.resourceAttributes.namespace",
                    quote(parsed.resource_fields["namespace"]),
                    "must match metadata.namespace",
                )
            )
        if parsed.non_resource is not None:
            errors.append(
                _invalid(
                    "spec.nonResourceAttributes",
                    _non_resource_value(parsed.non_resource_fields),
                    "disallowed on this kind of request",
                )
            )
    if errors:
        # kube names the internal object's kind, which decoding leaves empty.
        raise invalid("", "", AUTHORIZATION_GROUP, errors)
    user = acting if acting is not None else parsed.subject()
    attrs, evaluation_errors = parsed.attributes(user)
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": _encoded(meta),
        "spec": _encoded(spec),
        "status": _decide(authorizer, attrs, evaluation_errors),
    }


async def subject_access_review(
    ctx_user: Identity, body: Mapping[str, Any], authorizer: Authorizer, namespace: str = ""
) -> dict[str, Any]:
    """``SubjectAccessReview``: may ``spec.user``/``groups``/``uid``/``extra`` do this?"""
    return _access_review("SubjectAccessReview", body, authorizer, None, None)


async def local_subject_access_review(
    ctx_user: Identity, body: Mapping[str, Any], authorizer: Authorizer, namespace: str = ""
) -> dict[str, Any]:
    """``LocalSubjectAccessReview`` in ``namespace`` (from the path): the spec's namespace must
    match it, and only resource attributes are allowed."""
    return _access_review("LocalSubjectAccessReview", body, authorizer, None, namespace)


async def self_subject_access_review(
    ctx_user: Identity, body: Mapping[str, Any], authorizer: Authorizer, namespace: str = ""
) -> dict[str, Any]:
    """``SelfSubjectAccessReview``: may the acting user (after impersonation) do this?"""
    return _access_review("SelfSubjectAccessReview", body, authorizer, ctx_user, None)


# --------------------------------------------------------------------------- rules and self


async def self_subject_rules_review(
    ctx_user: Identity, body: Mapping[str, Any], authorizer: Authorizer, namespace: str = ""
) -> dict[str, Any]:
    """``SelfSubjectRulesReview`` of ``spec.namespace``: the acting user's rules there.

    As in kube the answer carries only a status (the spec is not echoed), and an empty
    namespace is a 400 ``no namespace on request``.
    """
    api_version = _api_version(body, AUTHORIZATION_GROUP)
    decoder = _Decoder("SelfSubjectRulesReview", api_version)
    spec = _spec(body, decoder)
    review_namespace = decoder.string(spec, "namespace", "spec")
    if not review_namespace:
        raise bad_request("no namespace on request")
    review = authorizer.rules_for(ctx_user, review_namespace)
    status: dict[str, Any] = {
        "resourceRules": [rule.resource_rule() for rule in review.resource_rules],
        "nonResourceRules": [rule.non_resource_rule() for rule in review.non_resource_rules],
        "incomplete": review.incomplete,
    }
    if review.evaluation_error:
        status["evaluationError"] = review.evaluation_error
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": api_version,
        "metadata": {},
        "spec": {},
        "status": status,
    }


async def self_subject_review(
    ctx_user: Identity,
    body: Mapping[str, Any],
    authorizer: Authorizer | None = None,
    namespace: str = "",
) -> dict[str, Any]:
    """``SelfSubjectReview`` (``kubectl auth whoami``): the acting user's attributes."""
    api_version = _api_version(body, AUTHENTICATION_GROUP)
    decoder = _Decoder("SelfSubjectReview", api_version)
    _metadata(body, decoder)  # type-checked like kube's decoder; its content is ignored
    info: dict[str, Any] = {"username": ctx_user.user}
    if ctx_user.uid:
        info["uid"] = ctx_user.uid
    if ctx_user.groups:
        info["groups"] = list(ctx_user.groups)
    if ctx_user.extra:
        info["extra"] = {key: list(values) for key, values in ctx_user.extra.items()}
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": _now()},
        "status": {"userInfo": info},
    }


REVIEW_HANDLERS: dict[tuple[str, str], ReviewHandler] = {
    (AUTHORIZATION_GROUP, "subjectaccessreviews"): subject_access_review,
    (AUTHORIZATION_GROUP, "localsubjectaccessreviews"): local_subject_access_review,
    (AUTHORIZATION_GROUP, "selfsubjectaccessreviews"): self_subject_access_review,
    (AUTHORIZATION_GROUP, "selfsubjectrulesreviews"): self_subject_rules_review,
    (AUTHENTICATION_GROUP, "selfsubjectreviews"): self_subject_review,
}
