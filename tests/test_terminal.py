"""ttrec.terminal: a redraw replaces exactly the block drawn before, a line printed above
it stays in the scroll-back, closing leaves the last drawing and the cursor back; the
tables cut long cells with an ellipsis; the board shows what the frames say.

The screen is read through a small terminal emulator (tests/terminal_emulator.py), so the
assertions are about what a person would see, not about escape codes."""

from __future__ import annotations

import io

from frame_factory import stats_frame
from rich.console import Console
from terminal_emulator import cursor_shown_at_end, screen

from ttrec.match import parse_frame
from ttrec.scoreboard import Scoreboard
from ttrec.terminal import LiveBlock, board_view, fit_widths, table_view


def rendered(view: object, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(view)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_a_redraw_replaces_the_block_and_lines_above_stay() -> None:
    out = io.StringIO()
    with LiveBlock(out, width=40, height=20) as block:
        block.draw(table_view(["a"], [["1"], ["2"], ["3"]]))
        assert screen(out.getvalue()) == ["a", "1", "2", "3"]
        block.print_above("event one")
        block.draw(table_view(["a"], [["4"]]))
        block.print_above("event two")
    assert screen(out.getvalue()) == ["event one", "event two", "a", "4"]
    assert cursor_shown_at_end(out.getvalue())


def test_a_line_after_close_is_plain_and_the_cursor_stays_shown() -> None:
    out = io.StringIO()
    block = LiveBlock(out, width=40, height=20)
    block.draw(table_view(["a"], [["1"]]))
    block.close()
    block.print_above("late event")
    assert screen(out.getvalue()) == ["a", "1", "late event"]
    assert cursor_shown_at_end(out.getvalue())


def test_closing_a_block_never_drawn_writes_nothing() -> None:
    out = io.StringIO()
    LiveBlock(out).close()
    assert out.getvalue() == ""


def test_a_table_cuts_long_cells_and_aligns_numbers_right() -> None:
    view = table_view(["name", "n"], [["x" * 60, "7"], ["y", "123"]], frozenset({"n"}), width=30)
    lines = rendered(view, 30)
    assert all(len(line) <= 30 for line in lines)
    # The name column gets what is left: 30 - 3 (the number) - 2 (padding between) = 25.
    assert lines[1] == "x" * 24 + "…" + "  " + "  7"
    assert lines[2] == "y" + " " * 24 + "  " + "123"
    assert lines[0].split() == ["name", "n"]
    assert rendered(table_view(["n"], [], note="… 3 more"), 30) == ["n", "… 3 more"]


def test_fit_widths_shrinks_the_widest_text_column_first() -> None:
    assert fit_widths([10, 3, 20], [True, False, True], 23) == [10, 3, 10]
    assert fit_widths([10, 3, 20], [True, False, True], 13) == [5, 3, 5]
    assert fit_widths([10, 3], [True, False], 2) == [1, 3]  # a number is never cut
    assert fit_widths([4, 5], [True, True], 100) == [4, 5]


def test_the_board_shows_each_sides_sets_and_points() -> None:
    sets = [(11, 7), (5, 11), (3, 2)]
    text = stats_frame(9, sets)
    frame = parse_frame(text)
    board = Scoreboard()
    board.add_frame(frame, at=1.0)
    lines = rendered(board_view(board, now=3.0), 100)
    assert lines[0] == board.headline(3.0)
    home = next(line for line in lines if frame.home is not None and frame.home.team.name in line)
    away = next(line for line in lines if frame.away is not None and frame.away.team.name in line)
    # Sets won, derived here from the points: one each; then the points of every set.
    assert home.split()[-4:] == ["1", "11", "5", "3"]
    assert away.split()[-4:] == ["1", "7", "11", "2"]
    assert lines[-1].startswith("last frame 2.0s ago") or "last frame 2.0s ago" in " ".join(lines)
