"""The worst-case cost kube estimates for a compiled rule (cel-go's ``checker.Cost`` with
Kubernetes' ``library.CostEstimator`` and the list and set extensions' estimators): sizes come
from the schema (``maxLength`` x4, ``maxItems``, ``maxProperties``, or what a 3 MiB request
could hold), comprehensions multiply their step by the range's size, string operations cost a
tenth per character. The CRD check multiplies a rule's cost by how many times its node can
occur in an object and refuses a rule above 10^7 or a schema above 10^8 in total."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import cel_types as t
from .cel_ast import ACCU, Call, Comp, Expr, Ident, ListExpr, Literal, MapExpr, Select, StructExpr
from .cel_check import Checked
from .cel_decl import MAX_REQUEST_BYTES, DeclType

__all__ = ["Cost", "estimate", "factor_text", "max_cardinality"]

_U64 = (1 << 64) - 1
_STRING = 0.1
_REGEX = 0.25
_LIST_BASE = 10
_MAP_BASE = 30
_STRUCT_BASE = 40
_MAX_NAME_FORMAT_REGEX = 128
_MAX_FORMAT_SIZE = 64


def _add(x: int, y: int) -> int:
    return _U64 if y > 0 and x > _U64 - y else x + y


def _mul(x: int, y: int) -> int:
    return _U64 if y != 0 and x > _U64 // y else x * y


def _factor(x: int, y: float) -> int:
    xf = float(x)
    if xf > 0 and y > 0 and xf > float(_U64) / y:
        return _U64
    ceil = math.ceil(xf * y)
    return _U64 if ceil >= 2.0**64 else int(ceil)


@dataclass(frozen=True)
class Cost:
    """A [min, max] estimate (also used for sizes)."""

    lo: int
    hi: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(_add(self.lo, other.lo), _add(self.hi, other.hi))

    def times(self, other: Cost) -> Cost:
        return Cost(_mul(self.lo, other.lo), _mul(self.hi, other.hi))

    def by(self, factor: float) -> Cost:
        return Cost(_factor(self.lo, factor), _factor(self.hi, factor))

    def union(self, other: Cost) -> Cost:
        return Cost(min(self.lo, other.lo), max(self.hi, other.hi))


def _fixed(n: int) -> Cost:
    return Cost(n, n)


_UNKNOWN = Cost(0, _U64)
_ONE = _fixed(1)


@dataclass
class _Entry:
    kind: str  # "list" or "map"
    key: Cost
    val: Cost

    def union(self, other: _Entry | None) -> _Entry | None:
        if other is None:
            return None
        return _Entry(self.kind, self.key.union(other.key), self.val.union(other.val))


@dataclass
class _Var:
    path: list[str] | None
    size: Cost | None
    entry: _Entry | None = None


@dataclass
class _Node:
    """cel-go's ``AstNode``: what an estimator sees of an argument."""

    expr: Expr | None
    type: t.Type
    path: list[str] | None
    size: Cost | None


