"""Parse CEL text into :mod:`.cel_ast` as cel-go's parser does for kube-apiserver: its
grammar (optional syntax ``.?``/``[?``/``{?k: v}``, backquoted field names), the node
positions its error messages point at (an operator's token, a call's ``(``, a select's ``.``),
its macros expanded into comprehensions (the standard ones, the two-variable ones, ``optMap``,
``optFlatMap``, ``sortBy``) and its wording for the common syntax errors (ANTLR's
``mismatched input``/``extraneous input``/``missing``/``token recognition error`` texts; the
recovery that adds more errors after the first one is not reproduced)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .cel_ast import (
    ACCU,
    Call,
    Comp,
    Entry,
    Expr,
    Ident,
    ListExpr,
    Literal,
    MapExpr,
    Select,
    StructExpr,
    UInt,
)
from .cel_source import Issues, Source

__all__ = ["Parsed", "parse"]

_RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    }
)
_EXPR_START = (
    "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, "
    "STRING, BYTES, IDENTIFIER}"
)
_STARTS = frozenset(
    [
        "[",
        "{",
        "(",
        ".",
        "-",
        "!",
        "true",
        "false",
        "null",
        "FLOAT",
        "INT",
        "UINT",
        "STRING",
        "BYTES",
        "IDENT",
    ]
)
# What may follow any expression (besides what its enclosing construct expects next).
_OPERATORS = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "in", "&&", "||", "+", "-", "*", "/", "%", "?", ".", "["}
)
_MAX_DEPTH = 250
_MAX_CODE_POINTS = 100_000

_PUNCT = ("==", "!=", "<=", ">=", "&&", "||", *"<>[]{}().,-!?:+*/%")
_FLOAT = re.compile(r"\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?")
_UINT = re.compile(r"(?:0x[0-9a-fA-F]+|\d+)[uU]")
_INT = re.compile(r"0x[0-9a-fA-F]+|\d+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESC_IDENT = re.compile(r"`[A-Za-z0-9_./ -]+`")
_STRING_PREFIX = re.compile(r"(?:[bB][rR]?|[rR])?(?=['\"])")
_KEYWORDS = {"in": "in", "true": "true", "false": "false", "null": "null"}


@dataclass
class _Token:
    kind: str  # punctuation text, a keyword, INT, UINT, FLOAT, STRING, BYTES, IDENT, ESCIDENT, EOF
    text: str
    start: int


class _Syntax(Exception):
    """The first syntax error: parsing stops there."""


# ------------------------------------------------------------------ lexer


def _string_end(text: str, i: int) -> tuple[int, bool]:
    """The end of the string literal whose quote starts at ``i`` (after any r/b prefix), and
    whether it is well formed; when not, the end is where ANTLR's lexer gave up (the
    offending character included)."""
    raw = False
    j = i
    while j < len(text) and text[j] in "rRbB" and j - i < 2:
        raw = raw or text[j] in "rR"
        j += 1
    quote = text[j]
    triple = text.startswith(quote * 3, j)
    k = j + (3 if triple else 1)
    n = len(text)
    while k < n:
        ch = text[k]
        if triple and text.startswith(quote * 3, k):
            return k + 3, True
        if not triple and ch == quote:
            return k + 1, True
        if not triple and ch in "\r\n":
            return k + 1, False
        if ch == "\\" and not raw:
            m = re.compile(
                r"\\(?:[abfnrtv\"'\\?`]|[0-3][0-7][0-7]|[xX][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}"
                r"|U[0-9a-fA-F]{8})"
            ).match(text, k)
            if m is None:
                bad = k + 1
                while bad < n and bad < k + 9 and re.match(r"[0-9a-fA-FxXuU]", text[bad]):
                    bad += 1
                return min(bad + 1, n), False
            k = m.end()
            continue
        k += 1
    return n, False


def _lex(text: str) -> tuple[list[_Token], list[tuple[int, str]]]:
    """Tokens and ANTLR's lexer errors (offset, offending text)."""
    tokens: list[_Token] = []
    errors: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n\f":
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        m = _STRING_PREFIX.match(text, i)
        if m is not None:
            end, ok = _string_end(text, i)
            if ok:
                kind = "BYTES" if m.group(0)[:1] in ("b", "B") else "STRING"
                tokens.append(_Token(kind, text[i:end], i))
            elif m.group(0):
                # ANTLR backs off to the identifier the prefix letters form (b, r, br)
                tokens.append(_Token("IDENT", m.group(0), i))
                end = m.end()
            else:
                errors.append((i, text[i:end]))
            i = end
            continue
        for regex, kind in ((_FLOAT, "FLOAT"), (_UINT, "UINT"), (_INT, "INT")):
            m = regex.match(text, i)
            if m is not None:
                tokens.append(_Token(kind, m.group(0), i))
                i = m.end()
                break
        else:
            m = _IDENT.match(text, i)
            if m is not None:
                word = m.group(0)
                tokens.append(_Token(_KEYWORDS.get(word, "IDENT"), word, i))
                i = m.end()
                continue
            m = _ESC_IDENT.match(text, i)
            if m is not None:
                tokens.append(_Token("ESCIDENT", m.group(0), i))
                i = m.end()
                continue
            for p in _PUNCT:
                if text.startswith(p, i):
                    tokens.append(_Token(p, p, i))
                    i += len(p)
                    break
            else:
                end = i + 1
                if ch in "=&|" and end < n:
                    end += 1  # a lone '=' is read as the start of '==' with the next char
                elif ch == "`":
                    while end < n and re.match(r"[A-Za-z0-9_./ -]", text[end]):
                        end += 1
                    end = min(end + 1, n)
                errors.append((i, text[i:end]))
                i = end
    tokens.append(_Token("EOF", "<EOF>", n))
    return tokens, errors


