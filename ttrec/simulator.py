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
from ttrec.simulated_teams import draw_teams, random_uuid

BEST_OF_CHOICES: Final = (3, 5, 7)
# A fixed start keeps `created` and every `wall` reproducible; `start=` moves it.
DEFAULT_START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Play. Integer per-mille chances: only integer draws from the generator, so the output
# is identical on every platform and Python version.
LET_PERMILLE: Final = 25  # serves that touch the net and are replayed
SERVE_EDGE_PERMILLE: Final = 40  # the server wins 4 points in 100 more than on the other's serve
STRENGTH_SPREAD_PERMILLE: Final = 100  # home wins a neutral rally 40%..60% of the time
DEUCE_AT: Final = POINTS_TO_WIN_GAME - 1  # from 10-10 the serve changes after every point
TOWEL_EVERY_POINTS: Final = 6  # ITTF allows towelling after every 6 points of a game

# Timing, in integer nanoseconds of the capture's clock; each is a (low, high) range.
S: Final = 1_000_000_000
MS: Final = 1_000_000
PRE_MATCH_NS: Final = (3 * S, 8 * S)  # connection open -> serve assigned
FIRST_SERVE_NS: Final = (5 * S, 12 * S)  # serve assigned -> first point started
RALLY_NS: Final = (2 * S, 11 * S)  # Point Started -> Point Scored
BETWEEN_POINTS_NS: Final = (4 * S, 13 * S)  # Point Scored -> next Point Started
LET_NS: Final = (1 * S, 4 * S)  # a let -> the serve is taken again
TOWEL_NS: Final = (4 * S, 12 * S)
ANNOUNCE_NS: Final = (300 * MS, 1500 * MS)  # Point Scored -> Game Point, Swap Serve...
BETWEEN_GAMES_NS: Final = (50 * S, 70 * S)  # ITTF: at most 1 minute between games
LATENCY_NS: Final = (20 * MS, 150 * MS)  # provider's event timestamp -> frame received
CLOSE_AFTER_NS: Final = (1 * S, 3 * S)  # last frame -> the server closes
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
class _Play:
    first_server: Side
    events: list[_Event]
    points: list[PlayedPoint]
    sets: list[tuple[int, int]]
    winner: Side


def _between(rng: random.Random, bounds: tuple[int, int]) -> int:
    return rng.randrange(bounds[0], bounds[1] + 1)


def _play(rng: random.Random, best_of: int) -> _Play:
    sets_to_win = best_of // 2 + 1
    home_permille = 500 + rng.randrange(-STRENGTH_SPREAD_PERMILLE, STRENGTH_SPREAD_PERMILLE + 1)
    first_server: Side = rng.choice(SIDES)
    events: list[_Event] = []
    points: list[PlayedPoint] = []
    sets: list[tuple[int, int]] = []
    sets_won: dict[Side, int] = {"home": 0, "away": 0}
    period, game_server = 1, first_server
    t = _between(rng, PRE_MATCH_NS)
    events.append(_Event(SWAP_SERVE, first_server, period, t))
    t += _between(rng, FIRST_SERVE_NS)
    while True:
        score: dict[Side, int] = {"home": 0, "away": 0}
        while True:
            played = score["home"] + score["away"]
            server = server_after(game_server, played)
            lets = 0
            while rng.randrange(1000) < LET_PERMILLE:
                events.append(_Event(POINT_STARTED, server, period, t))
                lets += 1
                t += _between(rng, LET_NS)
            events.append(_Event(POINT_STARTED, server, period, t))
            t += _between(rng, RALLY_NS)
            edge = SERVE_EDGE_PERMILLE if server == "home" else -SERVE_EDGE_PERMILLE
            winner: Side = "home" if rng.randrange(1000) < home_permille + edge else "away"
            score[winner] += 1
            now = (score["home"], score["away"])
            events.append(_Event(POINT_SCORED, winner, period, t))
            points.append(PlayedPoint(period, server, winner, lets, now))
            if set_winner(now) is not None:
                break
            at_point = game_point_for(now)
            if at_point is not None:
                t += _between(rng, ANNOUNCE_NS)
                decisive = sets_won[at_point] == sets_to_win - 1
                events.append(_Event(MATCH_POINT if decisive else GAME_POINT, at_point, period, t))
            next_server = server_after(game_server, played + 1)
            if next_server != server:
                t += _between(rng, ANNOUNCE_NS)
                events.append(_Event(SWAP_SERVE, next_server, period, t))
            t += _between(rng, BETWEEN_POINTS_NS)
            if (played + 1) % TOWEL_EVERY_POINTS == 0:
                t += _between(rng, TOWEL_NS)
        sets.append(now)
        sets_won[winner] += 1
        if sets_won[winner] == sets_to_win:
            return _Play(first_server, events, points, sets, winner)
        # The side that served first in this game receives first in the next.
        game_server = other(game_server)
        t += _between(rng, ANNOUNCE_NS)
        events.append(_Event(SWAP_SERVE, game_server, period, t))
        t += _between(rng, BETWEEN_GAMES_NS)
        period += 1


def simulate_match(
    seed: int,
    best_of: int = 5,
    doubles: bool = False,
    fixture_id: str | None = None,
    start: datetime = DEFAULT_START,
    base_url: str = DEFAULT_BASE_URL,
) -> SimulatedMatch:
    """Play one match; the same arguments always give the same result, record for record."""
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
    play = _play(rng, best_of)
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
            "teams": [_team_json(home), _team_json(away)],
        },
    )
    actions, records = _records(rng, play.events, home, away, fixture, start, url)
    return SimulatedMatch(
        seed=seed,
        best_of=best_of,
        doubles=doubles,
        fixture_id=fixture,
        start=start,
        home=home,
        away=away,
        first_server=play.first_server,
        points=tuple(play.points),
        sets=tuple(play.sets),
        winner=play.winner,
        actions=actions,
        header=header,
        records=records,
    )


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
        sent_ns = start_ns + event.t - _between(rng, LATENCY_NS)
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
    close_t = last_t + _between(rng, CLOSE_AFTER_NS)
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
