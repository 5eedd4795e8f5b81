"""The match simulator: ITTF rules, one provider-shaped frame per action, realistic timing.

Each rule is re-derived here from the played points (the simulator's ground truth) and
compared with what the frames say, so a test never checks the simulator against itself.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from frame_factory import PROVIDER_SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.actions import COUNTED, TIMEOUT
from ttrec.feed import HEARTBEAT_INTERVAL_S, classify, default_heartbeat, rfc3339
from ttrec.match import (
    GAME_POINT,
    MATCH_POINT,
    POINT_SCORED,
    POINT_STARTED,
    SWAP_SERVE,
    StatsFrame,
    is_legal_set_score,
    parse_frame,
)
from ttrec.records import Close, Heartbeat, Open
from ttrec.simulated_incidents import Incidents
from ttrec.simulator import DEFAULT_START, Event, SimulatedMatch, simulate_match
from ttrec.testing.strategies import seeds

# Each rule below sees this many matches: more than the 25 each saw when every rule was its
# own property test drawing its own matches, and the 40 the time-out rule saw by seed.
MATCHES_PER_RULE = 40
PROPERTY = settings(max_examples=MATCHES_PER_RULE, deadline=None)
NO_CORRECTIONS = Incidents(correction_ppm=0)


def clean_matches() -> st.SearchStrategy[SimulatedMatch]:
    """Matches whose points are never corrected: every frame adds one count (corrections
    are tested in tests/test_simulated_feeds.py)."""
    return st.builds(
        simulate_match,
        seed=seeds(),
        best_of=st.sampled_from((3, 5, 7)),
        doubles=st.booleans(),
        incidents=st.just(NO_CORRECTIONS),
    )


S = 1_000_000_000
SIDES = ("home", "away")
Key = tuple[str, int, int]  # (side, period, actionId)


def other(side: str) -> str:
    return "away" if side == "home" else "home"


def counts(frame: StatsFrame) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for side, team in (("home", frame.home), ("away", frame.away)):
        assert team is not None
        for period, per_action in team.periods.items():
            for action, count in per_action.items():
                found[side, period, action] = count
    return found


def parsed(match: SimulatedMatch) -> tuple[StatsFrame, ...]:
    """The match's frames parsed, once for all the rules that read them (they were parsed
    three times a match, a third of the rules' time)."""
    return _parsed(match.frames)


@functools.lru_cache(maxsize=1)  # the rules of one match run one after the other
def _parsed(texts: tuple[str, ...]) -> tuple[StatsFrame, ...]:
    return tuple(parse_frame(text) for text in texts)


def frame_actions(match: SimulatedMatch) -> list[Key]:
    """What each frame added to the one before: exactly one count, by one."""
    actions: list[Key] = []
    before: Counter[Key] = Counter()
    for frame in parsed(match):
        now = counts(frame)
        grown = now - before
        assert sum(grown.values()) == 1 and not before - now, f"not one action: {grown}"
        actions.append(next(iter(grown)))
        before = now
    return actions


# --- rules re-derived from the played points ---------------------------------------------


def expected_servers(match: SimulatedMatch) -> list[str]:
    """ITTF: two serves each, one each from 10-10; first server alternates by game."""
    servers = []
    game_first = server = match.first_server
    for point in match.points:
        servers.append(server)
        home, away = point.score
        if point.score == match.sets[point.period - 1]:
            game_first = server = other(game_first)
        elif (home + away) % 2 == 0 or min(home, away) >= 10:
            server = other(server)
    return servers


def expected_announcements(match: SimulatedMatch) -> list[Key]:
    """Game Point / Match Point after each point that leaves a side one point from the game."""
    to_win = match.best_of // 2 + 1
    won = {"home": 0, "away": 0}
    found: list[Key] = []
    for point in match.points:
        home, away = point.score
        if point.score == match.sets[point.period - 1]:
            won["home" if home > away else "away"] += 1
            continue
        if max(home, away) >= 10 and home != away:
            side = "home" if home > away else "away"
            action = MATCH_POINT if won[side] == to_win - 1 else GAME_POINT
            found.append((side, point.period, action))
    return found


