"""A seeded table-tennis match simulator: ITTF scoring, the provider's actions, a capture.

`simulate_match` plays a match point by point with `random.Random(seed)` and returns a
`SimulatedMatch`: the ground truth (every point, the set scores, the winner) and the
records a recorder would have written while watching the statistics feed of that match.
Everything here is pure — no clock, no I/O — except `write_capture`, which hands the
records to `CaptureWriter`. The same seed and options always give the same records.

What the provider does not document, and what we assume (docs/simulator.md explains why):
  * Point Started is credited to the serving side; a let is a Point Started with no point.
  * Swap Serve is credited to the side that serves next: at every change of server in a
    game, once before the first point of the match, and once after the last point of
    each game but the last (for the side that serves first in the next game, counted in
    the set just finished). This reproduces every per-set count of the provider's sample.
  * Game Point / Match Point follow each point after which a side is one point from
    winning the game (Match Point when that game would win the match).
  * Heartbeats have the shape of other DDE feeds and come 10 s after the last data frame,
    then every 10 s, until the next one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from ttrec import simulated_time as timing
from ttrec.capture import CaptureWriter
from ttrec.feed import (
    DEFAULT_BASE_URL,
    HEARTBEAT_INTERVAL_S,
    default_heartbeat,
    feed_url,
    rfc3339,
    validate_fixture_id,
)
from ttrec.match import (
    GAME_POINT,
    MATCH_POINT,
    POINT_SCORED,
    POINT_STARTED,
    POINTS_TO_WIN_GAME,
    SWAP_SERVE,
    Side,
    Team,
    set_winner,
)
from ttrec.records import Close, Frame, Header, Heartbeat, Open, Record
from ttrec.simulated_frames import SIDES, AggregateBook, FrameMeta
from ttrec.simulated_points import MatchStrength, PointModel, draw_strength
from ttrec.simulated_teams import draw_teams, random_uuid
from ttrec.simulated_time import S

BEST_OF_CHOICES: Final = (3, 5, 7)
# The largest seed every command accepts and the test strategies draw (a 64-bit signed int).
MAX_SEED: Final = 2**63 - 1
# A fixed start keeps `created` and every `wall` reproducible; `start=` moves it.
DEFAULT_START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Play. Integer per-mille chances: only integer draws from the generator, so the output
# is identical on every platform and Python version.
LET_PERMILLE: Final = 25  # serves that touch the net and are replayed (assumption)
DEUCE_AT: Final = POINTS_TO_WIN_GAME - 1  # from 10-10 the serve changes after every point
HEARTBEAT_NS: Final = HEARTBEAT_INTERVAL_S * S
TIMESTAMP_RESOLUTION_NS: Final = 100  # the sample's timestamps end in "00": 100 ns ticks
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PlayedPoint:
    period: int
    server: Side
    winner: Side
    lets: int  # serves replayed before this point was played
    score: tuple[int, int]  # the set's score (home, away) after this point


@dataclass(frozen=True, slots=True)
class Action:
    """One action of the feed; it produced the data frame with `seq_num`."""

    seq_num: int
    action_id: int
    side: Side
    period: int
    t: int  # ns since the capture started


@dataclass(frozen=True, slots=True)
class SimulatedMatch:
    seed: int
    best_of: int
    doubles: bool
    fixture_id: str
    start: datetime
    home: Team
    away: Team
    first_server: Side
    points: tuple[PlayedPoint, ...]
    sets: tuple[tuple[int, int], ...]  # (home, away) points per set, in order
    winner: Side
    actions: tuple[Action, ...]
    header: Header
    records: tuple[Record, ...]

    @property
    def frames(self) -> tuple[str, ...]:
        """The data frames' texts, in order."""
        return tuple(r.data for r in self.records if isinstance(r, Frame))

    @property
    def sets_won(self) -> tuple[int, int]:
        winners = [set_winner(score) for score in self.sets]
        return winners.count("home"), winners.count("away")


def other(side: Side) -> Side:
    return "away" if side == "home" else "home"


def server_after(first_server: Side, played: int) -> Side:
    """Who serves once `played` points of a game are over: two serves each, and from
    10-10 (20 points played without a winner) one each."""
    deuce_points = 2 * DEUCE_AT
    turns = played // 2 if played < deuce_points else DEUCE_AT + played - deuce_points
    return first_server if turns % 2 == 0 else other(first_server)


