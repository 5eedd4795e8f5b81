"""The playback engine (replayer.engine) without sockets: any capture, any faults, any speed.

What it proves: a data frame never leaves before its recorded time (scaled by the speed);
the line is never quiet for longer than the heartbeat interval (plus the recorded jitter's
grace) unless a stall or no-heartbeats fault fired; the same seed gives the same actions;
the faults that lose nothing lose nothing; a gate's hold shifts the rest of the schedule.
Expectations come from the capture's own times, never from the engine's output.
"""

from __future__ import annotations

import itertools
import math

from engine_support import NS, SYNTHETIC, Performer, Seen, beat, engine_for, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from replayer.engine import Close, Drop
from ttrec.faults import Fault, parse_fault
from ttrec.records import Record
from ttrec.schedule import HeartbeatPolicy, Timeline, build_timeline
from ttrec.testing.strategies import seeds

EPS = 1e-9


@st.composite
def captures(draw: st.DrawFn) -> Timeline:
    gaps = draw(st.lists(st.floats(min_value=0.0, max_value=40.0), min_size=1, max_size=25))
    beats = draw(st.booleans())
    records: list[Record] = []
    t = 0.0
    for i, gap in enumerate(gaps):
        t += gap
        records.append(beat(t, i) if beats and i % 3 == 1 else frame(t, i))
    return build_timeline(records)


KINDS = {
    "drop": "",
    "close": ",code=4000",
    "stall": ",for=7",
    "no-heartbeats": ",for=25",
    "heartbeats-only": ",for=12",
    "duplicate": "",
    "reorder": "",
    "delay": ",by=4",
    "corrupt": "",
}
QUIETING = ("stall", "no-heartbeats")  # the faults that may leave the line silent


# Built once: a strategy built (and validated) anew for each fault drawn cost as much as
# the rest of drawing a run.
_KIND_LISTS = st.lists(st.sampled_from(sorted(KINDS)), max_size=3)
_TRIGGERS = st.one_of(
    st.integers(min_value=1, max_value=20).map(lambda n: f"after={n}"),
    st.sampled_from(["p=0.3", "p=1,times=2"]),
)


@st.composite
def faults(draw: st.DrawFn) -> tuple[Fault, ...]:
    specs = []
    for kind in draw(_KIND_LISTS):
        specs.append(f"{kind}:{draw(_TRIGGERS)}{KINDS[kind]}")
    return tuple(parse_fault(spec) for spec in specs)


SPEEDS = st.sampled_from([None, 0.5, 1.0, 4.0])


def horizon(timeline: Timeline, speed: float | None) -> float:
    last = (timeline.messages[-1].t - timeline.messages[0].t) / NS if timeline.messages else 0.0
    return (last / (speed or 1.0)) + 200.0  # past every fault's shift


def run(timeline: Timeline, speed: float | None, fs: tuple[Fault, ...], seed: int) -> Performer:
    performer = Performer(engine_for(timeline, speed=speed, faults=fs, seed=seed), horizon(timeline, speed))
    performer.run()
    return performer


def recorded_due(timeline: Timeline, speed: float | None) -> dict[str | bytes, float]:
    """Each data frame's time from the first message, scaled: never sent earlier."""
    if not timeline.messages:
        return {}
    origin = timeline.messages[0].t
    return {m.payload: (m.t - origin) / NS / (speed or math.inf) for m in timeline.messages if m.is_frame}


def frames_never_leave_before_their_time(
    timeline: Timeline, speed: float | None, performer: Performer
) -> None:
    due = recorded_due(timeline, speed)
    for seen in performer.seen:
        if seen.payload in due:
            assert seen.at >= due[seen.payload] - EPS
        if seen.due is not None:
            assert seen.at >= seen.due - EPS


def line_never_quiet_longer_than_the_interval_unless_a_fault_says_so(
    timeline: Timeline, performer: Performer
) -> None:
    if any(str(f).split(":")[0] in QUIETING for f in performer.engine.faults):
        return
    limit = 10.0 + HeartbeatPolicy.for_timeline(timeline, 10.0).grace_s + EPS
    moments = [0.0] + [s.at for s in performer.seen]
    ended = performer.seen and performer.seen[-1].payload is None
    if not ended:
        moments.append(performer.horizon)
    assert moments == sorted(moments)
    assert all(b - a <= limit for a, b in itertools.pairwise(moments))


