"""Pearson's chi-square goodness-of-fit test, without scipy.

The survival function of the chi-square distribution is the regularized upper incomplete
gamma function Q(k/2, x/2), computed here by its series (x < a + 1) or its continued
fraction (otherwise), as in Numerical Recipes §6.2. tests/test_theory.py checks it
against printed critical values.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction

MIN_EXPECTED = 5  # the usual rule: pool categories expected fewer than 5 times
_EPS = 1e-15
_ITERATIONS = 1000


def _lower_series(a: float, x: float) -> float:
    """P(a, x) by its series."""
    term = total = 1.0 / a
    for n in range(1, _ITERATIONS):
        term *= x / (a + n)
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction (modified Lentz)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X chi-square with `dof` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    a, x = dof / 2, statistic / 2
    if x < a + 1:
        return 1.0 - _lower_series(a, x)
    return _upper_fraction(a, x)


@dataclass(frozen=True)
class Fit:
    statistic: float
    dof: int
    p_value: float
    bins: int


def chi_square_fit(observed: Mapping[Hashable, int], expected: Mapping[Hashable, Fraction]) -> Fit:
    """Compare counts with exact chances. `expected` may leave out rare outcomes (an
    infinite tail): whatever chance it does not list is the "rest" bin, as are listed
    outcomes expected fewer than MIN_EXPECTED times. A count for an outcome that has
    chance 0 makes the fit fail outright."""
    n = sum(observed.values())
    impossible = [k for k, count in observed.items() if count and expected.get(k, None) == 0]
    if impossible:
        return Fit(math.inf, 0, 0.0, 0)
    bins: list[tuple[float, int]] = []  # (expected count, observed count)
    rest_expected = float(n * (1 - sum(expected.values(), Fraction(0))))
    rest_observed = sum(count for k, count in observed.items() if k not in expected)
    for key, chance in sorted(expected.items(), key=lambda kv: kv[1], reverse=True):
        e = float(n * chance)
        if e >= MIN_EXPECTED:
            bins.append((e, observed.get(key, 0)))
        else:
            rest_expected += e
            rest_observed += observed.get(key, 0)
    if rest_expected <= 0:
        if rest_observed:  # outcomes the expectation leaves no chance for
            return Fit(math.inf, 0, 0.0, 0)
    elif rest_expected >= MIN_EXPECTED or not bins:
        bins.append((rest_expected, rest_observed))
    else:  # too small to stand alone: pooled with the least likely bin kept
        e, o = bins.pop()
        bins.append((e + rest_expected, o + rest_observed))
    statistic = sum((o - e) ** 2 / e for e, o in bins)
    dof = len(bins) - 1
    return Fit(statistic, dof, chi_square_sf(statistic, dof), len(bins))
