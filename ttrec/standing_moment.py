"""Game point or match point, and who holds it, as it stands after each action; pure.

The one rule behind `ttrec truth`'s `moment` and `moment_side` and the `watch` board
(docs/verdict.md). A moment stands from the action that announces it, the provider's Game
Point or Match Point, until the next point is scored; a Point Started or a Swap Serve in
between does not end it. Corrections (SPEC §6):

  - a point scored and then taken back (Cancelled, Deleted) was not played: the rally is
    played again at the score before it, so the moment that point ended stands again;
  - a point moved to the other side (Updated) is still a point scored: no moment;
  - an announcement taken back (its count went down) ends the moment it made.

On the statistics feed the actions are read from which counts rose or fell between two
frames; on the actions feed from each packet. Both give the same moment after the same action
(tests/test_truth_moment.py checks it on both feeds of one match).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ttrec.action_fold import CORRECTING
from ttrec.actions import WITHDRAWING, ActionPacket
from ttrec.match import GAME_POINT, MATCH_POINT, POINT_SCORED, Side, StatsFrame, TeamStats

Kind = Literal["game-point", "match-point"]
KINDS: Final[dict[int, Kind]] = {GAME_POINT: "game-point", MATCH_POINT: "match-point"}
Held = tuple[Kind, Side]  # ("match-point", "home"): home holds match point


@dataclass
class StandingMoment:
    held: Held | None = None
    # The moment the last point scored ended: it stands again if that point is taken back.
    _before_point: Held | None = None

    def add_frame(self, previous: StatsFrame | None, frame: StatsFrame) -> None:
        """Fold one statistics frame: what changed since `previous` (None: the first)."""
        rose, fell = _changes(previous, frame, POINT_SCORED)
        if rose and not fell:
            self._scored()
        elif rose:
            self.held = None  # moved to the other side: still a point scored
        elif fell:
            self._taken_back()
        changes = {kind: _changes(previous, frame, action) for action, kind in KINDS.items()}
        for kind, (_, withdrawn) in changes.items():
            for side in withdrawn:
                self._withdrawn((kind, side))
        # More than one announced at once (frames missed): the last in the feed's order.
        announced = [
            (kind, side) for side, _ in _teams(frame) for kind, (up, _) in changes.items() if side in up
        ]
        if announced:
            self.held = announced[-1]

    def add_packet(self, packet: ActionPacket) -> None:
        """Fold one action packet, as ttrec.action_fold counts its corrections."""
        correcting = packet.send_type in CORRECTING or bool(packet.related)
        if packet.type_id == POINT_SCORED:
            if packet.send_type in WITHDRAWING:
                self._taken_back()
            elif correcting and packet.send_type != "Restored":
                self.held = None  # Updated: the point moved to the other side
            else:
                self._scored()
            return
        kind = KINDS.get(packet.type_id)
        if kind is None or packet.side is None:
            return
        if packet.send_type in WITHDRAWING:
            self._withdrawn((kind, packet.side))
        elif not correcting:
            self.held = (kind, packet.side)

    def _scored(self) -> None:
        self._before_point, self.held = self.held, None

    def _taken_back(self) -> None:
        self.held, self._before_point = self._before_point, None

    def _withdrawn(self, announcement: Held) -> None:
        if self.held == announcement:
            self.held = None
        if self._before_point == announcement:
            self._before_point = None


def _teams(frame: StatsFrame | None) -> tuple[tuple[Side, TeamStats | None], ...]:
    if frame is None:
        return (("home", None), ("away", None))
    return (("home", frame.home), ("away", frame.away))


def _changes(previous: StatsFrame | None, frame: StatsFrame, action: int) -> tuple[set[Side], set[Side]]:
    """The sides whose match total of `action` rose, and those whose total fell (a side
    missing from a frame counts nothing)."""
    rose: set[Side] = set()
    fell: set[Side] = set()
    for (side, old_team), (_, new_team) in zip(_teams(previous), _teams(frame), strict=True):
        old = old_team.count(action) if old_team else 0
        new = new_team.count(action) if new_team else 0
        if new > old:
            rose.add(side)
        elif new < old:
            fell.add(side)
    return rose, fell
