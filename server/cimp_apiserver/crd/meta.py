"""Name and metadata rules of apimachinery's validation, with their exact messages.

Used for the CRD's own names (DNS-1035 labels, the group as a DNS-1123 subdomain) and for the
``metadata`` of resources embedded in a custom resource (``x-kubernetes-embedded-resource``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import FieldError, child, forbidden, invalid, required, too_long

__all__ = [
    "dns1035_label_errors",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "embedded_metadata_errors",
    "label_value_errors",
    "path_segment_errors",
    "qualified_name_errors",
]

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def _max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{message} (e.g. {shown}, regex used for validation is '{fmt}')"


def dns1035_label_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not re.fullmatch(_DNS1035_LABEL, value):
        errors.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL,
                "my-name",
                "abc-123",
            )
        )
    return errors


def dns1123_label_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not re.fullmatch(_DNS1123_LABEL, value):
        if re.fullmatch(_DNS1123_SUBDOMAIN, value):
            errors.append("must not contain dots")
        else:
            errors.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                    _DNS1123_LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append(_max_len(253))
    if not re.fullmatch(_DNS1123_SUBDOMAIN, value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return errors


def path_segment_errors(value: str, prefix: bool = False) -> list[str]:
    """``IsPathSegmentName`` (``prefix``: ``IsPathSegmentPrefix``)."""
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def qualified_name_errors(value: str) -> list[str]:
    """``IsQualifiedName``: label and annotation keys (``prefix/name``)."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in dns1123_subdomain_errors(prefix))
    else:
        return [
            _regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character",
                _QUALIFIED,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if name and not re.fullmatch(_QUALIFIED, name):
        errors.append(
            "name part "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                _QUALIFIED,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not re.fullmatch(_LABEL_VALUE, value):
        errors.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errors


def _labels_errors(labels: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(labels, dict):
        return errors
    for name in sorted(labels):
        errors.extend(invalid(path, name, msg) for msg in qualified_name_errors(name))
        value = labels[name]
        if isinstance(value, str):
            errors.extend(invalid(path, value, msg) for msg in label_value_errors(value))
    return errors


def _annotations_errors(annotations: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(annotations, dict):
        return errors
    total = 0
    for name in sorted(annotations):
        errors.extend(invalid(path, name, msg) for msg in qualified_name_errors(name.lower()))
        value = annotations[name]
        total += len(name.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > 256 * 1024:
        errors.append(too_long(path, 256 * 1024))
    return errors


NameRule = Callable[[str, bool], list[str]]


def subdomain_name(name: str, prefix: bool) -> list[str]:
    """``NameIsDNSSubdomain`` (a generateName prefix may end in ``-``)."""
    if prefix and name.endswith("-"):
        name = name[:-1] + "a"
    return dns1123_subdomain_errors(name)


def object_meta_errors(
    meta: dict[str, Any], path: str, name_rule: NameRule, namespaced: bool | None
) -> list[FieldError]:
    """``ValidateObjectMeta`` on create (``namespaced``: None when either is fine)."""
    errors: list[FieldError] = []
    generate = meta.get("generateName")
    if isinstance(generate, str) and generate:
        errors.extend(
            invalid(child(path, "generateName"), generate, msg) for msg in name_rule(generate, True)
        )
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        errors.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errors.extend(invalid(child(path, "name"), name, msg) for msg in name_rule(name, False))
    namespace = meta.get("namespace")
    namespace = namespace if isinstance(namespace, str) else ""
    if namespaced is True:
        if not namespace:
            errors.append(required(child(path, "namespace")))
        else:
            errors.extend(
                invalid(child(path, "namespace"), namespace, msg)
                for msg in dns1123_label_errors(namespace)
            )
    elif namespaced is False and namespace:
        errors.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    elif namespace:
        errors.extend(
            invalid(child(path, "namespace"), namespace, msg)
            for msg in dns1123_label_errors(namespace)
        )
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        errors.append(
            invalid(child(path, "generation"), generation, "must be greater than or equal to 0")
        )
    errors.extend(_labels_errors(meta.get("labels"), child(path, "labels")))
    errors.extend(_annotations_errors(meta.get("annotations"), child(path, "annotations")))
    controller = ""
    refs = meta.get("ownerReferences") or []
    for i, ref in enumerate(refs if isinstance(refs, list) else ()):
        if not isinstance(ref, dict):
            continue
        where = f"{child(path, 'ownerReferences')}[{i}]"
        version = ref.get("apiVersion")
        if not version:
            errors.append(required(child(where, "apiVersion"), "must not be empty"))
        elif not isinstance(version, str) or version.count("/") > 1 or version.endswith("/"):
            detail = "must be <group>/<version> or <version>"
            errors.append(invalid(child(where, "apiVersion"), version, detail))
        for field_name in ("kind", "name", "uid"):
            if not ref.get(field_name):
                errors.append(required(child(where, field_name), "must not be empty"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                errors.append(
                    invalid(
                        child(path, "ownerReferences"),
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {controller} and {current}",
                    )
                )
            else:
                controller = current
    finalizers = meta.get("finalizers") or []
    for finalizer in finalizers if isinstance(finalizers, list) else ():
        if isinstance(finalizer, str):
            errors.extend(
                invalid(child(path, "finalizers"), finalizer, msg)
                for msg in qualified_name_errors(finalizer)
            )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errors.append(
            invalid(
                child(path, "finalizers"),
                finalizers,
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return errors


def embedded_metadata_errors(meta: dict[str, Any], path: str) -> list[FieldError]:
    """``ValidateObjectMeta`` of an embedded resource's metadata: names as path segments,
    the name defaulted when missing, namespace allowed."""
    meta = dict(meta)
    if not meta.get("name"):
        meta["name"] = "fakename"
    namespaced = True if meta.get("namespace") else None
    return object_meta_errors(meta, path, path_segment_errors, namespaced)