# ------------------------------------------------------------------ literals


def _unescape(body: str, is_bytes: bool) -> str | bytes:
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    raw = body[0] in "rR"
    if raw:
        body = body[1:]
    q = body[0]
    inner = body[3:-3] if len(body) >= 6 and body.startswith(q * 3) else body[1:-1]
    if raw or "\\" not in inner:
        return inner.encode() if is_bytes else inner
    out = bytearray()
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        c = inner[i + 1]
        simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
        if c in simple:
            out.append(simple[c])
            i += 2
        elif c in "\"'\\?`":
            out.append(ord(c))
            i += 2
        elif c in "xX":
            value = int(inner[i + 2 : i + 4], 16)
            out += bytes([value]) if is_bytes else chr(value).encode()
            i += 4
        elif c in "uU":
            width = 4 if c == "u" else 8
            value = int(inner[i + 2 : i + 2 + width], 16)
            if 0xD800 <= value < 0xE000 or value > 0x10FFFF:
                raise ValueError("invalid unicode code point")
            out += chr(value).encode()
            i += 2 + width
        else:
            value = int(inner[i + 1 : i + 4], 8)
            out += bytes([value]) if is_bytes else chr(value).encode()
            i += 4
    return bytes(out) if is_bytes else out.decode("utf-8", errors="replace")


# ------------------------------------------------------------------ parser


@dataclass
class Parsed:
    expr: Expr
    source: Source
    offsets: dict[int, int]  # expression id -> source offset
    next_id: int


