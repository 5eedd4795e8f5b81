"""A block of lines redrawn in place on a terminal (the recorder's status lines, the
`watch` board): the one place that knows the escape codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO


class InPlace:
    """Draws a block of lines; the next drawing replaces it. Text written to `out` between
    an `erase()` and the next `draw()` stays above the block, in the scroll-back."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._drawn = 0

    def _erasing(self) -> str:
        # Cursor up over the block, then clear to the end of the screen.
        return f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""

    def erase(self) -> None:
        if self._drawn:
            self.out.write(self._erasing())
            self._drawn = 0

    def draw(self, lines: Sequence[str]) -> None:
        """Replace the block with `lines`, in one write (no flicker)."""
        self.out.write(self._erasing() + "".join(line + "\n" for line in lines))
        self.out.flush()
        self._drawn = len(lines)
