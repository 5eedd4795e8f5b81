"""The one terminal layer: a block redrawn in place (rich's Live) with lines printed above
it that stay in the scroll-back, and the tables drawn in it (the `watch` board, the
recorder's status lines).

Only a terminal comes here (or `--live` asked for one): plain output for pipes, CI logs
and `--plain` is line-based and never passes through rich, so scripts see what they saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Final, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ttrec.scoreboard import Scoreboard


class LiveBlock:
    """A block at the bottom of the terminal; each `draw` replaces it, `print_above` adds a
    line above it, `close` leaves the last drawing on screen (and the cursor back)."""

    def __init__(self, out: TextIO, *, width: int | None = None, height: int | None = None) -> None:
        # force_terminal: the caller decided this is a terminal (or `--live` said so).
        self.console = Console(
            file=out, force_terminal=True, width=width, height=height, highlight=False, emoji=False
        )
        self._live = Live(
            console=self.console,
            auto_refresh=False,  # our callers redraw on their own clock (trio's, the tests' MockClock)
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
        )
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._live.start()
            self._started = True

    def draw(self, view: RenderableType) -> None:
        """Replace the block with `view`, in one write (no flicker)."""
        self._start()
        self._live.update(view, refresh=True)

    def print_above(self, line: str) -> None:
        """A line that stays in the scroll-back, above the block (a plain line when no
        block is shown: before the first drawing or after `close`, which it never undoes)."""
        self.console.print(Text(line), soft_wrap=True)

    def close(self) -> None:
        if self._started:
            self._live.stop()
            self._started = False

    def __enter__(self) -> LiveBlock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def board_view(board: Scoreboard, now: float) -> RenderableType:
    """The `watch` board: a headline, a table of the two sides (who serves, sets won, the
    points of every set), then the moment or result and the last actions."""
    rows = board.team_rows()
    if not rows:
        return Text(board.headline(now))
    sets = max(len(row.points) for row in rows)
    teams = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    teams.add_column(" ", width=1)
    teams.add_column("team", overflow="ellipsis", no_wrap=True, max_width=34)
    teams.add_column("sets", justify="right")
    for number in range(1, sets + 1):
        teams.add_column(str(number), justify="right")
    for row in rows:
        teams.add_row("*" if row.serving else "", row.name, str(row.sets_won), *map(str, row.points))
    return Group(Text(board.headline(now)), teams, *(Text(line) for line in board.footer(now)))


def table_view(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: frozenset[str] = frozenset(),
    note: str | None = None,
    *,
    width: int | None = None,
) -> RenderableType:
    """A table with a bold header row, one line per row; the columns named in `right`
    (numbers) are aligned right and never cut, the others are cut with an ellipsis so that
    the table fits in `width`. `note` is one more line under it.

    Laid out here as lines of text, not as a rich Table: a Table of 48 rows costs about 15
    times as much to draw (benchmarks/terminal.py), and the recorder redraws its table on
    the event loop that stamps arriving frames."""
    natural = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    padding = len(COLUMN_GAP) * (len(columns) - 1)
    shrinkable = [name not in right for name in columns]
    widths = natural if width is None else fit_widths(natural, shrinkable, width - padding)
    aligned = [
        COLUMN_GAP.join(_cell(c, w, n in right) for c, w, n in zip(cells, widths, columns, strict=True))
        for cells in [list(columns), *rows]
    ]
    lines = [Text(aligned[0].rstrip(), style="bold"), *(Text(line.rstrip()) for line in aligned[1:])]
    if note is not None:
        lines.append(Text(note if width is None else _cut(note, width)))
    return Text("\n").join(lines)


COLUMN_GAP: Final = "  "


def _cell(text: str, width: int, right: bool) -> str:
    cut = _cut(text, width)
    return cut.rjust(width) if right else cut.ljust(width)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_widths(natural: Sequence[int], shrinkable: Sequence[bool], available: int) -> list[int]:
    """Column widths that fit in `available`: the widest shrinkable column gives up a
    character until the sum fits (or every shrinkable column is down to one)."""
    widths = list(natural)
    while sum(widths) > available:
        candidates = [i for i, can in enumerate(shrinkable) if can and widths[i] > 1]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths
