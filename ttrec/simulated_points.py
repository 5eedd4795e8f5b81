"""Who wins a simulated point: the players' strength in this match and the serve.

Chances are whole parts per million, drawn as whole numbers (ttrec.simulated_draws), so a
seed plays the same match on every platform (no floating point). docs/simulator.md gives
the sources of the defaults and the table benchmarks/realism.py prints against them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from ttrec.match import Side
from ttrec.simulated_draws import below

PPM: Final = 1_000_000  # chances are whole parts per million
EVEN_PPM: Final = PPM // 2

# The home side's point-win chance in a match is 50 % plus a strength difference drawn
# per match: the sum of three uniform draws on [-w, w], whose standard deviation is w
# and whose shape is close to normal. 7.5 % makes winners of game 1 win about 75 % of
# best-of-7 matches, 4-0 the most common result, in 31 % of them (2013 World
# Championships men's singles: 74.7 % and 25 % of 123 matches); docs/simulator.md.
DEFAULT_STRENGTH_SPREAD_PPM: Final = 75_000
STRENGTH_DRAWS: Final = 3
# The server's extra chance to win the point. Rio 2016 (FiveThirtyEight, 2016): servers
# won 53 % of points in singles, 51 % in men's and 50 % in women's doubles.
DEFAULT_SERVE_ADVANTAGE_PPM: Final = 30_000
DEFAULT_DOUBLES_SERVE_ADVANTAGE_PPM: Final = 10_000
# Bounds that keep every game finite in practice: from 10-10 a game ends once one side
# wins both points of a pair, which never happens if each server wins for certain
# (advantage 0.5 between equals). At these bounds a pair after 10-10 is split at most
# 62.5 % of the time, and the weakest side still wins 5 % of points.
MAX_STRENGTH_SPREAD_PPM: Final = 150_000  # three draws: at most 0.45 from even
MAX_SERVE_ADVANTAGE_PPM: Final = 250_000


@dataclass(frozen=True, slots=True)
class PointModel:
    """How points are won. `point_ppm` fixes the home side's chance of winning every point
    (`ttrec simulate --point-prob`); None draws it per match from the strength spread."""

    point_ppm: int | None = None
    strength_spread_ppm: int = DEFAULT_STRENGTH_SPREAD_PPM
    serve_advantage_ppm: int = DEFAULT_SERVE_ADVANTAGE_PPM

    def __post_init__(self) -> None:
        if self.point_ppm is not None and not 0 <= self.point_ppm <= PPM:
            raise ValueError(f"point_ppm must be within 0..{PPM}, got {self.point_ppm}")
        if not 0 <= self.strength_spread_ppm <= MAX_STRENGTH_SPREAD_PPM:
            raise ValueError(f"strength_spread_ppm must be within 0..{MAX_STRENGTH_SPREAD_PPM}")
        if not 0 <= self.serve_advantage_ppm <= MAX_SERVE_ADVANTAGE_PPM:
            raise ValueError(f"serve_advantage_ppm must be within 0..{MAX_SERVE_ADVANTAGE_PPM}")

    @classmethod
    def fixed(cls, point_ppm: int) -> PointModel:
        """Every point won by home with the same chance: no strength draw, no serve effect."""
        return cls(point_ppm=point_ppm, strength_spread_ppm=0, serve_advantage_ppm=0)

    @classmethod
    def default(cls, *, doubles: bool) -> PointModel:
        serve = DEFAULT_DOUBLES_SERVE_ADVANTAGE_PPM if doubles else DEFAULT_SERVE_ADVANTAGE_PPM
        return cls(serve_advantage_ppm=serve)

    @property
    def point_prob(self) -> Fraction | None:
        """The exact chance `point_ppm` stands for (what ttrec.theory takes)."""
        return None if self.point_ppm is None else Fraction(self.point_ppm, PPM)


def to_ppm(probability: float) -> int:
    """A chance given as a number (0.6) in whole parts per million (600000)."""
    return round(probability * PPM)


@dataclass(frozen=True, slots=True)
class MatchStrength:
    """The home side's chance of winning a point on its own serve and on the other's."""

    home_serving_ppm: int
    away_serving_ppm: int

    def point_winner(self, rng: random.Random, server: Side) -> Side:
        chance = self.home_serving_ppm if server == "home" else self.away_serving_ppm
        return "home" if below(rng, PPM) < chance else "away"


def draw_strength(rng: random.Random, model: PointModel) -> MatchStrength:
    """This match's chances; nothing is drawn for a fixed point chance."""
    if model.point_ppm is not None:
        home = model.point_ppm
    else:
        spread = model.strength_spread_ppm
        home = EVEN_PPM + sum(rng.randrange(-spread, spread + 1) for _ in range(STRENGTH_DRAWS))
    edge = model.serve_advantage_ppm
    return MatchStrength(_clamp(home + edge), _clamp(home - edge))


def _clamp(ppm: int) -> int:
    return min(max(ppm, 0), PPM)
