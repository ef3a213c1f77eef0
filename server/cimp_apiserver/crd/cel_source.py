"""Where a CEL error is and how cel-go prints it: ``ERROR: <input>:L:C: message``, the source
line, and a caret line (dots, full-width ones under multi-byte characters), errors sorted by
position; at most 100 are shown."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Issues", "Source"]

_MAX_ERRORS = 100
_MAX_SNIPPET = 16384


class Source:
    """The expression text and its line starts (offsets count code points, as cel-go's)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def location(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based column) of ``offset``."""
        line = 0
        for i, start in enumerate(self.line_starts):
            if start <= offset:
                line = i
            else:
                break
        return line + 1, offset - self.line_starts[line]

    def snippet(self, line: int) -> str | None:
        if not 1 <= line <= len(self.line_starts):
            return None
        start = self.line_starts[line - 1]
        end = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)
        return self.text[start:end]


@dataclass
class Issues:
    """The errors of one parse or check."""

    source: Source
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # (line, column, message)
    count: int = 0

    def report(self, offset: int | None, message: str) -> None:
        self.count += 1
        if self.count > _MAX_ERRORS:
            return
        line, column = (
            self.source.location(offset) if offset is not None and offset >= 0 else (-1, -1)
        )
        self.errors.append((line, column, message))

    def __bool__(self) -> bool:
        return self.count > 0

    def display(self) -> str:
        ordered = sorted(self.errors, key=lambda e: (e[0], e[1]))
        out = [self._one(*e) for e in ordered[:_MAX_ERRORS]]
        if self.count > _MAX_ERRORS:
            out.append(f"{self.count - _MAX_ERRORS} more errors were truncated")
        return "\n".join(out)

    def _one(self, line: int, column: int, message: str) -> str:
        text = f"ERROR: <input>:{line}:{column + 1}: {message}"
        snippet = self.source.snippet(line)
        if snippet is None or len(snippet) > _MAX_SNIPPET:
            return text
        snippet = snippet.replace("\t", " ")
        marks = "".join("\uff0e" if len(ch.encode()) > 1 else "." for ch in snippet[:column])
        under = snippet[column] if column < len(snippet) else ""
        marks += "\uff3e" if under and len(under.encode()) > 1 else "^"
        return f"{text}\n | {snippet}\n | {marks}"
