"""Go (RE2) regular expressions: Go's syntax errors, matched with Python's ``re``.

A CRD's ``pattern`` is compiled by Go's ``regexp.Compile``: a lookahead Python accepts is
``error parsing regexp: invalid or unsupported Perl syntax: `(?=``` there, ``$`` only
matches at the very end, ``\\d``/``\\w``/``\\s`` are ASCII. This module parses the Go syntax
(reporting the error Go's parser reports first) and emits an equivalent Python pattern.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

__all__ = ["GoRegexError", "compile_go"]

_MAX_RUNE = sys.maxunicode

# Error codes (regexp/syntax ErrorCode strings).
INVALID_CHAR_RANGE = "invalid character class range"
INVALID_ESCAPE = "invalid escape sequence"
INVALID_NAMED_CAPTURE = "invalid named capture"
INVALID_PERL_OP = "invalid or unsupported Perl syntax"
INVALID_REPEAT_OP = "invalid nested repetition operator"
INVALID_REPEAT_SIZE = "invalid repeat count"
MISSING_BRACKET = "missing closing ]"
MISSING_PAREN = "missing closing )"
MISSING_REPEAT_ARGUMENT = "missing argument to repetition operator"
TRAILING_BACKSLASH = "trailing backslash at end of expression"
UNEXPECTED_PAREN = "unexpected )"


class GoRegexError(ValueError):
    """What Go's ``regexp.Compile`` returns for ``pattern``."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr


Ranges = list[tuple[int, int]]