class _Parser:
    def __init__(self, text: str, tokens: list[_Token], issues: Issues) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.issues = issues
        self.offsets: dict[int, int] = {}
        self.next_id = 1
        self.depth = 0
        # what the enclosing constructs accept after an expression (ANTLR's follow set)
        self.context: list[frozenset[str]] = [frozenset({"EOF"})]

    def inside(self, follow: set[str], parse: Callable[[], Expr]) -> Expr:
        self.context.append(frozenset(follow))
        try:
            return parse()
        finally:
            self.context.pop()

    # -- ids and tokens

    def new_id(self, offset: int) -> int:
        i = self.next_id
        self.next_id += 1
        self.offsets[i] = offset
        return i

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != "EOF":
            self.pos += 1
        return tok

    def at(self, *kinds: str) -> bool:
        return self.peek().kind in kinds

    def fail(self, tok: _Token, message: str) -> _Syntax:
        self.issues.report(tok.start, f"Syntax error: {message}")
        return _Syntax()

    def no_viable(self, start: int, tok: _Token) -> str:
        end = tok.start + (0 if tok.kind == "EOF" else len(tok.text))
        return f"no viable alternative at input {_quote_text(self.text[start:end])}"

    def expect(self, kind: str, expecting: str = "") -> _Token:
        tok = self.peek()
        if tok.kind != kind:
            # ANTLR inserts the missing token when what follows could follow it
            follows = _OPERATORS | self.context[-1] if kind in ")]}" else _STARTS
            if tok.kind in follows and not expecting:
                raise self.fail(tok, f"missing '{kind}' at {_quote(tok)}")
            raise self.fail(
                tok, f"mismatched input {_quote(tok)} expecting {expecting or repr(kind)}"
            )
        return self.take()

    def error(self, offset: int, message: str) -> Expr:
        self.issues.report(offset, message)
        return Literal(self.new_id(offset), "<<error>>")

    # -- grammar

    def start(self) -> Expr:
        e = self.expr()
        tok = self.peek()
        if tok.kind != "EOF":
            word = "extraneous" if self.peek(1).kind == "EOF" else "mismatched"
            raise self.fail(tok, f"{word} input {_quote(tok)} expecting <EOF>")
        return e

    def expr(self) -> Expr:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(self.peek(), "expression recursion limit exceeded: 250")
        try:
            cond = self.logic("||", self.logic_and)
            if not self.at("?"):
                return cond
            op = self.take()
            op_id = self.new_id(op.start)
            yes = self.inside({":"}, lambda: self.logic("||", self.logic_and))
            self.expect(":", "':'")
            no = self.expr()
            return self.call_or_macro(op_id, "_?_:_", None, [cond, yes, no])
        finally:
            self.depth -= 1

    def logic_and(self) -> Expr:
        return self.logic("&&", self.relation)

    def logic(self, op: str, operand: Callable[[], Expr]) -> Expr:
        terms = [operand()]
        ops: list[int] = []
        while self.at(op):
            tok = self.take()
            ops.append(self.new_id(tok.start))
            terms.append(operand())
        if len(terms) == 1:
            return terms[0]
        function = "_&&_" if op == "&&" else "_||_"

        def balanced(lo: int, hi: int) -> Expr:
            mid = (lo + hi + 1) // 2
            left = terms[mid] if mid == lo else balanced(lo, mid - 1)
            right = terms[mid + 1] if mid == hi else balanced(mid + 1, hi)
            return Call(ops[mid], function, [left, right])

        return balanced(0, len(ops) - 1)

    _RELATIONS = {"<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "==": "_==_"}
    _RELATIONS.update({"!=": "_!=_", "in": "@in"})

    def relation(self) -> Expr:
        left = self.additive()
        while self.peek().kind in self._RELATIONS:
            tok = self.take()
            op_id = self.new_id(tok.start)
            right = self.additive()
            left = self.call_or_macro(op_id, self._RELATIONS[tok.kind], None, [left, right])
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.at("+", "-"):
            tok = self.take()
            op_id = self.new_id(tok.start)
            right = self.multiplicative()
            name = "_+_" if tok.kind == "+" else "_-_"
            left = self.call_or_macro(op_id, name, None, [left, right])
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.at("*", "/", "%"):
            tok = self.take()
            op_id = self.new_id(tok.start)
            right = self.unary()
            name = {"*": "_*_", "/": "_/_", "%": "_%_"}[tok.kind]
            left = self.call_or_macro(op_id, name, None, [left, right])
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "-" and self.peek(1).kind in ("INT", "FLOAT"):
            return self.member()  # a negative number literal
        if tok.kind not in ("!", "-"):
            return self.member()
        ops: list[_Token] = []
        while self.at(tok.kind):
            ops.append(self.take())
            if tok.kind == "-" and self.at("-") and self.peek(1).kind in ("INT", "FLOAT"):
                break
        nxt = self.peek()
        if nxt.kind not in _STARTS:
            if tok.kind == "!":
                raise self.fail(nxt, f"extraneous input {_quote(nxt)} expecting {_EXPR_START}")
            self.issues.report(
                nxt.start, f"Syntax error: no viable alternative at input {_quote(ops[-1])}"
            )
            raise self.fail(nxt, f"mismatched input {_quote(nxt)} expecting {_EXPR_START}")
        operand = self.member()
        if len(ops) % 2 == 0:
            return operand
        op_id = self.new_id(ops[0].start)
        return self.call_or_macro(op_id, "!_" if tok.kind == "!" else "-_", None, [operand])

    def member(self) -> Expr:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(self.peek(), "expression recursion limit exceeded: 250")
        try:
            e = self.primary()
            while True:
                tok = self.peek()
                if tok.kind == ".":
                    e = self.dot(e)
                elif tok.kind == "[":
                    self.take()
                    op_id = self.new_id(tok.start)
                    optional = False
                    if self.at("?"):
                        self.take()
                        optional = True
                    index = self.inside({"]"}, self.expr)
                    self.expect("]")
                    name = "_[?_]" if optional else "_[_]"
                    e = self.call_or_macro(op_id, name, None, [e, index])
                else:
                    return e
        finally:
            self.depth -= 1

    def dot(self, operand: Expr) -> Expr:
        dot = self.take()
        optional = False
        if self.at("?"):
            self.take()
            optional = True
        tok = self.peek()
        if tok.kind == "IDENT" and not optional and self.peek(1).kind == "(":
            self.take()
            open_ = self.take()
            call_id = self.new_id(open_.start)
            args = self.expr_list(")")
            return self.call_or_macro(call_id, tok.text, operand, args)
        if tok.kind == "IDENT":
            self.take()
            name = tok.text
        elif tok.kind == "ESCIDENT":
            self.take()
            name = tok.text[1:-1]
        else:
            raise self.fail(
                tok,
                self.no_viable(dot.start, tok),
            )
        if optional:
            sel_id = self.new_id(dot.start)
            field = Literal(self.new_id(tok.start), name)
            return Call(sel_id, "_?._", [operand, field])
        return Select(self.new_id(dot.start), operand, name)

    def expr_list(self, close: str) -> list[Expr]:
        args: list[Expr] = []
        if self.at(close):
            self.take()
            return args
        args.append(self.inside({",", close}, self.expr))
        while self.at(","):
            self.take()
            args.append(self.inside({",", close}, self.expr))
        self.expect(close)
        return args

    def primary(self) -> Expr:
        tok = self.peek()
        kind = tok.kind
        if kind in ("IDENT", ".") and self._is_message():
            return self.message()
        if kind == ".":
            self.take()
            nxt = self.peek()
            if nxt.kind != "IDENT":
                raise self.fail(
                    nxt,
                    self.no_viable(tok.start, nxt),
                )
            return self.ident_or_call(self.take(), leading_dot=True)
        if kind == "IDENT":
            return self.ident_or_call(self.take(), leading_dot=False)
        if kind == "(":
            self.take()
            e = self.inside({")"}, self.expr)
            self.expect(")")
            return e
        if kind == "[":
            self.take()
            list_id = self.new_id(tok.start)
            elems: list[Expr] = []
            optionals: list[int] = []
            trailing = False
            while not self.at("]"):
                if self.at("?"):
                    self.take()
                    optionals.append(len(elems))
                elems.append(self.inside({",", "]"}, self.expr))
                if not self.at(","):
                    break
                self.take()
                if self.peek().kind not in _STARTS and not self.at("?"):
                    trailing = True
                    break
            self.expect("]", "" if trailing or not elems else "{']', ','}")
            return ListExpr(list_id, elems, optionals)
        if kind == "{":
            self.take()
            map_id = self.new_id(tok.start)
            entries: list[Entry] = []
            trailing = False
            while not self.at("}"):
                optional = False
                if self.at("?"):
                    self.take()
                    optional = True
                key = self.inside({":"}, self.expr)
                col = self.expect(":", "':'")
                col_id = self.new_id(col.start)
                value = self.inside({",", "}"}, self.expr)
                entries.append(Entry(col_id, key, value, optional))
                if not self.at(","):
                    break
                self.take()
                if self.peek().kind not in _STARTS and not self.at("?"):
                    trailing = True
                    break
            self.expect("}", "" if trailing or not entries else "{'}', ','}")
            return MapExpr(map_id, entries)
        return self.literal()

    def _is_message(self) -> bool:
        i = 1 if self.peek().kind == "." else 0
        if self.peek(i).kind != "IDENT":
            return False
        i += 1
        while self.peek(i).kind == "." and self.peek(i + 1).kind == "IDENT":
            i += 2
        return self.peek(i).kind == "{"

    def message(self) -> Expr:
        name = ""
        if self.at("."):
            self.take()
            name = "."
        parts = [self.take().text]
        while self.at("."):
            self.take()
            parts.append(self.take().text)
        name += ".".join(parts)
        brace = self.take()
        obj_id = self.new_id(brace.start)
        fields: list[Entry] = []
        while not self.at("}"):
            optional = False
            if self.at("?"):
                self.take()
                optional = True
            tok = self.take()
            if tok.kind not in ("IDENT", "ESCIDENT"):
                raise self.fail(
                    tok,
                    f"mismatched input {_quote(tok)} expecting {{'?', IDENTIFIER, ESC_IDENTIFIER}}",
                )
            col = self.expect(":")
            col_id = self.new_id(col.start)
            value = self.expr()
            field = tok.text if tok.kind == "IDENT" else tok.text[1:-1]
            fields.append(Entry(col_id, field, value, optional))
            if not self.at(","):
                break
            self.take()
        self.expect("}")
        return StructExpr(obj_id, name, fields)

    def ident_or_call(self, tok: _Token, leading_dot: bool) -> Expr:
        name = ("." if leading_dot else "") + tok.text
        if self.at("("):
            open_ = self.take()
            if tok.text in _RESERVED:
                return self.error(tok.start, f"reserved identifier: {tok.text}")
            call_id = self.new_id(open_.start)
            args = self.expr_list(")")
            return self.call_or_macro(call_id, name, None, args)
        if tok.text in _RESERVED:
            return self.error(
                tok.start - (1 if leading_dot else 0), f"reserved identifier: {tok.text}"
            )
        return Ident(self.new_id(tok.start), name)

    def literal(self) -> Expr:
        tok = self.peek()
        start = tok.start
        sign = ""
        if tok.kind == "-" and self.peek(1).kind in ("INT", "FLOAT"):
            self.take()
            sign = "-"
            tok = self.peek()
        kind = tok.kind
        if kind == "INT":
            self.take()
            text = tok.text
            try:
                value = int(sign + text[2:], 16) if text.startswith("0x") else int(sign + text)
            except ValueError:
                value = 1 << 64
            if not -(1 << 63) <= value < (1 << 63):
                return self.error(start, "invalid int literal")
            return Literal(self.new_id(start), value)
        if kind == "UINT":
            self.take()
            text = tok.text[:-1]
            value = int(text[2:], 16) if text.startswith("0x") else int(text)
            if value >= 1 << 64:
                return self.error(start, "invalid uint literal")
            return Literal(self.new_id(start), UInt(value))
        if kind == "FLOAT":
            self.take()
            return Literal(self.new_id(start), float(sign + tok.text))
        if kind in ("STRING", "BYTES"):
            self.take()
            try:
                body = tok.text[1:] if kind == "BYTES" else tok.text
                return Literal(self.new_id(start), _unescape(body, kind == "BYTES"))
            except (ValueError, IndexError) as err:
                return self.error(start, str(err))
        if kind in ("true", "false"):
            self.take()
            return Literal(self.new_id(start), kind == "true")
        if kind == "null":
            self.take()
            return Literal(self.new_id(start), None)
        if self.peek(1).kind in _STARTS:
            raise self.fail(tok, f"extraneous input {_quote(tok)} expecting {_EXPR_START}")
        raise self.fail(tok, f"mismatched input {_quote(tok)} expecting {_EXPR_START}")

    # -- macros

    def call_or_macro(
        self, call_id: int, function: str, target: Expr | None, args: list[Expr]
    ) -> Expr:
        expand = _MACROS.get((function, len(args), target is not None))
        if expand is not None:
            result = expand(_Macro(self, call_id), target, args)
            if result is not None:
                return result
        return Call(call_id, function, args, target)


class _MacroError(Exception):
    def __init__(self, expr: Expr, message: str) -> None:
        super().__init__(message)
        self.expr = expr


class _Macro:
    """Builds a macro's expansion; new nodes take the location of the macro call."""

    def __init__(self, parser: _Parser, call_id: int) -> None:
        self.p = parser
        self.call_id = call_id
        self.offset = parser.offsets[call_id]

    def nid(self) -> int:
        return self.p.new_id(self.offset)

    def lit(self, value: object) -> Expr:
        return Literal(self.nid(), value)

    def accu(self) -> Expr:
        return Ident(self.nid(), ACCU)

    def ident(self, name: str) -> Expr:
        return Ident(self.nid(), name)

    def call(self, function: str, *args: Expr, target: Expr | None = None) -> Expr:
        return Call(self.nid(), function, list(args), target)

    def empty_list(self, *elems: Expr) -> Expr:
        return ListExpr(self.nid(), list(elems))

    def comp(
        self,
        rng: Expr,
        var: str,
        init: Expr,
        cond: Expr,
        step: Expr,
        result: Expr,
        var2: str = "",
        accu: str = ACCU,
    ) -> Expr:
        return Comp(self.nid(), rng, var, accu, init, cond, step, result, var2)

    def error(self, at: Expr, message: str) -> Expr:
        return self.p.error(self.p.offsets.get(at.id, self.offset), message)

    def copy(self, e: Expr) -> Expr:
        """``e`` with fresh ids at the same places (a macro may use its target twice)."""
        off = self.p.offsets.get(e.id, self.offset)
        new = self.p.new_id(off)
        if isinstance(e, Literal):
            return Literal(new, e.value)
        if isinstance(e, Ident):
            return Ident(new, e.name)
        if isinstance(e, Select):
            return Select(new, self.copy(e.operand), e.field, e.test_only)
        if isinstance(e, Call):
            target = self.copy(e.target) if e.target is not None else None
            return Call(new, e.function, [self.copy(a) for a in e.args], target)
        if isinstance(e, ListExpr):
            return ListExpr(new, [self.copy(x) for x in e.elements], list(e.optional_indices))
        if isinstance(e, MapExpr):
            entries = [
                Entry(
                    self.p.new_id(self.p.offsets.get(x.id, off)),
                    self.copy(x.key) if isinstance(x.key, Expr) else x.key,
                    self.copy(x.value),
                    x.optional,
                )
                for x in e.entries
            ]
            return MapExpr(new, entries)
        if isinstance(e, StructExpr):
            fields = [
                Entry(
                    self.p.new_id(self.p.offsets.get(x.id, off)),
                    x.key,
                    self.copy(x.value),
                    x.optional,
                )
                for x in e.fields
            ]
            return StructExpr(new, e.type_name, fields)
        assert isinstance(e, Comp)
        return Comp(
            new,
            self.copy(e.iter_range),
            e.iter_var,
            e.accu_var,
            self.copy(e.accu_init),
            self.copy(e.loop_condition),
            self.copy(e.loop_step),
            self.copy(e.result),
            e.iter_var2,
        )


_MacroFn = Callable[[_Macro, Expr | None, list[Expr]], Expr | None]


def _has(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
    arg = args[0]
    if isinstance(arg, Select) and not arg.test_only:
        return Select(m.nid(), arg.operand, arg.field, test_only=True)
    return m.error(arg, "invalid argument to has() macro")


def _var(m: _Macro, arg: Expr, message: str = "argument must be a simple name") -> str | Expr:
    if not isinstance(arg, Ident):
        return m.error(arg, message)
    if arg.name == ACCU:
        return m.error(arg, "iteration variable overwrites accumulator variable")
    return arg.name


def _quantifier(kind: str) -> _MacroFn:
    def expand(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
        assert target is not None
        var2 = ""
        if len(args) == 3:
            names = _two_vars(m, args[0], args[1])
            if isinstance(names, Expr):
                return names
            var, var2 = names
        else:
            one = _var(m, args[0])
            if isinstance(one, Expr):
                return one
            var = one
        pred = args[-1]
        if kind == "all":
            return m.comp(
                target,
                var,
                m.lit(True),
                m.call("@not_strictly_false", m.accu()),
                m.call("_&&_", m.accu(), pred),
                m.accu(),
                var2,
            )
        if kind == "exists":
            return m.comp(
                target,
                var,
                m.lit(False),
                m.call("@not_strictly_false", m.call("!_", m.accu())),
                m.call("_||_", m.accu(), pred),
                m.accu(),
                var2,
            )
        step = m.call("_?_:_", pred, m.call("_+_", m.accu(), m.lit(1)), m.accu())
        return m.comp(
            target, var, m.lit(0), m.lit(True), step, m.call("_==_", m.accu(), m.lit(1)), var2
        )

    return expand


def _two_vars(m: _Macro, a: Expr, b: Expr) -> tuple[str, str] | Expr:
    if not isinstance(a, Ident):
        return m.error(a, "argument must be a simple name")
    if not isinstance(b, Ident):
        return m.error(b, "argument must be a simple name")
    if a.name == b.name:
        return m.error(b, f"duplicate variable name: {a.name}")
    if a.name == ACCU:
        return m.error(a, "iteration variable overwrites accumulator variable")
    if b.name == ACCU:
        return m.error(b, "iteration variable overwrites accumulator variable")
    return a.name, b.name


def _map(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
    assert target is not None
    var = _var(m, args[0], "argument is not an identifier")
    if isinstance(var, Expr):
        return var
    fn = args[-1]
    step = m.call("_+_", m.accu(), m.empty_list(fn))
    if len(args) == 3:
        step = m.call("_?_:_", args[1], step, m.accu())
    return m.comp(target, var, m.empty_list(), m.lit(True), step, m.accu())


def _filter(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
    assert target is not None
    var = _var(m, args[0], "argument is not an identifier")
    if isinstance(var, Expr):
        return var
    step = m.call("_+_", m.accu(), m.empty_list(args[0]))
    step = m.call("_?_:_", args[1], step, m.accu())
    return m.comp(target, var, m.empty_list(), m.lit(True), step, m.accu())


def _transform(kind: str) -> _MacroFn:
    def expand(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
        assert target is not None
        names = _two_vars(m, args[0], args[1])
        if isinstance(names, Expr):
            return names
        var, var2 = names
        transform = args[-1]
        if kind == "list":
            step = m.call("_+_", m.accu(), m.empty_list(transform))
            init: Expr = m.empty_list()
        elif kind == "map":
            step = m.call("cel.@mapInsert", m.accu(), m.ident(var), transform)
            init = MapExpr(m.nid(), [])
        else:
            step = m.call("cel.@mapInsert", m.accu(), transform)
            init = MapExpr(m.nid(), [])
        if len(args) == 4:
            step = m.call("_?_:_", args[2], step, m.accu())
        return m.comp(target, var, init, m.lit(True), step, m.accu(), var2)

    return expand


def _opt_map(flat: bool) -> _MacroFn:
    def expand(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
        assert target is not None
        if not isinstance(args[0], Ident):
            name = "optFlatMap" if flat else "optMap"
            return m.error(args[0], f"{name}() variable name must be a simple identifier")
        var = args[0].name
        bind = m.comp(
            m.empty_list(),
            "#unused",
            m.call("value", target=m.copy(target)),
            m.lit(False),
            m.ident(var),
            args[1],
            accu=var,
        )
        present = bind if flat else m.call("optional.of", bind)
        return m.call("_?_:_", m.call("hasValue", target=target), present, m.call("optional.none"))

    return expand


def _sort_by(m: _Macro, target: Expr | None, args: list[Expr]) -> Expr:
    assert target is not None
    if not isinstance(target, (ListExpr, Select, Ident, Comp, Call)):
        return m.error(
            target,
            "sortBy can only be applied to a list, identifier, comprehension, call or select "
            "expression",
        )
    name = "@__sortBy_input__"
    mapped = _map(m, m.ident(name), args)
    if not isinstance(mapped, Comp):
        return mapped
    keyed = m.call("@sortByAssociatedKeys", mapped, target=m.ident(name))
    return m.comp(m.empty_list(), "#unused", target, m.lit(False), m.ident(name), keyed, accu=name)


_MACROS: dict[tuple[str, int, bool], _MacroFn] = {
    ("has", 1, False): _has,
    ("all", 2, True): _quantifier("all"),
    ("exists", 2, True): _quantifier("exists"),
    ("exists_one", 2, True): _quantifier("one"),
    ("all", 3, True): _quantifier("all"),
    ("exists", 3, True): _quantifier("exists"),
    ("exists_one", 3, True): _quantifier("one"),
    ("existsOne", 3, True): _quantifier("one"),
    ("map", 2, True): _map,
    ("map", 3, True): _map,
    ("filter", 2, True): _filter,
    ("transformList", 3, True): _transform("list"),
    ("transformList", 4, True): _transform("list"),
    ("transformMap", 3, True): _transform("map"),
    ("transformMap", 4, True): _transform("map"),
    ("transformMapEntry", 3, True): _transform("entry"),
    ("transformMapEntry", 4, True): _transform("entry"),
    ("optMap", 2, True): _opt_map(False),
    ("optFlatMap", 2, True): _opt_map(True),
    ("sortBy", 2, True): _sort_by,
}


def _quote(tok: _Token) -> str:
    return "'<EOF>'" if tok.kind == "EOF" else _quote_text(tok.text)


def _quote_text(text: str) -> str:
    return "'" + text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'"


def parse(text: str) -> tuple[Parsed | None, Issues]:
    """The expression tree of ``text``, or ``None`` and the syntax errors."""
    source = Source(text)
    issues = Issues(source)
    if len(text) > _MAX_CODE_POINTS:
        issues.report(
            -1,
            "expression code point size exceeds limit: "
            f"size: {len(text)}, limit {_MAX_CODE_POINTS}",
        )
        return None, issues
    tokens, lex_errors = _lex(text)
    for offset, bad in lex_errors:
        issues.report(offset, f"Syntax error: token recognition error at: {_quote_text(bad)}")
    parser = _Parser(text, tokens, issues)
    try:
        expr = parser.start()
    except _Syntax:
        return None, issues
    except RecursionError:
        issues.report(0, "Syntax error: expression recursion limit exceeded: 250")
        return None, issues
    if issues:
        return None, issues
    return Parsed(expr, source, parser.offsets, parser.next_id), issues