class _Coster:
    def __init__(self, checked: Checked, root: DeclType, qualified: dict[int, str]) -> None:
        self.checked = checked
        self.root = root
        self.qualified = qualified
        self.paths: dict[int, list[str]] = {}
        self.locals: dict[str, list[_Var]] = {}
        self.sizes: dict[int, Cost] = {}
        self.entries: dict[int, _Entry] = {}

    # -- helpers

    def type_of(self, e: Expr) -> t.Type:
        return self.checked.types.get(e.id, t.DYN)

    def peek(self, name: str) -> _Var | None:
        stack = self.locals.get(name)
        return stack[-1] if stack else None

    def push(self, name: str, var: _Var) -> None:
        self.locals.setdefault(name, []).append(var)

    def pop(self, name: str) -> None:
        self.locals[name].pop()

    def path_of(self, e: Expr) -> list[str] | None:
        if isinstance(e, Ident):
            var = self.peek(e.name)
            if var is not None:
                return list(var.path) if var.path is not None else None
        found = self.paths.get(e.id)
        return list(found) if found is not None else None

    def entry_of(self, e: Expr) -> _Entry | None:
        if e.id in self.entries:
            return self.entries[e.id]
        if isinstance(e, Ident):
            var = self.peek(e.name)
            if var is not None and var.entry is not None:
                return var.entry
        return None

    def size_of(self, e: Expr) -> Cost | None:
        """cel-go's ``computeSize``."""
        if e.id in self.sizes:
            return self.sizes[e.id]
        literal = _expr_size(e)
        if literal is not None:
            return literal
        estimated = self.estimate_size(self.path_of(e))
        if estimated is not None:
            self.sizes[e.id] = estimated
            return estimated
        if _is_scalar(self.type_of(e)):
            return _ONE
        if isinstance(e, Ident):
            var = self.peek(e.name)
            if var is not None and var.size is not None:
                return var.size
        return None

    def estimate_size(self, path: list[str] | None) -> Cost | None:
        """Kubernetes' ``sizeEstimator``: the declared bound at ``self.<path>``."""
        if not path:
            return None
        node: DeclType | None = self.root
        for name in path[1:]:
            if node is None:
                return None
            if name in ("@items", "@values"):
                node = node.elem
            elif name == "@keys":
                node = node.fields.get("@key") if node.type.kind == "map" else None
            else:
                node = node.fields.get(name) if node.type.kind == "struct" else None
        if node is None:
            return None
        return Cost(0, node.max_elements)

    def node(self, e: Expr) -> _Node:
        path = self.path_of(e)
        if path and path[0] in (ACCU, "@result"):
            path = None
        return _Node(e, self.type_of(e), path, self.size_of(e))

    def node_size(self, n: _Node) -> Cost:
        if n.size is not None:
            return n.size
        estimated = self.estimate_size(n.path)
        return estimated if estimated is not None else _UNKNOWN

    def size_or_unknown(self, e: Expr) -> Cost:
        size = self.size_of(e)
        return size if size is not None else _UNKNOWN

    # -- the walk

    def cost(self, e: Expr) -> Cost:
        if isinstance(e, Literal):
            return _fixed(0)
        if isinstance(e, Ident):
            var = self.peek(e.name)
            self.paths[e.id] = list(var.path or []) if var is not None else [e.name]
            return _ONE
        if isinstance(e, Select):
            if e.id in self.qualified:
                self.paths[e.id] = [self.qualified[e.id]]
                return _ONE
            return self.cost_select(e)
        if isinstance(e, Call):
            return self.cost_call(e)
        if isinstance(e, ListExpr):
            total = _fixed(0)
            item = Cost(0 if not e.elements else _U64, 0)
            for x in e.elements:
                total = total + self.cost(x)
                item = item.union(self.size_or_unknown(x))
            self.entries[e.id] = _Entry("list", _ONE, item)
            return total + _fixed(_LIST_BASE)
        if isinstance(e, MapExpr):
            total = _fixed(0)
            keys = Cost(0 if not e.entries else _U64, 0)
            vals = Cost(0 if not e.entries else _U64, 0)
            for entry in e.entries:
                assert isinstance(entry.key, Expr)
                total = total + self.cost(entry.key) + self.cost(entry.value)
                keys = keys.union(self.size_or_unknown(entry.key))
                vals = vals.union(self.size_or_unknown(entry.value))
            self.entries[e.id] = _Entry("map", keys, vals)
            return total + _fixed(_MAP_BASE)
        if isinstance(e, StructExpr):
            total = _fixed(0)
            for f in e.fields:
                total = total + self.cost(f.value)
            return total + _fixed(_STRUCT_BASE)
        assert isinstance(e, Comp)
        return self.cost_bind(e) if self.is_bind(e) else self.cost_comp(e)

    def cost_select(self, e: Select) -> Cost:
        if e.test_only:
            return _fixed(0) + self.cost(e.operand)  # presence tests are free in kube
        total = self.cost(e.operand)
        if self.type_of(e.operand).kind in ("map", "struct", "param"):
            total = total + _ONE
        operand_path = self.path_of(e.operand) or []
        self.paths[e.id] = [*operand_path, e.field]
        return total

    def cost_call(self, e: Call) -> Cost:
        if e.function == "dyn" and e.target is None and len(e.args) == 1:
            arg_cost = self.cost(e.args[0])
            size = self.size_of(e.args[0])
            if size is not None:
                self.sizes[e.id] = size
            entry = self.entry_of(e.args[0])
            if entry is not None:
                self.entries[e.id] = entry
            return _ONE + arg_cost
        namespaced = e.id in self.checked.namespaced
        args = list(e.args)
        arg_costs = [self.cost(a) for a in args]
        arg_nodes = [self.node(a) for a in args]
        ids = self.checked.overloads.get(e.id, [])
        if e.function == "_?._":
            ids = ids or ["select_optional_field"]
        if not ids:
            return _fixed(0)
        total = _fixed(0)
        target: _Node | None = None
        if e.target is not None and not namespaced:
            total = total + self.cost(e.target)
            target = self.node(e.target)
        fn_cost = Cost(_U64, 0)
        result: Cost | None = None
        function = self.checked.namespaced.get(e.id, e.function)
        for oid in ids:
            est_cost, est_size = self.function_cost(e, function, oid, target, arg_nodes, arg_costs)
            fn_cost = fn_cost.union(est_cost)
            if est_size is not None:
                result = est_size if result is None else result.union(est_size)
            if oid in ("index_list", "index_map") and args:
                entry = self.entry_of(args[0])
                result = entry.val if entry is not None else None
                sub = "@items" if oid == "index_list" else "@values"
                self.paths[e.id] = [*(self.path_of(args[0]) or []), sub]
            if result is None:
                result = self.size_of(e)
        if result is not None:
            self.sizes[e.id] = result
        return total + fn_cost

    def cost_comp(self, e: Comp) -> Cost:
        total = self.cost(e.iter_range) + self.cost(e.accu_init)
        self.push(e.accu_var, self.local_for(e.accu_init))
        entry = self.entry_of(e.iter_range)
        container = entry.kind if entry is not None else self.type_of(e.iter_range).kind
        range_path = self.path_of(e.iter_range) or []
        if e.iter_var2:
            key_sub = "@indices" if container == "list" else "@keys"
            val_sub = "@items" if container == "list" else "@values"
            self.push(
                e.iter_var,
                _Var([*range_path, key_sub], entry.key if entry is not None else None),
            )
            self.push(
                e.iter_var2,
                _Var([*range_path, val_sub], entry.val if entry is not None else None),
            )
        else:
            if container == "list":
                size = entry.val if entry is not None else None
                sub = "@items"
            else:
                size = entry.key if entry is not None else None
                sub = "@keys"
            self.push(e.iter_var, _Var([*range_path, sub], size))
        loop = self.cost(e.loop_condition)
        step = self.cost(e.loop_step)
        self.pop(e.iter_var)
        if e.iter_var2:
            self.pop(e.iter_var2)
        total = total + self.cost(e.result)
        self.pop(e.accu_var)
        count = self.size_or_unknown(e.iter_range)
        total = total + count.times(step + loop)
        if isinstance(e.accu_init, Literal):
            size = self.size_of(e.accu_init)
            if size is not None:
                self.sizes[e.id] = size
        elif isinstance(e.accu_init, (ListExpr, MapExpr)):
            self.sizes[e.id] = count
            step_entry = self.entry_of(e.loop_step)
            if step_entry is not None:
                self.entries[e.id] = step_entry
        return total

    def local_for(self, e: Expr) -> _Var:
        return _Var(self.path_of(e), self.size_of(e), self.entry_of(e))

    def is_bind(self, e: Comp) -> bool:
        return (
            isinstance(e.iter_range, ListExpr)
            and not e.iter_range.elements
            and isinstance(e.loop_condition, Literal)
            and e.loop_condition.value is False
            and e.accu_var != ACCU
        )

    def cost_bind(self, e: Comp) -> Cost:
        total = self.cost(e.iter_range) + self.cost(e.accu_init)
        self.push(e.accu_var, self.local_for(e.accu_init))
        total = total + self.cost(e.result)
        self.pop(e.accu_var)
        size = self.size_of(e.result)
        if size is not None:
            self.sizes[e.id] = size
        entry = self.entry_of(e.result)
        if entry is not None:
            self.entries[e.id] = entry
        return total

    # -- calls

    def function_cost(
        self,
        e: Call,
        function: str,
        oid: str,
        target: _Node | None,
        args: list[_Node],
        arg_costs: list[Cost],
    ) -> tuple[Cost, Cost | None]:
        arg_sum = _fixed(0)
        for c in arg_costs:
            arg_sum = arg_sum + c
        ext = self.extension_cost(oid, target, args)
        if ext is not None:
            return ext[0] + arg_sum, ext[1]
        k8s = self.kubernetes_cost(function, oid, target, args)
        if k8s is not None:
            return k8s[0] + arg_sum, k8s[1]
        return self.builtin_cost(e, oid, target, args, arg_costs, arg_sum)

    def extension_cost(
        self, oid: str, target: _Node | None, args: list[_Node]
    ) -> tuple[Cost, Cost | None] | None:
        def alloc(factor: float, size: Cost) -> tuple[Cost, Cost]:
            return size.by(factor) + _ONE + _fixed(_LIST_BASE), size

        if oid in ("list_sets_contains_list", "list_sets_intersects_list") and len(args) == 2:
            return self.node_size(args[0]).times(self.node_size(args[1])).by(1) + _ONE, None
        if oid == "list_sets_equivalent_list" and len(args) == 2:
            return self.node_size(args[0]).times(self.node_size(args[1])).by(2) + _ONE, None
        if oid == "list_slice" and target is not None and len(args) == 2:
            size = self.node_size(target)
            start = _uint_literal(args[0], 0)
            end = _uint_literal(args[1], size.hi)
            return alloc(1, _fixed((end - start) % (1 << 64)))
        if oid == "lists_range" and target is None and len(args) == 1:
            return alloc(1, _fixed(_uint_literal(args[0], _U64)))
        if oid == "list_reverse" and target is not None and not args:
            return alloc(1, self.node_size(target))
        if oid in ("list_flatten", "list_flatten_int") and target is not None and len(args) <= 1:
            depth = _uint_literal(args[0], _U64) if args else 1
            return alloc(float(depth), self.node_size(target))
        if oid == "list_distinct" and target is not None and not args:
            size = self.node_size(target)
            return alloc(2.0, size.times(size))
        for kind in _SORTABLE:
            if oid == f"list_{kind}_sort" and target is not None and not args:
                size = self.node_size(target)
                factor = 2.0 + (_STRING if kind in ("string", "bytes") else 0)
                return alloc(factor, size.times(size))
            if oid == f"list_{kind}_sortByAssociatedKeys" and target is not None and len(args) == 1:
                size = self.node_size(args[0])
                factor = 2.0 + (_STRING if kind in ("string", "bytes") else 0)
                return alloc(factor, size.times(size))
        return None

    def element_node(self, target: _Node) -> _Node | None:
        if not target.type.params:
            return None
        path = [*target.path, "@items"] if target.path is not None else None
        return _Node(None, target.type.params[0], path, None)

    def kubernetes_cost(
        self, function: str, oid: str, target: _Node | None, args: list[_Node]
    ) -> tuple[Cost, Cost | None] | None:
        size_of = self.node_size
        if function == "check":
            return _fixed(350000), None
        if function in (
            "serviceAccount",
            "path",
            "group",
            "resource",
            "subresource",
            "namespace",
            "name",
            "allowed",
            "reason",
            "error",
            "errored",
        ):
            return _ONE, None
        if function in ("fieldSelector", "labelSelector") and len(args) == 1:
            length = size_of(args[0])
            parse = length.by(_STRING)
            requirements = length.by(0.5).by(float(_LIST_BASE + _STRUCT_BASE))
            return _fixed(_LIST_BASE) + parse + requirements, None
        if (
            function in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf", "includes")
            and target is not None
        ):
            element = self.element_node(target)
            if element is not None:
                each = _ONE
                if element.type.kind in ("string", "bytes"):
                    each = each + size_of(element).by(_STRING)
                return size_of(target).times(each), None
            return size_of(target).by(_STRING), None
        if function == "url" and len(args) == 1:
            size = size_of(args[0])
            return size.by(_STRING), size
        if function in ("lowerAscii", "upperAscii", "substring", "trim") and target is not None:
            size = size_of(target)
            return size.by(_STRING), size
        if function == "replace" and target is not None and len(args) >= 2:
            return self.replace_cost(size_of(target), size_of(args[0]), size_of(args[1]))
        if function == "split" and target is not None:
            size = size_of(target)
            most = size.hi
            if len(args) > 1 and isinstance(args[1].expr, Literal):
                value = args[1].expr.value
                if isinstance(value, int) and not isinstance(value, bool):
                    most = value % (1 << 64)
            return size.by(2 * _STRING), Cost(0, most)
        if function == "join" and target is not None:
            items = size_of(target)
            size = Cost(0, 0)
            element = self.element_node(target)
            if element is not None:
                size = items.times(size_of(element))
            if args:
                separators = Cost(max(items.lo - 1, 0), max(items.hi - 1, 0))
                size = size + size_of(args[0]).times(separators)
            return size.by(_STRING), size
        if function in ("find", "findAll") and target is not None and args:
            size = size_of(target)
            string_cost = (size + _ONE).by(_STRING)
            regex_cost = size_of(args[0]).by(_REGEX)
            return string_cost.times(regex_cost), Cost(0, size.hi)
        if function in ("cidr", "isIP", "isCIDR") and args:
            return size_of(args[0]).by(_STRING), None
        if function == "ip":
            if oid == "cidr_ip":
                return _ONE, None
            if args:
                return size_of(args[0]).by(_STRING), None
        if function == "ip.isCanonical" and args:
            return size_of(args[0]).by(2 * _STRING), None
        if function in (
            "masked",
            "prefixLength",
            "family",
            "isUnspecified",
            "isLoopback",
            "isLinkLocalMulticast",
            "isLinkLocalUnicast",
            "isGlobalUnicast",
        ):
            return _ONE, None
        if function in ("containsIP", "containsCIDR") and args:
            ip = Cost(4, 16)
            cost = (ip + ip).by(_STRING)
            if function == "containsCIDR":
                cost = cost + ip.by(_STRING) + _ONE
            if oid in ("cidr_contains_ip_string", "cidr_contains_cidr_string"):
                cost = cost + size_of(args[0]).by(_STRING)
            return cost, None
        if function in ("quantity", "isQuantity", "semver", "isSemver") and args:
            return size_of(args[0]).by(_STRING), None
        if function == "validate" and args:
            return size_of(args[0]).by(_STRING).by(_MAX_NAME_FORMAT_REGEX * _REGEX), None
        if function == "format.named":
            return _ONE, None
        if function in (
            "sign",
            "asInteger",
            "isInteger",
            "asApproximateFloat",
            "isGreaterThan",
            "isLessThan",
            "compareTo",
            "add",
            "sub",
            "major",
            "minor",
            "patch",
            "getScheme",
            "getHostname",
            "getHost",
            "getPort",
            "getEscapedPath",
            "getQuery",
        ):
            return _ONE, None
        if function == "_==_" and len(args) == 2 and args[0].type == args[1].type:
            kind, name = args[0].type.kind, args[0].type.name
            if kind == "opaque" and name in ("net.IP", "net.CIDR"):
                return _ONE, None
            if kind == "struct":
                if name in (
                    "kubernetes.Quantity",
                    "kubernetes.Semver",
                    "kubernetes.authorization.Authorizer",
                    "kubernetes.authorization.PathCheck",
                    "kubernetes.authorization.GroupCheck",
                    "kubernetes.authorization.ResourceCheck",
                    "kubernetes.authorization.Decision",
                ):
                    return _ONE, None
                if name == "kubernetes.NamedFormat":
                    return Cost(1, _MAX_FORMAT_SIZE).by(_STRING), None
                if name == "kubernetes.URL":
                    size = _ONE
                    if args[1].size is not None:
                        size = args[1].size.union(args[1].size)
                    return Cost(1, size.hi).by(_STRING), None
        return None

    @staticmethod
    def replace_cost(size: Cost, old: Cost, new: Cost) -> tuple[Cost, Cost | None]:
        count_lo = count_hi = 0
        kept_lo = kept_hi = 0
        if old.lo == 0:
            count_hi = size.hi + 1 if size.hi < _U64 else size.hi
            kept_hi = size.hi
        elif new.hi <= old.lo:
            count_hi = 0
            kept_hi = size.hi
        else:
            count_hi = math.ceil(float(size.hi) / float(old.lo))
        if old.hi == 0:
            count_lo = size.lo + 1 if size.lo < _U64 else size.lo
            kept_lo = size.lo
        elif old.hi <= new.lo:
            count_lo = 0
            kept_lo = size.lo
        else:
            count_lo = math.ceil(float(size.lo) / float(old.hi))
        count_hi = min(int(count_hi), _U64)
        result = Cost(count_lo, count_hi).times(new) + Cost(kept_lo, kept_hi)
        return size.by(2 * _STRING), result

    def builtin_cost(
        self,
        e: Call,
        oid: str,
        target: _Node | None,
        args: list[_Node],
        arg_costs: list[Cost],
        arg_sum: Cost,
    ) -> tuple[Cost, Cost | None]:
        size_of = self.node_size
        if oid == "string_format" and target is not None:
            return size_of(target).by(_STRING) + arg_sum, None
        if oid == "string_to_bytes" and len(args) == 1:
            size = size_of(args[0])
            return size.by(_STRING) + arg_sum, Cost(size.lo, _mul(size.hi, 4))
        if oid == "bytes_to_string" and len(args) == 1:
            size = size_of(args[0])
            return size.by(_STRING) + arg_sum, Cost(size.lo // 4, size.hi)
        if oid == "strings_quote" and len(args) == 1:
            size = size_of(args[0])
            return size.by(_STRING) + arg_sum, Cost(_add(size.lo, 2), _add(_mul(size.hi, 2), 2))
        if oid in ("starts_with_string", "ends_with_string") and len(args) == 1:
            return size_of(args[0]).by(_STRING) + arg_sum, None
        if oid == "in_list" and len(args) == 2:
            return size_of(args[1]).by(1) + arg_sum, None
        if oid in ("matches", "matches_string"):
            pair: tuple[_Node, _Node] | None = None
            if oid == "matches_string" and target is not None and len(args) == 1:
                pair = (target, args[0])
            elif oid == "matches" and target is None and len(args) == 2:
                pair = (args[0], args[1])
            if pair is not None:
                string_cost = (size_of(pair[0]) + _ONE).by(_STRING)
                regex_cost = size_of(pair[1]).by(_REGEX)
                return string_cost.times(regex_cost) + arg_sum, None
        if oid == "contains_string" and target is not None and len(args) == 1:
            cost = size_of(target).by(_STRING).times(size_of(args[0]).by(_STRING))
            return cost + arg_sum, None
        if oid in ("logical_or", "logical_and"):
            lhs, rhs = arg_costs[0], arg_costs[1]
            return Cost(lhs.lo, (lhs + rhs).hi), None
        if oid == "conditional":
            size = size_of(args[1]).union(size_of(args[2]))
            a, b = args[1].expr, args[2].expr
            entry_a = self.entry_of(a) if a is not None else None
            entry_b = self.entry_of(b) if b is not None else None
            merged = entry_a.union(entry_b) if entry_a is not None else None
            if merged is not None:
                self.entries[e.id] = merged
            return arg_costs[0] + arg_costs[1].union(arg_costs[2]), size
        if oid in ("add_string", "add_bytes", "add_list") and len(args) == 2:
            result = size_of(args[0]) + size_of(args[1])
            a, b = args[0].expr, args[1].expr
            entry_a = self.entry_of(a) if a is not None else None
            entry_b = self.entry_of(b) if b is not None else None
            merged = entry_a.union(entry_b) if entry_a is not None else None
            if merged is not None:
                self.entries[e.id] = merged
            if oid == "add_list":
                return _ONE + arg_sum, result
            return result.by(_STRING) + arg_sum, result
        if oid in _STRING_COMPARISONS:
            lhs, rhs = size_of(args[0]), size_of(args[1])
            smallest = min(lhs.hi, rhs.hi)
            cost = Cost(1 if smallest > 0 else 0, smallest).by(_STRING)
            return cost + arg_sum, None
        return _ONE + arg_sum, None


_SORTABLE = (
    "int",
    "uint",
    "double",
    "bool",
    "google.protobuf.Duration",
    "google.protobuf.Timestamp",
    "string",
    "bytes",
)
_STRING_COMPARISONS = frozenset(
    {
        "less_string",
        "greater_string",
        "less_equals_string",
        "greater_equals_string",
        "less_bytes",
        "greater_bytes",
        "less_equals_bytes",
        "greater_equals_bytes",
        "equals",
        "not_equals",
    }
)


def _uint_literal(n: _Node, default: int) -> int:
    if not isinstance(n.expr, Literal):
        return default
    value = n.expr.value
    if not isinstance(value, int) or isinstance(value, bool) or type(value) is not int:
        return default
    return 0 if value < 0 else value


def _expr_size(e: Expr) -> Cost | None:
    if isinstance(e, Literal):
        if isinstance(e.value, str):
            return _fixed(len(e.value))
        if isinstance(e.value, bytes):
            return _fixed(len(e.value))
        return _ONE
    if isinstance(e, ListExpr):
        return _fixed(len(e.elements))
    if isinstance(e, MapExpr):
        return _fixed(len(e.entries))
    return None


def _is_scalar(ty: t.Type) -> bool:
    if ty.kind in ("bool", "double", "duration", "int", "timestamp", "uint"):
        return True
    if t.is_optional(ty):
        return _is_scalar(ty.params[0])
    return False


def estimate(expr: Expr, checked: Checked, root: DeclType) -> int:
    """The maximum estimated cost of ``expr`` (cel-go's ``EstimateCost(...).Max``)."""
    return _Coster(checked, root, checked.qualified).cost(expr).hi


def max_cardinality(min_size: int) -> int:
    """How many times a value of at least ``min_size`` JSON bytes fits in a request."""
    return MAX_REQUEST_BYTES // (min_size + 1)


def factor_text(cost: int, limit: int) -> str:
    """kube's ``getCostErrorMessage`` factor: ``more than 100x``, ``%fx`` below 1.5, else
    ``%.1fx``."""
    ratio = float(cost) / float(limit)
    if ratio > 100.0:
        return "more than 100x"
    if ratio < 1.5:
        return f"{ratio:f}x"
    return f"{ratio:.1f}x"
