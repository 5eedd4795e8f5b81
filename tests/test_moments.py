"""Match moments read from frames agree with the simulator's ground truth."""

from __future__ import annotations

from hypothesis import given, settings

from ttrec.moments import moments_of_texts
from ttrec.simulator import simulate_match
from ttrec.testing.strategies import seeds


@settings(max_examples=25)
@given(seeds())
def test_moments_match_the_simulated_point_sequence(seed):
    match = simulate_match(seed=seed, best_of=5)
    moments = list(moments_of_texts(match.frames))
    assert len(moments) == len(match.frames)
    set_ends = [i for i, m in enumerate(moments) if "set-end" in m]
    assert len(set_ends) == len(match.sets)
    assert [i for i, m in enumerate(moments) if "final" in m] == [len(moments) - 1]
    # A match point is announced at least once, by the winner, before the last set ends.
    match_points = [i for i, m in enumerate(moments) if "match-point" in m]
    assert match_points and match_points[-1] < set_ends[-1]
    assert any("game-point" in m for m in moments)


def test_garbage_frames_have_no_moments_and_do_not_break_the_chain():
    match = simulate_match(seed=1, best_of=3)
    texts = [match.frames[0], "not json", *match.frames[1:]]
    moments = list(moments_of_texts(texts))
    assert moments[1] == frozenset()
    assert "final" in moments[-1]
