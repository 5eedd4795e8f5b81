"""Exact distributions of a table-tennis match whose points are independent coin flips.

When the home side wins every point with the same probability p, independently of the
score and of who serves (`ttrec simulate --point-prob P`), everything about a match
follows in closed form (Dominicy, Ley and Swan, "A stochastic analysis of table tennis",
Brazilian Journal of Probability and Statistics, 2013, derive the general case):

  * a game ends 11-k (k <= 9) after the winner took 11 of 11 + k points, the last one
    included: C(10 + k, k) p^11 q^k;
  * it reaches 10-10 with probability C(20, 10) p^10 q^10; from there each pair of points
    is split with probability 2pq, so it ends 12+j to 10+j with D (2pq)^j p^2;
  * games are independent, so a best-of-n match is a race to n // 2 + 1 game wins.

Everything takes and returns exact `Fraction`s (the simulator's probabilities are whole
parts per million, so the theory of a simulated match is exact, not rounded); the tests
compare the simulator with these values and these values with brute-force enumeration.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import comb
from typing import Final

from ttrec.match import POINTS_TO_WIN_GAME

DEUCE_AT: Final = POINTS_TO_WIN_GAME - 1  # 10-10: from here a game is won by 2 clear points
Score = tuple[int, int]  # (home, away)


def deuce_probability(p: Fraction) -> Fraction:
    """The chance a game reaches 10-10."""
    return comb(2 * DEUCE_AT, DEUCE_AT) * p**DEUCE_AT * (1 - p) ** DEUCE_AT


def game_score_probability(p: Fraction, score: Score) -> Fraction:
    """The chance a game ends with exactly this (home, away) score; 0 for a score no game
    can end with."""
    home, away = score
    high, low = max(home, away), min(home, away)
    winner_p = p if home > away else 1 - p
    loser_p = 1 - winner_p
    if high == POINTS_TO_WIN_GAME and low <= DEUCE_AT - 1:
        # the winner's 11th point comes last; the other points in any order
        return comb(DEUCE_AT + low, low) * winner_p**POINTS_TO_WIN_GAME * loser_p**low
    if low >= DEUCE_AT and high == low + 2:
        extra_pairs = low - DEUCE_AT
        return deuce_probability(p) * (2 * p * (1 - p)) ** extra_pairs * winner_p**2
    return Fraction(0)


def game_win_probability(p: Fraction) -> Fraction:
    """The chance the home side wins a game."""
    before_deuce = sum(game_score_probability(p, (POINTS_TO_WIN_GAME, k)) for k in range(DEUCE_AT))
    return before_deuce + deuce_probability(p) * p**2 / (1 - 2 * p * (1 - p))


def game_scores(p: Fraction, deuce_pairs: int) -> dict[Score, Fraction]:
    """Every final score up to `deuce_pairs` split pairs after 10-10 (so the longest is
    (12 + deuce_pairs)-(10 + deuce_pairs)), with its chance; the rest is `deuce_tail`."""
    scores: dict[Score, Fraction] = {}
    for low in range(DEUCE_AT):
        scores[POINTS_TO_WIN_GAME, low] = game_score_probability(p, (POINTS_TO_WIN_GAME, low))
        scores[low, POINTS_TO_WIN_GAME] = game_score_probability(p, (low, POINTS_TO_WIN_GAME))
    for j in range(deuce_pairs + 1):
        low = DEUCE_AT + j
        scores[low + 2, low] = game_score_probability(p, (low + 2, low))
        scores[low, low + 2] = game_score_probability(p, (low, low + 2))
    return scores


def deuce_tail(p: Fraction, deuce_pairs: int) -> Fraction:
    """The chance a game lasts longer than every score `game_scores(p, deuce_pairs)` lists:
    it is still level after deuce_pairs + 1 pairs past 10-10."""
    return deuce_probability(p) * (2 * p * (1 - p)) ** (deuce_pairs + 1)


def points_per_game(p: Fraction, deuce_pairs: int) -> dict[int, Fraction]:
    """Chance of each game length in points, as far as `game_scores` goes."""
    lengths: dict[int, Fraction] = {}
    for (home, away), chance in game_scores(p, deuce_pairs).items():
        lengths[home + away] = lengths.get(home + away, Fraction(0)) + chance
    return lengths


def mean_points_per_game(p: Fraction) -> Fraction:
    """The expected length of a game in points, exactly (the deuce series summed)."""
    q = 1 - p
    before_deuce = sum(
        (POINTS_TO_WIN_GAME + k) * game_score_probability(p, score)
        for k in range(DEUCE_AT)
        for score in ((POINTS_TO_WIN_GAME, k), (k, POINTS_TO_WIN_GAME))
    )
    # From 10-10 the game lasts 2N more points, N geometric with success 1 - 2pq.
    split = 2 * p * q
    after_deuce = deuce_probability(p) * (2 * DEUCE_AT + 2 / (1 - split))
    return before_deuce + after_deuce


def games_to_win(best_of: int) -> int:
    return best_of // 2 + 1


def match_scores(p: Fraction, best_of: int) -> dict[Score, Fraction]:
    """Chance of each final score in games, e.g. (3, 1); games are independent and the
    home side wins each with `game_win_probability(p)`."""
    g = game_win_probability(p)
    need = games_to_win(best_of)
    scores: dict[Score, Fraction] = {}
    for lost in range(need):
        # the winner takes the last game; the loser's games fall anywhere before it
        ways = comb(need - 1 + lost, lost)
        scores[need, lost] = ways * g**need * (1 - g) ** lost
        scores[lost, need] = ways * (1 - g) ** need * g**lost
    return scores


def games_per_match(p: Fraction, best_of: int) -> dict[int, Fraction]:
    counts: dict[int, Fraction] = {}
    for (home, away), chance in match_scores(p, best_of).items():
        counts[home + away] = counts.get(home + away, Fraction(0)) + chance
    return counts


def mean(distribution: Mapping[int, Fraction]) -> Fraction:
    return sum((value * chance for value, chance in distribution.items()), Fraction(0))
