"""`ttrec merge`: one capture from several recordings of the same fixture and feed (replicas
recorded by different machines, `record --live --replicas`). Pure: records in, records out.

Each position appears once: the `seqNum` of a statistics frame, the `fixtureSeqNum` of an
action packet. On the actions feed that number is the packet's identity (SPEC §6: a
correction is re-sent as a packet of its own with a new fixtureSeqNum, so it is kept; a
packet re-sent after a reconnect has the same number and the same text, so it is kept once).
When the recordings carry different texts under one position, that is a disagreement: it is
reported and nothing is written (which one is right is not ours to guess). Timing is the
earliest arrival's, on the wall clock (each recorder's `t` counts from its own start, so
only `wall` compares across machines). Frames are written in the order of their position,
which is the order the provider sends them on either feed (a statistics correction is a
frame of its own with the next seqNum), each at its earliest arrival but never before the
one it follows: a replica whose clock runs a little behind cannot reorder the match. A
frame keeps the `wall` stamp of the copy kept, as recorded (so `wall` may step back where
the replicas' clocks disagree; `t` never does).
Heartbeats and connection records are left out: they describe each recorder's connections,
not the match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ttrec.derive import DeriveError
from ttrec.feed import Feed, seq_num
from ttrec.records import Frame, Record

NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Disagreement:
    seq: int
    sources: tuple[int, ...]  # indexes of the recordings that disagree (each with its own text)


@dataclass(frozen=True, slots=True)
class Merged:
    records: list[Record]
    supplied: list[int]  # per recording: data frames it supplied first (the earliest arrival)
    only_in: list[int]  # per recording: seqNums no other recording has (gaps it closed)
    disagreements: list[Disagreement]


def _moment(frame: Frame) -> datetime:
    return datetime.fromisoformat(frame.wall.replace("Z", "+00:00"))


def merge(parts: Sequence[Sequence[Record]], feed: Feed = "statistics") -> Merged:
    """The union of the parts' data frames of `feed` by position; DeriveError when there is
    none."""
    best: dict[int, tuple[datetime, int, Frame]] = {}
    texts: dict[int, dict[str, list[int]]] = {}
    holders: dict[int, set[int]] = {}
    for index, part in enumerate(parts):
        for record in part:
            if not isinstance(record, Frame):
                continue
            seq = seq_num(record.data, feed)
            if seq is None:
                continue
            texts.setdefault(seq, {}).setdefault(record.data, []).append(index)
            holders.setdefault(seq, set()).add(index)
            candidate = (_moment(record), index, record)
            if seq not in best or candidate[:2] < best[seq][:2]:
                best[seq] = candidate
    if not best:
        raise DeriveError("no data frame in any of the captures")
    disagreements = [
        Disagreement(seq, tuple(sorted({i for ids in by_text.values() for i in ids})))
        for seq, by_text in sorted(texts.items())
        if len(by_text) > 1
    ]
    ordered = [best[seq] for seq in sorted(best)]
    start = ordered[0][0]  # times count from the first frame; none goes back before it
    records: list[Record] = []
    last_t = 0
    for moment, _, frame in ordered:
        last_t = max(round((moment - start).total_seconds() * NS_PER_S), last_t)
        records.append(Frame(last_t, frame.wall, 0, frame.data))
    supplied = [0] * len(parts)
    for _, index, _ in best.values():
        supplied[index] += 1
    only_in = [0] * len(parts)
    for owners in holders.values():
        if len(owners) == 1:
            only_in[next(iter(owners))] += 1
    return Merged(records, supplied, only_in, disagreements)
