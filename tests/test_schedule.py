"""The pure playback schedule: due times, startPosition, and when heartbeats are made up."""

from __future__ import annotations

import itertools

import pytest
from engine_support import NS, SYNTHETIC, Performer, W, beat, engine_for, frame
from hypothesis import given
from hypothesis import strategies as st

from ttrec.records import Binary, Close, Open, Record, Sent
from ttrec.schedule import HeartbeatPolicy, Playback, Timeline, build_timeline

RECORDS: list[Record] = [
    Open(0, W, 0, "ws://x/v2/tabletennis/fixtures/f/statistics"),
    Sent(0, W, 0, '{"authToken":"<redacted>"}'),
    beat(0.5, 1),
    frame(1.0, 1),
    frame(3.0, 2),
    beat(13.0, 2),
    Binary(int(14.0 * NS), W, 0, b"\x00\x01"),
    frame(20.0, 3),
    Close(int(20.5 * NS), W, 0, 1006, "", "network"),
    Open(int(21 * NS), W, 1, "ws://x/v2/tabletennis/fixtures/f/statistics?startPosition=3", 3),
    frame(22.0, 4),
]


def test_timeline_keeps_server_messages_in_order_and_drops_bookkeeping() -> None:
    timeline = build_timeline(RECORDS)
    assert [m.payload for m in timeline.messages] == [
        RECORDS[2].data,  # type: ignore[union-attr]
        RECORDS[3].data,  # type: ignore[union-attr]
        RECORDS[4].data,  # type: ignore[union-attr]
        RECORDS[5].data,  # type: ignore[union-attr]
        b"\x00\x01",
        RECORDS[7].data,  # type: ignore[union-attr]
        RECORDS[10].data,  # type: ignore[union-attr]
    ]
    assert timeline.frames == 4
    assert [m.seq for m in timeline.messages if m.is_frame] == [1, 2, 3, 4]
    assert timeline.heartbeat_template == RECORDS[5].data  # type: ignore[union-attr]
    assert timeline.has_recorded_heartbeats


def dues(playback: Playback) -> list[float | None]:
    return [step.due_s for step in playback]


def test_due_times_are_absolute_from_the_first_message_and_scaled_by_speed() -> None:
    timeline = build_timeline(RECORDS)
    assert dues(timeline.playback(0, 1.0)) == pytest.approx([0.0, 0.5, 2.5, 12.5, 13.5, 19.5, 21.5])
    assert dues(timeline.playback(0, 10.0)) == pytest.approx([0.0, 0.05, 0.25, 1.25, 1.35, 1.95, 2.15])
    assert dues(timeline.playback(0, None)) == [None] * 7
    assert len(timeline.playback(0)) == 7
    assert timeline.playback(0).frames == 4


def test_start_position_skips_data_frames_and_the_heartbeats_before_them() -> None:
    timeline = build_timeline(RECORDS)
    playback = timeline.playback(2, 1.0)
    steps = list(playback)
    assert [s.message.seq for s in steps if s.message.is_frame] == [3, 4]
    assert steps[0].message.seq == 3 and steps[0].due_s == 0.0  # the first frame sent is the origin
    assert dues(playback) == pytest.approx([0.0, 2.0])
    assert playback.frames == 2
    past_the_end = timeline.playback(4, 1.0)
    assert list(past_the_end) == [] and past_the_end.frames == 0
    assert list(timeline.playback(99, 1.0)) == []


def test_bad_arguments_are_refused() -> None:
    timeline = build_timeline(RECORDS)
    with pytest.raises(ValueError, match="negative"):
        timeline.playback(-1)
    with pytest.raises(ValueError, match="positive"):
        timeline.playback(0, 0.0)
    with pytest.raises(ValueError, match="positive"):
        HeartbeatPolicy.for_timeline(timeline, 0)


def test_empty_capture_has_an_empty_playback() -> None:
    timeline = build_timeline([])
    assert list(timeline.playback(0)) == [] and not timeline.has_recorded_heartbeats


