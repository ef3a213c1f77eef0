"""The functions a CRD validation rule may call in kube-apiserver v1.37 (the environment for
new expressions: compatibility version 1.36): cel-go's standard library with optional types and
cross-type numeric comparisons, the string (v2), set, list (v3) and two-variable comprehension
extensions, and Kubernetes' lists (v0), regex, URL, quantity, IP, CIDR, format, semver and
authorizer libraries. Each overload is ``<function> <id> <signature>``, the signature
``(args) -> result`` or ``receiver.(args) -> result``; one-letter upper-case names are type
parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import cel_types as t

__all__ = ["FUNCTIONS", "IDENTS", "Overload", "parse_type"]


@dataclass(frozen=True)
class Overload:
    id: str
    args: tuple[t.Type, ...]  # the receiver first for a member overload
    result: t.Type
    member: bool
    params: tuple[str, ...]


_COMPARABLE = ("int", "uint", "double", "bool", "duration", "timestamp", "string", "bytes")
_SUMMABLE = ("int", "uint", "double", "duration")
_TIME_GETTERS = (
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
)


def _spec() -> str:
    lines = [
        "_?_:_ conditional (bool, A, A) -> A",
        "_&&_ logical_and (bool, bool) -> bool",
        "_||_ logical_or (bool, bool) -> bool",
        "!_ logical_not (bool) -> bool",
        "@not_strictly_false not_strictly_false (bool) -> bool",
        "_==_ equals (A, A) -> bool",
        "_!=_ not_equals (A, A) -> bool",
        "_+_ add_bytes (bytes, bytes) -> bytes",
        "_+_ add_double (double, double) -> double",
        "_+_ add_duration_duration (duration, duration) -> duration",
        "_+_ add_duration_timestamp (duration, timestamp) -> timestamp",
        "_+_ add_timestamp_duration (timestamp, duration) -> timestamp",
        "_+_ add_int64 (int, int) -> int",
        "_+_ add_list (list(A), list(A)) -> list(A)",
        "_+_ add_string (string, string) -> string",
        "_+_ add_uint64 (uint, uint) -> uint",
        "_/_ divide_double (double, double) -> double",
        "_/_ divide_int64 (int, int) -> int",
        "_/_ divide_uint64 (uint, uint) -> uint",
        "_%_ modulo_int64 (int, int) -> int",
        "_%_ modulo_uint64 (uint, uint) -> uint",
        "_*_ multiply_double (double, double) -> double",
        "_*_ multiply_int64 (int, int) -> int",
        "_*_ multiply_uint64 (uint, uint) -> uint",
        "-_ negate_double (double) -> double",
        "-_ negate_int64 (int) -> int",
        "_-_ subtract_double (double, double) -> double",
        "_-_ subtract_duration_duration (duration, duration) -> duration",
        "_-_ subtract_int64 (int, int) -> int",
        "_-_ subtract_timestamp_duration (timestamp, duration) -> timestamp",
        "_-_ subtract_timestamp_timestamp (timestamp, timestamp) -> duration",
        "_-_ subtract_uint64 (uint, uint) -> uint",
    ]
    pairs = [
        ("bool", "bool"),
        ("int", "int"),
        ("int", "double"),
        ("int", "uint"),
        ("uint", "uint"),
        ("uint", "double"),
        ("uint", "int"),
        ("double", "double"),
        ("double", "int"),
        ("double", "uint"),
        ("string", "string"),
        ("bytes", "bytes"),
        ("timestamp", "timestamp"),
        ("duration", "duration"),
    ]
    go_name = {"int": "int64", "uint": "uint64"}
    for op, name in (
        ("<", "less"),
        ("<=", "less_equals"),
        (">", "greater"),
        (">=", "greater_equals"),
    ):
        for a, b in pairs:
            oid = f"{name}_{go_name.get(a, a)}" + ("" if a == b else f"_{go_name.get(b, b)}")
            lines.append(f"_{op}_ {oid} ({a}, {b}) -> bool")
    lines += [
        "_[_] index_list (list(A), int) -> A",
        "_[_] index_map (map(A, B), A) -> B",
        "_[_] optional_list_index_int (opt(list(V)), int) -> opt(V)",
        "_[_] optional_map_index_value (opt(map(K, V)), K) -> opt(V)",
        "_[?_] list_optindex_optional_int (list(V), int) -> opt(V)",
        "_[?_] optional_list_optindex_optional_int (opt(list(V)), int) -> opt(V)",
        "_[?_] map_optindex_optional_value (map(K, V), K) -> opt(V)",
        "_[?_] optional_map_optindex_optional_value (opt(map(K, V)), K) -> opt(V)",
        "@in in_list (A, list(A)) -> bool",
        "@in in_map (A, map(A, B)) -> bool",
        "size size_bytes (bytes) -> int",
        "size bytes_size bytes.() -> int",
        "size size_list (list(A)) -> int",
        "size list_size list(A).() -> int",
        "size size_map (map(A, B)) -> int",
        "size map_size map(A, B).() -> int",
        "size size_string (string) -> int",
        "size string_size string.() -> int",
        "type type (A) -> type(A)",
        "bool bool_to_bool (bool) -> bool",
        "bool string_to_bool (string) -> bool",
        "bytes bytes_to_bytes (bytes) -> bytes",
        "bytes string_to_bytes (string) -> bytes",
        "double double_to_double (double) -> double",
        "double int64_to_double (int) -> double",
        "double string_to_double (string) -> double",
        "double uint64_to_double (uint) -> double",
        "duration duration_to_duration (duration) -> duration",
        "duration string_to_duration (string) -> duration",
        "dyn to_dyn (A) -> dyn",
        "int int64_to_int64 (int) -> int",
        "int double_to_int64 (double) -> int",
        "int duration_to_int64 (duration) -> int",
        "int string_to_int64 (string) -> int",
        "int timestamp_to_int64 (timestamp) -> int",
        "int uint64_to_int64 (uint) -> int",
        "string string_to_string (string) -> string",
        "string bool_to_string (bool) -> string",
        "string bytes_to_string (bytes) -> string",
        "string double_to_string (double) -> string",
        "string duration_to_string (duration) -> string",
        "string int64_to_string (int) -> string",
        "string timestamp_to_string (timestamp) -> string",
        "string uint64_to_string (uint) -> string",
        "string ip_to_string (net.IP) -> string",
        "string cidr_to_string (net.CIDR) -> string",
        "timestamp timestamp_to_timestamp (timestamp) -> timestamp",
        "timestamp int64_to_timestamp (int) -> timestamp",
        "timestamp string_to_timestamp (string) -> timestamp",
        "uint uint64_to_uint64 (uint) -> uint",
        "uint double_to_uint64 (double) -> uint",
        "uint int64_to_uint64 (int) -> uint",
        "uint string_to_uint64 (string) -> uint",
        "contains contains_string string.(string) -> bool",
        "endsWith ends_with_string string.(string) -> bool",
        "startsWith starts_with_string string.(string) -> bool",
        "matches matches (string, string) -> bool",
        "matches matches_string string.(string) -> bool",
    ]
    for getter in _TIME_GETTERS:
        lines.append(f"{getter} timestamp_{getter} timestamp.() -> int")
        lines.append(f"{getter} timestamp_{getter}_with_tz timestamp.(string) -> int")
        if getter in ("getHours", "getMinutes", "getSeconds", "getMilliseconds"):
            lines.append(f"{getter} duration_{getter} duration.() -> int")
    lines += [
        # optional types
        "optional.of optional_of (V) -> opt(V)",
        "optional.ofNonZeroValue optional_ofNonZeroValue (V) -> opt(V)",
        "optional.none optional_none () -> opt(V)",
        "value optional_value opt(V).() -> V",
        "hasValue optional_hasValue opt(V).() -> bool",
        "or optional_or_optional opt(V).(opt(V)) -> opt(V)",
        "orValue optional_orValue_value opt(V).(V) -> V",
        "last list_last list(V).() -> opt(V)",
        "first list_first list(V).() -> opt(V)",
        "optional.unwrap optional_unwrap (list(opt(V))) -> list(V)",
        "unwrapOpt optional_unwrapOpt list(opt(V)).() -> list(V)",
        # strings extension v2
        "charAt string_char_at_int string.(int) -> string",
        "indexOf string_index_of_string string.(string) -> int",
        "indexOf string_index_of_string_int string.(string, int) -> int",
        "lastIndexOf string_last_index_of_string string.(string) -> int",
        "lastIndexOf string_last_index_of_string_int string.(string, int) -> int",
        "lowerAscii string_lower_ascii string.() -> string",
        "replace string_replace_string_string string.(string, string) -> string",
        "replace string_replace_string_string_int string.(string, string, int) -> string",
        "split string_split_string string.(string) -> list(string)",
        "split string_split_string_int string.(string, int) -> list(string)",
        "substring string_substring_int string.(int) -> string",
        "substring string_substring_int_int string.(int, int) -> string",
        "trim string_trim string.() -> string",
        "upperAscii string_upper_ascii string.() -> string",
        "format string_format string.(list(dyn)) -> string",
        "strings.quote strings_quote (string) -> string",
        "join list_join list(string).() -> string",
        "join list_join_string list(string).(string) -> string",
        # sets extension
        "sets.contains list_sets_contains_list (list(T), list(T)) -> bool",
        "sets.equivalent list_sets_equivalent_list (list(T), list(T)) -> bool",
        "sets.intersects list_sets_intersects_list (list(T), list(T)) -> bool",
        # lists extension v3
        "slice list_slice list(T).(int, int) -> list(T)",
        "flatten list_flatten list(list(T)).() -> list(T)",
        "flatten list_flatten_int list(dyn).(int) -> list(dyn)",
    ]
    full = {"timestamp": "google.protobuf.Timestamp", "duration": "google.protobuf.Duration"}
    for c in _COMPARABLE:
        lines.append(f"sort list_{full.get(c, c)}_sort list({c}).() -> list({c})")
    for c in _COMPARABLE:
        oid = f"list_{full.get(c, c)}_sortByAssociatedKeys"
        lines.append(f"@sortByAssociatedKeys {oid} list(T).(list({c})) -> list(T)")
    lines += [
        "lists.range lists_range (int) -> list(int)",
        "reverse list_reverse list(T).() -> list(T)",
        "distinct list_distinct list(T).() -> list(T)",
        # two-variable comprehensions
        "cel.@mapInsert cel_@mapInsert_map_key_value (map(K, V), K, V) -> map(K, V)",
        "cel.@mapInsert cel_@mapInsert_map_map (map(K, V), map(K, V)) -> map(K, V)",
    ]
    # Kubernetes lists library v0
    for c in _COMPARABLE:
        lines.append(f"isSorted list_{c}_is_sorted_bool list({c}).() -> bool")
    for c in _SUMMABLE:
        lines.append(f"sum list_{c}_sum_{c} list({c}).() -> {c}")
    for fn in ("max", "min"):
        for c in _COMPARABLE:
            lines.append(f"{fn} list_{c}_{fn}_{c} list({c}).() -> {c}")
    lines += [
        "indexOf list_a_index_of_int list(A).(A) -> int",
        "lastIndexOf list_a_last_index_of_int list(A).(A) -> int",
        # regex
        "find string_find_string string.(string) -> string",
        "findAll string_find_all_string string.(string) -> list(string)",
        "findAll string_find_all_string_int string.(string, int) -> list(string)",
        # URLs
        "url string_to_url (string) -> kubernetes.URL",
        "getScheme url_get_scheme kubernetes.URL.() -> string",
        "getHost url_get_host kubernetes.URL.() -> string",
        "getHostname url_get_hostname kubernetes.URL.() -> string",
        "getPort url_get_port kubernetes.URL.() -> string",
        "getEscapedPath url_get_escaped_path kubernetes.URL.() -> string",
        "getQuery url_get_query kubernetes.URL.() -> map(string, list(string))",
        "isURL is_url_string (string) -> bool",
        # quantity
        "quantity string_to_quantity (string) -> kubernetes.Quantity",
        "isQuantity is_quantity_string (string) -> bool",
        "sign quantity_sign (kubernetes.Quantity) -> int",
        "isGreaterThan quantity_is_greater_than kubernetes.Quantity.(kubernetes.Quantity) -> bool",
        "isLessThan quantity_is_less_than kubernetes.Quantity.(kubernetes.Quantity) -> bool",
        "compareTo quantity_compare_to kubernetes.Quantity.(kubernetes.Quantity) -> int",
        "asApproximateFloat quantity_get_float kubernetes.Quantity.() -> double",
        "asInteger quantity_get_int kubernetes.Quantity.() -> int",
        "isInteger quantity_is_integer kubernetes.Quantity.() -> bool",
        "add quantity_add kubernetes.Quantity.(kubernetes.Quantity) -> kubernetes.Quantity",
        "add quantity_add_int kubernetes.Quantity.(int) -> kubernetes.Quantity",
        "sub quantity_sub kubernetes.Quantity.(kubernetes.Quantity) -> kubernetes.Quantity",
        "sub quantity_sub_int kubernetes.Quantity.(int) -> kubernetes.Quantity",
        # IP and CIDR
        "ip string_to_ip (string) -> net.IP",
        "family ip_family net.IP.() -> int",
        "ip.isCanonical ip_is_canonical (string) -> bool",
        "isUnspecified ip_is_unspecified net.IP.() -> bool",
        "isLoopback ip_is_loopback net.IP.() -> bool",
        "isLinkLocalMulticast ip_is_link_local_multicast net.IP.() -> bool",
        "isLinkLocalUnicast ip_is_link_local_unicast net.IP.() -> bool",
        "isGlobalUnicast ip_is_global_unicast net.IP.() -> bool",
        "isIP is_ip (string) -> bool",
        "cidr string_to_cidr (string) -> net.CIDR",
        "containsIP cidr_contains_ip_string net.CIDR.(string) -> bool",
        "containsIP cidr_contains_ip_ip net.CIDR.(net.IP) -> bool",
        "containsCIDR cidr_contains_cidr_string net.CIDR.(string) -> bool",
        "containsCIDR cidr_contains_cidr net.CIDR.(net.CIDR) -> bool",
        "ip cidr_ip net.CIDR.() -> net.IP",
        "prefixLength cidr_prefix_length net.CIDR.() -> int",
        "masked cidr_masked net.CIDR.() -> net.CIDR",
        "isCIDR is_cidr (string) -> bool",
        # named formats
        "validate format-validate kubernetes.NamedFormat.(string) -> opt(list(string))",
        "format.named format-named (string) -> opt(kubernetes.NamedFormat)",
        # semver
        "semver string_to_semver (string) -> kubernetes.Semver",
        "semver string_bool_to_semver (string, bool) -> kubernetes.Semver",
        "isSemver is_semver_string (string) -> bool",
        "isSemver is_semver_string_bool (string, bool) -> bool",
        "isGreaterThan semver_is_greater_than kubernetes.Semver.(kubernetes.Semver) -> bool",
        "isLessThan semver_is_less_than kubernetes.Semver.(kubernetes.Semver) -> bool",
        "compareTo semver_compare_to kubernetes.Semver.(kubernetes.Semver) -> int",
        "major semver_major kubernetes.Semver.() -> int",
        "minor semver_minor kubernetes.Semver.() -> int",
        "patch semver_patch kubernetes.Semver.() -> int",
    ]
    for name in _FORMATS:
        lines.append(f"format.{name} format.{name} () -> kubernetes.NamedFormat")
    az = "kubernetes.authorization."
    lines += [
        f"path authorizer_path {az}Authorizer.(string) -> {az}PathCheck",
        f"group authorizer_group {az}Authorizer.(string) -> {az}GroupCheck",
        f"serviceAccount authorizer_serviceaccount {az}Authorizer.(string, string)"
        f" -> {az}Authorizer",
        f"resource groupcheck_resource {az}GroupCheck.(string) -> {az}ResourceCheck",
        f"subresource resourcecheck_subresource {az}ResourceCheck.(string) -> {az}ResourceCheck",
        f"namespace resourcecheck_namespace {az}ResourceCheck.(string) -> {az}ResourceCheck",
        f"name resourcecheck_name {az}ResourceCheck.(string) -> {az}ResourceCheck",
        f"check pathcheck_check {az}PathCheck.(string) -> {az}Decision",
        f"check resourcecheck_check {az}ResourceCheck.(string) -> {az}Decision",
        f"errored decision_errored {az}Decision.() -> bool",
        f"error decision_error {az}Decision.() -> string",
        f"allowed decision_allowed {az}Decision.() -> bool",
        f"reason decision_reason {az}Decision.() -> string",
        f"fieldSelector authorizer_fieldselector {az}ResourceCheck.(string) -> {az}ResourceCheck",
        f"labelSelector authorizer_labelselector {az}ResourceCheck.(string) -> {az}ResourceCheck",
    ]
    return "\n".join(lines)


_FORMATS = (
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
)
_OPAQUE = frozenset({"net.IP", "net.CIDR", "optional_type"})
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*|[(),])")


def parse_type(text: str) -> t.Type:
    """A type written as in the table (``map(string, list(int))``, ``net.IP``, ``A``)."""
    tokens = _TOKEN.findall(text)
    pos = 0

    def one() -> t.Type:
        nonlocal pos
        name = tokens[pos]
        pos += 1
        params: list[t.Type] = []
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            while tokens[pos] != ")":
                params.append(one())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
        if len(name) == 1 and name.isupper():
            return t.param(name)
        simple = {
            "int": t.INT,
            "uint": t.UINT,
            "double": t.DOUBLE,
            "bool": t.BOOL,
            "string": t.STRING,
            "bytes": t.BYTES,
            "null": t.NULL,
            "dyn": t.DYN,
            "timestamp": t.TIMESTAMP,
            "duration": t.DURATION,
        }
        if name in simple:
            return simple[name]
        if name == "list":
            return t.list_of(params[0])
        if name == "map":
            return t.map_of(params[0], params[1])
        if name == "type":
            return t.type_of(params[0])
        if name == "opt":
            return t.optional_of(params[0])
        if name in _OPAQUE:
            return t.opaque(name, *params)
        return t.struct(name)

    return one()


def _params(ty: t.Type, out: list[str]) -> None:
    if ty.kind == "param" and ty.name not in out:
        out.append(ty.name)
    for p in ty.params:
        _params(p, out)


def _load() -> dict[str, list[Overload]]:
    functions: dict[str, list[Overload]] = {}
    line_re = re.compile(r"(\S+) (\S+) (?:(.+?)\.)?\((.*)\) -> (.+)")
    for line in _spec().split("\n"):
        m = line_re.fullmatch(line)
        assert m is not None, line
        name, oid, receiver, args, result = m.groups()
        arg_types = [parse_type(receiver)] if receiver else []
        depth, cur = 0, ""
        for ch in args:
            if ch == "," and depth == 0:
                arg_types.append(parse_type(cur))
                cur = ""
                continue
            depth += ch == "("
            depth -= ch == ")"
            cur += ch
        if cur.strip():
            arg_types.append(parse_type(cur))
        result_type = parse_type(result)
        names: list[str] = []
        for a in (*arg_types, result_type):
            _params(a, names)
        functions.setdefault(name, []).append(
            Overload(oid, tuple(arg_types), result_type, receiver is not None, tuple(names))
        )
    return functions


FUNCTIONS: dict[str, list[Overload]] = _load()

# Identifiers every expression may name: the type denotations.
IDENTS: dict[str, t.Type] = {
    "bool": t.type_of(t.BOOL),
    "bytes": t.type_of(t.BYTES),
    "double": t.type_of(t.DOUBLE),
    "google.protobuf.Duration": t.type_of(t.DURATION),
    "int": t.type_of(t.INT),
    "list": t.type_of(t.list_of(t.param("A"))),
    "map": t.type_of(t.map_of(t.param("A"), t.param("B"))),
    "null_type": t.type_of(t.NULL),
    "string": t.type_of(t.STRING),
    "google.protobuf.Timestamp": t.type_of(t.TIMESTAMP),
    "type": t.type_of(t.TYPE),
    "uint": t.type_of(t.UINT),
    "optional_type": t.type_of(t.optional_of(t.param("V"))),
    "net.IP": t.type_of(t.opaque("net.IP")),
    "net.CIDR": t.type_of(t.opaque("net.CIDR")),
}