# The three properties of a run are checked on the same drawn runs: drawing a capture and
# its faults, and running the engine, cost far more than any check. Each property sees 300
# runs (the same-seed property 150 before, when each had its own test).
@settings(max_examples=300, deadline=None)
@given(timeline=captures(), speed=SPEEDS, fs=faults(), seed=seeds())
def test_frames_are_never_early_the_line_never_quiet_and_a_seed_repeats_its_actions(
    timeline: Timeline, speed: float | None, fs: tuple[Fault, ...], seed: int
) -> None:
    performer = run(timeline, speed, fs, seed)
    frames_never_leave_before_their_time(timeline, speed, performer)
    line_never_quiet_longer_than_the_interval_unless_a_fault_says_so(timeline, performer)
    assert run(timeline, speed, fs, seed).actions == performer.actions  # the same seed


@settings(max_examples=200, deadline=None)
@given(
    timeline=captures(),
    speed=SPEEDS,
    kinds=st.lists(st.sampled_from(["reorder", "delay", "duplicate", "corrupt"]), max_size=3),
    seed=seeds(),
)
def test_faults_that_lose_nothing_lose_nothing(
    timeline: Timeline, speed: float | None, kinds: list[str], seed: int
) -> None:
    fs = tuple(parse_fault(f"{kind}:p=0.5{KINDS[kind]}") for kind in kinds)
    performer = run(timeline, speed, fs, seed)
    frames = [m.payload for m in timeline.messages if m.is_frame]
    sent = [s.payload for s in performer.seen if s.payload in set(frames)]
    assert sorted(set(sent), key=frames.index) == frames  # every frame, none lost
    assert performer.engine.frames_sent == len(frames) and performer.engine.played_to_end
    if not kinds:
        assert sent == frames


def test_no_faults_at_speed_1_is_the_recorded_sequence_at_the_recorded_times() -> None:
    timeline = build_timeline([beat(0.0, 0), frame(1.0, 1), frame(25.0, 2)])
    seen = Performer(engine_for(timeline), 40.0).run()
    assert [(s.at, s.payload) for s in seen] == [
        (0.0, timeline.messages[0].payload),
        (1.0, timeline.messages[1].payload),
        # 24 s to the next frame: more than the interval (10) and the recorded heartbeats'
        # grace (5), so one made up after 10 s; from there 14 s are within both.
        (11.0, SYNTHETIC),
        (25.0, timeline.messages[2].payload),
        (35.0, SYNTHETIC),
    ]


def test_a_stall_moves_the_rest_of_the_schedule_and_is_silent() -> None:
    timeline = build_timeline([frame(0.0, 1), frame(1.0, 2), frame(2.0, 3)])
    engine = engine_for(timeline, faults=(parse_fault("stall:after=1,for=30"),))
    seen = Performer(engine, 33.0).run()
    assert [s.at for s in seen] == [0.0, 31.0, 32.0]


def test_drop_and_close_end_the_connection_where_they_fire() -> None:
    timeline = build_timeline([frame(t, t) for t in range(5)])
    for spec, action in (
        ("drop:after=2", Drop("fault")),
        ("close:after=2,code=4001", Close(4001, "", "fault")),
    ):
        performer = Performer(engine_for(timeline, faults=(parse_fault(spec),)), 100.0)
        seen = performer.run()
        assert seen[-1] == Seen(1.0, None) and len(seen) == 3, spec  # frames at 0 s and 1 s
        assert performer.actions[-1] == action
        assert performer.engine.frames_sent == 2 and not performer.engine.played_to_end


def test_a_gate_hold_shifts_the_schedule_and_keeps_the_line_alive() -> None:
    timeline = build_timeline([frame(0.0, 1), frame(1.0, 2)])
    seen = Performer(engine_for(timeline, gated=True), 60.0, hold_s=25.0).run()
    frames = [s.at for s in seen if s.payload != SYNTHETIC]
    assert frames == [25.0, 51.0]  # each held 25 s; the second 1 s after the first, as recorded
    beats = [s.at for s in seen if s.payload == SYNTHETIC]
    assert beats[:2] == [10.0, 20.0]  # heartbeats while held, from the start of the connection


def test_close_at_end_closes_normally_after_the_last_frame() -> None:
    timeline = build_timeline([frame(0.0, 1), frame(3.0, 2)])
    performer = Performer(engine_for(timeline, close_at_end=True), 100.0)
    assert performer.run()[-1] == Seen(3.0, None)
    assert performer.actions[-1] == Close(1000, "end of capture", "end-of-capture")
