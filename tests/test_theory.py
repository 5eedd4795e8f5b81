"""ttrec.theory against independent derivations: a point-by-point walk over every score,
every sequence of game results, and figures computed by hand."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import pytest
from goodness_of_fit import chi_square_fit, chi_square_sf

from ttrec import theory

CHANCES = [Fraction(1, 2), Fraction(3, 5), Fraction(7, 20), Fraction(1, 10), Fraction(123457, 1_000_000)]
WALK_POINTS = 60  # long enough that every listed deuce score is reached


def walk_game(p: Fraction, max_points: int) -> tuple[dict[tuple[int, int], Fraction], Fraction]:
    """Play out every score point by point (no formula): the chance of each final score
    reached within `max_points` points, and the chance the game is still going."""
    alive = {(0, 0): Fraction(1)}
    ended: dict[tuple[int, int], Fraction] = {}
    for _ in range(max_points):
        following: dict[tuple[int, int], Fraction] = {}
        for (home, away), chance in alive.items():
            for score, step in (((home + 1, away), p), ((home, away + 1), 1 - p)):
                high, low = max(score), min(score)
                if high >= 11 and high - low >= 2:
                    ended[score] = ended.get(score, Fraction(0)) + chance * step
                else:
                    following[score] = following.get(score, Fraction(0)) + chance * step
        alive = following
    return ended, sum(alive.values(), Fraction(0))


@pytest.mark.parametrize("p", CHANCES)
def test_every_final_score_has_the_chance_the_walk_gives(p: Fraction) -> None:
    walked, still_going = walk_game(p, WALK_POINTS)
    pairs = (WALK_POINTS - 22) // 2  # deuce scores fully reached by the walk
    listed = theory.game_scores(p, pairs)
    assert listed == {score: walked[score] for score in listed}
    assert theory.deuce_tail(p, pairs) == still_going + sum(
        chance for score, chance in walked.items() if score not in listed
    )
    assert theory.game_score_probability(p, (11, 10)) == 0
    assert theory.game_score_probability(p, (14, 10)) == 0
    assert theory.game_score_probability(p, (5, 3)) == 0


@pytest.mark.parametrize("p", CHANCES)
def test_chances_add_up_to_one_exactly(p: Fraction) -> None:
    for pairs in (0, 3, 25):
        assert sum(theory.game_scores(p, pairs).values()) + theory.deuce_tail(p, pairs) == 1
    win = theory.game_win_probability(p)
    assert win == sum(c for (h, a), c in theory.game_scores(p, 40).items() if h > a) + (
        theory.deuce_tail(p, 40) * p**2 / (p**2 + (1 - p) ** 2)
    )
    for best_of in (3, 5, 7):
        assert sum(theory.match_scores(p, best_of).values()) == 1


def test_the_figures_for_an_even_game() -> None:
    half = Fraction(1, 2)
    assert theory.deuce_probability(half) == Fraction(184756, 2**20)  # C(20,10) / 2^20
    assert abs(float(theory.deuce_probability(half)) - 0.1762) < 5e-5
    assert theory.game_win_probability(half) == half
    # 11-9 or 9-11: C(19, 9) orders of the first 19 points, 2^-20 each, two winners.
    assert theory.points_per_game(half, 0)[20] == 2 * comb(19, 9) * half**20
    assert round(float(theory.mean_points_per_game(half)), 2) == 18.83
    assert theory.games_per_match(half, 7) == {
        4: Fraction(1, 8),
        5: Fraction(1, 4),
        6: Fraction(5, 16),
        7: Fraction(5, 16),
    }


@pytest.mark.parametrize("p", CHANCES)
def test_mean_length_agrees_with_the_walk(p: Fraction) -> None:
    walked, still_going = walk_game(p, 400)
    walked_mean = sum((h + a) * chance for (h, a), chance in walked.items())
    assert abs(float(theory.mean_points_per_game(p) - walked_mean)) < 1e-9 + 400 * float(still_going)


@pytest.mark.parametrize("p", CHANCES)
def test_swapping_sides_mirrors_every_distribution(p: Fraction) -> None:
    mirrored = theory.game_scores(1 - p, 5)
    assert theory.game_scores(p, 5) == {(h, a): mirrored[a, h] for h, a in mirrored}
    assert theory.game_win_probability(p) + theory.game_win_probability(1 - p) == 1
    assert theory.mean_points_per_game(p) == theory.mean_points_per_game(1 - p)
    assert theory.games_per_match(p, 5) == theory.games_per_match(1 - p, 5)


@pytest.mark.parametrize("best_of", [3, 5, 7])
@pytest.mark.parametrize("g_p", [Fraction(1, 2), Fraction(3, 5), Fraction(7, 20)])
def test_match_scores_agree_with_every_sequence_of_games(best_of: int, g_p: Fraction) -> None:
    g = theory.game_win_probability(g_p)
    need = best_of // 2 + 1
    found: dict[tuple[int, int], Fraction] = {}
    # Play all best_of games of every sequence and stop counting once a side has `need`.
    for sequence in itertools.product((True, False), repeat=best_of):
        home = away = 0
        for home_won in sequence:
            if need in (home, away):
                break
            home, away = home + home_won, away + (not home_won)
        wins = sum(sequence)
        chance = g**wins * (1 - g) ** (best_of - wins)
        found[home, away] = found.get((home, away), Fraction(0)) + chance
    assert theory.match_scores(g_p, best_of) == found


# --- the chi-square helper the fit tests use -----------------------------------------------

# Critical values printed in every statistics table (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.4).
CRITICAL = [(3.841, 1, 0.05), (11.070, 5, 0.05), (18.307, 10, 0.05), (29.588, 10, 0.001), (37.566, 20, 0.01)]


@pytest.mark.parametrize(("value", "dof", "tail"), CRITICAL)
def test_chi_square_tail_matches_printed_tables(value: float, dof: int, tail: float) -> None:
    assert chi_square_sf(value, dof) == pytest.approx(tail, rel=2e-3)


def test_chi_square_fit_pools_rare_outcomes_and_catches_a_wrong_model() -> None:
    expected = {"a": Fraction(1, 2), "b": Fraction(49, 100)}  # 1 % left for the rest
    fit = chi_square_fit({"a": 500, "b": 490, "c": 10}, expected)
    assert fit.bins == 3 and fit.statistic == pytest.approx(0) and fit.p_value == pytest.approx(1)
    assert chi_square_fit({"a": 600, "b": 390, "c": 10}, expected).p_value < 1e-6
    assert chi_square_fit({"a": 1, "z": 1}, {"a": Fraction(1), "z": Fraction(0)}).p_value == 0
