"""Statistics frames for simulated matches, in exactly the provider's shape.

`AggregateBook` keeps the running counts per team, per action and per set; `render`
turns them into the compact JSON text of one data frame. The shape follows the
provider's sample frame (../shared/reference/statistics-frame-final.json in the project):
the same keys, home team first, an aggregate present only once its count is above zero,
and periods and aggregates in a shuffled order (the provider sends them in no
particular order, and a consumer under test must not come to rely on one).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ttrec.match import ACTION_NAMES, Side, Team

FRAME_VERSION: Final = 3  # the `version` of every frame in the provider's sample
PERIOD_TYPE: Final = "Regular"
SIDES: Final[tuple[Side, Side]] = ("home", "away")


def period_label(period: int) -> str:
    """'1st Set', '2nd Set', ... as in the provider's sample."""
    suffix = "th" if 11 <= period % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(period % 10, "th")
    return f"{period}{suffix} Set"


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """Everything in a frame besides the counts."""

    seq_num: int
    trace_id: str
    finished: bool
    fixture_id: str
    timestamp: str
    # `advancedSportStatistics` is documented but absent from the sample, its content
    # unpublished: behind `ttrec simulate --advanced-statistics`, an empty object.
    advanced: bool = False


class AggregateBook:
    """Running action counts of one match: per side, per set and over the match."""

    def __init__(self, home: Team, away: Team) -> None:
        self.teams: Mapping[Side, Team] = {"home": home, "away": away}
        self.totals: dict[Side, dict[int, int]] = {"home": {}, "away": {}}
        self.periods: dict[Side, dict[int, dict[int, int]]] = {"home": {}, "away": {}}

    def add(self, side: Side, period: int, action: int) -> None:
        totals = self.totals[side]
        totals[action] = totals.get(action, 0) + 1
        counts = self.periods[side].setdefault(period, {})
        counts[action] = counts.get(action, 0) + 1

    def remove(self, side: Side, period: int, action: int) -> None:
        """Take a counted action back (a correction); a count at zero leaves the frame."""
        self.totals[side][action] -= 1
        self.periods[side][period][action] -= 1

    def render(self, meta: FrameMeta, rng: random.Random) -> str:
        """The frame's JSON text; `rng` decides the (meaningless) order of periods and
        aggregates, so the same seed always gives the same text."""
        frame: dict[str, Any] = {
            "seqNum": meta.seq_num,
            "traceId": meta.trace_id,
            "version": FRAME_VERSION,
            "finished": meta.finished,
            "fixtureId": meta.fixture_id,
            "timestamp": meta.timestamp,
            "teamActionAggregates": [self._team(side, rng) for side in SIDES],
        }
        if meta.advanced:
            frame["advancedSportStatistics"] = {}
        return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)

    def _team(self, side: Side, rng: random.Random) -> dict[str, Any]:
        team = self.teams[side]
        periods = [
            {
                "type": PERIOD_TYPE,
                "label": period_label(period),
                "period": period,
                "aggregates": _aggregates(counts, rng),
            }
            # A set appears for a team once the team has a count in it, like an aggregate.
            for period, counts in self.periods[side].items()
        ]
        rng.shuffle(periods)
        return {
            "team": {"id": team.id, "name": team.name, "homeTeam": team.home},
            "gameActionAggregates": _aggregates(self.totals[side], rng),
            "periodActionAggregates": periods,
            "playerActionAggregates": [],
        }


def _aggregates(counts: Mapping[int, int], rng: random.Random) -> list[dict[str, Any]]:
    aggregates = [
        {
            "action": ACTION_NAMES[action],
            "actionId": action,
            "actionAggregate": count,
            "subActionAggregates": [],
        }
        for action, count in counts.items()
        if count > 0
    ]
    rng.shuffle(aggregates)
    return aggregates
