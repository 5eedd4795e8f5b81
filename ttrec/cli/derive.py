"""`ttrec slice`, `ttrec splice` and `ttrec warp`: derived captures (see ttrec.derive)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.cli import command, plural
from ttrec.cli.logs import say
from ttrec.cli.params import MAX_SCALE, CaptureInput, Finite, checked_fixture_id, given_once, seconds
from ttrec.derive import (
    DeriveError,
    Origin,
    derived_header,
    moment_cut,
    parse_cut,
    slice_records,
    splice,
    warp,
)
from ttrec.feed import Feed, feed_named, rfc3339, seq_num
from ttrec.merge import merge
from ttrec.outputs import check_capture_output, is_stdout, new_capture, out_label
from ttrec.records import NS_PER_S, Frame, Header, Record

_IN = CaptureInput()
_OUT = click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new capture (*.jsonl.zst; - for stdout); never overwritten.",
)


def _read(path: Path) -> tuple[Origin, list[Record]]:
    with CaptureReader(path) as reader:
        records = list(reader)
        header = reader.header
        if reader.damage:  # corrupt data stopped the read: what came before it is used
            say(f"ttrec: {path}: {reader.damage}; using the {len(records)} records before it", "warning")
        elif reader.torn_tail:
            say(f"ttrec: {path}: torn tail, using the {len(records)} records before it", "warning")
    # The header names its sources in JSON, which has no room for a file name that is not
    # UTF-8: such bytes become U+FFFD there (the file itself is read by its real name).
    return Origin(os.fsencode(path).decode("utf-8", errors="replace"), header), records


def _write(path: Path, header: Header, records: Sequence[Record]) -> None:
    stdout = sys.stdout.buffer
    with new_capture(path, stdout) as unfinished, CaptureWriter(unfinished, header) as writer:
        for record in records:
            writer.write(record)
    feed = feed_named(header.feed)
    seqs = [s for r in records if isinstance(r, Frame) and (s := seq_num(r.data, feed)) is not None]
    frames = sum(isinstance(r, Frame) for r in records)
    key = _position_name(feed)
    span = f", {key} {seqs[0]}..{seqs[-1]}" if seqs else ""
    duration = (records[-1].t - records[0].t) / NS_PER_S if records else 0.0
    click.echo(
        f"wrote {out_label(path)}: {plural(frames, 'data frame')}{span}, {duration:.1f} s",
        err=is_stdout(path),
    )


def _position_name(feed: Feed) -> str:
    return "fixtureSeqNum" if feed == "actions" else "seqNum"


def _now() -> str:
    return rfc3339(datetime.now(UTC))


@command("slice")
@click.argument("capture", type=_IN)
@_OUT
@click.option(
    "--seq",
    "seq_range",
    multiple=True,
    callback=given_once,
    metavar="A..B",
    help="seqNums A to B (either end may be left open).",
)
@click.option(
    "--time",
    "time_range",
    multiple=True,
    callback=given_once,
    metavar="A..B",
    help="Recorded seconds A to B after the start.",
)
@click.option(
    "--set",
    "set_range",
    multiple=True,
    callback=given_once,
    metavar="N[..M]",
    help="Whole sets N (to M), numbered from 1.",
)
@click.option(
    "--from",
    "from_moment",
    multiple=True,
    callback=given_once,
    metavar="MOMENT[#K]",
    help="From the frame showing this moment.",
)
@click.option(
    "--to",
    "to_moment",
    multiple=True,
    callback=given_once,
    metavar="MOMENT[#K]",
    help="To the frame showing this moment.",
)
def slice_command(
    capture: Path,
    out: Path,
    seq_range: str | None,
    time_range: str | None,
    set_range: str | None,
    from_moment: str | None,
    to_moment: str | None,
) -> None:
    """Cut a capture down to a range of its data frames (and what came between them).

    Moments: game-point, match-point, set-end, final; #K picks the K-th (default the
    first). The slice starts at time 0; its first seqNum is where the cut began.

    \b
    Examples:
      ttrec slice match.jsonl.zst -o mid.jsonl.zst --seq 120..
      ttrec slice match.jsonl.zst -o set3.jsonl.zst --set 3
      ttrec slice match.jsonl.zst -o end.jsonl.zst --from match-point
      ttrec slice match.jsonl.zst -o gp.jsonl.zst --from game-point#2 --to set-end#2
    """
    given = {"--seq": seq_range, "--time": time_range, "--set": set_range}
    named = [name for name, text in given.items() if text is not None]
    moments = [name for name, text in (("--from", from_moment), ("--to", to_moment)) if text is not None]
    if moments:
        named.append("/".join(moments))
    if not named:
        raise click.UsageError("say where to cut: one of --seq, --time, --set, or --from/--to")
    if len(named) > 1:
        raise click.UsageError(
            f"one cut at a time: {', '.join(named[:-1])} and {named[-1]} were given together"
        )
    try:  # what was asked cannot be read: a usage error, as for every other option
        cut = (
            moment_cut(from_moment, to_moment)
            if moments
            else parse_cut(named[0].removeprefix("--"), given[named[0]] or "")  # type: ignore[arg-type]
        )
    except DeriveError as exc:
        raise click.UsageError(str(exc)) from None
    check_capture_output(out, sys.stdout.buffer)
    origin, records = _read(capture)
    sliced = slice_records(records, cut, feed_named(origin.header.feed))
    _write(out, derived_header([origin], f"slice {cut}", created=_now()), sliced)


@command("splice")
@click.argument("captures", nargs=-1, required=True, type=_IN)
@_OUT
@click.option(
    "--gap",
    type=seconds(),
    default=1.0,
    show_default=True,
    help="Seconds between the end of one part and the start of the next.",
)
@click.option(
    "--fixture-id",
    callback=checked_fixture_id,
    help="The new capture's fixture (default: the first capture's).",
)
def splice_command(captures: tuple[Path, ...], out: Path, gap: float, fixture_id: str | None) -> None:
    """Join captures' frames one after another into one scenario.

    Each part follows the previous after --gap seconds, on a new connection number; seqNums
    run on from the first part's, and every frame carries the new capture's fixtureId. The
    match data itself is not merged: `ttrec check` flags a score that goes back where two
    different matches meet (slice them so that they fit).

    \b
    Example:
      ttrec slice a.jsonl.zst -o a1.jsonl.zst --to match-point
      ttrec slice b.jsonl.zst -o b1.jsonl.zst --from match-point
      ttrec splice a1.jsonl.zst b1.jsonl.zst -o joined.jsonl.zst --gap 30
    """
    if len(captures) < 2:
        raise click.UsageError("splice needs two captures or more")
    check_capture_output(out, sys.stdout.buffer)
    inputs = [_read(path) for path in captures]
    fixture = fixture_id or inputs[0][0].header.fixture_id
    feeds = {feed_named(o.header.feed) for o, _ in inputs}
    if len(feeds) > 1:  # a statistics frame and an action packet cannot share one capture
        raise click.UsageError("splice joins captures of one feed; these mix statistics and actions")
    joined = splice([records for _, records in inputs], fixture_id=fixture, gap_s=gap, feed=feeds.pop())
    operation = f"splice {len(inputs)} parts gap={gap:g}s"
    _write(out, derived_header([o for o, _ in inputs], operation, created=_now(), fixture_id=fixture), joined)


@command("warp")
@click.argument("capture", type=_IN)
@_OUT
@click.option(
    "--scale",
    type=Finite(min=0, min_open=True, max=MAX_SCALE),
    default=1.0,
    show_default=True,
    help="Multiply every gap (0.5 = twice as fast).",
)
@click.option("--cap", type=seconds(), help="No gap longer than this many seconds.")
def warp_command(capture: Path, out: Path, scale: float, cap: float | None) -> None:
    """Retime a capture: scale every gap between records, and cap the long ones.

    \b
    Example:
      ttrec warp match.jsonl.zst -o quick.jsonl.zst --scale 0.1 --cap 2
    """
    if scale == 1.0 and cap is None:
        raise click.UsageError("say how to warp: --scale and/or --cap")
    check_capture_output(out, sys.stdout.buffer)
    origin, records = _read(capture)
    warped = warp(records, scale=scale, cap_s=cap)
    operation = f"warp scale={scale:g}" + ("" if cap is None else f" cap={cap:g}s")
    _write(out, derived_header([origin], operation, created=_now()), warped)


@command("merge")
@click.argument("captures", nargs=-1, required=True, type=_IN)
@_OUT
def merge_command(captures: tuple[Path, ...], out: Path) -> None:
    """Merge recordings of one fixture and feed (e.g. from `record --live --replicas 2`).

    Each seqNum (fixtureSeqNum on the actions feed) once, at its earliest arrival (wall
    clock); the header says `source: derived` and names each input with the frames it
    supplied. Recordings that disagree (different texts under one seqNum) are reported and
    nothing is written (exit 1).

    \b
    Example:
      ttrec merge shard0/F_20261129T100002Z.jsonl.zst shard1/F_20261129T100003Z.jsonl.zst -o F.jsonl.zst
    """
    if len(captures) < 2:
        raise click.UsageError("name at least two captures to merge")
    check_capture_output(out, sys.stdout.buffer)
    read = [_read(path) for path in captures]
    origins = [origin for origin, _ in read]
    first = origins[0].header
    for origin in origins[1:]:
        if (origin.header.fixture_id, origin.header.feed) != (first.fixture_id, first.feed):
            raise click.UsageError(
                f"{origin.path} is fixture {origin.header.fixture_id} ({origin.header.feed}), "
                f"not {first.fixture_id} ({first.feed}): only recordings of one fixture and feed merge"
            )
    feed = feed_named(first.feed)
    key = _position_name(feed)
    try:
        merged = merge([records for _, records in read], feed)
    except DeriveError as exc:
        raise click.ClickException(str(exc)) from None
    if merged.disagreements:
        for d in merged.disagreements[:20]:
            names = ", ".join(origins[i].path for i in d.sources)
            say(f"ttrec merge: {key} {d.seq}: different frames in {names}", "error")
        raise click.ClickException(
            f"{plural(len(merged.disagreements), key)} disagree; nothing written (see above)"
        )
    header = derived_header(origins, "merge", created=_now())
    for entry, supplied, only in zip(
        header.extra["derived_from"], merged.supplied, merged.only_in, strict=True
    ):
        entry["frames_supplied"] = supplied
        entry["frames_only_here"] = only
    _write(out, header, merged.records)
    for origin, supplied, only in zip(origins, merged.supplied, merged.only_in, strict=True):
        say(f"  {origin.path}: supplied {supplied} frame(s), {only} no other recording had")
