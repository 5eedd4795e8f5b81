"""Action packets for simulated matches, in the documented shape (ttrec.actions).

`PacketBook` follows the match action by action and renders each as the packet the actions
feed would send: the action itself and the `fixtureSummary` after it. Where the
documentation is silent (docs/feeds.md): the score is games won, `periods` the points of
each game, a re-send gets its own `fixtureSeqNum` and `actionId` and names the action it
corrects in `relatedFixtureActionIds`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ttrec.actions import (
    ACTION_TYPES,
    SEND_TYPES,
    START_FIXTURE,
    CollectionStatus,
    SendType,
)
from ttrec.match import Side, Team, set_winner

PACKET_VERSION: Final = 3  # the post-match example's `version`
# json.dumps(obj, separators=(",", ":"), ensure_ascii=False), with its encoder made once, not
# once a packet (json.dumps makes one per call whenever an option is not the default).
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# Status Updated metadata, as on the sibling sport's example (codes assumed for the rest).
COLLECTION_STATUS_CODES: Final[Mapping[str, int]] = {
    "CollectingLive": 1,
    "CollectionSuspended": 3,
    "CollectionDropped": 4,
}
STATUS_REASONS: Final[Mapping[str, str]] = {
    "CollectingLive": "",
    "CollectionSuspended": "no signal",
    "CollectionDropped": "no signal",
}


@dataclass(frozen=True, slots=True)
class PacketMeta:
    """Everything in a packet besides the match state."""

    seq_num: int
    action_id: str
    trace_id: str
    timestamp: str
    related: tuple[str, ...]
    finished: bool


class PacketBook:
    """The match state the actions feed summarises, kept action by action."""

    def __init__(self, fixture_id: str, home: Team, away: Team) -> None:
        self.fixture_id = fixture_id
        self.teams: Mapping[Side, Team] = {"home": home, "away": away}
        self.points: dict[int, dict[Side, int]] = {}
        self.current_period = 1
        self.current_status = "Scheduled"
        self.collection_status: CollectionStatus = "CollectionScheduled"

    def score(self, side: Side, period: int, by: int) -> None:
        counts = self.points.setdefault(period, {"home": 0, "away": 0})
        counts[side] += by

    def render(
        self,
        meta: PacketMeta,
        *,
        type_id: int,
        side: Side | None,
        period: int,
        send_type: SendType,
        status: CollectionStatus | None,
    ) -> str:
        if type_id == START_FIXTURE:
            self.current_status = "Live"
        if status is not None:
            self.collection_status = status
        if period > 0:  # a game is in the summary from its first action on (assumption)
            self.current_period = period
            self.points.setdefault(period, {"home": 0, "away": 0})
        if meta.finished:
            dropped = self.collection_status == "CollectionDropped"
            self.current_status = "Unverified" if dropped else "Completed"
            if not dropped:
                self.collection_status = "CollectionCompleted"
        team = self.teams[side] if side is not None else None
        metadata: dict[str, Any] = {}
        if status is not None:
            metadata = {
                "collectionStatus": COLLECTION_STATUS_CODES[status],
                "collectionStatusReason": STATUS_REASONS[status],
            }
        packet = {
            "traceId": meta.trace_id,
            "version": PACKET_VERSION,
            "finished": meta.finished,
            "fixtureAction": {
                "fixtureId": self.fixture_id,
                "fixtureSeqNum": meta.seq_num,
                "actionId": meta.action_id,
                "fixtureActionType": ACTION_TYPES[type_id],
                "fixtureActionTypeId": type_id,
                "sendType": send_type,
                "sendTypeId": SEND_TYPES[send_type],
                "team": {"id": team.id, "name": team.name, "homeTeam": team.home} if team else None,
                "period": period,
                "timestamp": meta.timestamp,
                "metadata": metadata,
                "relatedFixtureActionIds": list(meta.related),
            },
            "fixtureSummary": self._summary(meta.finished),
        }
        return _COMPACT(packet)

    def _summary(self, finished: bool) -> dict[str, Any]:
        games = [(p, counts["home"], counts["away"]) for p, counts in sorted(self.points.items())]
        won = [set_winner((home, away)) for _, home, away in games]
        return {
            "finished": finished,
            "currentStatus": self.current_status,
            "collectionStatus": self.collection_status,
            "currentPeriod": self.current_period,
            "periods": [
                {"period": p, "homeTeamScore": home, "awayTeamScore": away} for p, home, away in games
            ],
            "homeTeamScore": won.count("home"),
            "awayTeamScore": won.count("away"),
        }
