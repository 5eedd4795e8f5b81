"""Do a statistics capture and an actions capture of one fixture tell the same match?
(`ttrec check A.statistics B.actions`; docs/feeds-readers.md).

The rule follows SPEC §6's model (one timeline, a statistics frame after each counted action,
its seqNum that action's fixtureSeqNum):
  1. every statistics seqNum is the fixtureSeqNum of a packet in the actions capture;
  2. that packet is a counted action (Point Started, Point Scored, Swap Serve, Game Point,
     Match Point), possibly a correction of one; or the Status Updated that ends a dropped
     collection, matched by the statistics feed's last frame (SPEC §6: `finished`, that
     action's seqNum, no count changed; ttrec.invariants checks the counts);
  3. the score agrees: the statistics frame's points per set equal that packet's
     fixtureSummary.periods (sets not yet begun, 0-0 at the end, left out on both sides);
  4. aligned: between the first and the last statistics seqNum, every counted action packet
     has its statistics frame.
Only the stretch both captures cover is compared: statistics frames before the actions
capture's first fixtureSeqNum or after its last (a capture started late, cut short, or a
feed that failed and left no packet) are not cross-checked, and `unchecked` says which and
why. Problems are reported at the statistics capture's line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ttrec.action_fold import show_sets, trim
from ttrec.actions import ActionPacket, PacketError, parse_packet
from ttrec.match import FrameError, StatsFrame, parse_frame


@dataclass(frozen=True, slots=True)
class Disagreement:
    line: int  # in the statistics capture (for rule 4: the line of the frame after the gap)
    message: str


@dataclass(frozen=True, slots=True)
class CrossCheck:
    disagreements: list[Disagreement]
    compared: int  # statistics frames compared with a packet's fixtureSeqNum range
    unchecked: str  # "" or which statistics frames were not cross-checked, and why (a note)


def cross_check(frames: Iterable[tuple[int, str]], packets: Iterable[tuple[int, str]]) -> CrossCheck:
    """`frames`: (line, text) of the statistics capture's data frames; `packets`: the same
    for the actions capture. The last packet with a fixtureSeqNum stands for it."""
    by_seq: dict[int, ActionPacket] = {}
    for _, text in packets:
        try:
            parsed = parse_packet(text)
        except PacketError:
            continue  # `check` of the actions capture itself reports it
        by_seq[parsed.seq] = parsed
    if not by_seq:
        return CrossCheck([], 0, "it has no action packet")
    first, last = min(by_seq), max(by_seq)
    # A capture that reached the packet saying finished covers the match to its end: a
    # statistics frame after it is a disagreement, not a stretch it missed.
    covers_the_end = any(packet.says_finished for packet in by_seq.values())
    out: list[Disagreement] = []
    stats_lines: dict[int, int] = {}
    before: list[int] = []
    after: list[int] = []
    for line, text in frames:
        try:
            frame = parse_frame(text)
        except FrameError:
            continue
        if frame.seq_num < first or (frame.seq_num > last and not covers_the_end):
            (before if frame.seq_num < first else after).append(frame.seq_num)
            continue
        stats_lines[frame.seq_num] = line
        out.extend(_frame_disagreements(line, frame, by_seq.get(frame.seq_num)))
    out.extend(_missing_frames(stats_lines, by_seq))
    unchecked = [
        f"seqNum {min(seqs)}..{max(seqs)} ({len(seqs)} frame{'' if len(seqs) == 1 else 's'}),"
        f" {where} fixtureSeqNum {edge}"
        for seqs, where, edge in ((before, "before its first", first), (after, "after its last", last))
        if seqs
    ]
    return CrossCheck(sorted(out, key=lambda d: d.line), len(stats_lines), "; ".join(unchecked))


def _frame_disagreements(line: int, frame: StatsFrame, packet: ActionPacket | None) -> list[Disagreement]:
    """How one statistics frame disagrees with the action packet of its seqNum."""
    if packet is None:
        return [Disagreement(line, f"seqNum {frame.seq_num} has no action packet with that fixtureSeqNum")]
    out = []
    if not packet.counted and not _ends_both(frame, packet):
        out.append(
            Disagreement(
                line,
                f"seqNum {frame.seq_num} is a {packet.type_name or packet.type_id} action,"
                " which no statistics aggregate counts",
            )
        )
    if packet.summary is not None:
        stats_sets, action_sets = trim(tuple(frame.sets)), trim(packet.summary.periods)
        if stats_sets != action_sets:
            out.append(
                Disagreement(
                    line,
                    f"seqNum {frame.seq_num}: statistics score {show_sets(stats_sets)},"
                    f" actions summary {show_sets(action_sets)}",
                )
            )
    return out


def _ends_both(frame: StatsFrame, packet: ActionPacket) -> bool:
    """The statistics feed's status frame and the Status Updated packet that ended the
    collection: both say finished."""
    return frame.finished and packet.ends_collection


def _missing_frames(stats_lines: dict[int, int], by_seq: dict[int, ActionPacket]) -> list[Disagreement]:
    """Counted actions between the first and last seqNum of the statistics capture that
    have no statistics frame (reported at the line of the next frame)."""
    if not stats_lines:
        return []
    out = []
    low, high = min(stats_lines), max(stats_lines)
    following = sorted(stats_lines)
    for seq in sorted(by_seq):
        if low < seq < high and by_seq[seq].counted and seq not in stats_lines:
            after = next(s for s in following if s > seq)
            out.append(
                Disagreement(
                    stats_lines[after],
                    f"counted action fixtureSeqNum {seq} ({by_seq[seq].type_name}) has no statistics frame",
                )
            )
    return out
