"""The actions feed (`/v2/tabletennis/fixtures/{id}/actions`): its vocabulary and packets.

Facts from the provider's documentation (shared reference `dde-tabletennis-surface.md`); what
the documentation does not say is marked as an assumption where it is used. Pure: values in,
values out.

An action packet is one JSON object:
  {"traceId", "version", "finished",
   "fixtureAction": {"fixtureId", "fixtureSeqNum", "timelineSequence", "actionId",
                     "fixtureActionType", "fixtureActionTypeId", "sendType", "sendTypeId",
                     "team": {"id", "name", "homeTeam"} | null, "period", "clockTime",
                     "timestamp", "metadata", "relatedFixtureActionIds"},
   "fixtureSummary": {"finished", "currentStatus", "collectionStatus", "currentPeriod",
                      "periods", "homeTeamScore", "awayTeamScore", ...}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from ttrec.match import ACTION_NAMES, Side

# fixtureActionTypeId -> fixtureActionType. Table-tennis types from the provider's list (the
# part after 1102 could not be read, so the statistics feed's own 1103/1105/1108 are added);
# 4, 6 and 22 are the generic types seen on sibling sports (an assumption for table tennis).
LINEUPS: Final = 3
START_FIXTURE: Final = 4
START_PERIOD: Final = 6
STATUS_UPDATED: Final = 22
VIDEO_CHECK_UNDERWAY: Final = 51
TIMEOUT: Final = 52
MATCH_START_DELAYED: Final = 56
PLAY_STOPPED: Final = 58
VIDEO_CHECK_RESULT: Final = 61
INJURY: Final = 62
PLAY_RESUMED: Final = 63
ACTION_TYPES: Final[Mapping[int, str]] = {
    LINEUPS: "Lineups",
    START_FIXTURE: "Start Fixture",
    START_PERIOD: "Start Period",
    STATUS_UPDATED: "Status Updated",
    VIDEO_CHECK_UNDERWAY: "Video Check Underway",
    TIMEOUT: "Timeout",
    MATCH_START_DELAYED: "Match Start Delayed",
    PLAY_STOPPED: "Play Stopped",
    VIDEO_CHECK_RESULT: "Video Check Result",
    INJURY: "Injury",
    PLAY_RESUMED: "Play Resumed",
    **ACTION_NAMES,  # the ones a statistics frame counts
}
# The actions whose count a statistics frame carries (SPEC §6: a statistics frame follows
# each of them, and only them).
COUNTED: Final = frozenset(ACTION_NAMES)

SendType = Literal["Pending", "Updated", "Cancelled", "Deleted", "Confirmed", "Restored"]
SEND_TYPES: Final[Mapping[SendType, int]] = {
    "Pending": 1,
    "Updated": 2,
    "Cancelled": 3,
    "Deleted": 4,
    "Confirmed": 5,
    "Restored": 6,
}
# Send types that take an earlier action back (its count goes down on the statistics feed).
WITHDRAWING: Final = frozenset({"Cancelled", "Deleted"})

CollectionStatus = Literal[
    "CollectionScheduled",
    "CollectingLive",
    "CollectingPostMatch",
    "CollectionSuspended",
    "CollectionDropped",
    "CollectionCompleted",
    "PostMatchChecked",
]
COLLECTION_STATUSES: Final[tuple[CollectionStatus, ...]] = get_args(CollectionStatus)
FIXTURE_STATUSES: Final = (
    "Scheduled",
    "Live",
    "Completed",
    "Postponed",
    "Abandoned",
    "Cancelled",
    "Suspended",
    "Unverified",
)


class PacketError(ValueError):
    """Text that is not an action packet; the caller adds where it was found."""


@dataclass(frozen=True, slots=True)
class Summary:
    finished: bool
    current_status: str
    collection_status: str
    current_period: int
    periods: tuple[tuple[int, int], ...]  # (home, away) points of each game, in period order
    home_score: int  # games won (SPEC §6)
    away_score: int


@dataclass(frozen=True, slots=True)
class ActionPacket:
    fixture_id: str
    seq: int  # fixtureSeqNum
    action_id: str
    type_id: int
    type_name: str
    send_type: str
    side: Side | None
    period: int
    timestamp: str
    related: tuple[str, ...]  # relatedFixtureActionIds: the actions this one corrects
    finished: bool
    summary: Summary | None
    team_name: str | None = None  # fixtureAction.team.name, when it has one

    @property
    def counted(self) -> bool:
        return self.type_id in COUNTED

    @property
    def says_finished(self) -> bool:
        """The packet, or its summary, says the match (its collection) is over."""
        return self.finished or (self.summary is not None and self.summary.finished)

    @property
    def ends_collection(self) -> bool:
        """The Status Updated packet that ends the collection: it says finished."""
        return self.type_id == STATUS_UPDATED and self.says_finished

    @property
    def ends_dropped_collection(self) -> bool:
        """That packet, for a collection that was dropped (its summary says so): the one
        place where the set in play may stay undecided (docs/feeds.md)."""
        dropped = self.summary is not None and self.summary.collection_status == "CollectionDropped"
        return self.ends_collection and dropped


def is_action_packet(obj: Any) -> bool:
    """The actions feed's data-frame rule: an object with a `fixtureAction` object that
    carries an integer `fixtureSeqNum`; everything else on that feed is a heartbeat/control
    message (the statistics feed's rule is in ttrec.feed)."""
    if not isinstance(obj, Mapping):
        return False
    action = obj.get("fixtureAction")
    seq = action.get("fixtureSeqNum") if isinstance(action, Mapping) else None
    return isinstance(seq, int) and not isinstance(seq, bool)


def packet_position(obj: Any) -> tuple[int, bool] | None:
    """(fixtureSeqNum, finished) of a data frame on the actions feed, or None for anything
    else (a heartbeat or control message). The rule mirrors the statistics feed's
    (ttrec.feed.inspect_text): `fixtureAction.fixtureSeqNum` is a positive integer and
    `fixtureAction.fixtureId` a non-empty string. The packet is finished when its own
    `finished` or its `fixtureSummary.finished` is true.

    A corrected action is re-sent (another sendType, relatedFixtureActionIds) as a packet of
    its own with a new fixtureSeqNum (SPEC §6): fixtureSeqNums only grow on one connection.
    Two different texts under one fixtureSeqNum are still both kept by the recorder; only an
    identical text is provably a resend.
    """
    if not isinstance(obj, Mapping):
        return None
    action = obj.get("fixtureAction")
    if not isinstance(action, Mapping):
        return None
    seq = action.get("fixtureSeqNum")
    fixture = action.get("fixtureId")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1):
        return None
    if not (isinstance(fixture, str) and fixture):
        return None
    summary = obj.get("fixtureSummary")
    finished = obj.get("finished") is True or (
        isinstance(summary, Mapping) and summary.get("finished") is True
    )
    return seq, finished


