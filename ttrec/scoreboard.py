"""A live scoreboard folded from successive statistics frames (`ttrec watch`); pure.

On the actions feed (`add_packet`) the board is the packet's fixtureSummary (points per
period, shown as a statistics frame would show them), the server is the team of the last
Point Started or Swap Serve packet that names one (as on the statistics feed; a Cancelled or
Deleted re-send takes a count back and raises none), and a CollectionDropped summary shows
"no result" instead of a winner. On either feed the moment (game point, match point) is
ttrec.standing_moment's: from the announcement until the next point is scored, as `ttrec
truth` says.

Who serves and which moment it is (game point, match point) are not fields of the feed:
they are read from which counts rose (or fell: a correction) between two frames. Point
Started and Swap Serve are credited to the serving side (the assumption docs/simulator.md
explains), so the side whose Point Started or Swap Serve count rose last is the one serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ttrec.action_fold import CORRECTING, frame_of_packet
from ttrec.actions import WITHDRAWING, ActionPacket
from ttrec.match import (
    ACTION_NAMES,
    POINT_STARTED,
    SWAP_SERVE,
    Side,
    StatsFrame,
    TeamStats,
)
from ttrec.standing_moment import StandingMoment

NAME_WIDTH = 34
# The actions credited to the side that serves (next): docs/simulator.md.
SERVING: Final = frozenset({POINT_STARTED, SWAP_SERVE})


@dataclass(frozen=True, slots=True)
class TeamRow:
    """One side of the board: serving now?, its name, sets won, points in each set."""

    serving: bool
    name: str
    sets_won: int
    points: tuple[int, ...]


@dataclass
class Scoreboard:
    fixture_id: str = ""
    frame: StatsFrame | None = None
    server: Side | None = None
    standing: StandingMoment = field(default_factory=StandingMoment)
    last_actions: list[str] = field(default_factory=list)
    frames: int = 0
    heartbeats: int = 0
    last_frame_at: float | None = None  # seconds on the caller's clock
    last_heartbeat_at: float | None = None
    collection: str = ""  # the actions feed's collectionStatus ("" on the statistics feed)
    team_names: dict[Side, str] = field(default_factory=dict)  # actions feed: last named

    def add_packet(self, packet: ActionPacket, at: float) -> None:
        """Fold one action packet (the actions feed's data frame)."""
        self.frames += 1
        self.last_frame_at = at
        self.fixture_id = packet.fixture_id
        if packet.side is not None and packet.team_name:
            self.team_names[packet.side] = packet.team_name
        correction = packet.send_type in CORRECTING or bool(packet.related)
        label = packet.type_name or str(packet.type_id)
        self.last_actions = [
            f"{label} ({packet.side or '-'})" + (f" {packet.send_type}" if correction else "")
        ]
        if packet.type_id in SERVING and packet.side is not None and packet.send_type not in WITHDRAWING:
            self.server = packet.side
        self.standing.add_packet(packet)
        if packet.summary is not None:
            self.collection = packet.summary.collection_status
            self.frame = frame_of_packet(packet, self.team_names)

    @property
    def moment(self) -> str:
        """The moment as the board shows it: "GAME POINT home", "MATCH POINT away" or "";
        none once the match is over, finished or dropped (as the truth has it)."""
        held = self.standing.held
        over = self.dropped or (self.frame is not None and self.frame.finished)
        return "" if held is None or over else f"{held[0].replace('-', ' ').upper()} {held[1]}"

    @property
    def dropped(self) -> bool:
        return self.collection == "CollectionDropped"

    def add_frame(self, frame: StatsFrame, at: float) -> None:
        previous = self.frame
        self.frames += 1
        self.last_frame_at = at
        self.fixture_id = frame.fixture_id
        rose = _rises(previous, frame)
        self.last_actions = [f"{ACTION_NAMES.get(a, str(a))} ({side})" for side, a in rose]
        for side, action in rose:
            if action in SERVING:
                self.server = side
        self.standing.add_frame(previous, frame)
        self.frame = frame

    def add_heartbeat(self, at: float) -> None:
        self.heartbeats += 1
        self.last_heartbeat_at = at

    def render(self, now: float) -> list[str]:
        """The board as lines of text; `now` is on the same clock as the `at` values."""
        if self.frame is None:
            return [self.headline(now)]
        teams = [self._team_line(row) for row in self.team_rows()]
        return [self.headline(now), *teams, *self.footer(now)]

    def headline(self, now: float) -> str:
        """The fixture, its seq and state; before the first frame, what we wait for."""
        frame = self.frame
        if frame is None:
            waited = _ago(now, self.last_heartbeat_at)
            return f"waiting for the first frame ... heartbeats {self.heartbeats}, last {waited}"
        return f"fixture {frame.fixture_id}  seq {frame.seq_num}  {'FINISHED' if frame.finished else 'live'}"

    def team_rows(self) -> list[TeamRow]:
        """Home then away (nothing before the first frame)."""
        frame = self.frame
        if frame is None:
            return []
        rows = []
        for index, (side, team) in enumerate((("home", frame.home), ("away", frame.away))):
            rows.append(
                TeamRow(
                    serving=self.server == side and not frame.finished,
                    name=team.team.name if team else side,
                    sets_won=frame.sets_won[index],
                    points=tuple(score[index] for score in frame.sets),
                )
            )
        return rows

    def footer(self, now: float) -> list[str]:
        """The moment or the result, the time since the last frame and heartbeat, and the
        actions of the last frame."""
        frame = self.frame
        status = [self.moment] if self.moment else []
        if self.collection:
            status.append(self.collection)
        if self.dropped or (frame is not None and frame.finished and not frame.winner):
            status = ["ended: dropped, no result"]
        elif frame is not None and frame.finished:
            status = [f"winner {frame.winner}"]
        status.append(f"last frame {_ago(now, self.last_frame_at)}")
        status.append(f"last heartbeat {_ago(now, self.last_heartbeat_at)}")
        lines = ["  ".join(status)]
        if self.last_actions:
            lines.append("last: " + ", ".join(self.last_actions))
        return lines

    def line(self) -> str:
        """One plain line for the latest frame (for logs and pipes)."""
        frame = self.frame
        if frame is None:
            return f"waiting for the first frame (heartbeats {self.heartbeats})"
        home, away = frame.sets_won
        sets = " ".join(f"{h}-{a}" for h, a in frame.sets) or "-"
        # The feed's "sets" are table tennis games; each pair is one set's points.
        parts = [f"seq {frame.seq_num}", f"sets {home}-{away}", f"points per set {sets}"]
        if self.server and not frame.finished:
            parts.append(f"{self.server} serves")
        if self.moment:
            parts.append(self.moment)
        if self.dropped or (frame.finished and not frame.winner):
            parts.append("ENDED dropped, no result")
        elif frame.finished:
            parts.append(f"FINISHED winner {frame.winner}")
        return "  ".join(parts)

    @staticmethod
    def _team_line(row: TeamRow) -> str:
        name = row.name[:NAME_WIDTH].ljust(NAME_WIDTH)
        points = " ".join(f"{p:>2}" for p in row.points)
        return f"{'*' if row.serving else ' '} {name} {row.sets_won} | {points}"


def _rises(before: StatsFrame | None, after: StatsFrame) -> list[tuple[Side, int]]:
    """(side, actionId) for every match total that rose, in a stable order."""
    rose: list[tuple[Side, int]] = []
    sides: tuple[tuple[Side, TeamStats | None, TeamStats | None], ...] = (
        ("home", before.home if before else None, after.home),
        ("away", before.away if before else None, after.away),
    )
    for side, old, new in sides:
        if new is None:
            continue
        for action in sorted(new.totals):
            if new.count(action) > (old.count(action) if old else 0):
                rose.append((side, action))
    return rose


def _ago(now: float, then: float | None) -> str:
    return "never" if then is None else f"{max(0.0, now - then):.1f}s ago"
