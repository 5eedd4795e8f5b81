"""`--point-prob`: the simulator's matches follow the exact distributions of ttrec.theory.

Matches are played by `ttrec.simulator.play`, the function `simulate_match` (and so
`ttrec simulate`) plays every match with, over a fixed range of seeds: the test is
deterministic. Each fit is a chi-square test at the 0.1 % level; the same data must be
rejected against a model 2 points off, so the test can tell a wrong simulator.
"""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from goodness_of_fit import chi_square_fit

from ttrec import theory
from ttrec.simulated_points import PointModel, to_ppm
from ttrec.simulated_teams import draw_teams, random_uuid
from ttrec.simulator import play, simulate_match

MATCHES = 500  # per (chance, best_of)
LEVEL = 0.001
DEUCE_PAIRS = 12  # scores listed one by one; longer games fall in the tail bin
OFF_BY = Fraction(2, 100)


def played(point_prob: Fraction, best_of: int) -> list[list[tuple[int, int]]]:
    model = PointModel.fixed(to_ppm(float(point_prob)))
    # Distinct seeds per best_of: the same seed plays the same first games whatever the
    # best_of, and pooling those copies would count each game several times.
    seeds = range(best_of * MATCHES, (best_of + 1) * MATCHES)
    return [play(random.Random(seed), best_of, model).sets for seed in seeds]


Matches = dict[int, list[list[tuple[int, int]]]]  # the set scores of each match, by best_of


def game_scores_fit(p: Fraction, matches: Matches) -> None:
    observed = Counter(all_games(matches))
    assert chi_square_fit(observed, theory.game_scores(p, DEUCE_PAIRS)).p_value > LEVEL
    assert chi_square_fit(observed, theory.game_scores(p + OFF_BY, DEUCE_PAIRS)).p_value < LEVEL


def points_per_game_fit(p: Fraction, matches: Matches) -> None:
    observed = Counter(home + away for home, away in all_games(matches))
    assert chi_square_fit(observed, theory.points_per_game(p, DEUCE_PAIRS)).p_value > LEVEL


def match_scores_and_lengths_fit(p: Fraction, matches: Matches, best_of: int) -> None:
    finals = [(sum(h > a for h, a in sets), sum(a > h for h, a in sets)) for sets in matches[best_of]]
    assert chi_square_fit(Counter(finals), theory.match_scores(p, best_of)).p_value > LEVEL, best_of
    lengths = Counter(home + away for home, away in finals)
    assert chi_square_fit(lengths, theory.games_per_match(p, best_of)).p_value > LEVEL, best_of


def all_games(matches: Matches) -> list[tuple[int, int]]:
    return [score for by_best_of in matches.values() for sets in by_best_of for score in sets]


# One test per chance, fitting every distribution to the same 1500 matches: playing them
# costs seconds, the fits milliseconds, and tests of one chance that shared a module
# fixture played them again on each xdist worker that ran one of them.
@pytest.mark.parametrize("p", [Fraction(1, 2), Fraction(3, 5), Fraction(7, 20)], ids=str)
def test_game_scores_points_per_game_and_match_scores_follow_the_exact_distributions(p: Fraction) -> None:
    matches = {best_of: played(p, best_of) for best_of in (3, 5, 7)}
    game_scores_fit(p, matches)
    points_per_game_fit(p, matches)
    for best_of in matches:
        match_scores_and_lengths_fit(p, matches, best_of)


def test_a_point_prob_has_no_serve_effect_and_no_strength_draw() -> None:
    """Whoever serves, home wins with the same chance: no serve advantage is added."""
    model = PointModel.fixed(to_ppm(0.6))
    for seed in range(3):
        strength = play(random.Random(seed), 5, model).strength
        assert strength.home_serving_ppm == strength.away_serving_ppm == 600_000


def test_simulate_match_plays_what_play_plays() -> None:
    """The full simulator draws its fixture and teams first, then plays with `play`: the
    fits above are fits of `ttrec simulate --point-prob`."""
    model = PointModel.fixed(to_ppm(0.35))
    for seed in range(5):
        match = simulate_match(seed, best_of=7, model=model)
        rng = random.Random(seed)
        random_uuid(rng)
        draw_teams(rng, doubles=False)
        assert list(match.sets) == play(rng, 7, model).sets
    assert match.header.extra["point_model"] == {
        "point_ppm": 350_000,
        "strength_spread_ppm": 0,
        "serve_advantage_ppm": 0,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"point_ppm": -1},
        {"point_ppm": 1_000_001},
        {"strength_spread_ppm": 150_001},
        {"serve_advantage_ppm": 250_001},
        {"serve_advantage_ppm": -1},
    ],
)
def test_a_model_outside_its_bounds_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PointModel(**kwargs)


def test_at_the_bounds_every_game_still_ends() -> None:
    """Equal players and the largest serve advantage: from 10-10 each server wins 75 % of
    points, so a game is still decided; the strongest spread still leaves 5 % to the weaker."""
    model = PointModel(strength_spread_ppm=0, serve_advantage_ppm=250_000)
    for seed in range(20):
        assert len(play(random.Random(seed), 7, model).sets) >= 4
    widest = PointModel(strength_spread_ppm=150_000, serve_advantage_ppm=250_000)
    for seed in range(50):
        strength = play(random.Random(seed), 3, widest).strength
        assert 0 <= strength.away_serving_ppm <= strength.home_serving_ppm <= 1_000_000
