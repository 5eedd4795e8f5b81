"""Build a small match as one action timeline, written as both feeds, for the readers' tests.

The packets follow the documented shape (tests/data/provider-action-packet-lineups.json);
the statistics frames follow SPEC §6: one frame after each counted action, its seqNum that
action's fixtureSeqNum. The builder keeps its own score, independently of ttrec's readers,
so tests can compare what ttrec reads with what the builder played.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ttrec.capture import CaptureWriter
from ttrec.records import Frame, Header, Heartbeat, Open, Record

FIXTURE: Final = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
NS: Final = 1_000_000_000
WALL: Final = "2026-11-24T07:00:00Z"
TEAMS: Final = {
    "home": {"id": "0222e701-d937-4250-8041-0f8ed8cf4a23", "name": "Home", "homeTeam": True},
    "away": {"id": "e02e8cbb-7149-4f72-b69a-7896d06d390b", "name": "Away", "homeTeam": False},
}
NAMES: Final = {
    3: "Lineups",
    4: "Start Fixture",
    6: "Start Period",
    22: "Status Updated",
    52: "Timeout",
    1101: "Point Started",
    1102: "Point Scored",
    1103: "Swap Serve",
    1105: "Game Point",
    1108: "Match Point",
}
COUNTED: Final = {1101, 1102, 1103, 1105, 1108}
SEND_IDS: Final = {"Confirmed": 5, "Cancelled": 3, "Updated": 2}


@dataclass
class ActionMatch:
    """A best-of-`best_of` match played action by action; `packets` and `frames` are the two
    feeds' data texts, `seconds` the time of each packet (a frame shares its action's)."""

    fixture: str = FIXTURE
    best_of: int = 3
    sets: list[list[int]] = field(default_factory=lambda: [[0, 0]])
    collection: str = "CollectingLive"
    finished: bool = False
    packets: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    frames: list[tuple[int, str]] = field(default_factory=list)  # (index of its packet, text)
    counts: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (side, type, period)
    _scored: dict[str, tuple[str, int]] = field(default_factory=dict)  # actionId -> (side, period)

    @property
    def seq(self) -> int:
        return len(self.packets)

    def won(self) -> tuple[int, int]:
        decided = [s for s in self.sets if max(s) >= 11 and abs(s[0] - s[1]) >= 2]
        return sum(s[0] > s[1] for s in decided), sum(s[1] > s[0] for s in decided)

    def action(
        self,
        type_id: int,
        side: str | None = None,
        *,
        send_type: str = "Confirmed",
        related: Sequence[str] = (),
        action_id: str | None = None,
        finished: bool = False,
    ) -> str:
        """Append one packet (and, for a counted action, one statistics frame); its actionId."""
        action_id = action_id or str(uuid.UUID(int=len(self.packets) + 1))
        period = len(self.sets)
        if type_id in COUNTED and side is not None:
            step = -1 if send_type == "Cancelled" else 1
            key = (side, type_id, period)
            self.counts[key] = self.counts.get(key, 0) + step
        self.finished = self.finished or finished
        packet = {
            "traceId": f"{len(self.packets) + 1:032x}",
            "version": 3,
            "finished": self.finished,
            "fixtureAction": {
                "fixtureId": self.fixture,
                "fixtureSeqNum": len(self.packets) + 1,
                "timelineSequence": len(self.packets) + 1,
                "actionId": action_id,
                "fixtureActionType": NAMES[type_id],
                "fixtureActionTypeId": type_id,
                "sendType": send_type,
                "sendTypeId": SEND_IDS[send_type],
                "team": TEAMS[side] if side else None,
                "period": period,
                "clockTime": "00:00",
                "timestamp": f"2026-11-24T07:{len(self.packets) // 60:02d}:{len(self.packets) % 60:02d}.000Z",
                "metadata": {},
                "relatedFixtureActionIds": list(related),
            },
            "fixtureSummary": self.summary(),
        }
        self.packets.append(json.dumps(packet, separators=(",", ":")))
        self.seconds.append(2.0 * len(self.packets))
        if type_id in COUNTED:
            self.frames.append((len(self.packets) - 1, self.stats_frame()))
        return action_id

    def summary(self) -> dict[str, Any]:
        home, away = self.won()
        return {
            "finished": self.finished,
            "currentStatus": self._status(),
            "collectionStatus": self.collection,
            "currentPeriod": len(self.sets),
            "periods": [
                {"period": i + 1, "homeTeamScore": h, "awayTeamScore": a}
                for i, (h, a) in enumerate(self.sets)
            ],
            "homeTeamScore": home,
            "awayTeamScore": away,
        }

    def _status(self) -> str:
        if self.collection == "CollectionDropped":
            return "Unverified"  # the sibling sport's dropped collection (fixture status 7)
        return "Completed" if self.finished else "Live"

    def stats_frame(self) -> str:
        def agg(type_id: int, count: int) -> dict[str, Any]:
            return {
                "action": NAMES[type_id],
                "actionId": type_id,
                "actionAggregate": count,
                "subActionAggregates": [],
            }

        def team(side: str) -> dict[str, Any]:
            periods = [
                {
                    "type": "Regular",
                    "label": f"Set {p}",
                    "period": p,
                    "aggregates": [agg(t, self.counts.get((side, t, p), 0)) for t in sorted(COUNTED)],
                }
                for p in range(1, len(self.sets) + 1)
            ]
            totals = [
                agg(t, sum(v for (s, tt, _), v in self.counts.items() if s == side and tt == t))
                for t in sorted(COUNTED)
            ]
            return {
                "team": TEAMS[side],
                "gameActionAggregates": totals,
                "periodActionAggregates": periods,
                "playerActionAggregates": [],
            }

        return json.dumps(
            {
                "seqNum": len(self.packets),
                "traceId": f"{len(self.packets):032x}",
                "version": 3,
                "finished": self.finished,
                "fixtureId": self.fixture,
                "timestamp": "2026-11-24T07:00:00.000000000Z",
                "teamActionAggregates": [team("home"), team("away")],
            },
            separators=(",", ":"),
        )

    # --- the match, point by point ------------------------------------------------------------

    def point(self, side: str) -> str:
        """One rally won by `side`; Game Point / Match Point when the score says so, a new
        set after a decided one, the end of the match after the last."""
        self.action(1101)
        index = 0 if side == "home" else 1
        self.sets[-1][index] += 1
        # the deciding point's own packet and frame already say finished (the provider's
        # final statistics frame is its last point's)
        scored = self.action(1102, side, finished=self.match_over())
        self._scored[scored] = (side, len(self.sets))
        if self.finished:
            self.action(22)
            return scored
        current = self.sets[-1]
        if max(current) >= 11 and abs(current[0] - current[1]) >= 2:
            self.sets.append([0, 0])
            self.action(6)
            return scored
        for who, mine, theirs in (("home", current[0], current[1]), ("away", current[1], current[0])):
            if mine >= 10 and mine > theirs:
                sets_won = self.won()[0 if who == "home" else 1]
                self.action(1108 if sets_won == self.best_of // 2 else 1105, who)
        return scored

    def cancel(self, action_id: str) -> None:
        """Take a scored point back (a video check): the re-send is Cancelled, its own packet."""
        side, period = self._scored.pop(action_id)
        self.sets[period - 1][0 if side == "home" else 1] -= 1
        self.action(1102, side, send_type="Cancelled", related=[action_id], action_id=action_id)

    def drop(self) -> None:
        """The collection is dropped (SPEC §6): a Status Updated with CollectionDropped that
        says finished, and on the statistics feed a last frame with its seqNum, the counts
        unchanged and finished."""
        self.collection = "CollectionDropped"
        self.action(22, finished=True)
        self.frames.append((len(self.packets) - 1, self.stats_frame()))

    def play_set(self, winner: str, loser_points: int = 5) -> None:
        other = "away" if winner == "home" else "home"
        for _ in range(loser_points):
            self.point(other)
        while not (self.sets[-1] == [0, 0] or self.finished):
            self.point(winner)

    def match_over(self) -> bool:
        return max(self.won()) > self.best_of // 2

    # --- captures -----------------------------------------------------------------------------

    def records(self, feed: str) -> list[Record]:
        url = f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{self.fixture}/{feed}"
        out: list[Record] = [Open(0, WALL, 0, url, 0)]
        heartbeat = json.dumps({"message": "Heartbeat sent at 2026-11-24T07:00:00.517484Z", "level": "INFO"})
        out.append(Heartbeat(NS // 2, WALL, 0, heartbeat))
        if feed == "actions":
            out += [
                Frame(int(t * NS), WALL, 0, text) for t, text in zip(self.seconds, self.packets, strict=True)
            ]
        else:
            out += [Frame(int(self.seconds[i] * NS), WALL, 0, text) for i, text in self.frames]
        return out

    def write(self, path: Path, feed: str, records: Sequence[Record] | None = None) -> Path:
        url = f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{self.fixture}/{feed}"
        header = Header(fixture_id=self.fixture, url=url, source="recorded", created=WALL, feed=feed)
        with CaptureWriter(path, header) as writer:
            for record in self.records(feed) if records is None else records:
                writer.write(record)
        return path


def straight_match() -> ActionMatch:
    """Home wins 11-5, 11-5 in a best of three, with a lineup, a timeout and a cancelled point."""
    match = ActionMatch()
    match.action(3, "home")
    match.action(4)
    match.action(6)
    for _ in range(3):
        match.point("away")
    wrong = match.point("home")
    match.action(52, "away")
    match.cancel(wrong)
    match.play_set("home", loser_points=2)  # the set ends 11-5
    match.play_set("home", loser_points=5)
    return match
