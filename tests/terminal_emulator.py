"""What a terminal would show after some output: a minimal emulator of the sequences the
terminal layer (rich's Live) writes: carriage return, newline, cursor up, erase line,
SGR styles (ignored) and cursor show/hide. Any other sequence fails the test, so a change
in how the block is drawn is seen rather than passed over."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z]|\r|\n)")


def screen(text: str) -> list[str]:
    """The lines on the screen (scroll-back included), trailing blank lines left out."""
    lines = [""]
    row = col = 0
    for token in _TOKEN.split(text):
        if not token:
            continue
        if token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            kind, arg = token[-1], token[2:-1]
            if kind == "A":
                row = max(0, row - int(arg or "1"))
            elif kind == "K" and arg == "2":
                lines[row] = ""
            elif kind != "m" and token[2:] not in ("?25l", "?25h"):
                raise AssertionError(f"a sequence this emulator does not know: {token!r}")
        else:
            line = lines[row]
            lines[row] = line[:col].ljust(col) + token + line[col + len(token) :]
            col += len(token)
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip() for line in lines]


def cursor_shown_at_end(text: str) -> bool:
    """Hidden while drawing, shown again once the block is closed."""
    return text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")