def game_point_for(score: tuple[int, int]) -> Side | None:
    """The side one point from winning a game still in play with this score."""
    home, away = score
    if set_winner(score) is not None or max(home, away) < DEUCE_AT or home == away:
        return None
    return "home" if home > away else "away"


@dataclass(frozen=True, slots=True)
class _Event:
    action_id: int
    side: Side
    period: int
    t: int


@dataclass(frozen=True, slots=True)
class Play:
    """A match as played: every point, the set scores and the feed's actions, timed."""

    first_server: Side
    strength: MatchStrength
    events: list[_Event]
    points: list[PlayedPoint]
    sets: list[tuple[int, int]]
    winner: Side


class _Timeouts:
    """Each side's one time-out of the match (ITTF), kept or not (simulated_time)."""

    def __init__(self, rng: random.Random) -> None:
        self.kept: dict[Side, bool] = {
            side: rng.randrange(1000) < timing.TIMEOUT_USED_PERMILLE for side in SIDES
        }

    def pause_after(self, rng: random.Random, score: tuple[int, int], sets_won: dict[Side, int]) -> int:
        """The time-out taken after a point with this score, in ns (0 for none)."""
        home, away = score
        deficits: tuple[tuple[Side, int], ...] = (("home", away - home), ("away", home - away))
        for side, behind in deficits:
            ahead_in_games = sets_won[side] > sets_won[other(side)]
            if self.kept[side] and behind >= timing.TIMEOUT_DEFICIT_POINTS and not ahead_in_games:
                self.kept[side] = False
                return timing.TIMEOUT.draw(rng)
        return 0


def play(rng: random.Random, best_of: int, model: PointModel) -> Play:
    """Play a match point by point: the simulator's ground truth, before any frame exists."""
    sets_to_win = best_of // 2 + 1
    strength = draw_strength(rng, model)
    first_server: Side = rng.choice(SIDES)
    timeouts = _Timeouts(rng)
    events: list[_Event] = []
    points: list[PlayedPoint] = []
    sets: list[tuple[int, int]] = []
    sets_won: dict[Side, int] = {"home": 0, "away": 0}
    period, game_server = 1, first_server
    t = timing.PRE_MATCH.draw(rng)
    events.append(_Event(SWAP_SERVE, first_server, period, t))
    t += timing.FIRST_SERVE.draw(rng)
    while True:
        score: dict[Side, int] = {"home": 0, "away": 0}
        while True:
            played = score["home"] + score["away"]
            server = server_after(game_server, played)
            lets = 0
            while rng.randrange(1000) < LET_PERMILLE:
                events.append(_Event(POINT_STARTED, server, period, t))
                lets += 1
                t += timing.LET.draw(rng)
            events.append(_Event(POINT_STARTED, server, period, t))
            t += timing.RALLY.draw(rng)
            winner = strength.point_winner(rng, server)
            score[winner] += 1
            now = (score["home"], score["away"])
            events.append(_Event(POINT_SCORED, winner, period, t))
            points.append(PlayedPoint(period, server, winner, lets, now))
            if set_winner(now) is not None:
                break
            # Announcements come within the rest before the next serve.
            announced = t
            at_point = game_point_for(now)
            if at_point is not None:
                announced += timing.ANNOUNCE.draw(rng)
                decisive = sets_won[at_point] == sets_to_win - 1
                events.append(_Event(MATCH_POINT if decisive else GAME_POINT, at_point, period, announced))
            next_server = server_after(game_server, played + 1)
            if next_server != server:
                announced += timing.ANNOUNCE.draw(rng)
                events.append(_Event(SWAP_SERVE, next_server, period, announced))
            t += timing.REST.draw(rng)
            if (played + 1) % timing.TOWEL_EVERY_POINTS == 0:
                t += timing.TOWEL.draw(rng)
            t += timeouts.pause_after(rng, now, sets_won)
        sets.append(now)
        sets_won[winner] += 1
        if sets_won[winner] == sets_to_win:
            return Play(first_server, strength, events, points, sets, winner)
        # The side that served first in this game receives first in the next.
        game_server = other(game_server)
        t += timing.ANNOUNCE.draw(rng)
        events.append(_Event(SWAP_SERVE, game_server, period, t))
        t += timing.BETWEEN_GAMES.draw(rng)
        period += 1


