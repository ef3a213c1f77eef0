"""Evaluate a CRD's ``x-kubernetes-validations`` (CEL) rules as kube-apiserver does.

Each rule runs with ``self`` bound to the value at its schema node (and ``oldSelf`` to the
old value on an update); a false result becomes a field error at that node (or at the rule's
``fieldPath``) with the rule's ``message``/``messageExpression``/``reason``. Transition rules
(those naming ``oldSelf``) run only when an old value exists unless ``optionalOldSelf`` (then
``oldSelf`` is an optional). On an update, a rule without ``oldSelf`` whose value did not
change only warns (kube's validation ratcheting). Null values
are never validated.

The CEL engine is this package's own (:mod:`.cel_parse`, :mod:`.cel_check`,
:mod:`.cel_eval`, with the libraries of :mod:`.cel_lib` and :mod:`.cel_k8s`); each rule is
compiled once per schema node against the node's declared type, as kube compiles it. Runtime
cost limits are not enforced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import cel_types as t
from .cel_compile import Compiled, compile_expr, instantiation_error
from .cel_decl import decl_type
from .cel_eval import CostLimitExceeded, evaluate
from .cel_fieldpath import FieldPathError, field_path_steps
from .cel_values import NONE, EvalError, Optional, from_json
from .errors import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    OMIT,
    REQUIRED,
    FieldError,
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    required,
)
from .goformat import quote
from .props import Props, Rule

__all__ = ["blocking_error", "validate_rules"]

_CACHE = "_cel_compiled"
_MAX_MESSAGE_BYTES = 5 * 1024


@dataclass
class _Program:
    rule: Compiled | None
    message: Compiled | None
    error: str = ""  # why the rule does not compile (kube reports it on every write)


def _programs(props: Props, root: bool) -> list[_Program]:
    """The node's rules compiled against its declared type (once per schema object)."""
    cached: list[_Program] | None = props.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    out: list[_Program] = []
    built = decl_type(props, root)
    for rule in props.x_validations or ():
        if built is None or not rule.rule.strip():
            out.append(_Program(None, None))
            continue
        decl, structs = built
        optional = bool(rule.optional_old_self)
        compiled, issues = compile_expr(rule.rule, decl, structs, optional)
        if compiled is None:
            out.append(_Program(None, None, f"compilation failed: {issues.display()}"))
            continue
        if compiled.output != t.BOOL:
            out.append(_Program(None, None, "cel expression must evaluate to a bool"))
            continue
        planning = instantiation_error(compiled)
        if planning is not None:
            out.append(_Program(None, None, f"program instantiation failed: {planning}"))
            continue
        message = None
        if rule.message_expression.strip():
            message, _ = compile_expr(rule.message_expression, decl, structs, optional)
            if message is not None and (
                message.output != t.STRING or instantiation_error(message) is not None
            ):
                message = None
        out.append(_Program(compiled, message))
    props.__dict__[_CACHE] = out
    return out


def _message(rule: Rule) -> str:
    return rule.message.strip() or f"failed rule: {rule.rule.strip()}"


def _error_string(rule: Rule) -> str:
    return rule.message.strip() or rule.rule.strip()


def _field_error(path: str, value: Any, detail: str, reason: str | None) -> FieldError:
    if reason == FORBIDDEN:
        return forbidden(path, detail)
    if reason == REQUIRED:
        return required(path, detail)
    if reason == DUPLICATE:
        return duplicate(path, value)
    return FieldError(INVALID, path, value, detail)


def _rule_path(path: str, field_path: str, props: Props) -> str:
    """The rule's ``fieldPath`` (``.a.b``, ``['k']``) below the node's path (the node itself
    when the path does not name a field, as kube)."""
    try:
        steps = field_path_steps(field_path, props)
    except FieldPathError:
        return path
    out = path
    for named, name in steps:
        out = child(out, name) if named else key(out, name)
    return out


_PER_CALL_LIMIT = 1_000_000
_BUDGET = 10_000_000
_OUT_OF_BUDGET = "no further validation rules will be run"


