"""Benchmark the terminal layer: what one redraw of the recorder's status table costs.

    .venv/bin/python benchmarks/terminal.py               # 48 rows, 200 redraws of each
    .venv/bin/python benchmarks/terminal.py --rows 10

The recorder redraws its table every 0.5 s on the trio event loop that also stamps every
arriving frame, so a redraw is time a frame may wait to be stamped. Measured in one run,
each on the same rows into an in-memory terminal of 160 x (rows + 2):

- baseline: the block written by hand (cursor up, clear, the lines): what ttrec did before
  rich, and the least a redraw can cost;
- rich Live drawing the table as aligned lines of text (ttrec.terminal.table_view: what the
  recorder draws now);
- rich Live drawing the same cells as a rich.table.Table.

Prints the milliseconds per redraw of each and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

from conditions import conditions, print_conditions  # benchmarks/ is on sys.path
from rich.table import Table

from recorder.status import NUMERIC_COLUMNS, STATUS_COLUMNS, FixtureStatus, status_cells
from ttrec.terminal import LiveBlock, table_view

WIDTH = 160


def statuses(count: int) -> list[FixtureStatus]:
    made = []
    for i in range(count):
        status = FixtureStatus(f"{i:08d}-86fa-4f0b-abcc-30cbef80dacc")
        status.state = "recording"
        status.detail = f"connected (connection {1 + i % 3})"
        status.counters.frames, status.counters.heartbeats, status.counters.last_seq = 100 + i, 7, 100 + i
        made.append(status)
    return made


def per_redraw_ms(redraw: Callable[[], None], times: int) -> float:
    redraw()  # the first drawing starts the Live display: not a redraw
    start = time.perf_counter()
    for _ in range(times):
        redraw()
    return (time.perf_counter() - start) / times * 1000


def by_hand(rows: list[tuple[str, ...]]) -> Callable[[], None]:
    out = io.StringIO()
    drawn = 0

    def redraw() -> None:
        nonlocal drawn
        lines = ["  ".join(cells) for cells in [STATUS_COLUMNS, *rows]]
        erase = f"\x1b[{drawn}F\x1b[J" if drawn else ""
        out.write(erase + "".join(line[:WIDTH] + "\n" for line in lines))
        drawn = len(lines)

    return redraw


def with_text(rows: list[tuple[str, ...]]) -> Callable[[], None]:
    block = LiveBlock(io.StringIO(), width=WIDTH, height=len(rows) + 2)
    return lambda: block.draw(table_view(STATUS_COLUMNS, rows, NUMERIC_COLUMNS, width=WIDTH))


def with_table(rows: list[tuple[str, ...]]) -> Callable[[], None]:
    block = LiveBlock(io.StringIO(), width=WIDTH, height=len(rows) + 2)

    def redraw() -> None:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for name in STATUS_COLUMNS:
            numeric = name in NUMERIC_COLUMNS
            table.add_column(name, justify="right" if numeric else "left", no_wrap=True, overflow="ellipsis")
        for cells in rows:
            table.add_row(*cells)
        block.draw(table)

    return redraw


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--rows", type=int, default=48, help="fixtures in the table (a 50-line terminal)")
    parser.add_argument("--redraws", type=int, default=200)
    args = parser.parse_args()
    print_conditions("terminal", conditions())
    rows = [status_cells(s) for s in statuses(args.rows)]
    baseline = per_redraw_ms(by_hand(rows), args.redraws)
    print(f"{args.rows} rows, {WIDTH} columns, {args.redraws} redraws each")
    print(f"  by hand (baseline)          {baseline:8.3f} ms per redraw")
    for name, make in (("rich Live, lines of text", with_text), ("rich Live, rich Table", with_table)):
        ms = per_redraw_ms(make(rows), args.redraws)
        print(f"  {name:<27} {ms:8.3f} ms per redraw  {ms / baseline:7.1f}x the baseline")


if __name__ == "__main__":
    main()
