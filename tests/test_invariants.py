"""`ttrec check` invariants, on frames built point by point."""

from __future__ import annotations

import json

from frame_factory import FIXTURE, match_progression, stats_frame

from ttrec.invariants import Checker
from ttrec.records import Frame, Header, Heartbeat

HEADER = Header(FIXTURE, "ws://h/x", "derived", "2026-11-24T07:00:00Z")
SETS = [(11, 7), (9, 11), (12, 10)]


def valid_frames() -> list[Frame]:
    states = match_progression(SETS)
    return [
        Frame(i * 1000, "w", 0, stats_frame(i + 1, state, finished=i == len(states) - 1))
        for i, state in enumerate(states)
    ]


def problems(records) -> list[str]:
    checker = Checker(HEADER)
    for line, record in enumerate(records, start=2):
        checker.add(line, record)
    return [str(p) for p in checker.finish()]


def test_a_whole_legal_match_has_no_problems():
    frames = valid_frames()
    assert len(frames) == sum(h + a for h, a in SETS)
    assert problems([*frames, Heartbeat(10**9, "w", 0, "hb")]) == []


def test_totals_must_equal_the_sum_over_periods():
    bad = Frame(0, "w", 0, stats_frame(1, [(3, 2)], total_bonus=1))
    assert problems([bad]) == ["line 2: home action 1102: match total 4 != sum over periods 3"]


def test_counts_never_decrease():
    frames = [Frame(0, "w", 0, stats_frame(1, [(3, 2)])), Frame(1, "w", 0, stats_frame(2, [(2, 3)]))]
    assert problems(frames) == [
        "line 3: home action 1102 total fell from 3 to 2",
        "line 3: home action 1102 in period 1 fell from 3 to 2",
    ]


def test_seqnum_strictly_increases_within_a_connection_only():
    same = [Frame(0, "w", 0, stats_frame(5, [(1, 0)])), Frame(1, "w", 0, stats_frame(5, [(1, 1)]))]
    assert problems(same) == ["line 3: seqNum 5 does not increase (previous 5)"]
    reconnected = [Frame(0, "w", 0, stats_frame(5, [(1, 0)])), Frame(1, "w", 1, stats_frame(5, [(1, 1)]))]
    assert problems(reconnected) == []


def test_set_scores_must_be_legal():
    assert problems([Frame(0, "w", 0, stats_frame(1, [(11, 10), (0, 1)]))]) == [
        "line 2: set 1: 11-10 is not a legal completed score"
    ]
    assert problems([Frame(0, "w", 0, stats_frame(1, [(13, 9)]))]) == [
        "line 2: set 1: 13-9 is not a legal in-play score"
    ]
    assert problems([Frame(0, "w", 0, stats_frame(1, [(11, 9), (10, 8)], finished=True))]) == [
        "line 2: set 2: 10-8 is not a legal completed score"
    ]


def test_finished_only_on_the_last_frame():
    frames = [
        Frame(0, "w", 0, stats_frame(1, [(11, 0)], finished=True)),
        Frame(1, "w", 0, stats_frame(2, [(11, 0)])),
    ]
    assert problems(frames) == ["line 3: data frame after the finished frame on line 2"]


def test_foreign_fixture_time_travel_and_garbage_frames():
    other = "e02e8cbb-7149-4f72-b69a-7896d06d390b"
    records = [
        Frame(5, "w", 1, stats_frame(1, [(1, 0)], fixture=other)),
        Heartbeat(4, "w", 0, "hb"),
        Frame(6, "w", 1, '{"seqNum": "x", "fixtureId": "y"}'),
    ]
    assert problems(records) == [
        f"line 2: fixtureId {other} is not the capture's {FIXTURE}",
        "line 3: time went backwards (4 < 5 ns)",
        "line 3: connection number went backwards (0 < 1)",
        "line 4: data frame is not a statistics frame: 'seqNum' must be int, got str",
    ]


def _edited(frame: Frame, **changes: object) -> Frame:
    obj = json.loads(frame.data)
    obj.update(changes)
    return Frame(frame.t, frame.wall, frame.conn, json.dumps(obj))


def test_a_mid_match_frame_without_teams_or_with_null_finished_is_a_problem():
    # Seen in the wild by issue 12: the lenient parser read [] as "no teams" and null as
    # "not finished", so `check` said ok.
    frames = valid_frames()
    frames[10] = _edited(frames[10], teamActionAggregates=[], finished=None)
    assert problems(frames) == [
        "line 12: 'finished' must be true or false, got null",
        "line 12: the home team's statistics are missing (present on an earlier frame)",
        "line 12: the away team's statistics are missing (present on an earlier frame)",
    ]