def test_synthetic_heartbeat_after_an_interval_of_quiet_without_recorded_ones() -> None:
    policy = HeartbeatPolicy.for_timeline(build_timeline([frame(0, 1)]), 10.0)
    assert policy.grace_s == 0.0
    assert policy.next_synthetic(100.0, 125.0) == 110.0
    assert policy.next_synthetic(100.0, 110.0) is None  # the frame itself ends the quiet
    assert policy.next_synthetic(100.0, 110.001) == 110.0
    assert policy.next_synthetic(100.0, None) == 110.0  # after the last frame: forever


def test_recorded_heartbeats_get_a_grace_for_their_jitter() -> None:
    policy = HeartbeatPolicy.for_timeline(build_timeline(RECORDS), 10.0)
    assert policy.grace_s == 5.0
    assert policy.next_synthetic(0.0, 10.02) is None
    assert policy.next_synthetic(0.0, 15.0) is None
    assert policy.next_synthetic(0.0, 15.01) == 10.0
    assert policy.next_synthetic(0.0, None) == 10.0


def simulate(
    timeline: Timeline, speed: float, interval_s: float, end_s: float
) -> list[tuple[float, str | bytes]]:
    """What the playback engine (replayer.engine) has an instantaneous sender send until end_s."""
    engine = engine_for(timeline, speed=speed, interval_s=interval_s)
    return [(s.at, s.payload) for s in Performer(engine, end_s).run() if s.payload is not None]


def test_simulated_line_never_stays_quiet_longer_than_the_interval() -> None:
    timeline = build_timeline([frame(0, 1), frame(35, 2)])
    sent = simulate(timeline, 1.0, 10.0, 60.0)
    assert [t for t, _ in sent] == [0, 10, 20, 30, 35, 45, 55]


@given(
    gaps=st.lists(st.floats(min_value=0.001, max_value=14.9), min_size=1, max_size=40),
    beat_every=st.integers(min_value=1, max_value=5),
)
def test_at_speed_1_recorded_heartbeats_within_grace_give_exactly_the_recorded_sequence(
    gaps: list[float], beat_every: int
) -> None:
    """SPEC §4: at speed 1, with recorded heartbeats, the client gets exactly the recorded
    text frames: no synthetic one is added while recorded gaps stay within interval + grace."""
    records: list[Record] = []
    t = 0.0
    for i, gap in enumerate(gaps):
        t += gap
        records.append(beat(t, i) if i % beat_every == 0 else frame(t, i))
    timeline = build_timeline(records)
    playback = timeline.playback(0, 1.0)
    last_due = list(playback)[-1].due_s
    assert last_due is not None
    sent = simulate(timeline, 1.0, 10.0, last_due)
    assert [payload for _, payload in sent] == [m.payload for m in timeline.messages]


@given(
    times=st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=30),
    speed=st.sampled_from([0.5, 1.0, 3.0]),
    interval=st.sampled_from([1.0, 10.0]),
    recorded=st.booleans(),
)
def test_gaps_are_bounded_and_recorded_messages_keep_their_times(
    times: list[float], speed: float, interval: float, recorded: bool
) -> None:
    records: list[Record] = [frame(t, i) for i, t in enumerate(sorted(times))]
    if recorded:
        records.insert(0, beat(0.0))
    timeline = build_timeline(records)
    policy = HeartbeatPolicy.for_timeline(timeline, interval)
    playback = timeline.playback(0, speed)
    end = (max(times) / speed) + 3 * interval
    sent = simulate(timeline, speed, interval, end)
    moments = [t for t, _ in sent]
    assert moments == sorted(moments)
    limit = interval + policy.grace_s + 1e-9
    assert all(b - a <= limit for a, b in itertools.pairwise(moments))
    real = [(t, p) for t, p in sent if p != SYNTHETIC]
    assert real == [(s.due_s, s.message.payload) for s in playback]
