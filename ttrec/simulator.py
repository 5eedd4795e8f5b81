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
from ttrec.actions import (
    COUNTED,
    INJURY,
    LINEUPS,
    PLAY_RESUMED,
    PLAY_STOPPED,
    START_FIXTURE,
    START_PERIOD,
    STATUS_UPDATED,
    TIMEOUT,
    VIDEO_CHECK_RESULT,
    VIDEO_CHECK_UNDERWAY,
    CollectionStatus,
    SendType,
)
from ttrec.capture import CaptureWriter
from ttrec.feed import (
    DEFAULT_BASE_URL,
    FEEDS,
    HEARTBEAT_INTERVAL_S,
    Feed,
    feed_url,
    heartbeat_at,
    rfc3339,
    rfc3339_seconds,
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
from ttrec.simulated_draws import below
from ttrec.simulated_frames import SIDES, AggregateBook, FrameMeta
from ttrec.simulated_incidents import (
    INJURY_BREAK,
    INJURY_PPM,
    PERIOD_CALL,
    STOPPAGE,
    STOPPAGE_PPM,
    SUSPENSION,
    TROUBLE_AFTER_POINTS,
    VIDEO_CHECK,
    VIDEO_CHECK_PPM,
    Incidents,
    Scenario,
    chance,
    incident_rng,
)
from ttrec.simulated_packets import PacketBook, PacketMeta
from ttrec.simulated_points import MatchStrength, PointModel, draw_strength
from ttrec.simulated_teams import draw_teams, random_uuid
from ttrec.simulated_time import ANNOUNCE, S

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
    """One action that produced a statistics frame: the frame's `seqNum` is its
    `fixtureSeqNum` (SPEC §6)."""

    seq_num: int
    action_id: int
    side: Side | None  # None only for a dropped collection's last frame
    period: int
    t: int  # ns since the capture started
    send_type: SendType = "Confirmed"


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
    winner: Side | None  # None when the collection was dropped
    scenario: Scenario
    events: tuple[Event, ...]  # the whole timeline; fixtureSeqNum = index + 1
    actions: tuple[Action, ...]  # the counted ones, one per statistics frame
    header: Header
    records: tuple[Record, ...]
    actions_header: Header
    actions_records: tuple[Record, ...]

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
class Event:
    """One action of the match's timeline; its `fixtureSeqNum` is its index + 1."""

    type_id: int
    side: Side | None
    period: int
    t: int
    send_type: SendType = "Confirmed"
    corrects: int | None = None  # index of the event this re-send corrects
    status: CollectionStatus | None = None  # the collection status a Status Updated sets

    @property
    def counted(self) -> bool:
        """It changes an aggregate: a statistics frame follows it (SPEC §6)."""
        return self.type_id in COUNTED


@dataclass(frozen=True, slots=True)
class Play:
    """A match as played: every point, the set scores and the feed's actions, timed."""

    first_server: Side
    strength: MatchStrength
    events: list[Event]
    points: list[PlayedPoint]
    sets: list[tuple[int, int]]
    winner: Side | None  # None when the collection was dropped
    scenario: Scenario


class _Timeouts:
    """Each side's one time-out of the match (ITTF), kept or not (simulated_time)."""

    def __init__(self, rng: random.Random) -> None:
        self.kept: dict[Side, bool] = {
            side: below(rng, 1000) < timing.TIMEOUT_USED_PERMILLE for side in SIDES
        }

    def pause_after(
        self, rng: random.Random, score: tuple[int, int], sets_won: dict[Side, int]
    ) -> tuple[Side, int] | None:
        """The side that calls a time-out after a point with this score, and its length."""
        home, away = score
        deficits: tuple[tuple[Side, int], ...] = (("home", away - home), ("away", home - away))
        for side, behind in deficits:
            ahead_in_games = sets_won[side] > sets_won[other(side)]
            if self.kept[side] and behind >= timing.TIMEOUT_DEFICIT_POINTS and not ahead_in_games:
                self.kept[side] = False
                return side, timing.TIMEOUT.draw(rng)
        return None


class _Timeline:
    """The events so far and the incident generator: what `play` appends to."""

    def __init__(self, rng: random.Random, incidents: Incidents) -> None:
        self.rng = rng
        self.incidents = incidents
        self.events: list[Event] = []

    def add(self, type_id: int, side: Side | None, period: int, t: int, **extra: Any) -> int:
        self.events.append(Event(type_id, side, period, t, **extra))
        return len(self.events) - 1

    def video_check(self, period: int, t: int) -> int:
        """A video check underway and its result; the time after it."""
        self.add(VIDEO_CHECK_UNDERWAY, None, period, t)
        t += VIDEO_CHECK.draw(self.rng)
        self.add(VIDEO_CHECK_RESULT, None, period, t)
        return t

    def status(self, status: CollectionStatus, period: int, t: int) -> None:
        self.add(STATUS_UPDATED, None, period, t, status=status)

    def correct(self, awarded: Side, period: int, t: int, *, to: Side | None) -> int:
        """A Point Scored given to `awarded`, then after a video check given to `to`
        (Updated) or taken back (Cancelled, when `to` is None); the time after it."""
        wrong = self.add(POINT_SCORED, awarded, period, t)
        t = self.video_check(period, t + ANNOUNCE.draw(self.rng))
        t += ANNOUNCE.draw(self.rng)
        send: SendType = "Cancelled" if to is None else "Updated"
        self.add(POINT_SCORED, to if to is not None else awarded, period, t, send_type=send, corrects=wrong)
        return t

    def after_point(self, period: int, t: int) -> int:
        """Video checks whose call stands, stoppages and the rare injury after a point."""
        if chance(self.rng, VIDEO_CHECK_PPM):
            t = self.video_check(period, t + ANNOUNCE.draw(self.rng))
        if chance(self.rng, STOPPAGE_PPM):
            self.add(PLAY_STOPPED, None, period, t + ANNOUNCE.draw(self.rng))
            t += STOPPAGE.draw(self.rng)
            self.add(PLAY_RESUMED, None, period, t)
        return t


def play(
    rng: random.Random, best_of: int, model: PointModel, incidents: Incidents | None = None, seed: int = 0
) -> Play:
    """Play a match point by point: the simulator's ground truth, before any frame exists.
    Points and their times come from `rng`; everything else from the incident generator of
    `seed`, which only moves the clock (and ends a dropped match early)."""
    match = _Match(rng, best_of, model, incidents if incidents is not None else Incidents(), seed)
    match.before_first_serve()
    while True:
        ended = match.play_game()
        if ended is not None:
            return ended
        match.next_game()


class _Match:
    """`play` while it runs. Each method is one step of the match, called in the order of
    the original single loop: the random draws happen in that order, so a seed gives the
    same match as before (the bundled samples are regenerated byte for byte by the tests)."""

    def __init__(
        self, rng: random.Random, best_of: int, model: PointModel, incidents: Incidents, seed: int
    ) -> None:
        self.rng = rng
        self.incidents = incidents
        self.sets_to_win = best_of // 2 + 1
        self.strength = draw_strength(rng, model)
        self.first_server: Side = rng.choice(SIDES)
        self.timeouts = _Timeouts(rng)
        self.line = _Timeline(incident_rng(seed), incidents)
        self.inc = self.line.rng
        self.injury_at = self.inc.randrange(1, 60) if chance(self.inc, INJURY_PPM) else None
        self.trouble_at = self.inc.randrange(*TROUBLE_AFTER_POINTS)
        self.points: list[PlayedPoint] = []
        self.sets: list[tuple[int, int]] = []
        self.sets_won: dict[Side, int] = {"home": 0, "away": 0}
        self.period, self.game_server = 1, self.first_server
        self.t = timing.PRE_MATCH.draw(rng)

    def result(self, winner: Side | None, scenario: Scenario) -> Play:
        return Play(
            self.first_server, self.strength, self.line.events, self.points, self.sets, winner, scenario
        )

    def before_first_serve(self) -> None:
        """Both lineups, collection live, the fixture started (assumed order and spacing),
        then the serve assigned."""
        pre: tuple[tuple[int, Side | None], ...] = (
            (LINEUPS, "home"),
            (LINEUPS, "away"),
            (STATUS_UPDATED, None),
            (START_FIXTURE, None),
        )
        for index, (type_id, side) in enumerate(pre, start=1):
            status: CollectionStatus | None = "CollectingLive" if type_id == STATUS_UPDATED else None
            # period 0: before the match, as in the provider's Lineups example
            self.line.add(type_id, side, 0, self.t * index // (len(pre) + 1), status=status)
        self.line.add(SWAP_SERVE, self.first_server, self.period, self.t)
        self.t += timing.FIRST_SERVE.draw(self.rng)

    def play_game(self) -> Play | None:
        """One game (a "set" of the feed) to its end; the Play when the match ends with it."""
        self.line.add(START_PERIOD, None, self.period, self.t)
        self.t += PERIOD_CALL.draw(self.inc)
        score: dict[Side, int] = {"home": 0, "away": 0}
        while True:
            played = score["home"] + score["away"]
            server = server_after(self.game_server, played)
            before = (score["home"], score["away"])
            lets = self.lets(server) + self.cancelled_point(server, before)
            winner = self.rally(server, score, before)
            now = (score["home"], score["away"])
            self.points.append(PlayedPoint(self.period, server, winner, lets, now))
            if set_winner(now) is not None:
                break
            if self.trouble(played):
                self.sets.append(now)
                return self.result(None, "dropped")
            self.between_points(server, played, now)
        self.sets.append(now)
        self.sets_won[winner] += 1
        if self.sets_won[winner] == self.sets_to_win:
            return self.result(winner, self.incidents.scenario)
        return None

    def lets(self, server: Side) -> int:
        lets = 0
        while below(self.rng, 1000) < LET_PERMILLE:
            self.line.add(POINT_STARTED, server, self.period, self.t)
            lets += 1
            self.t += timing.LET.draw(self.rng)
        return lets

    def cancelled_point(self, server: Side, before: tuple[int, int]) -> int:
        """A point awarded for a rally that is then replayed: cancelled, like a let (1 if so)."""
        inc, incidents = self.inc, self.incidents
        if incidents.correction_at is None and chance(inc, incidents.correction_ppm // 2):
            awarded: Side = inc.choice(SIDES)
            if set_winner(_plus(before, awarded)) is None:
                self.line.add(POINT_STARTED, server, self.period, self.t)
                self.t = self.line.correct(awarded, self.period, self.t + timing.RALLY.draw(inc), to=None)
                self.t += timing.REST.draw(inc)
                return 1
        return 0

    def rally(self, server: Side, score: dict[Side, int], before: tuple[int, int]) -> Side:
        """The point played and scored (`score` counts it), perhaps first given to the
        other side and corrected after a video check."""
        incidents = self.incidents
        self.line.add(POINT_STARTED, server, self.period, self.t)
        self.t += timing.RALLY.draw(self.rng)
        winner = self.strength.point_winner(self.rng, server)
        score[winner] += 1
        now = (score["home"], score["away"])
        match_over = set_winner(now) is not None and self.sets_won[winner] == self.sets_to_win - 1
        wrongly = set_winner(_plus(before, other(winner))) is None
        at_match_point = incidents.correction_at == "match-point" and match_over
        by_chance = incidents.correction_at is None and chance(self.inc, incidents.correction_ppm // 2)
        if wrongly and (at_match_point or by_chance):
            self.t = self.line.correct(other(winner), self.period, self.t, to=winner)
        else:
            self.line.add(POINT_SCORED, winner, self.period, self.t)
        return winner

    def trouble(self, played: int) -> bool:
        """The scenario's trouble in game 2: a suspension (False), or a dropped collection
        that ends the match (True)."""
        if not (
            self.period == 2 and played + 1 == self.trouble_at and self.incidents.scenario != "completed"
        ):
            return False
        self.t += ANNOUNCE.draw(self.inc)
        if self.incidents.scenario == "dropped":
            self.line.status("CollectionDropped", self.period, self.t)
            return True
        self.line.status("CollectionSuspended", self.period, self.t)
        self.t += SUSPENSION.draw(self.inc)
        self.line.status("CollectingLive", self.period, self.t)
        return False

    def between_points(self, server: Side, played: int, now: tuple[int, int]) -> None:
        """Announcements within the rest before the next serve, then the incidents that
        delay it, the rest, a towel break, a time-out."""
        announced = self.announce(server, played, now)
        after = self.line.after_point(self.period, announced)
        if len(self.points) == self.injury_at:
            inc = self.inc
            self.line.add(PLAY_STOPPED, None, self.period, after + ANNOUNCE.draw(inc))
            self.line.add(INJURY, inc.choice(SIDES), self.period, after + 2 * ANNOUNCE.longest)
            after += 2 * ANNOUNCE.longest + INJURY_BREAK.draw(inc)
            self.line.add(PLAY_RESUMED, None, self.period, after)
        self.t += after - announced
        self.t += timing.REST.draw(self.rng)
        if (played + 1) % timing.TOWEL_EVERY_POINTS == 0:
            self.t += timing.TOWEL.draw(self.rng)
        pause = self.timeouts.pause_after(self.rng, now, self.sets_won)
        if pause is not None:
            caller, length = pause
            self.line.add(TIMEOUT, caller, self.period, self.t)
            self.t += length

    def announce(self, server: Side, played: int, now: tuple[int, int]) -> int:
        """Game or match point, and a change of server; the time after them."""
        announced = self.t
        at_point = game_point_for(now)
        if at_point is not None:
            announced += timing.ANNOUNCE.draw(self.rng)
            decisive = self.sets_won[at_point] == self.sets_to_win - 1
            self.line.add(MATCH_POINT if decisive else GAME_POINT, at_point, self.period, announced)
        next_server = server_after(self.game_server, played + 1)
        if next_server != server:
            announced += timing.ANNOUNCE.draw(self.rng)
            self.line.add(SWAP_SERVE, next_server, self.period, announced)
        return announced

    def next_game(self) -> None:
        """The side that served first in this game receives first in the next."""
        self.game_server = other(self.game_server)
        self.t += timing.ANNOUNCE.draw(self.rng)
        self.line.add(SWAP_SERVE, self.game_server, self.period, self.t)
        self.t += timing.BETWEEN_GAMES.draw(self.rng)
        self.period += 1


def _plus(score: tuple[int, int], side: Side) -> tuple[int, int]:
    home, away = score
    return (home + 1, away) if side == "home" else (home, away + 1)


def simulate_match(
    seed: int,
    best_of: int = 5,
    doubles: bool = False,
    fixture_id: str | None = None,
    start: datetime = DEFAULT_START,
    base_url: str = DEFAULT_BASE_URL,
    model: PointModel | None = None,
    incidents: Incidents | None = None,
    contiguous_seq: bool = False,
    advanced_statistics: bool = False,
) -> SimulatedMatch:
    """Play one match; the same arguments always give the same result, record for record.
    `model` says how points are won (default `PointModel.default(doubles=...)`); `advanced_statistics`
    adds the documented `advancedSportStatistics` (empty) to every statistics frame; `contiguous_seq`
    numbers the statistics frames 1..N, not by their actions' fixtureSeqNums (not what the provider
    does: for tests of tools that count frames)."""
    _check_arguments(best_of, seed, start)
    rng = random.Random(seed)
    fixture, home, away = _draw_who(rng, fixture_id, doubles)
    model = model if model is not None else PointModel.default(doubles=doubles)
    incidents = incidents if incidents is not None else Incidents()
    played = play(rng, best_of, model, incidents, seed)
    extra = _header_extra(seed, best_of, doubles, model, (home, away), played.scenario, incidents)
    if advanced_statistics:
        extra["advanced_statistics"] = True
    header, actions_header = (_header(fixture, base_url, start, extra, feed) for feed in FEEDS)
    clock = _Clock(start)
    actions, frames = _statistics(
        rng, played.events, home, away, fixture, clock, contiguous_seq, advanced_statistics
    )
    packet_rng = random.Random(f"ttrec-actions-{seed}")
    packets = _packets(packet_rng, played.events, home, away, fixture, clock)
    return SimulatedMatch(
        seed=seed,
        best_of=best_of,
        doubles=doubles,
        fixture_id=fixture,
        start=start,
        home=home,
        away=away,
        **_as_played(played),
        actions=actions,
        header=header,
        records=_stream(rng, frames, clock, header.url),
        actions_header=actions_header,
        actions_records=_stream(packet_rng, packets, clock, actions_header.url),
    )


def _as_played(played: Play) -> dict[str, Any]:
    """SimulatedMatch's fields that come from the match as played."""
    return {
        "first_server": played.first_server,
        "points": tuple(played.points),
        "sets": tuple(played.sets),
        "winner": played.winner,
        "scenario": played.scenario,
        "events": tuple(played.events),
    }


def _draw_who(rng: random.Random, fixture_id: str | None, doubles: bool) -> tuple[str, Team, Team]:
    # Drawn even when a fixture id is given, so the match does not depend on that choice.
    drawn_fixture = random_uuid(rng)
    fixture = validate_fixture_id(fixture_id) if fixture_id is not None else drawn_fixture
    home, away = draw_teams(rng, doubles=doubles)
    return fixture, home, away


def _header_extra(
    seed: int,
    best_of: int,
    doubles: bool,
    model: PointModel,
    teams: tuple[Team, Team],
    scenario: Scenario,
    incidents: Incidents,
) -> dict[str, Any]:
    """What a simulated capture's header says of how it was made (`ttrec info` shows it)."""
    extra: dict[str, Any] = {
        "seed": seed,
        "best_of": best_of,
        "doubles": doubles,
        "point_model": _model_json(model),
        "teams": [_team_json(team) for team in teams],
        "scenario": scenario,
        "corrections_ppm": incidents.correction_ppm,
    }
    if incidents.correction_at is not None:
        extra["correction_at"] = incidents.correction_at
    return extra


def _check_arguments(best_of: int, seed: int, start: datetime) -> None:
    if best_of not in BEST_OF_CHOICES:
        raise ValueError(f"best_of must be one of {BEST_OF_CHOICES}, got {best_of}")
    if seed < 0:
        raise ValueError(f"seed must not be negative, got {seed}")
    if start.tzinfo is None:
        raise ValueError("start must be a timezone-aware datetime")


def _header(fixture: str, base_url: str, start: datetime, extra: dict[str, Any], feed: Feed) -> Header:
    """The header of the simulated capture of one feed (both share `extra`)."""
    url = feed_url(base_url, fixture, feed)
    return Header(
        fixture_id=fixture, url=url, source="simulated", created=rfc3339(start), feed=feed, extra=extra
    )


def _model_json(model: PointModel) -> dict[str, int | None]:
    return {
        "point_ppm": model.point_ppm,
        "strength_spread_ppm": model.strength_spread_ppm,
        "serve_advantage_ppm": model.serve_advantage_ppm,
    }


def _team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "homeTeam": team.home}


class _Clock:
    """The capture's times: `t` in ns since `start`."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.start_ns = (start - _EPOCH) // timedelta(microseconds=1) * 1000

    def wall(self, t: int) -> str:
        """rfc3339(start + t, to the microsecond), worked out from the epoch's microseconds
        (exact: `start` has no finer part), without a timezone conversion per record."""
        seconds, micros = divmod(self.start_ns // 1000 + t // 1000, 1_000_000)
        return f"{rfc3339_seconds(_EPOCH + timedelta(seconds=seconds))}.{micros:06d}Z"


def _statistics(
    rng: random.Random,
    events: list[Event],
    home: Team,
    away: Team,
    fixture: str,
    clock: _Clock,
    contiguous_seq: bool,
    advanced: bool,
) -> tuple[tuple[Action, ...], list[tuple[int, str]]]:
    """One statistics frame after each counted action (and a dropped collection's last
    status), numbered by the action's fixtureSeqNum."""
    book = AggregateBook(home, away)
    last = _last_frame_index(events)
    actions: list[Action] = []
    frames: list[tuple[int, str]] = []
    for index, event in enumerate(events):
        if event.counted:
            if event.corrects is not None:
                wrong = events[event.corrects]
                assert wrong.side is not None  # a corrected action is a team's point
                book.remove(wrong.side, wrong.period, wrong.type_id)
            if event.send_type != "Cancelled":
                assert event.side is not None  # every counted action is a team's
                book.add(event.side, event.period, event.type_id)
        elif index != last:
            continue
        seq_num = len(frames) + 1 if contiguous_seq else index + 1
        sent_ns = clock.start_ns + event.t - timing.LATENCY.draw(rng)
        meta = FrameMeta(
            seq_num=seq_num,
            trace_id=f"{rng.getrandbits(128):032x}",
            finished=index == last,
            fixture_id=fixture,
            timestamp=_rfc3339_ns(sent_ns - sent_ns % TIMESTAMP_RESOLUTION_NS),
            advanced=advanced,
        )
        frames.append((event.t, book.render(meta, rng)))
        actions.append(Action(seq_num, event.type_id, event.side, event.period, event.t, event.send_type))
    return tuple(actions), frames


def _last_frame_index(events: list[Event]) -> int:
    """The action after which the feed says `finished`: the last of the timeline, which is
    the deciding point or the dropped collection's status."""
    return len(events) - 1


def _packets(
    rng: random.Random, events: list[Event], home: Team, away: Team, fixture: str, clock: _Clock
) -> list[tuple[int, str]]:
    """One action packet per action of the timeline."""
    book = PacketBook(fixture, home, away)
    ids: list[str] = []
    packets: list[tuple[int, str]] = []
    for index, event in enumerate(events):
        ids.append(random_uuid(rng))
        related: tuple[str, ...] = ()
        if event.type_id == POINT_SCORED:
            if event.corrects is not None:
                wrong = events[event.corrects]
                assert wrong.side is not None
                book.score(wrong.side, wrong.period, -1)
                related = (ids[event.corrects],)
            if event.send_type != "Cancelled":
                assert event.side is not None
                book.score(event.side, event.period, +1)
        sent_ns = clock.start_ns + event.t - timing.LATENCY.draw(rng)
        meta = PacketMeta(
            seq_num=index + 1,
            action_id=ids[-1],
            trace_id=f"{rng.getrandbits(128):032x}",
            timestamp=_rfc3339_ms(sent_ns),
            related=related,
            finished=index == len(events) - 1,
        )
        text = book.render(
            meta,
            type_id=event.type_id,
            side=event.side,
            period=event.period,
            send_type=event.send_type,
            status=event.status,
        )
        packets.append((event.t, text))
    return packets


def _stream(rng: random.Random, data: list[tuple[int, str]], clock: _Clock, url: str) -> tuple[Record, ...]:
    """What a recorder writes for these data frames: heartbeats in the pauses, the close."""
    records: list[Record] = [Open(0, clock.wall(0), 0, url)]
    last_t = 0
    for t, text in data:
        beat = last_t + HEARTBEAT_NS
        while beat < t:
            wall = clock.wall(beat)
            records.append(Heartbeat(beat, wall, 0, heartbeat_at(wall)))
            beat += HEARTBEAT_NS
        records.append(Frame(t, clock.wall(t), 0, text))
        last_t = t
    close_t = last_t + timing.CLOSE_AFTER.draw(rng)
    records.append(Close(close_t, clock.wall(close_t), 0, 1000, "", "server"))
    return tuple(records)


def _rfc3339_ms(epoch_ns: int) -> str:
    """RFC 3339 UTC with milliseconds, as in the actions example's `timestamp`."""
    return _rfc3339_ns(epoch_ns)[:23] + "Z"


def _rfc3339_ns(epoch_ns: int) -> str:
    """RFC 3339 UTC with 9 fractional digits, as in the provider's `timestamp`."""
    seconds, nanos = divmod(epoch_ns, S)
    base = rfc3339_seconds(_EPOCH + timedelta(seconds=seconds))
    return f"{base}.{nanos:09d}Z"


# A simulated capture is written in one go, so the live writer's short zstd frames (which
# bound what a crash can lose) only cost size here; one frame per 10 minutes of play keeps
# the bundled samples small.
SIMULATED_FRAME_SPAN_NS: Final = 600 * S


def write_capture(match: SimulatedMatch, path: Path | str, feed: Feed = "statistics") -> Path:
    """Write one feed of the match as a new capture file (never overwriting one)."""
    header, records = (
        (match.header, match.records)
        if feed == "statistics"
        else (match.actions_header, match.actions_records)
    )
    with CaptureWriter(path, header, frame_span_ns=SIMULATED_FRAME_SPAN_NS) as writer:
        for record in records:
            writer.write(record)
    return Path(path)