@dataclass
class _Budget:
    """kube's runtime cost budget of one object's rules (and whether validation stopped)."""

    remaining: int = _BUDGET
    stopped: bool = False
    warnings: list[str] = field(default_factory=list)


def _run(program: Compiled, variables: dict[str, Any]) -> tuple[Any, int]:
    from .cel_k8s import FUNCTIONS

    return evaluate(
        program.parsed.expr, program.checked, variables, FUNCTIONS, limit=_PER_CALL_LIMIT
    )


def _runtime_error(err: EvalError, rule: Rule) -> str:
    text = str(err)
    if text.startswith("no such overload"):
        return (
            f"'{text}': call arguments did not match a supported operator, function or macro "
            f"signature for rule: {_error_string(rule)}"
        )
    return f"{text} evaluating rule: {_error_string(rule)}"


def _message_text(
    program: Compiled, variables: dict[str, Any], source: str, budget: _Budget
) -> tuple[str | None, str | None]:
    """The message, or ``None``; and an error that stops validation (cost)."""
    try:
        out, cost = _run(program, variables)
    except CostLimitExceeded:
        budget.stopped = True
        return None, (
            f"{_OUT_OF_BUDGET} due to call cost exceeds limit for messageExpression: "
            f"{quote(source)}"
        )
    except EvalError as err:
        out, cost = None, err.cost
    if cost > budget.remaining:
        budget.stopped = True
        return None, (
            "messageExpression evaluation failed due to running out of cost budget, "
            f"{_OUT_OF_BUDGET}"
        )
    budget.remaining -= cost
    if not isinstance(out, str):
        return None, None
    text = out.strip()
    if not text or len(text.encode()) > _MAX_MESSAGE_BYTES or re.search(r"[\n\r]", text):
        return None, None
    return text, None


def _node_errors(
    props: Props,
    value: Any,
    old: Any,
    has_old: bool,
    path: str,
    root: bool,
    budget: _Budget,
) -> Iterator[FieldError]:
    type_name = props.type or ""
    programs = _programs(props, root)
    if not programs:
        return
    if budget.remaining <= 0:
        budget.stopped = True
        yield invalid(
            path or "<nil>",
            type_name,
            f"validation failed due to running out of cost budget, {_OUT_OF_BUDGET}",
        )
        return
    bad = OMIT if type_name in ("object", "array") else value
    current = None
    previous = None
    for rule, program in zip(props.x_validations or (), programs, strict=True):
        compiled = program.rule
        if compiled is None:
            if program.error:
                yield invalid(path or "<nil>", type_name, f"rule compile error: {program.error}")
            continue
        uses_old = compiled.uses_old_self
        optional_old = bool(rule.optional_old_self)
        if uses_old and not has_old and not optional_old:
            continue
        # Ratcheting: a rule without oldSelf on an unchanged value only warns.
        ratchet = not uses_old and has_old and old == value
        if current is None:
            current = from_json(props, value, root)
            previous = from_json(props, old, root) if has_old else None
        variables: dict[str, Any] = {"self": current}
        if uses_old:
            if optional_old:
                variables["oldSelf"] = Optional(previous, True) if has_old else NONE
            else:
                variables["oldSelf"] = previous
        failure: EvalError | None = None
        cancelled = False
        try:
            result, cost = _run(compiled, variables)
        except CostLimitExceeded:
            cancelled, result, cost = True, None, _PER_CALL_LIMIT + 1
        except EvalError as err:
            failure, result, cost = err, None, err.cost
        if cost > budget.remaining:
            budget.stopped = True
            yield invalid(
                path or "<nil>",
                type_name,
                f"validation failed due to running out of cost budget, {_OUT_OF_BUDGET}",
            )
            return
        budget.remaining -= cost
        if cancelled:
            budget.stopped = True
            yield invalid(
                path or "<nil>",
                type_name,
                "'operation cancelled: actual cost limit exceeded': "
                f"{_OUT_OF_BUDGET} due to call cost exceeds limit for rule: {_error_string(rule)}",
            )
            return
        if failure is not None:
            error = invalid(path or "<nil>", type_name, _runtime_error(failure, rule))
            if ratchet:
                budget.warnings.append(str(error))
            else:
                yield error
            continue
        if result is True:
            continue
        # A nil field.Path prints as <nil> (a rule on the resource's root).
        where = (_rule_path(path, rule.field_path, props) if rule.field_path else path) or "<nil>"
        detail = None
        if program.message is not None:
            # kube evaluates it with the plain activation: oldSelf is never an optional there
            plain = {"self": current}
            if has_old:
                plain["oldSelf"] = previous
            detail, stop = _message_text(program.message, plain, rule.message_expression, budget)
            if stop is not None:
                yield invalid(where, type_name, stop)
                return
        error = _field_error(where, bad, detail or _message(rule), rule.reason)
        if ratchet:
            budget.warnings.append(str(error))
        else:
            yield error