def parse_packet(data: str | Mapping[str, Any]) -> ActionPacket:
    """Parse an action packet (its exact text or its decoded JSON object)."""
    obj = _decode(data) if isinstance(data, str) else data
    if not is_action_packet(obj):
        raise PacketError("not an action packet (no fixtureAction.fixtureSeqNum)")
    action = obj["fixtureAction"]
    team = action.get("team")
    side: Side | None = None
    team_name: str | None = None
    if isinstance(team, Mapping) and isinstance(team.get("homeTeam"), bool):
        side = "home" if team["homeTeam"] else "away"
        team_name = team["name"] if isinstance(team.get("name"), str) else None
    related = action.get("relatedFixtureActionIds") or []
    summary = obj.get("fixtureSummary")
    return ActionPacket(
        fixture_id=_get(action, "fixtureId", str),
        seq=action["fixtureSeqNum"],
        action_id=_get(action, "actionId", str, ""),
        type_id=_get(action, "fixtureActionTypeId", int),
        type_name=_get(action, "fixtureActionType", str, ""),
        send_type=_get(action, "sendType", str, "Confirmed"),
        side=side,
        period=_get(action, "period", int, 0),
        timestamp=_get(action, "timestamp", str, ""),
        related=tuple(str(r) for r in related) if isinstance(related, list) else (),
        finished=_get(obj, "finished", bool, False),
        summary=_summary(summary) if isinstance(summary, Mapping) else None,
        team_name=team_name,
    )


def _summary(obj: Mapping[str, Any]) -> Summary:
    periods: list[tuple[int, int, int]] = []
    for entry in _get(obj, "periods", list, []):
        if not isinstance(entry, Mapping):
            raise PacketError("a fixtureSummary period must be an object")
        periods.append(
            (
                _get(entry, "period", int),
                _get(entry, "homeTeamScore", int, 0),
                _get(entry, "awayTeamScore", int, 0),
            )
        )
    return Summary(
        finished=_get(obj, "finished", bool, False),
        current_status=_get(obj, "currentStatus", str, ""),
        collection_status=_get(obj, "collectionStatus", str, ""),
        current_period=_get(obj, "currentPeriod", int, 0),
        periods=tuple((home, away) for _, home, away in sorted(periods)),
        home_score=_get(obj, "homeTeamScore", int, 0),
        away_score=_get(obj, "awayTeamScore", int, 0),
    )


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise PacketError("not JSON") from None


_MISSING: Final = object()


def _get(obj: Mapping[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    value = obj.get(key)
    if value is None:
        if default is _MISSING:
            raise PacketError(f"missing {key!r}")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PacketError(f"{key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value
