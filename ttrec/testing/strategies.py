"""Hypothesis strategies for property tests of statistics-feed consumers.

Every example comes from `ttrec.simulator`: a whole table-tennis match played under ITTF
rules and sent as the provider's feed would send it, so a consumer can be tested against
any number of plausible matches without a live fixture::

    from hypothesis import given, settings
    from ttrec.testing.strategies import matches, statistics_frames

    @settings(deadline=None)
    @given(statistics_frames())
    def test_scoreboard_reads_every_frame(text):
        board = my_scoreboard.parse(text)
        assert board.fixture_id

    @settings(deadline=None)
    @given(matches(best_of=5))
    def test_scoreboard_gets_the_result(match):
        for text in match.frames:
            board = my_scoreboard.feed(text)
        assert board.winner == match.winner
        assert board.sets == [list(s) for s in match.sets]

A `SimulatedMatch` carries the ground truth (`points`, `sets`, `winner`, `first_server`)
next to the data frames, the per-frame `actions` and the capture `records`. Examples
shrink towards small seeds, best of 3 and singles. Each match takes some milliseconds
to simulate; keep `deadline=None` (pytest-trio and loaded CI machines are slow).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

try:
    from hypothesis import strategies as st
except ImportError:  # an extra: a consumer that never asked for strategies has no hypothesis
    raise ImportError("ttrec.testing.strategies needs hypothesis: pip install 'ttrec[strategies]'") from None

from ttrec.feed import default_heartbeat
from ttrec.records import Frame, Heartbeat
from ttrec.simulated_incidents import DEFAULT_CORRECTION_PPM
from ttrec.simulated_incidents import Scenario as Collection
from ttrec.simulator import BEST_OF_CHOICES, MAX_SEED, SimulatedMatch, simulate_match

if TYPE_CHECKING:
    from ttrec.testing.fuzz import Scenario

__all__ = ["fault_specs", "feed_messages", "heartbeats", "matches", "scenarios", "seeds", "statistics_frames"]


def seeds() -> st.SearchStrategy[int]:
    """Simulator seeds (shrinking towards 0)."""
    return st.integers(min_value=0, max_value=MAX_SEED)


def matches(*, best_of: int | None = None, doubles: bool | None = None) -> st.SearchStrategy[SimulatedMatch]:
    """Whole simulated matches. `best_of` (3, 5 or 7) and `doubles` are drawn unless given."""
    if best_of is not None and best_of not in BEST_OF_CHOICES:
        raise ValueError(f"best_of must be one of {BEST_OF_CHOICES}, got {best_of}")
    return st.builds(
        simulate_match,
        seed=seeds(),
        best_of=st.sampled_from(BEST_OF_CHOICES) if best_of is None else st.just(best_of),
        doubles=st.booleans() if doubles is None else st.just(doubles),
    )


def statistics_frames(
    *, finished: bool | None = None, best_of: int | None = None, doubles: bool | None = None
) -> st.SearchStrategy[str]:
    """The exact text of one data frame of a simulated match.

    `finished=True` gives a match's final frame (the only one with `"finished":true`),
    `finished=False` any earlier frame; by default any frame, shrinking towards the first.
    """

    @st.composite
    def frame(draw: st.DrawFn) -> str:
        texts = draw(matches(best_of=best_of, doubles=doubles)).frames
        if finished:
            return texts[-1]
        last = len(texts) - (2 if finished is False else 1)
        return texts[draw(st.integers(min_value=0, max_value=last))]

    return frame()


def feed_messages(*, best_of: int | None = None, doubles: bool | None = None) -> st.SearchStrategy[list[str]]:
    """Every text message a client of a simulated match receives, in order: data frames
    interleaved with heartbeats (which a consumer must tell apart and never choke on)."""

    def texts(match: SimulatedMatch) -> list[str]:
        return [r.data for r in match.records if isinstance(r, Frame | Heartbeat)]

    return matches(best_of=best_of, doubles=doubles).map(texts)


def heartbeats() -> st.SearchStrategy[str]:
    """Heartbeat text frames of the shape other DDE feeds send (this feed's own shape is
    not published), at any moment."""
    moments = st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    )
    return moments.map(default_heartbeat)


# Fault specs a correct, reconnecting consumer survives. Durations stay short because a fuzz
# run plays at --speed max, where a stall is still real seconds; `heartbeats-only` always
# ends (for good it would starve a correct consumer too); close codes never say "policy
# violation" (1008 tells a client its token is bad: giving up is then right).
_DURATIONS: Final = st.sampled_from(["0.05", "0.2", "1"])
_MOMENTS: Final = ("game-point", "match-point", "set-end", "final", "game-point#1")


def _trigger(*, match_point: bool) -> st.SearchStrategy[str]:
    moments = _MOMENTS if match_point else tuple(m for m in _MOMENTS if m != "match-point")
    return st.one_of(
        # Every simulated match has more data frames than this (a best of 3 won 11-0 11-0 has
        # 44 Point Started/Scored alone), so such a fault always fires; later in the match
        # the moments and the per-frame probabilities take over.
        st.integers(min_value=1, max_value=40).map(lambda n: f"after={n}"),
        st.sampled_from(moments).map(lambda m: f"at={m}"),
        st.sampled_from(["0.01", "0.03", "0.1"]).map(lambda p: f"p={p}"),
    )


def fault_specs(*, match_point: bool = True) -> st.SearchStrategy[str]:
    """One `--fault` spec (shrinking towards a drop after the first frame). Without
    `match_point`, never one at a match point (for a match that has none: a dropped
    collection ends in game 2; the mock refuses a fault that can never fire)."""
    # A lost connection is what a consumer meets most and handles worst: drawn as often as
    # every other kind together.
    lost = st.one_of(
        st.just("drop"),
        st.sampled_from(["1011", "1001", "1000", "4000"]).map(lambda code: f"close,code={code}"),
    )
    others = st.one_of(
        _DURATIONS.map(lambda d: f"stall,for={d}"),
        _DURATIONS.map(lambda d: f"no-heartbeats,for={d}"),
        _DURATIONS.map(lambda d: f"heartbeats-only,for={d}"),
        st.just("duplicate"),
        st.just("reorder"),
        _DURATIONS.map(lambda d: f"delay,by={d}"),
        st.just("corrupt"),
    )
    effects = st.one_of(lost, others)

    def spec(effect: str, trigger: str) -> str:
        kind, _, rest = effect.partition(",")
        # A per-frame probability fires at most 3 times, so a scenario's stalls and delays
        # add seconds, not minutes, even on a long match (a correct consumer must finish).
        bound = ",times=3" if trigger.startswith("p=") else ""
        return f"{kind}:{trigger}" + (f",{rest}" if rest else "") + bound

    return st.builds(spec, effects, _trigger(match_point=match_point))


# A match has a correction about once in twenty at the simulator's default rate (best of 3):
# too rare for a search to meet one soon. Half the examples play at this rate, where some
# nine in ten best-of-3 matches have one (measured: docs/fuzz.md).
OFTEN_CORRECTED_PPM: Final = 60_000


def scenarios(*, max_faults: int = 3, best_of: int | None = None) -> st.SearchStrategy[Scenario]:
    """A `ttrec.testing.fuzz.Scenario`: a simulated match (its corrections, and whether its
    collection completes, is suspended a while or is dropped), up to `max_faults` faults
    with a seed, and how far into the match the consumer's first connection joins (its
    startPosition). Shrinks towards best of 3, a completed collection at the default
    correction rate, no faults and joining at the start."""
    from ttrec.testing.fuzz import Scenario  # the fuzz runner imports trio: only when asked

    def faults(match_point: bool) -> st.SearchStrategy[tuple[str, ...]]:
        if not max_faults:
            return st.just(())
        some = st.lists(fault_specs(match_point=match_point), min_size=1, max_size=max_faults).map(tuple)
        # Faults and joining mid-match are where consumers break: drawn three times in four.
        return st.one_of(st.just(()), some, some, some)

    @st.composite
    def scenario(draw: st.DrawFn) -> Scenario:
        # Half the collections end otherwise than completed: a quarter dropped, a quarter
        # suspended and resumed (the order is the shrink order).
        endings: tuple[Collection, ...] = ("completed", "dropped", "suspended", "completed")
        collection = draw(st.sampled_from(endings))
        return Scenario(
            match_seed=draw(seeds()),
            best_of=draw(st.sampled_from(BEST_OF_CHOICES) if best_of is None else st.just(best_of)),
            doubles=draw(st.booleans()),
            faults=draw(faults(match_point=collection != "dropped")),
            fault_seed=draw(st.integers(min_value=0, max_value=MAX_SEED)),
            join_permille=draw(st.one_of(st.just(0), *[st.integers(min_value=1, max_value=950)] * 3)),
            collection=collection,
            correction_ppm=draw(st.sampled_from((DEFAULT_CORRECTION_PPM, OFTEN_CORRECTED_PPM))),
        )

    return scenario()