def _walk(
    props: Props | None, value: Any, old: Any, has_old: bool, path: str, budget: _Budget
) -> Iterator[FieldError]:
    if props is None or value is None or budget.stopped:
        return
    root = not path or props.x_embedded_resource
    yield from _node_errors(props, value, old, has_old, path, root, budget)
    for sub in props.all_of or ():
        if budget.stopped:
            return
        yield from _node_errors(sub, value, old, has_old, path, root, budget)
    if isinstance(value, dict):
        old_map = old if has_old and isinstance(old, dict) else {}
        extra = props.additional_properties[1] if props.additional_properties else None
        if extra is not None:
            for k, v in value.items():
                yield from _walk(extra, v, old_map.get(k), k in old_map, key(path, k), budget)
        for name, sub in (props.properties or {}).items():
            if name in value:
                yield from _walk(
                    sub,
                    value[name],
                    old_map.get(name),
                    name in old_map,
                    child(path, name),
                    budget,
                )
    elif isinstance(value, list) and props.items is not None:
        old_list = old if has_old and isinstance(old, list) else None
        keys = props.x_list_map_keys if props.x_list_type == "map" else None
        for i, item in enumerate(value):
            has, prev = _correlate(item, i, old_list, props.x_list_type, keys)
            yield from _walk(props.items, item, prev, has, index(path, i), budget)


def _correlate(
    item: Any, i: int, old: list[Any] | None, list_type: str | None, keys: list[str] | None
) -> tuple[bool, Any]:
    """The old element an element is compared with: same keys in a map list, the equal
    element in a set (for ratcheting only: kube refuses ``oldSelf`` below a set); atomic
    lists have no correlation (as kube)."""
    if old is None:
        return False, None
    if list_type == "map" and keys and isinstance(item, dict):
        for prev in old:
            if isinstance(prev, dict) and all(prev.get(k) == item.get(k) for k in keys):
                return True, prev
        return False, None
    if list_type == "set":
        return (True, item) if item in old else (False, None)
    return False, None


_BLOCKING = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)


def blocking_error(errors: list[FieldError]) -> FieldError | None:
    """kube's ``hasBlockingErr``: after a type, enum, required, length or count error the
    rules do not run, and one error says so."""
    if any(e.type in _BLOCKING for e in errors):
        return invalid(
            "<nil>",
            None,
            "some validation rules were not checked because the object was invalid; correct "
            "the existing errors to complete validation",
        )
    return None


def validate_rules(
    schema: Props | None,
    obj: Any,
    old: Any | None,
    base: str = "",
    warnings: list[str] | None = None,
) -> list[FieldError]:
    """Every failed ``x-kubernetes-validations`` rule of ``schema`` on ``obj`` (``old``: the
    stored object on an update); the failures kube's ratcheting turns into warnings (rules
    without ``oldSelf`` on an unchanged value) go to ``warnings``."""
    if schema is None or not any(p.x_validations for p in schema.walk()):
        return []
    budget = _Budget()
    errors = list(_walk(schema, obj, old, old is not None, base, budget))
    if warnings is not None:
        warnings.extend(budget.warnings)
    return errors
