"""The simulator's integer draws, the values `random.Random.randrange` gives, drawn directly.

`below(rng, n)` is `rng.randrange(n)` and `between(rng, low, high)` is
`rng.randrange(low, high + 1)`: the same values from the same generator state, drawn the way
CPython's randrange draws them (the bits of n, again while the value is n or more), without
randrange's argument checks, a third of its cost. A match makes about a thousand draws, and
the theory tests play thousands of matches (tests/test_simulated_draws.py pins the equality).
"""

from __future__ import annotations

import random


def below(rng: random.Random, n: int) -> int:
    """A whole number in [0, n), as `rng.randrange(n)` draws it."""
    if n <= 0:
        raise ValueError(f"empty range for below: {n}")
    bits = n.bit_length()
    value = rng.getrandbits(bits)
    while value >= n:
        value = rng.getrandbits(bits)
    return value


def between(rng: random.Random, low: int, high: int) -> int:
    """A whole number in [low, high], as `rng.randrange(low, high + 1)` draws it."""
    return low + below(rng, high + 1 - low)
