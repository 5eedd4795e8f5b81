"""`ttrec info`, `ttrec check` and `ttrec cat`: read captures."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import click

from ttrec.capture import CaptureReader
from ttrec.cat import cat_to
from ttrec.cli import command, mark_failed
from ttrec.cli.logs import say
from ttrec.cli.params import CaptureInput
from ttrec.cross_check import cross_check
from ttrec.errors import CaptureFormatError, TtrecError
from ttrec.feed import feed_named
from ttrec.invariants import Checker, Problem
from ttrec.outputs import feed_file
from ttrec.records import NS_PER_S, Frame
from ttrec.summary import Cadence, CaptureSummary

MAX_PROBLEMS_SHOWN = 200  # per capture; a badly broken file would otherwise flood the terminal
MAX_CLOSES_SHOWN = 5  # per capture in `info`; a capture of many reconnects says how many more

_captures = click.argument("captures", nargs=-1, required=True, type=CaptureInput())


def _each(paths: tuple[Path, ...]) -> Iterator[tuple[Path, CaptureReader | None]]:
    """Open each capture in turn; a broken one is reported and yields None."""
    for path in paths:
        try:
            reader = CaptureReader(path)
        except TtrecError as exc:
            mark_failed()
            say(f"Error: {exc}", "error")
            yield path, None
            continue
        with reader:
            yield path, reader


def summarize(reader: CaptureReader) -> CaptureSummary:
    summary = CaptureSummary(reader.header)
    for record in reader:
        summary.add(record)
    summary.torn_tail, summary.damage = reader.torn_tail, reader.damage
    return summary


@command("info")
@_captures
@click.option("--json", "as_json", is_flag=True, help="One JSON object per capture, one per line.")
def info(captures: tuple[Path, ...], as_json: bool) -> None:
    """Summarise captures: teams, set scores, winner, frames, heartbeats, gaps.

    \b
    Example:
      ttrec info captures/*.jsonl.zst
      ttrec info --json match.jsonl.zst | jq .sets
    """
    failed = False
    for path, reader in _each(captures):
        if reader is None:
            failed = True
            continue
        try:
            summary = summarize(reader)
        except TtrecError as exc:
            mark_failed()
            say(f"Error: {exc}", "error")
            failed = True
            continue
        if as_json:
            click.echo(json.dumps({"path": str(path), **summary.as_json()}))
        else:
            click.echo(_human(path, summary))
    if failed:
        sys.exit(1)


def _human(path: Path, summary: CaptureSummary) -> str:
    data = summary.as_json()
    teams = data["teams"]
    won = data["sets_won"]
    if data["winner"]:
        result = f"winner {data['winner']}"
    elif data.get("collection") and data["collection"][-1][1] == "CollectionDropped":
        result = "ended: dropped, no result"
    else:
        result = (
            "ended: dropped, no result"
            if data["ended"] == "dropped"
            else ("in play" if data["frames"] else "no data frame yet")
        )
    lines = [
        f"{path}",
        f"  fixture     {data['fixture_id']}  ({data['feed']}, {data['source']}, {data['tool']})",
        f"  result      {teams['home'] or '?'} {won[0]}-{won[1]} {teams['away'] or '?'}  ({result})",
        *_set_table(summary),
        f"  duration    {_duration(summary.duration_s)}",
        f"  frames      {data['frames']}  {_cadence(summary.frame_cadence)}",
        f"  heartbeats  {data['heartbeats']}  {_cadence(summary.heartbeat_cadence)}",
        *([f"  binary      {data['binary']} binary message(s)"] if data["binary"] else []),
        *([f"  errors      {data['errors']} failed connection attempt(s)"] if data["errors"] else []),
        f"  sequence    {_sequence(data)}",
        *_action_lines(data),
        f"  connections {data['connections']}" + _closes(summary),
        f"  tail        {_tail(summary)}",
    ]
    if summary.redacted:
        lines.append(
            f"  redacted    {summary.redacted} records had the access token cut out (not byte-exact)"
        )
    lines.extend(_merged_from(summary))
    return "\n".join(lines)


def _action_lines(data: dict[str, Any]) -> list[str]:
    """What only an actions capture tells: its actions by type, corrections, collection."""
    if "actions" not in data:
        return []
    counts = ", ".join(
        f"{name} {n}" for name, n in sorted(data["actions"].items(), key=lambda kv: (-kv[1], kv[0]))
    )
    changes = ", ".join(f"{status} at {seq}" for seq, status in data["collection"])
    return [
        f"  actions     {counts or 'none'}",
        f"  corrections {data['corrections']}",
        f"  collection  {changes or 'no status'}",
    ]


def _merged_from(summary: CaptureSummary) -> list[str]:
    """For a `ttrec merge` output: what each recording supplied (ttrec.merge)."""
    sources = summary.header.extra.get("derived_from")
    merged = (
        [s for s in sources if isinstance(s, dict) and "frames_supplied" in s]
        if isinstance(sources, list)
        else []
    )
    return [
        f"  merged from {s.get('path')}: {s['frames_supplied']} frame(s) supplied, "
        f"{s.get('frames_only_here', 0)} no other recording had (gaps it closed)"
        for s in merged
    ]


def _set_table(summary: CaptureSummary) -> list[str]:
    """The score per set, and when each set was played: a compact timeline of the match."""
    data = summary.as_json() if summary.actions is not None else None
    latest = summary.latest
    if data is not None:
        numbered = list(enumerate((tuple(s) for s in data["sets"]), start=1))
    elif latest is not None:
        numbered = list(zip(latest.period_numbers, latest.sets, strict=True))
    else:
        numbered = []
    if not numbered:
        return ["  sets        none yet"]
    start = summary.first_t or 0
    rows = ["  set  home away  from     to       length"]
    for period, (home, away) in numbered:
        times = summary.set_times.get(period)
        if times is None:
            span = ""
        else:
            begin = _clock(times.first_t - start)
            end = _clock(times.decided_t - start) if times.decided_t is not None else "playing"
            length = _duration((times.decided_t - times.first_t) / NS_PER_S) if times.decided_t else ""
            span = f"{begin:<8} {end:<8} {length}"
        rows.append(f"  {period:>3}  {home:>4} {away:>4}  {span}".rstrip())
    return rows


def _cadence(cadence: Cadence) -> str:
    mean = cadence.mean_gap_s
    if mean is None:
        return ""
    if cadence.backwards:  # a mean over gaps that run backwards means nothing
        return f"(time goes backwards {cadence.backwards} time(s): see `ttrec check`)"
    return f"(every {mean:.1f} s on average, longest gap {cadence.max_gap_ns / NS_PER_S:.1f} s)"


GAPS_SHOWN: Final = 10  # on info's line; --json has every gap


def _sequence(data: dict[str, Any]) -> str:
    key = "fixtureSeqNum" if data["feed"] == "actions" else "seqNum"
    if data["first_seq"] is None:
        return f"no {key}"
    gaps = data["seq_gaps"]
    shown = ", ".join(f"{a}-{b}" for a, b in gaps[:GAPS_SHOWN])
    more = f", ... ({len(gaps) - GAPS_SHOWN} more: --json lists them all)" if len(gaps) > GAPS_SHOWN else ""
    where = f"{len(gaps)} gap(s): {shown}{more}" if gaps else "no gaps"
    return f"{key} {data['first_seq']}..{data['last_seq']}, {where}"


def _closes(summary: CaptureSummary) -> str:
    if not summary.closes:
        return ""
    shown = summary.closes[:MAX_CLOSES_SHOWN]
    ends = ", ".join(f"{c.code if c.code is not None else '-'} by {c.by}" for c in shown)
    more = len(summary.closes) - len(shown)
    return f"  (closes: {ends}" + (f", … {more} more)" if more else ")")


def _tail(summary: CaptureSummary) -> str:
    if summary.damage:
        return f"DAMAGED: {summary.damage} (records before it were read)"
    if summary.torn_tail:
        return "torn (the recorder was stopped mid-write or is still writing); every complete record was read"
    return "complete"


def _clock(ns: int) -> str:
    return _duration(ns / NS_PER_S)


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


_Read = tuple[Path, list[tuple[int, str]]]  # a capture read by check: its path, (line, frame text)s


@command("check")
@_captures
def check(captures: tuple[Path, ...]) -> None:
    """Validate captures: the ttrec/1 format and the match invariants.

    Checks that match totals equal the sums over sets, counts never decrease, seqNum
    increases within a connection, set scores are legal table-tennis scores, and only
    the last frame is `finished`. Reads on past a bad line and prints every problem on
    stdout, one line each, naming the line number; notes (a torn tail, "ok") and a file
    that cannot be opened at all go to stderr.
    Exits 0 when every capture is valid, else 1. A torn tail is a note, not a problem.

    An actions capture is checked by the actions feed's rules (fixtureSeqNum increases,
    the summary agrees with the counted Point Scored actions). Given a statistics and an
    actions capture of one fixture, check also verifies that they agree: every seqNum is a
    counted action's fixtureSeqNum, the score after it is the same, and no counted action
    between the first and last seqNum lacks its statistics frame (docs/feeds-readers.md);
    only where both captures cover the match, with a note naming what was not compared.

    \b
    Example:
      ttrec check captures/*.jsonl.zst
      ttrec check match.statistics.jsonl.zst match.actions.jsonl.zst
    """
    failed = False
    # (fixture, feed) -> its captures: for the cross-check of two feeds
    seen: dict[tuple[str, str], list[_Read]] = {}
    for path, reader in _each(captures):  # a file that cannot be opened is an error (stderr)
        if reader is None:
            failed = True
            continue
        texts: list[tuple[int, str]] = []
        key = (reader.header.fixture_id.lower(), feed_named(reader.header.feed))
        seen.setdefault(key, []).append((path, texts))
        problems, notes = _problems(reader, texts)
        if problems:
            failed = True
            mark_failed()
        _show_problems(path, reader, problems, notes)
    if not _cross_check(seen):
        failed = True
    if failed:
        sys.exit(1)


def _problems(reader: CaptureReader, texts: list[tuple[int, str]]) -> tuple[list[Problem], list[Problem]]:
    """Read the whole capture: its problems in line order, and the checker's notes.
    Every data frame's (line, text) is appended to `texts` for the cross-check."""
    checker = Checker(reader.header)
    unreadable: list[Problem] = []
    for item in reader.records_and_errors():
        if isinstance(item, CaptureFormatError):
            unreadable.append(Problem(item.line or reader.lines, item.problem))
        else:
            checker.add(reader.lines, item)
            if isinstance(item, Frame):
                texts.append((reader.lines, item.data))
    problems = sorted([*unreadable, *checker.finish()], key=lambda problem: problem.line)
    if reader.damage:
        problems.append(Problem(reader.lines + 1, reader.damage))
    return problems, checker.notes


def _show_problems(path: Path, reader: CaptureReader, problems: list[Problem], notes: list[Problem]) -> None:
    """Problems on stdout (at most MAX_PROBLEMS_SHOWN), notes and "ok" on stderr."""
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"{path}:{problem.line}: {problem.message}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"{path}: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
    for note in notes:
        say(f"{path}:{note.line}: note: {note.message}", "warning")
    if reader.torn_tail and not reader.damage:
        say(f"{path}: note: torn tail after line {reader.lines}", "warning")
    if not problems:
        say(f"{path}: ok ({reader.lines} lines)")


def _cross_check(seen: dict[tuple[str, str], list[_Read]]) -> bool:
    """Cross-check each actions capture with its fixture's statistics capture; False when
    they disagree."""
    agree = True
    for (fixture, feed), captures in seen.items():
        if feed != "actions":
            continue
        for actions_path, packets in captures:
            partner = _statistics_of(actions_path, seen.get((fixture, "statistics"), []))
            if partner is None:
                continue
            stats_path, frames = partner
            result = cross_check(frames, packets)
            found = result.disagreements
            for problem in found[:MAX_PROBLEMS_SHOWN]:
                click.echo(f"{stats_path}:{problem.line}: disagrees with {actions_path}: {problem.message}")
            if result.unchecked:
                note = f"not cross-checked with {actions_path}: {result.unchecked}"
                say(f"{stats_path}: note: {note}", "warning")
            if found:
                agree = False
                mark_failed()
            elif result.compared:
                covered = " where both cover the match" if result.unchecked else ""
                say(f"{stats_path}: agrees with {actions_path}{covered}")
    return agree


def _statistics_of(actions_path: Path, candidates: list[_Read]) -> _Read | None:
    """The statistics capture to check `actions_path` against: the only one of its fixture,
    or else the one it is named after (for `NAME.actions.jsonl.zst`, `NAME.jsonl.zst` as
    ttrec writes a pair, or `NAME.statistics.jsonl.zst` as this command's help names one);
    None, with a note, when that is not clear (the order of the arguments must not decide it)."""
    if len(candidates) == 1:
        return candidates[0]
    named = [c for c in candidates if actions_path in (feed_file(c[0], "actions"), _actions_twin(c[0]))]
    if len(named) == 1:
        return named[0]
    if candidates:
        say(
            f"{actions_path}: note: not cross-checked: {len(candidates)} statistics captures of its"
            " fixture and none named after it",
            "warning",
        )
    return None


def _actions_twin(stats_path: Path) -> Path:
    """`NAME.actions.jsonl.zst` for `NAME.statistics.jsonl.zst` (the help's example)."""
    return stats_path.with_name(stats_path.name.replace(".statistics.", ".actions.", 1))


@command("cat")
@click.argument("capture", type=CaptureInput())
@click.option(
    "--frames",
    is_flag=True,
    help="Print only the data frames' exact payloads, one per line (a payload that holds"
    " newlines, such as pretty-printed JSON, spans lines: see --null).",
)
@click.option(
    "-z",
    "--null",
    is_flag=True,
    help="With --frames: end each payload with a NUL byte instead of a newline (for xargs -0, read -d '').",
)
def cat(capture: Path, frames: bool, null: bool) -> None:
    """Print a capture as JSON Lines, header first, tolerating a torn tail.

    \b
    Example:
      ttrec cat match.jsonl.zst | head -3
      ttrec cat --frames match.jsonl.zst | jq .seqNum
    """
    if null and not frames:
        raise click.UsageError("--null separates payloads: it needs --frames")
    with CaptureReader(capture) as reader:
        notes = cat_to(reader, sys.stdout.buffer, frames=frames, end="\0" if null else "\n")
    for note in notes:
        say(note, "warning")
