"""The match a statistics frame describes: typed values and the score derived from them.

Periods and aggregates arrive in no particular order (see the provider's sample), so
everything here is keyed by `period` and `actionId`, never by position.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ttrec.quick_json import quick_loads

POINT_STARTED: Final = 1101
POINT_SCORED: Final = 1102
SWAP_SERVE: Final = 1103
GAME_POINT: Final = 1105
MATCH_POINT: Final = 1108
ACTION_NAMES: Final[Mapping[int, str]] = {
    POINT_STARTED: "Point Started",
    POINT_SCORED: "Point Scored",
    SWAP_SERVE: "Swap Serve",
    GAME_POINT: "Game Point",
    MATCH_POINT: "Match Point",
}
POINTS_TO_WIN_GAME: Final = 11
Side = Literal["home", "away"]


class FrameError(ValueError):
    """A data frame that does not have the statistics shape."""


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    home: bool


@dataclass(frozen=True, slots=True)
class TeamStats:
    team: Team
    totals: Mapping[int, int]  # actionId -> count over the match ("gameActionAggregates")
    periods: Mapping[int, Mapping[int, int]]  # period -> actionId -> count
    labels: Mapping[int, str] = field(default_factory=dict)  # period -> "1st Set", ...

    def count(self, action: int, period: int | None = None) -> int:
        counts = self.totals if period is None else self.periods.get(period, {})
        return counts.get(action, 0)


@dataclass(frozen=True, slots=True)
class StatsFrame:
    seq_num: int
    trace_id: str
    version: int
    finished: bool
    fixture_id: str
    timestamp: str
    home: TeamStats | None
    away: TeamStats | None

    @property
    def teams(self) -> tuple[TeamStats, ...]:
        return tuple(t for t in (self.home, self.away) if t is not None)

    @property
    def period_numbers(self) -> list[int]:
        return sorted({p for t in self.teams for p in t.periods})

    @property
    def sets(self) -> list[tuple[int, int]]:
        """[home points, away points] of each set, in period order."""
        return [self.points(p) for p in self.period_numbers]

    def points(self, period: int) -> tuple[int, int]:
        home = self.home.count(POINT_SCORED, period) if self.home else 0
        away = self.away.count(POINT_SCORED, period) if self.away else 0
        return home, away

    @property
    def sets_won(self) -> tuple[int, int]:
        home = away = 0
        for score in self.sets:
            won = set_winner(score)
            home += won == "home"
            away += won == "away"
        return home, away

    @property
    def winner(self) -> Side | None:
        """The side ahead on sets once the feed says the match is finished, if the last set
        was decided: a collection dropped mid-game also ends `finished` (SPEC §6), with no
        result."""
        if not self.finished or not self.sets or set_winner(self.sets[-1]) is None:
            return None
        home, away = self.sets_won
        if home == away:
            return None
        return "home" if home > away else "away"


def set_winner(score: tuple[int, int]) -> Side | None:
    """Who won a set with this score, or None while it is undecided."""
    home, away = score
    if max(home, away) >= POINTS_TO_WIN_GAME and abs(home - away) >= 2:
        return "home" if home > away else "away"
    return None


def is_legal_set_score(score: tuple[int, int], *, finished: bool) -> bool:
    """ITTF: a game goes to 11, won by 2; from 10-10 it ends as soon as one leads by 2."""
    high, low = max(score), min(score)
    if min(score) < 0:
        return False
    if not finished:
        # still being played: nobody has won yet, and nobody ran past a win
        return set_winner(score) is None and (high <= POINTS_TO_WIN_GAME or high - low <= 1)
    if high < POINTS_TO_WIN_GAME or high - low < 2:
        return False
    return high == POINTS_TO_WIN_GAME or high - low == 2


def parse_frame(data: str | Mapping[str, Any]) -> StatsFrame:
    """Parse a statistics data frame (its exact text or its decoded JSON object)."""
    if not isinstance(data, str):
        return _frame_from(data)
    quick = quick_loads(data)
    if quick is not None:
        try:
            return _frame_from(quick)
        except FrameError:
            pass  # the stdlib's reading decides: orjson reads an int past 64 bits as a float
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    except RecursionError:
        raise FrameError("not JSON: nested too deeply") from None
    return _frame_from(obj)


def _frame_from(obj: Any) -> StatsFrame:
    if not isinstance(obj, Mapping):
        raise FrameError("a data frame must be a JSON object")
    home = away = None
    teams = _field(obj, "teamActionAggregates", list, default=[])
    for entry in teams:
        stats = _team_stats(entry)
        if stats.team.home:
            if home is not None:
                raise FrameError("two home teams")
            home = stats
        else:
            if away is not None:
                raise FrameError("two away teams")
            away = stats
    return StatsFrame(
        seq_num=_field(obj, "seqNum", int),
        trace_id=_field(obj, "traceId", str, default=""),
        version=_field(obj, "version", int, default=0),
        finished=_field(obj, "finished", bool, default=False),
        fixture_id=_field(obj, "fixtureId", str),
        timestamp=_field(obj, "timestamp", str, default=""),
        home=home,
        away=away,
    )


def _team_stats(entry: Any) -> TeamStats:
    if not isinstance(entry, Mapping):
        raise FrameError("a teamActionAggregates entry must be an object")
    team_obj = _field(entry, "team", Mapping)
    team = Team(
        id=_field(team_obj, "id", str, default=""),
        name=_field(team_obj, "name", str, default=""),
        home=_field(team_obj, "homeTeam", bool),
    )
    totals = _counts(_field(entry, "gameActionAggregates", list, default=[]))
    periods: dict[int, Mapping[int, int]] = {}
    labels: dict[int, str] = {}
    for period in _field(entry, "periodActionAggregates", list, default=[]):
        if not isinstance(period, Mapping):
            raise FrameError("a periodActionAggregates entry must be an object")
        number = _field(period, "period", int)
        if number in periods:
            raise FrameError(f"period {number} appears twice for {team.name or team.id}")
        periods[number] = _counts(_field(period, "aggregates", list, default=[]))
        labels[number] = _field(period, "label", str, default="")
    return TeamStats(team=team, totals=totals, periods=periods, labels=labels)


def _counts(aggregates: list[Any]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for agg in aggregates:
        # What a decoded frame holds: taken as it is (a fold reads some million of these).
        # Anything else goes the careful way below, which gives the same counts or the error.
        if type(agg) is dict:
            action, count = agg.get("actionId"), agg.get("actionAggregate")
            if type(action) is int and type(count) is int:
                counts[action] = counts.get(action, 0) + count
                continue
        if not isinstance(agg, Mapping):
            raise FrameError("an aggregate must be an object")
        action = _field(agg, "actionId", int)
        counts[action] = counts.get(action, 0) + _field(agg, "actionAggregate", int)
    return counts


_MISSING: Final = object()


def _field(obj: Mapping[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    value = obj.get(key, _MISSING)
    if type(value) is kind:  # the common case, and never a bool taken for an int
        return value
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise FrameError(f"missing {key!r}")
        return default
    # bool is an int subclass: a boolean is never a count or a sequence number
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError(f"{key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value