def simulate_match(
    seed: int,
    best_of: int = 5,
    doubles: bool = False,
    fixture_id: str | None = None,
    start: datetime = DEFAULT_START,
    base_url: str = DEFAULT_BASE_URL,
    model: PointModel | None = None,
) -> SimulatedMatch:
    """Play one match; the same arguments always give the same result, record for record.
    `model` says how points are won; the default is `PointModel.default(doubles=...)`."""
    if best_of not in BEST_OF_CHOICES:
        raise ValueError(f"best_of must be one of {BEST_OF_CHOICES}, got {best_of}")
    if seed < 0:
        raise ValueError(f"seed must not be negative, got {seed}")
    if start.tzinfo is None:
        raise ValueError("start must be a timezone-aware datetime")
    rng = random.Random(seed)
    # Drawn even when a fixture id is given, so the match does not depend on that choice.
    drawn_fixture = random_uuid(rng)
    fixture = validate_fixture_id(fixture_id) if fixture_id is not None else drawn_fixture
    home, away = draw_teams(rng, doubles=doubles)
    model = model if model is not None else PointModel.default(doubles=doubles)
    played = play(rng, best_of, model)
    url = feed_url(base_url, fixture)
    header = Header(
        fixture_id=fixture,
        url=url,
        source="simulated",
        created=rfc3339(start),
        extra={
            "seed": seed,
            "best_of": best_of,
            "doubles": doubles,
            "point_model": _model_json(model),
            "teams": [_team_json(home), _team_json(away)],
        },
    )
    actions, records = _records(rng, played.events, home, away, fixture, start, url)
    return SimulatedMatch(
        seed=seed,
        best_of=best_of,
        doubles=doubles,
        fixture_id=fixture,
        start=start,
        home=home,
        away=away,
        first_server=played.first_server,
        points=tuple(played.points),
        sets=tuple(played.sets),
        winner=played.winner,
        actions=actions,
        header=header,
        records=records,
    )


def _model_json(model: PointModel) -> dict[str, int | None]:
    return {
        "point_ppm": model.point_ppm,
        "strength_spread_ppm": model.strength_spread_ppm,
        "serve_advantage_ppm": model.serve_advantage_ppm,
    }


def _team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "homeTeam": team.home}


def _records(
    rng: random.Random,
    events: list[_Event],
    home: Team,
    away: Team,
    fixture: str,
    start: datetime,
    url: str,
) -> tuple[tuple[Action, ...], tuple[Record, ...]]:
    def wall(t: int) -> str:
        return rfc3339(start + timedelta(microseconds=t // 1000))

    start_ns = (start - _EPOCH) // timedelta(microseconds=1) * 1000
    book = AggregateBook(home, away)
    actions: list[Action] = []
    records: list[Record] = [Open(0, wall(0), 0, url)]
    last_t = 0
    for seq_num, event in enumerate(events, start=1):
        beat = last_t + HEARTBEAT_NS
        while beat < event.t:
            moment = start + timedelta(microseconds=beat // 1000)
            records.append(Heartbeat(beat, wall(beat), 0, default_heartbeat(moment)))
            beat += HEARTBEAT_NS
        book.add(event.side, event.period, event.action_id)
        sent_ns = start_ns + event.t - timing.LATENCY.draw(rng)
        meta = FrameMeta(
            seq_num=seq_num,
            trace_id=f"{rng.getrandbits(128):032x}",
            finished=seq_num == len(events),
            fixture_id=fixture,
            timestamp=_rfc3339_ns(sent_ns - sent_ns % TIMESTAMP_RESOLUTION_NS),
        )
        records.append(Frame(event.t, wall(event.t), 0, book.render(meta, rng)))
        actions.append(Action(seq_num, event.action_id, event.side, event.period, event.t))
        last_t = event.t
    close_t = last_t + timing.CLOSE_AFTER.draw(rng)
    records.append(Close(close_t, wall(close_t), 0, 1000, "", "server"))
    return tuple(actions), tuple(records)


def _rfc3339_ns(epoch_ns: int) -> str:
    """RFC 3339 UTC with 9 fractional digits, as in the provider's `timestamp`."""
    seconds, nanos = divmod(epoch_ns, S)
    base = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


# A simulated capture is written in one go, so the live writer's short zstd frames (which
# bound what a crash can lose) only cost size here; one frame per 10 minutes of play keeps
# the bundled samples small.
SIMULATED_FRAME_SPAN_NS: Final = 600 * S


def write_capture(match: SimulatedMatch, path: Path | str) -> Path:
    """Write the match as a new capture file (never overwriting one)."""
    with CaptureWriter(path, match.header, frame_span_ns=SIMULATED_FRAME_SPAN_NS) as writer:
        for record in match.records:
            writer.write(record)
    return Path(path)