def expected_swaps(first_server: str, sets: list[tuple[int, int]]) -> Counter[Key]:
    """Swap Serve per side and set, from set scores alone: one for the side taking over
    the serve at each change in a game, one for the first server before the match, and
    one after each game but the last for the side serving first in the next game."""
    swaps: Counter[Key] = Counter({(first_server, 1, SWAP_SERVE): 1})
    game_first = first_server
    for period, (home, away) in enumerate(sets, start=1):
        server = game_first
        for played in range(1, home + away):
            if played % 2 == 0 or played >= 20:
                server = other(server)
                swaps[server, period, SWAP_SERVE] += 1
        game_first = other(game_first)
        if period < len(sets):
            swaps[game_first, period, SWAP_SERVE] += 1
    return swaps


# --- determinism and options -------------------------------------------------------------


def test_same_seed_same_records() -> None:
    assert simulate_match(11, 5, True).records == simulate_match(11, 5, True).records


def test_different_seeds_play_different_matches() -> None:
    played = {simulate_match(seed).points for seed in range(5)}
    assert len(played) == 5


def test_a_given_fixture_id_changes_nothing_but_the_id() -> None:
    drawn = simulate_match(4)
    given_id = simulate_match(4, fixture_id="AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE")
    assert given_id.fixture_id == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    assert given_id.points == drawn.points and given_id.home == drawn.home
    assert all(json.loads(text)["fixtureId"] == given_id.fixture_id for text in given_id.frames)
    assert given_id.fixture_id in given_id.header.url


def test_start_moves_every_time_and_nothing_else() -> None:
    later = DEFAULT_START + timedelta(days=400, hours=3)
    moved, default = simulate_match(8, start=later), simulate_match(8)
    assert moved.header.created == rfc3339(later)
    assert [r.t for r in moved.records] == [r.t for r in default.records]
    for action, text in zip(moved.actions, moved.frames, strict=True):
        received = epoch_ns(later) + action.t
        # The provider stamps an action a little before it reaches the recorder.
        assert 0 < received - timestamp_ns(json.loads(text)["timestamp"]) < S // 5


def epoch_ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def timestamp_ns(text: str) -> int:
    whole, fraction = text.rstrip("Z").split(".")
    return epoch_ns(datetime.fromisoformat(whole).replace(tzinfo=UTC)) + int(fraction.ljust(9, "0"))


@pytest.mark.parametrize(
    "kwargs",
    [{"best_of": 4}, {"best_of": 1}, {"seed": -1}, {"start": datetime(2026, 1, 1)}],
)
def test_rejects_impossible_options(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"seed": 1} | kwargs
    with pytest.raises(ValueError):
        simulate_match(**arguments)


def test_header_records_how_the_match_was_made() -> None:
    match = simulate_match(5, best_of=7, doubles=True)
    header = match.header
    assert header.source == "simulated" and header.feed == "statistics"
    assert header.extra["seed"] == 5 and header.extra["best_of"] == 7 and header.extra["doubles"] is True
    assert header.extra["teams"] == [
        {"id": match.home.id, "name": match.home.name, "homeTeam": True},
        {"id": match.away.id, "name": match.away.name, "homeTeam": False},
    ]
    assert (
        header.url
        == f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{match.fixture_id}/statistics"
    )


# --- properties over many matches --------------------------------------------------------


def rule_scores_follow_ittf_rules(match: SimulatedMatch) -> None:
    to_win = match.best_of // 2 + 1
    assert to_win <= len(match.sets) <= match.best_of
    won = dict(zip(SIDES, match.sets_won, strict=True))
    assert won[match.winner] == to_win and won[other(match.winner)] < to_win
    assert all(is_legal_set_score(score, finished=True) for score in match.sets)
    previous, period = (0, 0), 1
    for point in match.points:
        if point.period != period:
            assert previous == match.sets[period - 1] and point.period == period + 1
            previous, period = (0, 0), point.period
        else:
            assert is_legal_set_score(previous, finished=False)
        step = (1, 0) if point.winner == "home" else (0, 1)
        assert point.score == (previous[0] + step[0], previous[1] + step[1])
        previous = point.score
    assert previous == match.sets[-1] and period == len(match.sets)


def rule_serve_alternates_by_ittf_rules(match: SimulatedMatch) -> None:
    assert [point.server for point in match.points] == expected_servers(match)