_PERL: dict[str, tuple[int, Ranges]] = {
    "\\d": (1, [(0x30, 0x39)]),
    "\\D": (-1, [(0x30, 0x39)]),
    "\\s": (1, [(0x9, 0xA), (0xC, 0xD), (0x20, 0x20)]),
    "\\S": (-1, [(0x9, 0xA), (0xC, 0xD), (0x20, 0x20)]),
    "\\w": (1, [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
    "\\W": (-1, [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
}
_POSIX_BASE: dict[str, Ranges] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x0, 0x7F)],
    "blank": [(0x9, 0x9), (0x20, 0x20)],
    "cntrl": [(0x0, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x9, 0xD), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_WORD = "0-9A-Za-z_"
_FLAG_CASE, _FLAG_DOTNL, _FLAG_MULTILINE = 1, 2, 4


def _negate(ranges: Ranges) -> Ranges:
    out: Ranges = []
    nxt = 0
    for lo, hi in _clean(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _clean(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _words(text: str) -> list[str]:
    return text.split()


_SCRIPTS = frozenset(
    _words(
        """Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
    Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
    Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot
    Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs
    Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
    Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
    Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li
    Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B
    Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi
    Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi
    Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu
    Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic
    Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya
    Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan
    Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese
    Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut
    Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi
    Yezidi Yi Zanabazar_Square"""
    )
)
_CATEGORIES = frozenset(
    _words("C Cc Cf Cn Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc")
    + _words("Sk Sm So Z Zl Zp Zs")
)
_ALIASES = dict(
    pair.split("=")
    for pair in _words(
        """Cased_Letter=LC Close_Punctuation=Pe Combining_Mark=M Connector_Punctuation=Pc
    Control=Cc Currency_Symbol=Sc Dash_Punctuation=Pd Decimal_Number=Nd Enclosing_Mark=Me
    Final_Punctuation=Pf Format=Cf Initial_Punctuation=Pi Letter=L Letter_Number=Nl
    Line_Separator=Zl Lowercase_Letter=Ll Mark=M Math_Symbol=Sm Modifier_Letter=Lm
    Modifier_Symbol=Sk Nonspacing_Mark=Mn Number=N Open_Punctuation=Ps Other=C Other_Letter=Lo
    Other_Number=No Other_Punctuation=Po Other_Symbol=So Paragraph_Separator=Zp Private_Use=Co
    Punctuation=P Separator=Z Space_Separator=Zs Spacing_Mark=Mc Surrogate=Cs Symbol=S
    Titlecase_Letter=Lt Unassigned=Cn Uppercase_Letter=Lu cntrl=Cc digit=Nd punct=P"""
    )
)


def _canonical(name: str) -> str:
    """Go's ``canonicalName``: first letter upper, the rest lower, no ``_``/``-``/spaces."""
    out = []
    first = True
    for char in name:
        if char in "_- ":
            continue
        if first:
            out.append(char.upper() if "a" <= char <= "z" else char)
            first = False
        else:
            out.append(char.lower() if "A" <= char <= "Z" else char)
    return "".join(out)


_CANONICAL_ALIASES = {_canonical(k): v for k, v in _ALIASES.items()}


@cache
def _ranges_of(category: str) -> tuple[tuple[int, int], ...]:
    """The code point ranges of a Unicode general category (``L``, ``Lu``, ``LC``...)."""
    out: Ranges = []
    prefixes = ("Lu", "Ll", "Lt") if category == "LC" else (category,)
    for code in range(_MAX_RUNE + 1):
        if unicodedata.category(chr(code)).startswith(prefixes):
            if out and out[-1][1] == code - 1:
                out[-1] = (out[-1][0], code)
            else:
                out.append((code, code))
    return tuple(out)


def _unicode_table(name: str) -> tuple[Ranges, int] | None:
    """``unicodeTable``: ranges and sign for a ``\\p{name}``; None when Go knows no such
    table. Scripts (Greek, Han...) are recognised but match any character here."""
    name = _canonical(name)
    if name == "Any":
        return [(0, _MAX_RUNE)], 1
    if name == "Assigned":
        return list(_ranges_of("Cn")), -1
    if name == "Ascii":
        return [(0, 0x7F)], 1
    if name == "Lc":
        return list(_ranges_of("LC")), 1
    if name in _CATEGORIES:
        return list(_ranges_of(name)), 1
    if name in _SCRIPTS:
        return [(0, _MAX_RUNE)], 1
    alias = _CANONICAL_ALIASES.get(name)
    if alias is not None:
        return list(_ranges_of(alias)), 1
    return None


def _char(code: int) -> str:
    char = chr(code)
    if char.isalnum() and code < 0x80:
        return char
    return f"\\U{code:08x}"


def _class_text(ranges: Ranges) -> str:
    ranges = _clean(ranges)
    if not ranges:
        return "[^\\x00-\\U0010ffff]"
    parts = [_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


@dataclass
class _Node:
    """A parsed piece, for Go's nested repetition size check."""

    repeat: int | None = None  # the count of an ``{n,m}`` repetition
    subs: list[_Node] = field(default_factory=list)


def _repeat_is_valid(node: _Node, n: int) -> bool:
    if node.repeat is not None:
        m = node.repeat
        if m == 0:
            return True
        if m > n:
            return False
        if m > 0:
            n //= m
    return all(_repeat_is_valid(sub, n) for sub in node.subs)


@dataclass
class _Atom:
    text: str
    node: _Node


@dataclass
class _Group:
    prefix: str  # "(?:" or "("
    flags: int  # flags to restore when the group closes
    alternatives: list[list[_Atom]] = field(default_factory=lambda: [[]])


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.whole = pattern
        self.flags = 0
        self.stack: list[_Group] = [_Group("", 0)]

    # -------------------------------------------------------------- emitting

    def _wrap(self, text: str) -> str:
        on = ("i" if self.flags & _FLAG_CASE else "") + ("s" if self.flags & _FLAG_DOTNL else "")
        return f"(?{on}:{text})" if on else text

    def push(self, text: str, node: _Node | None = None) -> None:
        self.stack[-1].alternatives[-1].append(_Atom(self._wrap(text), node or _Node()))

    def push_class(self, ranges: Ranges) -> None:
        self.push(_class_text(ranges))

    # -------------------------------------------------------------- parsing

    def parse(self) -> str:
        t = self.whole
        last_repeat = ""
        while t:
            repeat = ""
            c = t[0]
            if c == "(":
                if len(t) >= 2 and t[1] == "?":
                    t = self.perl_flags(t)
                else:
                    self.stack.append(_Group("(?:", self.flags))
                    t = t[1:]
            elif c == "|":
                self.stack[-1].alternatives.append([])
                t = t[1:]
            elif c == ")":
                self.right_paren()
                t = t[1:]
            elif c == "^":
                self.push("(?m:^)" if self.flags & _FLAG_MULTILINE else "\\A")
                t = t[1:]
            elif c == "$":
                self.push("(?m:$)" if self.flags & _FLAG_MULTILINE else "\\Z")
                t = t[1:]
            elif c == ".":
                self.push(".")
                t = t[1:]
            elif c == "[":
                t = self.parse_class(t)
            elif c in "*+?":
                before = t
                t = self.repeat(c, None, before, t[1:], last_repeat)
                repeat = before
            elif c == "{":
                parsed = self.parse_repeat(t)
                if parsed is None:
                    self.push("\\{")
                    t = t[1:]
                else:
                    low, high, after = parsed
                    before = t
                    if low < 0 or low > 1000 or high > 1000 or (high >= 0 and low > high):
                        raise GoRegexError(INVALID_REPEAT_SIZE, before[: len(before) - len(after)])
                    t = self.repeat("{", (low, high), before, after, last_repeat)
                    repeat = before
            elif c == "\\":
                t = self.escape_atom(t)
            else:
                self.push(re.escape(c))
                t = t[1:]
            last_repeat = repeat
        if len(self.stack) != 1:
            raise GoRegexError(MISSING_PAREN, self.whole)
        return self.close(self.stack[0])

    @staticmethod
    def close(group: _Group) -> str:
        return "|".join("".join(a.text for a in alt) for alt in group.alternatives)

    def right_paren(self) -> None:
        if len(self.stack) < 2:
            raise GoRegexError(UNEXPECTED_PAREN, self.whole)
        group = self.stack.pop()
        self.flags = group.flags
        node = _Node(subs=[a.node for alt in group.alternatives for a in alt])
        text = "(?:" + self.close(group) + ")"
        self.stack[-1].alternatives[-1].append(_Atom(text, node))

    def repeat(
        self,
        op: str,
        counts: tuple[int, int] | None,
        before: str,
        after: str,
        last_repeat: str,
    ) -> str:
        lazy = ""
        if after[:1] == "?":
            after = after[1:]
            lazy = "?"
        if last_repeat:
            raise GoRegexError(INVALID_REPEAT_OP, last_repeat[: len(last_repeat) - len(after)])
        atoms = self.stack[-1].alternatives[-1]
        if not atoms:
            raise GoRegexError(MISSING_REPEAT_ARGUMENT, before[: len(before) - len(after)])
        sub = atoms[-1]
        if counts is None:
            quantifier = op
            node = _Node(subs=[sub.node])
        else:
            low, high = counts
            quantifier = f"{{{low},}}" if high < 0 else f"{{{low},{high}}}"
            node = _Node(repeat=high if high >= 0 else low, subs=[sub.node])
            if (low >= 2 or high >= 2) and not _repeat_is_valid(node, 1000):
                raise GoRegexError(INVALID_REPEAT_SIZE, before[: len(before) - len(after)])
        atoms[-1] = _Atom(f"(?:{sub.text}){quantifier}{lazy}", node)
        return after

    @staticmethod
    def parse_int(s: str) -> tuple[int, str] | None:
        if not s or not s[0].isdigit() or not s[0].isascii():
            return None
        if len(s) >= 2 and s[0] == "0" and s[1] in "0123456789":
            return None
        i = 0
        while i < len(s) and s[i] in "0123456789":
            i += 1
        digits = s[:i]
        value = int(digits) if len(digits) <= 9 else -1
        if value >= 10**8 and len(digits) > 8:
            value = -1
        return value, s[i:]

    def parse_repeat(self, s: str) -> tuple[int, int, str] | None:
        """``{min}``, ``{min,}``, ``{min,max}``: ``(min, max, rest)``; None: a literal ``{``."""
        s = s[1:]
        parsed = self.parse_int(s)
        if parsed is None:
            return None
        low, s = parsed
        if not s:
            return None
        if s[0] != ",":
            high = low
        else:
            s = s[1:]
            if not s:
                return None
            if s[0] == "}":
                high = -1
            else:
                parsed = self.parse_int(s)
                if parsed is None:
                    return None
                high, s = parsed
                if high < 0:
                    low = -1
        if not s or s[0] != "}":
            return None
        return low, high, s[1:]

    def perl_flags(self, s: str) -> str:
        t = s
        starts_p = len(t) > 4 and t[2] == "P" and t[3] == "<"
        starts_name = len(t) > 3 and t[2] == "<"
        if starts_p or starts_name:
            start = 4 if starts_p else 3
            end = t.find(">")
            if end < 0:
                raise GoRegexError(INVALID_NAMED_CAPTURE, s)
            name = t[start:end]
            if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
                raise GoRegexError(INVALID_NAMED_CAPTURE, t[: end + 1])
            self.stack.append(_Group("(?:", self.flags))
            return t[end + 1 :]
        t = t[2:]
        flags = self.flags
        sign = 1
        saw_flag = False
        while t:
            c, t = t[0], t[1:]
            if c == "i":
                flags = flags | _FLAG_CASE if sign > 0 else flags & ~_FLAG_CASE
                saw_flag = True
            elif c == "m":
                flags = flags | _FLAG_MULTILINE if sign > 0 else flags & ~_FLAG_MULTILINE
                saw_flag = True
            elif c == "s":
                flags = flags | _FLAG_DOTNL if sign > 0 else flags & ~_FLAG_DOTNL
                saw_flag = True
            elif c == "U":
                saw_flag = True  # non-greedy: no effect on whether a string matches
            elif c == "-":
                if sign < 0:
                    break
                sign = -1
                saw_flag = False
            elif c in ":)":
                if sign < 0 and not saw_flag:
                    break
                if c == ":":
                    self.stack.append(_Group("(?:", self.flags))
                self.flags = flags
                return t
            else:
                break
        raise GoRegexError(INVALID_PERL_OP, s[: len(s) - len(t)])

    def escape_atom(self, t: str) -> str:
        if len(t) >= 2:
            c = t[1]
            if c == "A":
                self.push("\\A")
                return t[2:]
            if c == "b":
                self.push(f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))")
                return t[2:]
            if c == "B":
                self.push(f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))")
                return t[2:]
            if c == "C":
                raise GoRegexError(INVALID_ESCAPE, t[:2])
            if c == "Q":
                literal, _, rest = t[2:].partition("\\E")
                for ch in literal:
                    self.push(re.escape(ch))
                return rest
            if c == "z":
                self.push("\\Z")
                return t[2:]
            if c in "pP":
                ranges, rest = self.unicode_class(t)
                self.push_class(ranges)
                return rest
            if t[:2] in _PERL:
                sign, ranges = _PERL[t[:2]]
                self.push_class(ranges if sign > 0 else _negate(ranges))
                return t[2:]
        code, rest = self.escape(t)
        self.push(re.escape(chr(code)))
        return rest

    def escape(self, s: str) -> tuple[int, str]:
        """One escaped character (``parseEscape``)."""
        t = s[1:]
        if not t:
            raise GoRegexError(TRAILING_BACKSLASH, "")
        c, t = t[0], t[1:]
        if c.isascii() and not c.isalnum():
            return ord(c), t
        if (c in "1234567" and t and t[0] in "01234567") or c == "0":
            value = int(c)
            for _ in range(2):
                if not t or t[0] not in "01234567":
                    break
                value = value * 8 + int(t[0])
                t = t[1:]
            return value, t
        if c == "x" and t:
            c2, t2 = t[0], t[1:]
            if c2 == "{":
                digits = ""
                while t2 and t2[0] != "}":
                    if t2[0] not in "0123456789abcdefABCDEF":
                        digits = ""
                        break
                    digits += t2[0]
                    t2 = t2[1:]
                if digits and t2[:1] == "}" and int(digits, 16) <= _MAX_RUNE:
                    return int(digits, 16), t2[1:]
                t = t2[1:] if t2 else t2
            elif t2 and c2 in "0123456789abcdefABCDEF" and t2[0] in "0123456789abcdefABCDEF":
                return int(c2 + t2[0], 16), t2[1:]
            else:
                t = t2[1:] if t2 else t2
        simple = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
        if c in simple:
            return simple[c], t
        raise GoRegexError(INVALID_ESCAPE, s[: len(s) - len(t)])

    def unicode_class(self, s: str) -> tuple[Ranges, str]:
        sign = 1 if s[1] == "p" else -1
        t = s[2:]
        if not t:
            raise GoRegexError(INVALID_CHAR_RANGE, s)
        if t[0] != "{":
            seq, t = s[:3], t[1:]
            name = seq[2:]
        else:
            end = s.find("}")
            if end < 0:
                raise GoRegexError(INVALID_CHAR_RANGE, s)
            seq, t = s[: end + 1], s[end + 1 :]
            name = s[3:end]
        if name.startswith("^"):
            sign, name = -sign, name[1:]
        table = _unicode_table(name)
        if table is None:
            raise GoRegexError(INVALID_CHAR_RANGE, seq)
        ranges, table_sign = table
        if table_sign < 0:
            sign = -sign
        return (ranges if sign > 0 else _negate(ranges)), t

    def class_char(self, s: str, whole: str) -> tuple[int, str]:
        if not s:
            raise GoRegexError(MISSING_BRACKET, whole)
        if s[0] == "\\":
            return self.escape(s)
        return ord(s[0]), s[1:]

    def parse_class(self, s: str) -> str:
        t = s[1:]
        sign = 1
        if t[:1] == "^":
            sign = -1
            t = t[1:]
        ranges: Ranges = []
        first = True
        while not t or t[0] != "]" or first:
            first = False
            if len(t) > 2 and t[0] == "[" and t[1] == ":":
                end = t.find(":]", 2)
                if end >= 0:
                    name = t[: end + 2]
                    key = name[2:-2]
                    negated = key.startswith("^")
                    base = _POSIX_BASE.get(key.removeprefix("^"))
                    if base is None:
                        raise GoRegexError(INVALID_CHAR_RANGE, name)
                    ranges.extend(_negate(base) if negated else base)
                    t = t[end + 2 :]
                    continue
            if len(t) >= 2 and t[0] == "\\" and t[1] in "pP":
                found, t = self.unicode_class(t)
                ranges.extend(found)
                continue
            if t[:2] in _PERL:
                perl_sign, found = _PERL[t[:2]]
                ranges.extend(found if perl_sign > 0 else _negate(found))
                t = t[2:]
                continue
            rng = t
            lo, t = self.class_char(t, s)
            hi = lo
            if len(t) >= 2 and t[0] == "-" and t[1] != "]":
                t = t[1:]
                hi, t = self.class_char(t, s)
                if hi < lo:
                    raise GoRegexError(INVALID_CHAR_RANGE, rng[: len(rng) - len(t)])
            ranges.append((lo, hi))
        t = t[1:]
        if sign < 0:
            ranges = _negate(ranges)
        self.push_class(ranges)
        return t


@lru_cache(maxsize=512)
def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile a Go regular expression for Python's ``re`` (``search`` is Go's
    ``MatchString``); raises :class:`GoRegexError` with Go's message."""
    return re.compile(_Parser(pattern).parse())
