"""The fault grammar and the pure decisions behind it (no sockets): parsing, printing back,
one-line errors, which faults fire where, seeded draws, --start-at points."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ttrec.cli import cli
from ttrec.faults import (
    AfterFrames,
    AtMoment,
    CloseFault,
    CorruptFault,
    DelayFault,
    DropFault,
    DuplicateFault,
    Fault,
    FaultSpecError,
    FiringBudget,
    HeartbeatsOnlyFault,
    NoHeartbeatsFault,
    RejectFault,
    ReorderFault,
    StallFault,
    WithProbability,
    connection_rng,
    corrupt_text,
    faults_due,
    needs_moments,
    parse_fault,
    rejection,
)
from ttrec.moments import moments_of_texts
from ttrec.schedule import StartAt, StartAtError, build_timeline, parse_start_at
from ttrec.simulator import Incidents, simulate_match


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("stall:after=10,for=25", StallFault(AfterFrames(10), 25.0)),
        ("stall:after=1,for=250ms", StallFault(AfterFrames(1), 0.25)),
        ("no-heartbeats:after=0", NoHeartbeatsFault(AfterFrames(0), None)),
        ("no-heartbeats:p=0.5,for=5s", NoHeartbeatsFault(WithProbability(0.5), 5.0)),
        ("heartbeats-only:at=set-end#1,for=60", HeartbeatsOnlyFault(AtMoment("set-end", 1), 60.0)),
        ("heartbeats-only:after=3", HeartbeatsOnlyFault(AfterFrames(3), None)),
        ("duplicate:p=0.05", DuplicateFault(WithProbability(0.05))),
        ("reorder:at=game-point", ReorderFault(AtMoment("game-point"))),
        ("delay:after=5,by=3", DelayFault(AfterFrames(5), 3.0)),
        ("corrupt:at=final", CorruptFault(AtMoment("final"))),
        ("drop:at=match-point", DropFault(AtMoment("match-point"))),
        ("close:at=match-point#2,code=4001,reason=x", CloseFault(AtMoment("match-point", 2), 4001, "x")),
        ("drop:after=3,times=2", DropFault(AfterFrames(3, 2))),
        ("duplicate:at=game-point,times=always", DuplicateFault(AtMoment("game-point", None, None))),
        ("duplicate:p=0.5,times=3", DuplicateFault(WithProbability(0.5, 3))),
        ("reject:next=2", RejectFault(2, 503, 0)),
        ("reject:next=1,status=429,from=3", RejectFault(1, 429, 3)),
    ],
)
def test_specs_parse_and_print_back(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("stall:after=1", "for=SECONDS"),
        ("stall:after=1,for=soon", "seconds"),
        ("stall:after=1,for=0", "more than 0"),
        ("delay:after=1", "by=SECONDS"),
        ("drop:p=0", "more than 0"),
        ("drop:p=1.5", "at most 1"),
        ("drop:p=x", "probability"),
        ("drop:at=deuce", "unknown moment"),
        ("drop:at=game-point#0", "from 1"),
        ("drop:after=1,p=0.5", "one trigger"),
        ("duplicate:after=0", "at least 1"),
        ("reject:after=1", "next=N"),
        ("reject:status=503", "next=N"),
        ("reject:next=0", "at least 1"),
        ("reject:next=1,status=200", "400-599"),
        ("corrupt:after=1,by=2", "unknown key 'by'"),
        ("drop:after=1,times=0", "whole number from 1, or always"),
        ("drop:after=1,times=often", "whole number from 1, or always"),
        ("drop:times=2", "say when"),
        ("reject:next=1,times=2", "not times"),
    ],
)
def test_bad_specs_say_what_is_wrong_in_one_line(spec: str, problem: str) -> None:
    with pytest.raises(FaultSpecError, match=problem) as info:
        parse_fault(spec)
    assert "\n" not in str(info.value) and repr(spec) in str(info.value)


def _due(
    faults: list[Fault], frames: int, moments: dict[str, int] | None = None, draws: float = 1.0
) -> list[Fault]:
    return list(
        faults_due(
            faults, frames_sent=frames, after_frame=frames > 0, moments=moments or {}, draw=lambda: draws
        )  # type: ignore[arg-type]
    )


def test_after_fires_once_at_its_frame_and_after_zero_right_after_auth() -> None:
    stall, drop = parse_fault("stall:after=0,for=1"), parse_fault("drop:after=2")
    assert _due([stall, drop], 0) == [stall]
    assert _due([stall, drop], 1) == []
    assert _due([stall, drop], 2) == [drop]


def test_moment_triggers_fire_at_every_occurrence_or_only_the_nth() -> None:
    every, second = parse_fault("duplicate:at=game-point"), parse_fault("corrupt:at=game-point#2")
    assert _due([every, second], 5, {"game-point": 1}) == [every]
    assert _due([every, second], 9, {"game-point": 2, "set-end": 1}) == [every, second]
    assert _due([every, second], 10, {"set-end": 1}) == []


def test_the_budget_limits_firings_over_every_connection_and_p_draws_regardless() -> None:
    once, twice, always = (
        parse_fault("drop:after=1"),
        parse_fault("close:after=1,times=2"),
        parse_fault("corrupt:after=1,times=always"),
    )
    chance = parse_fault("duplicate:p=0.5,times=1")
    faults = [once, twice, always, chance]
    budget = FiringBudget(faults)
    draws: list[float] = []

    def draw() -> float:
        draws.append(0.1)
        return 0.1

    def due() -> list[object]:
        return list(faults_due(faults, frames_sent=1, after_frame=True, moments={}, draw=draw, budget=budget))

    # Each call is another connection reaching the same point. A drop or a close ends the
    # list there (docs/faults.md): what comes after it neither fires nor spends its times.
    assert [due() for _ in range(5)] == [[once], [twice], [twice], [always, chance], [always]]
    assert len(draws) == 2  # drawn where the list got that far, spent or not: later draws line up


def test_a_drop_or_close_ends_the_list_and_the_faults_after_it_keep_their_times() -> None:
    """docs/faults.md: "A `drop` or `close` ends the list"; `heartbeats-only` for good ends
    playback. A fault after one of those at the same point never happens, so it must not
    spend a firing: with `times=2` it still fires on the next two connections."""
    for ender in ("drop:after=5", "close:after=5,code=4002", "heartbeats-only:after=5"):
        first, later = parse_fault(ender), parse_fault("close:after=5,code=4001,times=2")
        budget = FiringBudget([first, later])

        def due(first: object = first, later: object = later, budget: FiringBudget = budget) -> list[object]:
            faults = [first, later]
            return list(
                faults_due(
                    faults, frames_sent=5, after_frame=True, moments={}, draw=lambda: 1.0, budget=budget
                )
            )

        assert [due() for _ in range(4)] == [[first], [later], [later], []], ender
    # A bounded heartbeats-only ends nothing: what follows it fires too.
    bounded, close = parse_fault("heartbeats-only:after=5,for=3"), parse_fault("close:after=5")
    assert faults_due([bounded, close], frames_sent=5, after_frame=True, moments={}, draw=lambda: 1.0) == [
        bounded,
        close,
    ]


def test_probability_draws_once_per_trigger_per_frame_whatever_fires() -> None:
    faults = [
        parse_fault("duplicate:p=0.5"),
        parse_fault("stall:after=1,for=1"),
        parse_fault("corrupt:p=0.5"),
    ]
    draws: list[float] = []

    def draw() -> float:
        draws.append(0.25)
        return 0.25

    fired = faults_due(faults, frames_sent=1, after_frame=True, moments={}, draw=draw)
    assert fired == faults and len(draws) == 2
    # Right after auth nothing is drawn: no frame has been sent.
    assert faults_due(faults, frames_sent=0, after_frame=False, moments={}, draw=draw) == []
    assert len(draws) == 2


def test_connection_generators_depend_on_seed_fixture_and_index_only() -> None:
    def seq(seed: int, index: int, fixture: str = "f") -> list[float]:
        rng = connection_rng(seed, fixture, "statistics", index)
        return [rng.random() for _ in range(5)]

    assert seq(7, 0) == seq(7, 0)
    assert len({tuple(seq(7, 0)), tuple(seq(8, 0)), tuple(seq(7, 1)), tuple(seq(7, 0, "g"))}) == 4


def test_reject_counts_attempts_from_its_first() -> None:
    faults = [parse_fault("reject:next=2,status=503,from=1"), parse_fault("drop:after=1")]
    assert [rejection(faults, n) for n in range(4)] == [None, faults[0], faults[0], None]
    assert not needs_moments(faults) and needs_moments([parse_fault("stall:at=final,for=1")])


@given(st.text(min_size=0, max_size=200))
def test_corrupt_frames_are_never_json(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(corrupt_text(text or None))


def test_corrupt_frame_is_the_first_half_of_the_last_frame() -> None:
    frame = json.dumps({"seqNum": 3, "fixtureId": "x"})
    assert corrupt_text(frame) == frame[: len(frame) // 2]


# --- --start-at -----------------------------------------------------------------------------

MATCH = simulate_match(seed=5, best_of=5)  # 4 games, 5 game points, 203 frames: every start-at kind
TIMELINE = build_timeline(MATCH.records)
MOMENTS = list(moments_of_texts(MATCH.frames))


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("seq=120", StartAt("seq", 120)),
        ("set=3", StartAt("set", 3)),
        ("game-point", StartAt("moment", 1, "game-point")),
        ("match-point#2", StartAt("moment", 2, "match-point")),
        (" set-end#1 ", StartAt("moment", 1, "set-end")),
    ],
)
def test_start_at_parses_and_prints_back(text: str, start: StartAt) -> None:
    assert parse_start_at(text) == start
    assert parse_start_at(str(start)) == start


@pytest.mark.parametrize(
    ("text", "problem"),
    [("set=0", "from 1"), ("seq=x", "whole"), ("deuce", "unknown"), ("pos=3", "expected")],
)
def test_bad_start_at_says_why(text: str, problem: str) -> None:
    with pytest.raises(StartAtError, match=problem):
        parse_start_at(text)


def test_start_at_points_in_a_simulated_match() -> None:
    seqs = [json.loads(f)["seqNum"] for f in MATCH.frames]
    set_ends = [i for i, m in enumerate(MOMENTS) if "set-end" in m]
    game_points = [i for i, m in enumerate(MOMENTS) if "game-point" in m]
    assert TIMELINE.start_index(parse_start_at("seq=1")) == 0
    assert seqs[TIMELINE.start_index(parse_start_at(f"seq={seqs[119]}"))] == seqs[119]
    assert TIMELINE.start_index(parse_start_at("set=1")) == 0
    assert TIMELINE.start_index(parse_start_at("set=3")) == set_ends[1] + 1
    assert TIMELINE.start_index(parse_start_at("game-point#2")) == game_points[1]
    assert TIMELINE.start_index(parse_start_at("final")) == len(MATCH.frames) - 1
    with pytest.raises(StartAtError, match="set"):
        TIMELINE.start_index(parse_start_at(f"set={len(set_ends) + 1}"))
    with pytest.raises(StartAtError, match="seqNum"):
        TIMELINE.start_index(parse_start_at(f"seq={seqs[-1] + 1}"))


@pytest.mark.parametrize(
    ("seed", "best_of", "scenario"), [(5, 5, None), (3, 7, None), (7, 5, "dropped"), (2, 5, "dropped")]
)
def test_a_set_past_the_last_names_how_many_sets_were_played(
    seed: int, best_of: int, scenario: str | None
) -> None:
    incidents = Incidents(scenario=scenario) if scenario else None
    match = simulate_match(seed=seed, best_of=best_of, incidents=incidents)
    begun = len([score for score in match.sets if score != (0, 0)])  # the simulator's own count
    timeline = build_timeline(match.records)
    with pytest.raises(StartAtError, match=rf"only {begun} set\(s\)"):
        timeline.start_index(parse_start_at(f"set={begun + 2}"))


# --- the serve command's flags ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "stall:after=1"], "say how long: for=SECONDS"),
        (["--fault", "drop:at=deuce"], "unknown moment 'deuce'"),
        (["--start-at", "set=0"], "from 1"),
        (["--start-at", "deuce"], "unknown moment"),
    ],
)
def test_serve_refuses_bad_faults_and_start_points_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_serve_help_shows_fault_examples() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    for example in (
        "drop:at=match-point",
        "duplicate:p=0.05 --seed 7",
        "reject:next=2,status=503",
        "--start-at",
    ):
        assert example in result.stdout
