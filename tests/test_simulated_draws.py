"""ttrec.simulated_draws draws what `random.Random.randrange` draws: the same values and the
same generator state after, for every kind of bound (1, powers of two and their
neighbours, the simulator's own, wide and negative ranges), and refuses an empty range."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.simulated_draws import below, between

BOUNDS = [1, 2, 3, 7, 8, 9, 1000, 1023, 1024, 1025, 1_000_000, 2**63 - 1, 2**64 + 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**64), st.integers(min_value=-(2**40), max_value=2**40))
def test_the_draws_are_randranges(seed: int, low: int) -> None:
    mine, theirs = random.Random(seed), random.Random(seed)
    for n in BOUNDS:
        for _ in range(5):
            assert below(mine, n) == theirs.randrange(n)
            assert between(mine, low, low + n - 1) == theirs.randrange(low, low + n)
    assert mine.getstate() == theirs.getstate()


def test_an_empty_range_is_refused_as_randrange_refuses_it() -> None:
    for n in (0, -1):
        with pytest.raises(ValueError):
            random.Random(1).randrange(n)
        with pytest.raises(ValueError, match="empty range"):
            below(random.Random(1), n)
    with pytest.raises(ValueError, match="empty range"):
        between(random.Random(1), 5, 4)
