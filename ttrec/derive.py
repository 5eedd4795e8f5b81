"""Derived captures: new scenarios cut, joined or retimed from existing ones (`ttrec slice`,
`ttrec splice`, `ttrec warp`). Pure functions over records; the CLI reads and writes.

- `slice_records`: the records from one data frame to another (a seqNum range, a time
  range, whole sets, or from one match moment to another). Every statistics frame is a
  full snapshot, so a slice is a match joined late; its first seqNum is usually not 1.
- `splice`: the data frames of several captures one after the other, seqNums renumbered to
  run on, times moved so each part follows the previous after a gap, one fixture id.
- `warp`: every gap between records scaled, and optionally capped; each record's `wall`
  moves with its `t`, so the two clocks keep telling the same story.

Output times start at 0 and connection numbers at 0; the header says `source: "derived"`
and, in `derived_from`, where the records came from and what was done to them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from ttrec.errors import TtrecError
from ttrec.feed import Feed, rfc3339, seq_num
from ttrec.moments import Moment, parse_moment
from ttrec.records import NS_PER_S, Frame, Header, Record
from ttrec.schedule import MomentIndex

CutKind = Literal["seq", "time", "set", "moment"]
_SEQ_RE: Final = re.compile(r'"seqNum"\s*:\s*-?\d+')
_ACTION_SEQ_RE: Final = re.compile(r'"fixtureSeqNum"\s*:\s*-?\d+')
_FIXTURE_RE: Final = re.compile(r'"fixtureId"\s*:\s*"(?:[^"\\]|\\.)*"')


class DeriveError(TtrecError):
    """A derivation that cannot be made as asked (an empty slice, a moment not in the match)."""


@dataclass(frozen=True, slots=True)
class Cut:
    """Which data frames a slice keeps, both ends included; None: from the start / to the end.

    seq:    seqNums `low`..`high`
    time:   recorded times `low`..`high` seconds after the capture started
    set:    sets `low`..`high` (from the frame after the previous set ended to the frame
            that ends the last one)
    moment: from the frame that shows `low` to the frame that shows `high`, each a moment
            with its occurrence (`game-point#2`)
    """

    kind: CutKind
    low: Any = None
    high: Any = None

    def __str__(self) -> str:
        def end(value: Any) -> str:
            if value is None:
                return ""
            if isinstance(value, tuple):
                return f"{value[0]}#{value[1]}"
            return f"{value:g}" if isinstance(value, float) else str(value)

        return f"{self.kind}={end(self.low)}..{end(self.high)}"


def _range(text: str) -> tuple[str | None, str | None]:
    low, dots, high = text.strip().partition("..")
    if not dots:
        return low.strip() or None, low.strip() or None  # one value: from it to it
    return low.strip() or None, high.strip() or None


def parse_cut(kind: CutKind, text: str) -> Cut:
    """`--seq 10..50`, `--time 30..90.5`, `--set 3` or `--set 2..3`; open ends allowed
    (`10..`, `..50`). DeriveError says what is wrong."""
    low, high = _range(text)
    try:
        if kind == "time":
            return _ordered(Cut(kind, _float(low), _float(high)))
        values = (None if v is None else int(v, 10) for v in (low, high))
        cut = Cut(kind, *values)
    except ValueError:
        form = "A..B in seconds" if kind == "time" else "N..M"
        raise DeriveError(f"--{kind} {text!r}: expected {form}") from None
    if kind == "set" and any(v is not None and v < 1 for v in (cut.low, cut.high)):
        raise DeriveError(f"--set {text!r}: sets are numbered from 1")
    return _ordered(cut)


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError(value)
    return number


def _ordered(cut: Cut) -> Cut:
    if cut.low is not None and cut.high is not None and cut.low > cut.high:
        raise DeriveError(f"{cut}: the start is after the end")
    return cut


def moment_cut(start: str | None, end: str | None) -> Cut:
    """From the frame that shows `start` to the frame that shows `end` (`set-end#2`)."""
    try:
        low = None if start is None else _moment_key(start)
        high = None if end is None else _moment_key(end)
    except ValueError as exc:
        raise DeriveError(str(exc)) from None
    return Cut("moment", low, high)


def _moment_key(text: str) -> tuple[Moment, int]:
    moment, nth = parse_moment(text)
    return moment, nth or 1


# --- selecting ------------------------------------------------------------------------------


def _frames(records: Sequence[Record]) -> list[int]:
    """Positions in `records` of the data frames."""
    return [i for i, r in enumerate(records) if isinstance(r, Frame)]


def select(records: Sequence[Record], cut: Cut, feed: Feed = "statistics") -> tuple[int, int]:
    """The first and last data frame (0-based, among data frames) a cut keeps."""
    frames = [r for r in records if isinstance(r, Frame)]
    if not frames:
        raise DeriveError("the capture has no data frames")
    chosen: list[int]
    if cut.kind == "seq":
        seqs = [seq_num(f.data, feed) for f in frames]
        chosen = [
            i
            for i, s in enumerate(seqs)
            if s is not None and (cut.low is None or s >= cut.low) and (cut.high is None or s <= cut.high)
        ]
    elif cut.kind == "time":
        low = None if cut.low is None else round(cut.low * NS_PER_S)
        high = None if cut.high is None else round(cut.high * NS_PER_S)
        chosen = [
            i for i, f in enumerate(frames) if (low is None or f.t >= low) and (high is None or f.t <= high)
        ]
    else:
        index = MomentIndex.of((f.data for f in frames), feed)
        first, last = (_set_range if cut.kind == "set" else _moment_range)(index, cut, len(frames))
        chosen = list(range(first, last + 1))
    if not chosen:
        raise DeriveError(f"{cut}: no data frame is in that range")
    return chosen[0], chosen[-1]


def _set_range(index: MomentIndex, cut: Cut, total: int) -> tuple[int, int]:
    ends = index.occurrences.get("set-end", ())
    sets = len(ends) + (0 if ends and ends[-1] == total - 1 else 1)  # an unfinished last set
    low = cut.low or 1
    high = cut.high or sets
    if low > sets:
        raise DeriveError(f"{cut}: the capture has {sets} set(s)")
    first = 0 if low == 1 else ends[low - 2] + 1
    last = ends[high - 1] if high <= len(ends) else total - 1
    return first, last


def _moment_range(index: MomentIndex, cut: Cut, total: int) -> tuple[int, int]:
    def find(key: tuple[Moment, int]) -> int:
        moment, nth = key
        found = index.occurrences.get(moment, ())
        if len(found) < nth:
            raise DeriveError(f"{moment}#{nth}: the capture has {len(found) or 'no'} {moment}(s)")
        return found[nth - 1]

    first = 0 if cut.low is None else find(cut.low)
    last = total - 1 if cut.high is None else find(cut.high)
    if last < first:
        raise DeriveError(f"{cut}: the end comes before the start")
    return first, last


# --- transforming ---------------------------------------------------------------------------


def _rebased(records: Sequence[Record], t0: int, conn0: int) -> list[Record]:
    return [replace(r, t=r.t - t0, conn=r.conn - conn0) for r in records]


def slice_records(records: Sequence[Record], cut: Cut, feed: Feed = "statistics") -> list[Record]:
    """The records from the cut's first data frame to its last, both included, with all
    records between them (heartbeats, closes, reopens); times and connections from 0.
    Heartbeats before the first frame belong to the part cut away, as in a startPosition skip."""
    first, last = select(records, cut, feed)
    positions = _frames(records)
    kept = records[positions[first] : positions[last] + 1]
    return _rebased(kept, kept[0].t, kept[0].conn)


def warp(records: Sequence[Record], *, scale: float = 1.0, cap_s: float | None = None) -> list[Record]:
    """Every gap between consecutive records multiplied by `scale`, then capped at `cap_s`;
    the first record at 0. Order is kept, so times stay non-decreasing."""
    if not scale > 0 or scale == float("inf"):
        raise DeriveError(f"scale must be a positive number, got {scale}")
    if cap_s is not None and not cap_s >= 0:
        raise DeriveError(f"cap must not be negative, got {cap_s}")
    cap_ns = None if cap_s is None else round(cap_s * NS_PER_S)
    out: list[Record] = []
    t = 0
    previous: int | None = None
    start = _wall_time(records[0].wall) if records else None
    try:
        for record in records:
            if previous is not None:
                gap = round((record.t - previous) * scale)
                t += gap if cap_ns is None else min(gap, cap_ns)
            previous = record.t
            wall = record.wall if start is None else rfc3339(start + timedelta(microseconds=t // 1000))
            out.append(replace(record, t=t, wall=wall))
    except OverflowError:  # a gap or a date beyond what a float or a datetime holds
        raise DeriveError("the retimed capture would run past the year 9999") from None
    return out


def _wall_time(wall: str) -> datetime | None:
    """The first record's wall clock, or None when it is not a time we can move (kept as is)."""
    try:
        moment = datetime.fromisoformat(wall)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def splice(
    parts: Sequence[Sequence[Record]], *, fixture_id: str, gap_s: float = 1.0, feed: Feed = "statistics"
) -> list[Record]:
    """The parts one after the other: part k+1 starts `gap_s` after part k's last record,
    on the next connection number; seqNums renumbered to run on from the first part's
    (gaps inside a part kept), every frame's fixtureId set to `fixture_id`."""
    if not gap_s >= 0:
        raise DeriveError(f"gap must not be negative, got {gap_s}")
    out: list[Record] = []
    next_seq: int | None = None
    conn = 0
    t = 0
    for part in parts:
        if not part:
            continue
        if out:
            t = out[-1].t + round(gap_s * NS_PER_S)
            conn = out[-1].conn + 1
        rebased = _rebased(part, part[0].t - t, part[0].conn - conn)
        first_seq = next(
            (s for r in part if isinstance(r, Frame) and (s := seq_num(r.data, feed)) is not None), None
        )
        shift = 0 if next_seq is None or first_seq is None else next_seq - first_seq
        for record in rebased:
            if isinstance(record, Frame):
                record = replace(record, data=rewrite_frame(record.data, fixture_id, shift, feed))
                seq = seq_num(record.data, feed)
                if seq is not None:
                    next_seq = seq + 1
            out.append(record)
    return out


