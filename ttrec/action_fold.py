"""The match as the actions feed tells it, folded packet by packet (info, check, truth).

Two views of the score are kept: the provider's own (`fixtureSummary`, latest packet) and
the one counted from the Point Scored actions, corrections applied. Counting rules (SPEC §6,
docs/feeds-readers.md):
  - a Point Scored packet that corrects nothing scores a point for its team in its period;
  - a packet with sendType Cancelled or Deleted takes back the points it names in
    `relatedFixtureActionIds` (or its own actionId, when it re-sends that action);
  - an Updated packet moves the points it names to its own team and period;
  - a Restored packet gives back a point that was taken back.
A packet that re-sends an earlier action (Cancelled/Deleted/Updated/Restored, or with
relatedFixtureActionIds) is a correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ttrec.actions import WITHDRAWING, ActionPacket, Summary
from ttrec.match import POINT_SCORED, Side, StatsFrame, Team, TeamStats, set_winner

CORRECTING: Final = frozenset({"Cancelled", "Deleted", "Updated", "Restored"})


@dataclass
class ActionFold:
    packets: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # fixtureActionType -> packets
    corrections: int = 0
    collection: list[tuple[int, str]] = field(default_factory=list)  # (fixtureSeqNum, new status)
    summary: Summary | None = None  # the latest packet's
    teams: dict[Side, str] = field(default_factory=dict)
    finished: bool = False
    # actionId -> (period, side) of each point standing / taken back
    _standing: dict[str, tuple[int, Side]] = field(default_factory=dict)
    _taken_back: dict[str, tuple[int, Side]] = field(default_factory=dict)

    def add(self, packet: ActionPacket) -> None:
        self.packets += 1
        name = packet.type_name or str(packet.type_id)
        self.by_type[name] = self.by_type.get(name, 0) + 1
        if packet.side is not None and packet.team_name:
            self.teams[packet.side] = packet.team_name
        correcting = packet.send_type in CORRECTING or bool(packet.related)
        self.corrections += correcting
        if packet.type_id == POINT_SCORED:
            self._score(packet, correcting)
        if packet.summary is not None:
            status = packet.summary.collection_status
            if status and (not self.collection or self.collection[-1][1] != status):
                self.collection.append((packet.seq, status))
            self.summary = packet.summary
        self.finished = self.finished or packet.finished

    def _score(self, packet: ActionPacket, correcting: bool) -> None:
        named = packet.related or ((packet.action_id,) if correcting else ())
        if packet.send_type in WITHDRAWING:
            for action in named:
                if action in self._standing:
                    self._taken_back[action] = self._standing.pop(action)
            return
        if packet.send_type == "Restored":
            for action in named:
                if action in self._taken_back:
                    self._standing[action] = self._taken_back.pop(action)
            return
        if packet.side is None:
            return
        for action in named:  # Updated: the point moves to this packet's team and period
            self._standing.pop(action, None)
            self._taken_back.pop(action, None)
        self._standing[named[0] if named else packet.action_id] = (packet.period, packet.side)

    def counted_sets(self) -> tuple[tuple[int, int], ...]:
        """(home, away) points of each period from 1 to the last with a point, counted."""
        last = max((period for period, _ in self._standing.values()), default=0)
        points = [[0, 0] for _ in range(last)]
        for period, side in self._standing.values():
            if period >= 1:
                points[period - 1][0 if side == "home" else 1] += 1
        return tuple((home, away) for home, away in points)

    def summary_sets(self) -> tuple[tuple[int, int], ...]:
        """The latest summary's periods, without trailing 0-0 ones (a set not yet begun)."""
        return trim(self.summary.periods if self.summary else ())

    def winner(self) -> Side | None:
        """The side that won more games, once finished with a result (none when the
        collection was dropped)."""
        summary = self.summary
        if not self.finished or summary is None or self.dropped:
            return None
        if summary.home_score == summary.away_score:
            return None
        return "home" if summary.home_score > summary.away_score else "away"

    @property
    def dropped(self) -> bool:
        return self.summary is not None and self.summary.collection_status == "CollectionDropped"


def trim(sets: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out = list(sets)
    while out and out[-1] == (0, 0):
        out.pop()
    return tuple(out)


def games_won(sets: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    winners = [set_winner(score) for score in sets]
    return winners.count("home"), winners.count("away")


def show_sets(sets: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"{h}-{a}" for h, a in sets) or "none"


def frame_of_packet(packet: ActionPacket, names: Mapping[Side, str]) -> StatsFrame:
    """The packet's fixtureSummary as the statistics frame that would show the same score
    (Point Scored per period; no other count): what the scoreboard draws on either feed."""
    periods = packet.summary.periods if packet.summary else ()

    def team(side: Side) -> TeamStats:
        index = 0 if side == "home" else 1
        per = {p: {POINT_SCORED: score[index]} for p, score in enumerate(periods, start=1)}
        total = sum(score[index] for score in periods)
        return TeamStats(Team("", names.get(side, side), side == "home"), {POINT_SCORED: total}, per)

    return StatsFrame(
        seq_num=packet.seq,
        trace_id="",
        version=0,
        finished=packet.finished,
        fixture_id=packet.fixture_id,
        timestamp=packet.timestamp,
        home=team("home"),
        away=team("away"),
    )
