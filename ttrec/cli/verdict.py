"""`ttrec truth` and `ttrec verdict`: the true state at every frame, and a consumer judged by it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ttrec.capture import ZSTD_MAGIC, CaptureReader
from ttrec.cli import command, mark_failed
from ttrec.cli.logs import say
from ttrec.cli.params import CaptureInput
from ttrec.errors import TtrecError
from ttrec.feed import feed_named
from ttrec.records import Frame
from ttrec.truth import SCHEMA, line_problem, truths
from ttrec.verdict import first_divergence, parse_beliefs


def _frame_texts(reader: CaptureReader) -> Iterator[str]:
    return (record.data for record in reader if isinstance(record, Frame))


def _truth_lines(path: Path) -> list[dict[str, Any]]:
    """The truth of a capture (computed) or of a `ttrec truth` output file (read: every line
    one of the schema's, every field there; anything else is refused, so that a wrong file
    given as TRUTH can neither pass a consumer nor blame it)."""
    with path.open("rb") as probe:
        is_capture = probe.read(len(ZSTD_MAGIC)) == ZSTD_MAGIC
    if is_capture:
        with CaptureReader(path) as reader:
            return [t.to_json() for t in truths(_frame_texts(reader), feed_named(reader.header.feed))]
    lines = []
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, text in enumerate(file, start=1):
            try:
                problem = line_problem(json.loads(text))
            except (ValueError, RecursionError):
                problem = "not JSON"
            if problem is not None:
                raise TtrecError(
                    f"{path}:{number}: not a {SCHEMA} line ({problem}; see `ttrec truth --help`)"
                )
            lines.append(json.loads(text))
    if not lines:
        raise TtrecError(f"{path}: no truth line: neither a capture nor what `ttrec truth` prints")
    return lines


@command("truth")
@click.argument("capture", type=CaptureInput())
def truth(capture: Path) -> None:
    """Print the true match state after every data frame, as JSON Lines.

    Every line has `schema` ("ttrec.truth/1"), `seq` (the frame's seqNum), `frame` (its
    1-based index), `sets` ([[home, away], ...] points per set in period order), `sets_won`,
    `server`, `moment`, `moment_side`, `finished`, `winner`, `ended`, `corrections` and
    `teams` (docs/verdict.md).

    \b
    Example:
      ttrec truth match.jsonl.zst > truth.jsonl
      ttrec truth match.jsonl.zst | tail -1
    """
    with CaptureReader(capture) as reader:
        for state in truths(_frame_texts(reader), feed_named(reader.header.feed)):
            click.echo(state.line())
        if reader.torn_tail or reader.damage:
            say(f"note: {capture}: {reader.damage or 'torn tail'}; truth up to there", "warning")


@command("verdict")
@click.argument("truth_path", metavar="TRUTH", type=CaptureInput())
# Opened by the command, not by click: a missing file is then exit 1 like a missing TRUTH.
@click.argument("beliefs", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
def verdict(truth_path: Path, beliefs: Path) -> None:
    """Judge a consumer's beliefs against the truth; exit 1 at the first divergence.

    TRUTH is a capture or the output of `ttrec truth`; BELIEFS is a file of JSON Lines
    (`-` for standard input), each `{"seq": N, ...}` with only the truth fields the consumer
    tracks. A consumer may lag or skip seqNums; it must never be wrong about a state it
    reports. Prints nothing when every belief holds.

    \b
    Example:
      my-consumer --beliefs beliefs.jsonl ... && ttrec verdict match.jsonl.zst beliefs.jsonl
      ./consumer | ttrec verdict truth.jsonl -
    """
    truth_lines = _truth_lines(truth_path)
    with click.open_file(str(beliefs), encoding="utf-8", errors="replace") as lines:
        divergence = first_divergence(truth_lines, parse_beliefs(lines))
    if divergence is not None:
        mark_failed()  # exit 1 even if the reader leaves while it is shown (`| head -1`)
        for line in divergence.describe():
            click.echo(line)
        raise SystemExit(1)