def rewrite_frame(text: str, fixture_id: str, seq_shift: int, feed: Feed = "statistics") -> str:
    """The frame with its seqNum moved by `seq_shift` and its fixtureId set, the rest of
    the text left byte for byte (a full re-encode only if the keys appear more than once).
    On the actions feed: `fixtureAction.fixtureSeqNum` moves and every `fixtureId` is set."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    if not isinstance(obj, dict):
        return text
    if feed == "actions":
        return _rewrite_packet(text, obj, fixture_id, seq_shift)
    seq = obj.get("seqNum")
    new_seq = seq + seq_shift if isinstance(seq, int) and not isinstance(seq, bool) else seq
    if len(_SEQ_RE.findall(text)) == 1 and len(_FIXTURE_RE.findall(text)) == 1:
        out = _SEQ_RE.sub(f'"seqNum":{new_seq}', text) if new_seq != seq else text
        return _FIXTURE_RE.sub(lambda _: '"fixtureId":' + json.dumps(fixture_id), out)
    obj["seqNum"], obj["fixtureId"] = new_seq, fixture_id
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _rewrite_packet(text: str, obj: dict[str, Any], fixture_id: str, seq_shift: int) -> str:
    action = obj.get("fixtureAction")
    if not isinstance(action, dict):
        return text
    seq = action.get("fixtureSeqNum")
    new_seq = seq + seq_shift if isinstance(seq, int) and not isinstance(seq, bool) else seq
    if len(_ACTION_SEQ_RE.findall(text)) == 1:
        out = _ACTION_SEQ_RE.sub(f'"fixtureSeqNum":{new_seq}', text) if new_seq != seq else text
        return _FIXTURE_RE.sub(lambda _: '"fixtureId":' + json.dumps(fixture_id), out)
    action["fixtureSeqNum"] = new_seq
    for part in (obj, action, obj.get("fixtureSummary")):
        if isinstance(part, dict) and "fixtureId" in part:
            part["fixtureId"] = fixture_id
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- headers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """One input of a derivation: where it was read and its header."""

    path: str
    header: Header


def derived_header(
    origins: Sequence[Origin], operation: str, *, created: str, fixture_id: str | None = None
) -> Header:
    """The header of a derived capture: the first input's fixture and URL (with `fixture_id`
    in place of its own when given), and `derived_from` naming each input, its fixture, the
    operation and, for an input that was itself derived, its own `derived_from`."""
    first = origins[0].header
    fixture = fixture_id or first.fixture_id
    derived_from: list[dict[str, Any]] = []
    for origin in origins:
        entry: dict[str, Any] = {
            "path": origin.path,
            "fixture_id": origin.header.fixture_id,
            "source": origin.header.source,
            "operation": operation,
        }
        if "derived_from" in origin.header.extra:
            entry["derived_from"] = origin.header.extra["derived_from"]
        derived_from.append(entry)
    url = first.url.replace(first.fixture_id, fixture) if fixture != first.fixture_id else first.url
    return Header(
        fixture_id=fixture,
        url=url,
        source="derived",
        created=created,
        feed=first.feed,
        extra={"derived_from": derived_from},
    )
