"""Check a CRD version's ``x-kubernetes-validations`` when the CRD is written, as
apiextensions' ``ValidateCustomResourceDefinitionOpenAPISchema`` does: every rule (and
``messageExpression``) compiles against its node's declared type, a rule yields a bool and a
message expression a string, ``oldSelf`` is not used below a list that cannot correlate old
and new items, and ``optionalOldSelf`` is set only on transition rules. Nodes with schema
errors at or below them are skipped, as kube skips them."""

from __future__ import annotations

from collections.abc import Iterator

from . import cel_types as t
from .cel_compile import compile_expr
from .cel_decl import DeclType, decl_type
from .errors import FieldError, child, index, invalid, key
from .props import Props, _Struct

__all__ = ["rule_errors"]


def _has_errors_below(path: str, schema_errors: list[FieldError]) -> bool:
    return any(
        e.field == path or e.field.startswith(path + ".") or e.field.startswith(path + "[")
        for e in schema_errors
    )


def _node_errors(
    props: Props, path: str, root: bool, uncorrelatable: str | None
) -> Iterator[FieldError]:
    rules = props.x_validations or ()
    built = decl_type(props, root)
    if built is None:
        return  # kube reports an internal error; no rule of such a node can run anyway
    decl, structs = built
    for i, rule in enumerate(rules):
        where = index(child(path, "x-kubernetes-validations"), i)
        yield from _rule_errors(rule, where, decl, structs, uncorrelatable)


def _rule_errors(
    rule: object,
    where: str,
    decl: DeclType,
    structs: dict[str, DeclType],
    uncorrelatable: str | None,
) -> Iterator[FieldError]:
    from .props import Rule

    assert isinstance(rule, Rule)
    if not rule.rule.strip():
        return
    value = _Struct(rule.go_fields())
    compiled, issues = compile_expr(rule.rule, decl, structs, bool(rule.optional_old_self))
    if compiled is None:
        yield invalid(child(where, "rule"), value, f"compilation failed: {issues.display()}")
    elif compiled.output != t.BOOL:
        yield invalid(child(where, "rule"), value, "cel expression must evaluate to a bool")
    else:
        if rule.message_expression.strip():
            message, m_issues = compile_expr(
                rule.message_expression, decl, structs, bool(rule.optional_old_self)
            )
            if message is None:
                yield invalid(
                    child(where, "messageExpression"),
                    value,
                    f"messageExpression compilation failed: {m_issues.display()}",
                )
            elif message.output != t.STRING:
                yield invalid(
                    child(where, "messageExpression"),
                    value,
                    "messageExpression must evaluate to a string",
                )
        if compiled.uses_old_self:
            if uncorrelatable is not None:
                yield invalid(
                    child(where, "rule"),
                    rule.rule,
                    "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                    f"{uncorrelatable}",
                )
        elif rule.optional_old_self is not None:
            yield invalid(
                child(where, "optionalOldSelf"),
                rule.optional_old_self,
                "may not be set if oldSelf is not used in rule",
            )


def _walk(
    props: Props | None,
    path: str,
    root: bool,
    uncorrelatable: str | None,
    schema_errors: list[FieldError],
) -> Iterator[FieldError]:
    """Children first, as kube appends a node's CEL errors after its children's."""
    if props is None:
        return
    if props.additional_properties is not None:
        extra = props.additional_properties[1]
        yield from _walk(
            extra,
            child(path, "additionalProperties"),
            bool(extra and extra.x_embedded_resource),
            uncorrelatable,
            schema_errors,
        )
    for name, sub in (props.properties or {}).items():
        yield from _walk(
            sub,
            key(child(path, "properties"), name),
            sub.x_embedded_resource,
            uncorrelatable,
            schema_errors,
        )
    if props.items is not None:
        below = uncorrelatable
        if below is None and props.x_list_type != "map":
            below = path
        yield from _walk(
            props.items,
            child(path, "items"),
            props.items.x_embedded_resource,
            below,
            schema_errors,
        )
    if props.x_validations and not _has_errors_below(path, schema_errors):
        yield from _node_errors(props, path, root, uncorrelatable)


def rule_errors(schema: Props, path: str, schema_errors: list[FieldError]) -> list[FieldError]:
    """The CEL errors of a version's structural schema at ``path`` (``...openAPIV3Schema``)."""
    if not any(p.x_validations for p in schema.walk()):
        return []
    return list(_walk(schema, path, True, None, schema_errors))
