"""What `ttrec check` requires of an actions capture's packets (the statistics feed's rules are
in ttrec.invariants, which hands the packets of an actions capture to `ActionChecker`).

- every data frame is an action packet whose fixtureId is the capture's;
- fixtureSeqNum strictly increases within a connection (a corrected action is re-sent as a
  packet of its own, with a new fixtureSeqNum: SPEC §6);
- set scores in fixtureSummary.periods are legal, and homeTeamScore/awayTeamScore are the
  games those periods decide. A finished packet's last set must be decided, except at the
  end of a dropped collection: a finished Status Updated packet (the status action that ends
  it, SPEC §6; it scores nothing, as the statistics feed's status frame changes no count)
  may leave the set in play undecided, noted "finished without a result";
- the summary agrees with the counted actions: the points of each period are the Point
  Scored packets minus the ones taken back (ttrec.action_fold). Counting needs every packet
  from fixtureSeqNum 1: a capture that began later (a resumed or sliced one) or that misses
  a fixtureSeqNum is not counted from there on, and this check stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ttrec.action_fold import ActionFold, games_won, show_sets, trim
from ttrec.actions import ActionPacket, PacketError, parse_packet
from ttrec.match import is_legal_set_score


@dataclass
class ActionChecker:
    fixture_id: str
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    notes: list[tuple[int, str]] = field(default_factory=list)  # accepted, but worth saying
    fold: ActionFold = field(default_factory=ActionFold)
    _last_seq: dict[int, int] = field(default_factory=dict)  # conn -> last fixtureSeqNum
    _seen: set[int] = field(default_factory=set)
    _counting: bool = True  # every fixtureSeqNum from 1 has been seen so far
    _ended_noted: bool = False  # "finished without a result" said once, at the packet that ended it

    def add(self, line: int, conn: int, text: str) -> None:
        try:
            packet = parse_packet(text)
        except PacketError as exc:
            self.problems.append((line, f"data frame is not an action packet: {exc}"))
            return
        if packet.fixture_id.lower() != self.fixture_id.lower():
            self.problems.append(
                (line, f"fixtureId {packet.fixture_id} is not the capture's {self.fixture_id}")
            )
        last = self._last_seq.get(conn)
        if last is not None and packet.seq <= last:
            self.problems.append((line, f"fixtureSeqNum {packet.seq} does not increase (previous {last})"))
        self._last_seq[conn] = packet.seq
        if packet.seq in self._seen:
            return  # a resend after a reconnect: already counted
        self._counting = self._counting and packet.seq == len(self._seen) + 1
        self._seen.add(packet.seq)
        self.fold.add(packet)
        summary = packet.summary
        if summary is None:
            return
        periods = trim(summary.periods)
        self._check_sets(line, packet, periods)
        if games_won(periods) != (summary.home_score, summary.away_score):
            won = games_won(periods)
            self.problems.append(
                (
                    line,
                    f"summary says games {summary.home_score}-{summary.away_score}"
                    f" but its periods decide {won[0]}-{won[1]}",
                )
            )
        if self._counting and self.fold.counted_sets() != periods:
            self.problems.append(
                (
                    line,
                    f"fixtureSeqNum {packet.seq}: summary periods {show_sets(periods)} but the Point Scored"
                    f" actions so far count {show_sets(self.fold.counted_sets())}",
                )
            )
            self._counting = False  # one disagreement, not one per packet after it

    def _check_sets(self, line: int, packet: ActionPacket, periods: tuple[tuple[int, int], ...]) -> None:
        """Each set's score is legal: decided, or in play while the match goes on, or left
        undecided by the status action that ended a dropped collection."""
        finished = packet.summary is not None and packet.summary.finished
        for period, score in enumerate(periods, start=1):
            last = period == len(periods)
            in_play = is_legal_set_score(score, finished=False)
            if is_legal_set_score(score, finished=True) or (in_play and last and not finished):
                continue
            if last and packet.ends_dropped_collection and in_play:
                if not self._ended_noted:
                    self.notes.append(
                        (line, f"finished without a result: set {period} stopped at {score[0]}-{score[1]}")
                    )
                    self._ended_noted = True
                continue
            self.problems.append((line, f"set {period}: {score[0]}-{score[1]} is not a legal score"))
