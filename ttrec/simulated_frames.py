"""Statistics frames for simulated matches, in exactly the provider's shape.

`AggregateBook` keeps the running counts per team, per action and per set; `render`
turns them into the compact JSON text of one data frame. The shape follows the
provider's sample frame (../shared/reference/statistics-frame-final.json in the project):
the same keys, home team first, an aggregate present only once its count is above zero,
and periods and aggregates in a shuffled order (the provider sends them in no
particular order, and a consumer under test must not come to rely on one).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Final

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
    # unpublished: behind `ttrec simulate --advanced-statistics`, an empty array (the field
    # table types it `advancedSportStatistics []`, as it does `teamActionAggregates []`).
    advanced: bool = False


class AggregateBook:
    """Running action counts of one match: per side, per set and over the match."""

    def __init__(self, home: Team, away: Team) -> None:
        self.teams: Mapping[Side, Team] = {"home": home, "away": away}
        self.totals: dict[Side, dict[int, int]] = {"home": {}, "away": {}}
        self.periods: dict[Side, dict[int, dict[int, int]]] = {"home": {}, "away": {}}
        self._team_texts: Mapping[Side, str] = {"home": _team_text(home), "away": _team_text(away)}
        self._aggregate_texts: dict[tuple[int, int], str] = {}  # (action, count) -> its text
        self._label_texts: dict[int, str] = {}  # period -> its label as a JSON string

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
        aggregates, so the same seed always gives the same text.

        The text is what json.dumps(frame, separators=(",", ":"), ensure_ascii=False) writes
        for the frame as a dict (tests/test_simulated_frames.py keeps that way as the
        oracle), put together from pieces: an aggregate's text depends only on its action
        and count, so each is written once per match, not again in every later frame (the
        frames were half of a simulation's time). The shuffles draw exactly as before:
        `random.shuffle` draws by the length of the list alone."""
        teams = ",".join([self._team(side, rng) for side in SIDES])
        advanced = ',"advancedSportStatistics":[]' if meta.advanced else ""
        return (
            f'{{"seqNum":{int(meta.seq_num)},"traceId":{encode_basestring(meta.trace_id)},'
            f'"version":{FRAME_VERSION},"finished":{_BOOL[meta.finished]},'
            f'"fixtureId":{encode_basestring(meta.fixture_id)},"timestamp":{encode_basestring(meta.timestamp)},'
            f'"teamActionAggregates":[{teams}]{advanced}}}'
        )

    def _team(self, side: Side, rng: random.Random) -> str:
        periods = [
            f'{{"type":"{PERIOD_TYPE}","label":{self._label(period)},"period":{int(period)},'
            f'"aggregates":[{self._aggregates(counts, rng)}]}}'
            # A set appears for a team once the team has a count in it, like an aggregate.
            for period, counts in self.periods[side].items()
        ]
        rng.shuffle(periods)
        totals = self._aggregates(self.totals[side], rng)
        return (
            f'{{"team":{self._team_texts[side]},"gameActionAggregates":[{totals}],'
            f'"periodActionAggregates":[{",".join(periods)}],"playerActionAggregates":[]}}'
        )

    def _aggregates(self, counts: Mapping[int, int], rng: random.Random) -> str:
        aggregates = [self._aggregate(action, count) for action, count in counts.items() if count > 0]
        rng.shuffle(aggregates)
        return ",".join(aggregates)

    def _aggregate(self, action: int, count: int) -> str:
        text = self._aggregate_texts.get((action, count))
        if text is None:
            text = (
                f'{{"action":{encode_basestring(ACTION_NAMES[action])},"actionId":{int(action)},'
                f'"actionAggregate":{int(count)},"subActionAggregates":[]}}'
            )
            self._aggregate_texts[(action, count)] = text
        return text

    def _label(self, period: int) -> str:
        text = self._label_texts.get(period)
        if text is None:
            text = self._label_texts[period] = encode_basestring(period_label(period))
        return text


_BOOL: Final = {True: "true", False: "false"}


def _team_text(team: Team) -> str:
    """The "team" object of a team's aggregates, as json.dumps writes it."""
    return (
        f'{{"id":{encode_basestring(team.id)},"name":{encode_basestring(team.name)},'
        f'"homeTeam":{_BOOL[team.home]}}}'
    )