def rule_every_frame_adds_one_action_and_says_which(match: SimulatedMatch) -> None:
    found = frame_actions(match)
    assert found == [(a.side, a.period, a.action_id) for a in match.actions]
    # A frame's seqNum is its action's place in the whole timeline (SPEC §6): the gaps are
    # the uncounted actions, and the last frame is the timeline's last action.
    timeline = [i for i, event in enumerate(match.events, start=1) if event.type_id in COUNTED]
    frames = parsed(match)
    assert [f.seq_num for f in frames] == [a.seq_num for a in match.actions] == timeline
    assert frames[-1].seq_num == len(match.events)
    assert [f.finished for f in frames] == [False] * (len(frames) - 1) + [True]


def rule_actions_tell_the_points_that_were_played(match: SimulatedMatch) -> None:
    actions = [(a.side, a.period, a.action_id) for a in match.actions]
    scored = [(side, period) for side, period, action in actions if action == POINT_SCORED]
    assert scored == [(p.winner, p.period) for p in match.points]
    # Each point is preceded by its lets and its own start, all by the server.
    starts = iter(a for a in actions if a[2] == POINT_STARTED)
    for point in match.points:
        for _ in range(point.lets + 1):
            assert next(starts) == (point.server, point.period, POINT_STARTED)
    assert next(starts, None) is None
    announced = [a for a in actions if a[2] in (GAME_POINT, MATCH_POINT)]
    assert announced == expected_announcements(match)


def rule_final_frame_holds_the_result(match: SimulatedMatch) -> None:
    final = parsed(match)[-1]
    assert final.finished and final.winner == match.winner
    assert final.sets == list(match.sets)
    swaps = Counter({k: v for k, v in counts(final).items() if k[2] == SWAP_SERVE})
    assert swaps == expected_swaps(match.first_server, list(match.sets))
    for side, team in (("home", final.home), ("away", final.away)):
        assert team is not None
        served = sum(1 for p in match.points if p.server == side)
        lets = sum(p.lets for p in match.points if p.server == side)
        assert team.count(POINT_STARTED) == served + lets


def rule_match_totals_are_sums_over_sets_in_every_frame(match: SimulatedMatch) -> None:
    for frame in parsed(match):
        for team in frame.teams:
            for action, total in team.totals.items():
                assert total == sum(per.get(action, 0) for per in team.periods.values())
            assert set(team.totals) == set().union(*team.periods.values())


def provider_keys(obj: Any, path: str = "") -> set[str]:
    """Every key path in a frame, list positions folded, e.g. 'teamActionAggregates[].team.id'."""
    if isinstance(obj, dict):
        return {f"{path}.{k}" for k in obj} | {
            p for k, v in obj.items() for p in provider_keys(v, f"{path}.{k}")
        }
    if isinstance(obj, list):
        return {p for item in obj for p in provider_keys(item, f"{path}[]")}
    return set()


PROVIDER = json.loads(PROVIDER_SAMPLE.read_text())


