"""Regular expression search in time linear in the text, as Go's RE2-based ``regexp`` does.

A CRD's ``pattern`` is the schema author's, the value is any client's: Python's backtracking
``re`` takes exponential time on ``^(a+)+$`` and a value that almost matches (28 characters
cost seconds, 40 days), and the server's one event loop would serve nobody meanwhile. kube
matches with RE2, linear in the value. This module runs the pattern :mod:`.regex` translated
for ``re`` (its parse tree, from the standard library's own parser) as a Thompson NFA
simulated in lockstep over the text, with the sets of states it meets cached as a lazy DFA
(as RE2 does), so each character costs a dictionary lookup once the cache is warm.

Only what the translation emits is supported (no backreferences, and lookarounds only of one
character, as it writes Go's ASCII ``\\b``: Go has no others); anything else is searched with
``re`` as before.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["search"]

_parser: Any = importlib.import_module("re._parser")  # the parser ``re`` itself uses

_MAX_PROGRAM = 100_000  # instructions; a larger expansion is searched with ``re``
_MAX_CACHE = 10_000  # cached DFA transitions per program before the cache starts over

Pred = Callable[[str], bool]
# Instructions: ("char", pred) consumes one character; ("split", a, b) and ("jmp", a) move
# without consuming; ("assert", kind, flags) and ("look", direction, pred, negate) check the
# position (a lookaround of one character); ("match",) accepts.
Inst = tuple[Any, ...]


class _Unsupported(Exception):
    pass


_WORD = {True: re.compile(r"\w", re.ASCII).fullmatch, False: re.compile(r"\w").fullmatch}


def _word(ch: str, ascii_only: bool) -> bool:
    """A word character for ``\\b``, as ``re`` tells it."""
    return _WORD[ascii_only](ch) is not None


_CATEGORIES = {
    "CATEGORY_DIGIT": "\\d",
    "CATEGORY_NOT_DIGIT": "\\D",
    "CATEGORY_SPACE": "\\s",
    "CATEGORY_NOT_SPACE": "\\S",
    "CATEGORY_WORD": "\\w",
    "CATEGORY_NOT_WORD": "\\W",
}
_CHAR_FLAGS = re.IGNORECASE | re.DOTALL | re.ASCII | re.UNICODE


def _one_char(text: str, flags: int) -> Pred:
    """Whether a character matches the one-character expression ``text`` under ``flags``:
    ``re`` itself decides (case folding, Unicode classes), and one character cannot make it
    backtrack."""
    flags &= _CHAR_FLAGS
    if flags & re.ASCII:
        flags &= ~re.UNICODE
    matcher = re.compile(text, flags).fullmatch
    return lambda ch: matcher(ch) is not None


def _class(items: list[tuple[Any, Any]], flags: int) -> Pred:
    parts: list[str] = []
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            parts.insert(0, "^")
        elif name == "LITERAL":
            parts.append(re.escape(chr(av)))
        elif name == "RANGE":
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif name == "CATEGORY" and str(av) in _CATEGORIES:
            parts.append(_CATEGORIES[str(av)])
        else:
            raise _Unsupported(name)
    return _one_char("[" + "".join(parts) + "]", flags)


def _literal(code: int, flags: int, negate: bool) -> Pred:
    text = re.escape(chr(code))
    return _one_char(f"[^{text}]" if negate else text, flags)


class _Compiler:
    def __init__(self) -> None:
        self.prog: list[Inst] = []

    def add(self, inst: Inst) -> int:
        if len(self.prog) >= _MAX_PROGRAM:
            raise _Unsupported("program too large")
        self.prog.append(inst)
        return len(self.prog) - 1

    def patch(self, at: int, inst: Inst) -> None:
        self.prog[at] = inst

    def seq(self, items: Any, flags: int) -> None:
        for op, av in items:
            self.one(str(op), av, flags)

    def one(self, name: str, av: Any, flags: int) -> None:
        if name in ("LITERAL", "NOT_LITERAL"):
            self.add(("char", _literal(av, flags, name == "NOT_LITERAL")))
        elif name == "ANY":
            self.add(("char", _one_char(".", flags)))
        elif name == "IN":
            self.add(("char", _class(list(av), flags)))
        elif name == "AT":
            self.add(("assert", str(av), flags))
        elif name == "SUBPATTERN":
            _group, add_flags, del_flags, sub = av
            self.seq(sub, (flags | add_flags) & ~del_flags)
        elif name == "BRANCH":
            self.branch(av[1], flags)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            self.repeat(av[0], av[1], av[2], flags)
        elif name in ("ASSERT", "ASSERT_NOT"):
            self.look(av[0], list(av[1]), flags, name == "ASSERT_NOT")
        else:
            raise _Unsupported(name)  # backreferences, lookarounds, possessive, atomic

    def look(self, direction: int, sub: list[tuple[Any, Any]], flags: int, negate: bool) -> None:
        """A lookaround of one character (how :mod:`.regex` writes Go's ASCII ``\\b``)."""
        if len(sub) != 1 or str(sub[0][0]) not in ("IN", "LITERAL", "NOT_LITERAL"):
            raise _Unsupported("lookaround")
        op, av = str(sub[0][0]), sub[0][1]
        pred = _class(list(av), flags) if op == "IN" else _literal(av, flags, op == "NOT_LITERAL")
        self.add(("look", direction, pred, negate))

    def branch(self, alternatives: list[Any], flags: int) -> None:
        jumps: list[int] = []
        for i, alternative in enumerate(alternatives):
            if i < len(alternatives) - 1:
                split = self.add(("split", 0, 0))
                self.seq(alternative, flags)
                jumps.append(self.add(("jmp", 0)))
                self.patch(split, ("split", split + 1, len(self.prog)))
            else:
                self.seq(alternative, flags)
        for jump in jumps:
            self.patch(jump, ("jmp", len(self.prog)))

    def repeat(self, low: int, high: int, sub: Any, flags: int) -> None:
        for _ in range(low):
            self.seq(sub, flags)
        if high == _parser.MAXREPEAT:
            loop = self.add(("split", 0, 0))
            self.seq(sub, flags)
            self.add(("jmp", loop))
            self.patch(loop, ("split", loop + 1, len(self.prog)))
            return
        splits: list[int] = []
        for _ in range(high - low):
            splits.append(self.add(("split", 0, 0)))
            self.seq(sub, flags)
        for split in splits:
            self.patch(split, ("split", split + 1, len(self.prog)))


def _holds(kind: str, flags: int, prev: str | None, ch: str | None) -> bool:
    """Whether an ``AT`` assertion holds between ``prev`` and ``ch`` (None: the text's ends)."""
    multiline = bool(flags & re.MULTILINE)
    if kind == "AT_BEGINNING_STRING":
        return prev is None
    if kind == "AT_END_STRING":
        return ch is None
    if kind == "AT_BEGINNING":
        return prev is None or (multiline and prev == "\n")
    if kind == "AT_END":
        # ``re``'s ``$``: the end, or before a final newline (any newline when multiline);
        # the caller knows whether a newline is the final one (see _Program.search).
        return ch is None or (ch == "\n" and multiline)
    if kind in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
        ascii_only = bool(flags & re.ASCII)
        before = prev is not None and _word(prev, ascii_only)
        after = ch is not None and _word(ch, ascii_only)
        return (before != after) == (kind == "AT_BOUNDARY")
    raise _Unsupported(kind)


class _Program:
    def __init__(self, prog: list[Inst]) -> None:
        self.prog = prog
        self.cache: dict[tuple[frozenset[int], str | None, str, bool], Any] = {}
        # ``$`` without MULTILINE also holds before a final newline: only at the last step.
        self.end_before_newline = any(
            inst[0] == "assert" and inst[1] == "AT_END" and not inst[2] & re.MULTILINE
            for inst in prog
        )

    def closure(
        self, pcs: frozenset[int], prev: str | None, ch: str | None, final_newline: bool
    ) -> tuple[frozenset[int], bool]:
        """The consuming instructions reachable from ``pcs`` (and the start: unanchored
        search) at this position, and whether the match instruction is."""
        stack = [0, *pcs]
        seen: set[int] = set()
        ready: list[int] = []
        matched = False
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            inst = self.prog[pc]
            op = inst[0]
            if op == "char":
                ready.append(pc)
            elif op == "split":
                stack.append(inst[2])
                stack.append(inst[1])
            elif op == "jmp":
                stack.append(inst[1])
            elif op == "look":
                seen_char = prev if inst[1] < 0 else ch
                if (seen_char is not None and inst[2](seen_char)) != inst[3]:
                    stack.append(pc + 1)
            elif op == "assert":
                holds = _holds(inst[1], inst[2], prev, ch) or (
                    final_newline and inst[1] == "AT_END" and not inst[2] & re.MULTILINE
                )
                if holds:
                    stack.append(pc + 1)
            else:
                matched = True
        return frozenset(ready), matched

    def search(self, text: str) -> bool:
        state: frozenset[int] = frozenset()
        prev: str | None = None
        last = len(text) - 1
        cache = self.cache
        for i, ch in enumerate(text):
            final_newline = self.end_before_newline and i == last and ch == "\n"
            key = (state, prev, ch, final_newline)
            hit = cache.get(key)
            if hit is None:
                ready, matched = self.closure(state, prev, ch, final_newline)
                hit = (frozenset(pc + 1 for pc in ready if self.prog[pc][1](ch)), matched)
                if len(cache) >= _MAX_CACHE:
                    cache.clear()
                cache[key] = hit
            state, matched = hit
            if matched:
                return True
            prev = ch
        return self.closure(state, prev, None, False)[1]


@lru_cache(maxsize=512)
def _program(pattern: str, flags: int) -> _Program | None:
    try:
        tree = _parser.parse(pattern, flags)
        compiler = _Compiler()
        compiler.seq(tree, tree.state.flags)
        compiler.add(("match",))
    except _Unsupported:
        return None
    return _Program(compiler.prog)


def search(compiled: re.Pattern[str], text: str) -> bool:
    """``compiled.search(text) is not None``, in time linear in ``len(text)``."""
    program = _program(compiled.pattern, compiled.flags)
    if program is None:
        return compiled.search(text) is not None
    return program.search(text)
