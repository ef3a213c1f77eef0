"""Check a CRD version's ``x-kubernetes-validations`` when the CRD is written, as
apiextensions' ``ValidateCustomResourceDefinitionOpenAPISchema`` does: every rule (and
``messageExpression``) compiles against its node's declared type, a rule yields a bool and a
message expression a string, ``oldSelf`` is not used below a list that cannot correlate old
and new items, ``optionalOldSelf`` is set only on transition rules, and the estimated costs
stay within kube's limits (10^7 per expression, times how often the node can occur; 10^8 for
the whole schema). Nodes with schema errors at or below them are skipped, as kube skips
them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from . import cel_types as t
from .cel_compile import Compiled, compile_expr, instantiation_error
from .cel_cost import estimate, factor_text, max_cardinality
from .cel_decl import DeclType, decl_type
from .errors import FieldError, child, forbidden, index, invalid, key
from .props import Props, Rule, _Struct

__all__ = ["rule_errors"]

_RULE_LIMIT = 10_000_000
_SCHEMA_LIMIT = 100_000_000
_U64 = (1 << 64) - 1
_ADVICE = (
    " (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where "
    "arrays, maps, and strings are declared)"
)


def _budget_message(what: str, cost: int, limit: int) -> str:
    return f"{what} exceeds budget by factor of {factor_text(cost, limit)}{_ADVICE}"


@dataclass
class _Total:
    """kube's ``TotalCost``: the sum and the (at most four) most expensive expressions."""

    total: int = 0
    expensive: list[tuple[str, int]] = field(default_factory=list)

    def observe(self, path: str, cost: int) -> None:
        self.total = min(self.total + cost, _U64)
        if cost < _SCHEMA_LIMIT // 100:
            return
        self.expensive.append((path, cost))
        self.expensive.sort(key=lambda e: -e[1])
        del self.expensive[4:]


def _has_errors_below(path: str, schema_errors: list[FieldError]) -> bool:
    return any(
        e.field == path or e.field.startswith(path + ".") or e.field.startswith(path + "[")
        for e in schema_errors
    )


def _cost(compiled: Compiled, decl: DeclType) -> int:
    return estimate(compiled.parsed.expr, compiled.checked, decl)


def _node_errors(
    props: Props,
    path: str,
    root: bool,
    uncorrelatable: str | None,
    cardinality: int | None,
    total: _Total,
) -> Iterator[FieldError]:
    built = decl_type(props, root)
    if built is None:
        return  # kube reports an internal error; no rule of such a node can run anyway
    decl, structs = built
    times = cardinality if cardinality is not None else max_cardinality(decl.min_size)
    for i, rule in enumerate(props.x_validations or ()):
        where = index(child(path, "x-kubernetes-validations"), i)
        yield from _rule_errors(rule, where, decl, structs, uncorrelatable, times, total)


def _rule_errors(
    rule: Rule,
    where: str,
    decl: DeclType,
    structs: dict[str, DeclType],
    uncorrelatable: str | None,
    times: int,
    total: _Total,
) -> Iterator[FieldError]:
    if not rule.rule.strip():
        return
    value = _Struct(rule.go_fields())
    optional = bool(rule.optional_old_self)
    compiled, issues = compile_expr(rule.rule, decl, structs, optional)
    usable = compiled is not None and compiled.output == t.BOOL
    planning = instantiation_error(compiled) if compiled is not None and usable else None
    usable = usable and planning is None
    cost = 0
    if compiled is not None and usable:
        cost = min(_cost(compiled, decl) * times, _U64) if times else 0
    if cost > _RULE_LIMIT:
        yield forbidden(
            child(where, "rule"), _budget_message("estimated rule cost", cost, _RULE_LIMIT)
        )
    total.observe(child(where, "rule"), cost)
    if compiled is None:
        yield invalid(child(where, "rule"), value, f"compilation failed: {issues.display()}")
        return
    if planning is not None:
        yield invalid(child(where, "rule"), value, f"program instantiation failed: {planning}")
        return
    if not usable:
        yield invalid(child(where, "rule"), value, "cel expression must evaluate to a bool")
        return
    if rule.message_expression.strip():
        message, m_issues = compile_expr(rule.message_expression, decl, structs, optional)
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
        elif (why := instantiation_error(message)) is not None:
            yield invalid(
                child(where, "messageExpression"),
                value,
                f"messageExpression instantiation failed: {why}",
            )
        else:
            message_cost = _cost(message, decl)
            if message_cost > _RULE_LIMIT:
                yield forbidden(
                    child(where, "messageExpression"),
                    _budget_message("estimated messageExpression cost", message_cost, _RULE_LIMIT),
                )
            total.observe(child(where, "messageExpression"), message_cost)
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


def _max_elements(props: Props) -> int | None:
    """How many children a node has at most (``None``: unbounded), as kube counts them."""
    if props.type == "object":
        if props.additional_properties is not None:
            return max(props.max_properties, 0) if props.max_properties is not None else None
        return 1
    if props.type == "array":
        return max(props.max_items, 0) if props.max_items is not None else None
    return 1


def _below(cardinality: int | None, parent: Props) -> int | None:
    most = _max_elements(parent)
    if cardinality is None or most is None:
        return None
    return min(cardinality * most, _U64)


@dataclass
class _Walk:
    schema_errors: list[FieldError]
    total: _Total = field(default_factory=_Total)

    def walk(
        self,
        props: Props | None,
        path: str,
        root: bool,
        uncorrelatable: str | None,
        cardinality: int | None,
    ) -> Iterator[FieldError]:
        """Children first, as kube appends a node's CEL errors after its children's."""
        if props is None:
            return
        below = _below(cardinality, props)
        if props.additional_properties is not None:
            extra = props.additional_properties[1]
            yield from self.walk(
                extra,
                child(path, "additionalProperties"),
                bool(extra and extra.x_embedded_resource),
                uncorrelatable,
                below,
            )
        for name, sub in (props.properties or {}).items():
            yield from self.walk(
                sub,
                key(child(path, "properties"), name),
                sub.x_embedded_resource,
                uncorrelatable,
                below,
            )
        if props.items is not None:
            items_uncorrelatable = uncorrelatable
            if items_uncorrelatable is None and props.x_list_type != "map":
                items_uncorrelatable = path
            yield from self.walk(
                props.items,
                child(path, "items"),
                props.items.x_embedded_resource,
                items_uncorrelatable,
                below,
            )
        if props.x_validations and not _has_errors_below(path, self.schema_errors):
            yield from _node_errors(props, path, root, uncorrelatable, cardinality, self.total)

    def total_errors(self, path: str) -> list[FieldError]:
        if self.total.total <= _SCHEMA_LIMIT:
            return []
        errors = [
            forbidden(
                where,
                "contributed to estimated rule cost total exceeding cost limit for entire "
                "OpenAPIv3 schema",
            )
            for where, _ in self.total.expensive
        ]
        errors.append(
            forbidden(
                path,
                _budget_message(
                    "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 "
                    "schema",
                    self.total.total,
                    _SCHEMA_LIMIT,
                ),
            )
        )
        return errors


def rule_errors(
    schema: Props, path: str, schema_errors: list[FieldError]
) -> tuple[list[FieldError], list[FieldError]]:
    """The CEL errors of a version's structural schema at ``path`` (``...openAPIV3Schema``),
    and the errors of its total estimated cost (kube appends those after everything else)."""
    if not any(p.x_validations for p in schema.walk()):
        return [], []
    walk = _Walk(schema_errors)
    errors = list(walk.walk(schema, path, True, None, 1))
    return errors, walk.total_errors(path)