def rule_frames_have_the_providers_shape(match: SimulatedMatch) -> None:
    final = json.loads(match.frames[-1])
    assert provider_keys(final) == provider_keys(PROVIDER)
    for text in match.frames:
        assert classify(text) == "frame"
        assert ", " not in text and ": " not in text  # compact, as a capture should be small
        frame = json.loads(text)
        assert list(frame) == list(PROVIDER)
        assert re.fullmatch(r"[0-9a-f]{32}", frame["traceId"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}00Z", frame["timestamp"])
        assert frame["version"] == 3 and frame["fixtureId"] == match.fixture_id
        assert [t["team"]["homeTeam"] for t in frame["teamActionAggregates"]] == [True, False]
        for team in frame["teamActionAggregates"]:
            assert list(team) == list(PROVIDER["teamActionAggregates"][0])
            assert team["playerActionAggregates"] == []
            aggregates = list(team["gameActionAggregates"])
            for period in team["periodActionAggregates"]:
                assert period["type"] == "Regular" and period["aggregates"]
                assert (
                    period["label"]
                    == ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th"][period["period"] - 1] + " Set"
                )
                aggregates += period["aggregates"]
            for aggregate in aggregates:
                assert aggregate["actionAggregate"] > 0 and aggregate["subActionAggregates"] == []
                assert (aggregate["actionId"], aggregate["action"]) in {
                    (1101, "Point Started"),
                    (1102, "Point Scored"),
                    (1103, "Swap Serve"),
                    (1105, "Game Point"),
                    (1108, "Match Point"),
                }


def test_periods_and_aggregates_come_in_no_fixed_order() -> None:
    match = simulate_match(2, best_of=7)
    frames = [json.loads(text)["teamActionAggregates"][0] for text in match.frames[-40:]]
    game_orders = {tuple(a["actionId"] for a in team["gameActionAggregates"]) for team in frames}
    period_orders = {tuple(p["period"] for p in team["periodActionAggregates"]) for team in frames}
    assert len(game_orders) > 5 and len(period_orders) > 5


def rule_records_timing_and_heartbeats(match: SimulatedMatch) -> None:
    records = match.records
    assert isinstance(records[0], Open) and records[0].t == 0 and records[0].url == match.header.url
    assert isinstance(records[-1], Close) and (records[-1].code, records[-1].by) == (1000, "server")
    assert all(r.conn == 0 for r in records)
    times = [r.t for r in records]
    assert times == sorted(times)
    for record in records:
        assert record.wall == rfc3339(match.start + timedelta(microseconds=record.t // 1000))
    # Heartbeats: 10 s after the last data frame (or the open), then every 10 s, until
    # the next record that is not a heartbeat.
    interval = HEARTBEAT_INTERVAL_S * S
    last_data, beats = 0, []
    for record in records[1:]:
        if isinstance(record, Heartbeat):
            assert record.data == default_heartbeat(match.start + timedelta(microseconds=record.t // 1000))
            beats.append(record.t)
            continue
        assert beats == list(range(last_data + interval, record.t, interval))
        last_data, beats = record.t, []
    # Realistic pace (docs/simulator.md): a rally takes 1.8-20 s, a game break about a
    # minute (ITTF allows one), and the rest between points 9-40 s, with towelling (up to
    # 12 s) after every 6th point and no more than one time-out (up to 60 s) per side.
    long_pauses = 0
    for start, end in zip(match.actions, match.actions[1:], strict=False):
        if start.action_id == POINT_STARTED and end.action_id == POINT_SCORED:
            assert 1.8 * S <= end.t - start.t <= 20 * S
        if end.period != start.period:
            assert 50 * S <= end.t - start.t <= 75 * S
    for scored, serve, between in rests(match):
        pause = serve.t - scored.t
        if between - {TIMEOUT, GAME_POINT, MATCH_POINT, SWAP_SERVE}:
            continue  # a stoppage, a video check or an injury: tested in test_simulated_feeds
        assert 9 * S <= pause <= (40 + 12 + 60) * S
        long_pauses += pause > (40 + 12) * S
        assert (pause > (40 + 12) * S) <= (TIMEOUT in between)
    assert long_pauses <= 2


def rests(match: SimulatedMatch) -> list[tuple[Event, Event, set[int]]]:
    """(Point Scored, the next serve, the action types between them) within each game."""
    found = []
    scored: Event | None = None
    between: set[int] = set()
    for event in match.events:
        if event.type_id == POINT_SCORED and event.send_type == "Confirmed":
            scored, between = event, set()
        elif event.type_id == POINT_STARTED and scored is not None:
            if scored.period == event.period:
                found.append((scored, event, between))
            scored = None
        else:
            between.add(event.type_id)
    return found


def rule_time_outs_come_when_a_side_trails_and_each_side_has_one(match: SimulatedMatch) -> int:
    """ITTF: one time-out of up to a minute per side and match. It follows a point that
    left the calling side 3 or more behind, and each side calls at most one. Returns how
    many were called."""
    scored_times = [e.t for e in match.events if e.type_id == POINT_SCORED]
    score_after = dict(zip(scored_times, (point.score for point in match.points), strict=True))
    callers = []
    for scored, serve, between in rests(match):
        if TIMEOUT in between:
            assert serve.t - scored.t >= 40 * S
            home, away = score_after[scored.t]
            assert abs(home - away) >= 3
            caller = next(e.side for e in match.events if e.type_id == TIMEOUT and scored.t <= e.t <= serve.t)
            assert caller == ("home" if home < away else "away")
            callers.append(caller)
    assert len(callers) == len(set(callers))
    return len(callers)


def rule_doubles_teams_have_two_players_and_singles_one(match: SimulatedMatch) -> None:
    player = r"[A-Z]+ [A-Z][a-z]+"
    shape = rf"TTREC_SIM - {player}/{player}" if match.doubles else rf"TTREC_SIM - {player}"
    for team in (match.home, match.away):
        assert re.fullmatch(shape, team.name), (match.doubles, team.name)
    assert match.home.id != match.away.id


def rule_no_corrections_when_the_rate_is_zero(match: SimulatedMatch) -> None:
    """Corrections themselves are tested in tests/test_simulated_feeds.py."""
    assert {event.send_type for event in match.events} == {"Confirmed"}


# Every rule above, on the same matches: simulating a match (about 50 ms, most of it
# rendering the frames) costs far more than checking a rule on it, so each match drawn is
# checked against all of them (MATCHES_PER_RULE matches in all).
RULES = (
    rule_scores_follow_ittf_rules,
    rule_serve_alternates_by_ittf_rules,
    rule_every_frame_adds_one_action_and_says_which,
    rule_actions_tell_the_points_that_were_played,
    rule_final_frame_holds_the_result,
    rule_match_totals_are_sums_over_sets_in_every_frame,
    rule_frames_have_the_providers_shape,
    rule_records_timing_and_heartbeats,
    rule_time_outs_come_when_a_side_trails_and_each_side_has_one,
    rule_doubles_teams_have_two_players_and_singles_one,
    rule_no_corrections_when_the_rate_is_zero,
)


@PROPERTY
@given(clean_matches())
def test_every_rule_holds_on_every_clean_match(match: SimulatedMatch) -> None:
    for rule in RULES:
        rule(match)


def test_time_outs_are_called() -> None:
    """The time-out rule is not vacuous: the first of the best-of-7 matches that has one
    (each side keeps its time-out for a bad moment in half the matches)."""
    taken = (
        rule_time_outs_come_when_a_side_trails_and_each_side_has_one(
            simulate_match(seed, best_of=7, incidents=NO_CORRECTIONS)
        )
        for seed in range(40)
    )
    assert any(taken)


def test_a_match_has_heartbeats_in_its_game_breaks() -> None:
    match = simulate_match(3)
    beats = [r for r in match.records if isinstance(r, Heartbeat)]
    assert len(beats) >= 4 * (len(match.sets) - 1)
    assert all(json.loads(b.data)["level"] == "INFO" for b in beats)


def test_swap_serve_rule_reproduces_the_providers_sample() -> None:
    """The provider's sample is the final frame of its own simulated match; its Swap Serve
    counts per side and set are exactly what our rule gives for its set scores, with the
    away side serving first (which its Point Started counts show: 9 of 16 starts in set 1)."""
    sample = parse_frame(PROVIDER)
    assert sample.sets == [(4, 11), (11, 9), (10, 12), (11, 9), (11, 7)]
    swaps = Counter({k: v for k, v in counts(sample).items() if k[2] == SWAP_SERVE})
    assert swaps == expected_swaps("away", sample.sets)
    # Point Started = points served, plus lets: never fewer starts than serves.
    for period, (home, away) in enumerate(sample.sets, start=1):
        first = "away" if period % 2 == 1 else "home"
        served = Counter(expected_serves(first, home + away))
        for side in SIDES:
            team = sample.home if side == "home" else sample.away
            assert team is not None
            assert 0 <= team.count(POINT_STARTED, period) - served[side] <= 1


def expected_serves(first: str, points: int) -> list[str]:
    servers, server = [], first
    for played in range(points):
        servers.append(server)
        if (played + 1) % 2 == 0 or played + 1 >= 20:
            server = other(server)
    return servers


def test_start_times_with_other_offsets_are_the_same_moment() -> None:
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    shifted = start.astimezone(timezone(timedelta(hours=-5)))
    assert simulate_match(9, start=start).records == simulate_match(9, start=shifted).records
