"""The simulator's figures beside the figures measured in professional play.

    python benchmarks/realism.py [--matches 4000]

Plays `--matches` matches per configuration with the default model (ttrec.simulator.play,
the function `ttrec simulate` plays with; distinct seeds for every match) and prints one
Markdown table row per published figure: what was measured, by whom, the simulator's
value, and whether the simulator is within the figure's uncertainty. docs/simulator.md
carries this table. A 95 % interval is given where the source says how many matches it
counted (binomial, normal approximation).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass

from ttrec.match import POINT_SCORED, POINT_STARTED
from ttrec.simulated_points import PPM, PointModel
from ttrec.simulated_time import S
from ttrec.simulator import Play, play

# The 2017 World Championships qualification, day 1 (zoomtt.com, 2017): 383 matches,
# 270 singles (best of 7) and 113 doubles (best of 5), 4.33 games a match.
QUALIFYING_SINGLES, QUALIFYING_DOUBLES = 270, 113
WIDE_SPREAD_PPM = 120_000  # fits the 2017 all-events figures (4-0 in 45 % of matches)


@dataclass
class Sample:
    """Figures gathered from many played matches of one configuration."""

    plays: list[Play]

    @property
    def points(self) -> int:
        return sum(len(p.points) for p in self.plays)

    def server_share(self) -> float:
        return sum(pt.winner == pt.server for p in self.plays for pt in p.points) / self.points

    def own_serve_shares(self) -> list[float]:
        shares = []
        for p in self.plays:
            for side in ("home", "away"):
                served = [pt for pt in p.points if pt.server == side]
                shares.append(sum(pt.winner == side for pt in served) / len(served))
        return shares

    def finals(self) -> Counter[tuple[int, int]]:
        """Final scores in games, winner first."""
        found: Counter[tuple[int, int]] = Counter()
        for p in self.plays:
            won = sum(h > a for h, a in p.sets)
            found[max(won, len(p.sets) - won), min(won, len(p.sets) - won)] += 1
        return found

    def first_game_winner_wins(self) -> float:
        def first(p: Play) -> str:
            home, away = p.sets[0]
            return "home" if home > away else "away"

        return sum(first(p) == p.winner for p in self.plays) / len(self.plays)

    def games_per_match(self) -> float:
        return statistics.fmean(len(p.sets) for p in self.plays)

    def points_per_game(self) -> float:
        return self.points / sum(len(p.sets) for p in self.plays)

    def points_per_match(self) -> float:
        return self.points / len(self.plays)

    def rallies_and_rests(self) -> tuple[list[int], list[int]]:
        """Point Started -> Point Scored, and Point Scored -> the next serve of the same
        game (towelling and time-outs included, game breaks not)."""
        rallies, rests = [], []
        for p in self.plays:
            started = scored = None
            for event in p.events:
                if event.action_id == POINT_STARTED:
                    if scored is not None and scored[1] == event.period:
                        rests.append(event.t - scored[0])
                    scored = None
                    started = event.t
                elif event.action_id == POINT_SCORED and started is not None:
                    rallies.append(event.t - started)
                    scored = (event.t, event.period)
        return rallies, rests

    def match_minutes(self) -> list[float]:
        """First serve to last point."""
        minutes = []
        for p in self.plays:
            starts = [e.t for e in p.events if e.action_id == POINT_STARTED]
            ends = [e.t for e in p.events if e.action_id == POINT_SCORED]
            minutes.append((ends[-1] - starts[0]) / S / 60)
        return minutes

    def game_minutes(self) -> float:
        per_game = []
        for p in self.plays:
            for period in range(1, len(p.sets) + 1):
                times = [e.t for e in p.events if e.period == period and e.action_id in (1101, 1102)]
                per_game.append((times[-1] - times[0]) / S / 60)
        return statistics.fmean(per_game)


def run(best_of: int, model: PointModel, matches: int, first_seed: int) -> Sample:
    return Sample(
        [play(random.Random(seed), best_of, model) for seed in range(first_seed, first_seed + matches)]
    )


def interval(share: float, n: int) -> tuple[float, float]:
    half = 1.96 * math.sqrt(share * (1 - share) / n)
    return share - half, share + half


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def quartiles(values: list[int]) -> str:
    q1, median, q3 = statistics.quantiles(values, n=4)
    return f"median {median / S:.1f} s ({q1 / S:.1f}-{q3 / S:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--matches", type=int, default=4000, help="matches per configuration")
    args = parser.parse_args()
    n = args.matches
    singles = PointModel.default(doubles=False)
    doubles = PointModel.default(doubles=True)
    # Distinct seed ranges: the same seed plays the same first points whatever the options.
    bo7 = run(7, singles, n, 0)
    bo5 = run(5, singles, n, n)
    dbl = run(5, doubles, n, 2 * n)
    # A whole World Championships, qualification included, is a wider field than a main draw.
    wide = PointModel(strength_spread_ppm=WIDE_SPREAD_PPM, serve_advantage_ppm=singles.serve_advantage_ppm)
    wide_doubles = PointModel(
        strength_spread_ppm=WIDE_SPREAD_PPM, serve_advantage_ppm=doubles.serve_advantage_ppm
    )
    wide_bo7, wide_dbl = run(7, wide, n, 3 * n), run(5, wide_doubles, n, 4 * n)
    wide_option = f"`--strength-spread {WIDE_SPREAD_PPM / PPM}`"

    rows: list[tuple[str, str, str, str, str]] = []

    def row(figure: str, published: str, source: str, simulated: str, verdict: bool | str) -> None:
        mark = verdict if isinstance(verdict, str) else ("yes" if verdict else "**no**")
        rows.append((figure, published, source, simulated, mark))

    share = bo7.server_share()
    row(
        "points won by the server, singles",
        "53 % (men's and women's singles); \"only slightly higher than 50 %\"",
        "FiveThirtyEight 2016 (Rio 2016, 2-3 days of play); Gómez et al. 2017 (Rio 2016, 140 matches)",
        pct(share),
        50 < 100 * share < 55,
    )
    share = dbl.server_share()
    row(
        "points won by the server, doubles",
        "51 % men's, 50 % women's doubles",
        "FiveThirtyEight 2016 (Rio 2016)",
        pct(share),
        49 < 100 * share < 53,
    )
    shares = sorted(bo7.own_serve_shares())
    top = sum(s >= 0.67 for s in shares) / len(shares)
    row(
        "a star's points won on own serve",
        "67 % (one player; the issue's figure, source not found)",
        "assumption: not verified",
        f"{pct(top)} of players win ≥ 67 %; 95th percentile {pct(shares[int(0.95 * len(shares))])}",
        "plausible",
    )
    first = bo7.first_game_winner_wins()
    low, high = interval(92 / 123, 123)
    row(
        "winner of game 1 wins the match, best of 7",
        f"74.7 % (92 of 123; 95 %: {pct(low)}-{pct(high)})",
        "2013 World Championships men's singles, ITTF results (Chronicles of Gossima blog, 2014)",
        pct(first),
        low <= first <= high,
    )
    finals = bo7.finals()
    four_nil = finals[4, 0] / n
    low, high = interval(31 / 123, 123)
    row(
        "4-0 share of best-of-7 matches",
        f"25.2 % (31 of 123; 95 %: {pct(low)}-{pct(high)})",
        "2013 World Championships men's singles (same source: 123 - 92 matches without a 4-0)",
        pct(four_nil),
        low <= four_nil <= high,
    )

    def results(sample: Sample) -> str:
        finals = sample.finals()
        return ", ".join(
            f"{w}-{lost} {pct(c / n)}" for (w, lost), c in sorted(finals.items(), key=lambda kv: kv[0][1])
        )

    wide_four_nil = wide_bo7.finals()[4, 0] / n
    order = [score for score, _ in wide_bo7.finals().most_common()]
    row(
        "best-of-7 results",
        "4-0 45 %, 4-1 24.5 %, 4-2 18 %, 4-3 12.5 % (all events, qualification included)",
        'ITTF, "Liebherr 2017 World Championships in numbers" (1,054 matches)',
        f"default: {results(bo7)}; {wide_option}: {results(wide_bo7)}",
        order == [(4, 0), (4, 1), (4, 2), (4, 3)] and abs(wide_four_nil - 0.45) < 0.04,
    )

    def qualifying_mix(best_of_7: Sample, best_of_5: Sample) -> float:
        total = (
            QUALIFYING_SINGLES * best_of_7.games_per_match()
            + QUALIFYING_DOUBLES * best_of_5.games_per_match()
        )
        return total / (QUALIFYING_SINGLES + QUALIFYING_DOUBLES)

    wide_mix = qualifying_mix(wide_bo7, wide_dbl)
    row(
        "games per match, 2017 qualification, day 1",
        "4.33 (383 matches: 270 singles best of 7, 113 doubles best of 5)",
        'zoomtt.com 2017 ("WTTC 2017: first day stats")',
        f"default: {qualifying_mix(bo7, dbl):.2f}; {wide_option}: {wide_mix:.2f} (same mix)",
        f"{'yes' if abs(wide_mix - 4.33) < 0.15 else '**no**'}: qualification is lopsided"
        " (unranked against ranked players), more than the wider field",
    )
    row(
        "games per match, best of 7 / best of 5 (default)",
        "—",
        "—",
        f"{bo7.games_per_match():.2f} / {bo5.games_per_match():.2f}",
        "—",
    )
    per_game = wide_bo7.points_per_game()
    row(
        "points per game",
        "17.98 (90,165 points in 5,014 games)",
        "ITTF 2017 World Championships in numbers",
        f"default: {bo7.points_per_game():.2f}; {wide_option}: {per_game:.2f}",
        abs(per_game - 17.98) < 0.5,
    )
    per_match = wide_bo7.points_per_match()
    row(
        "points per best-of-7 match",
        "89.6 (the article's figure; 90,165 / 1,054 = 85.5 over all events)",
        "ITTF 2017 World Championships in numbers",
        f"default: {bo7.points_per_match():.1f}; {wide_option}: {per_match:.1f}",
        abs(per_match - 89.6) < 4,
    )
    row(
        "points independent within a match",
        "1 of 211 matches deviates from the independent model",
        "Liu and Lames (Tokyo 2020 singles)",
        "independent by construction, given the match's chances",
        True,
    )
    rallies, rests = bo7.rallies_and_rests()
    row(
        "rally (Point Started → Point Scored)",
        "median 3.3 s (2.7-4.4 s), range 1.1-31.2 s",
        "Leite et al. 2017, J. Hum. Kinet. 55 (21 matches, WTTC and Olympics 2009-2012)",
        quartiles(rallies) + f", at most {max(rallies) / S:.1f} s",
        2.7 <= statistics.median(rallies) / S <= 4.4,
    )
    row(
        "rest between points",
        "median 18.6 s (14.5-23.4 s), range 1.8-93 s",
        "Leite et al. 2017 (same)",
        quartiles(rests) + f", at most {max(rests) / S:.1f} s",
        14.5 <= statistics.median(rests) / S <= 23.4,
    )
    minutes = sorted(bo7.match_minutes())
    tenth, ninetieth = minutes[len(minutes) // 10], minutes[9 * len(minutes) // 10]
    row(
        "best-of-7 match, first serve to last point",
        "16 min (Zagatto et al. 2010, with 8.1 s rests); about 50 min (a blog's figure)",
        "Zagatto et al. 2010 via Leite et al. 2017; ebatt.co.uk (unverified)",
        f"median {statistics.median(minutes):.0f} min, 10-90 %: {tenth:.0f}-{ninetieth:.0f} min",
        16 <= statistics.median(minutes) <= 50,
    )
    row(
        "one game",
        "about 6 minutes",
        "rookieroad.com (unverified)",
        f"{bo7.game_minutes():.1f} min on average",
        abs(bo7.game_minutes() - 6) <= 1.5,
    )

    print(
        f"{n} matches per configuration; default model: {singles}"
        f" (doubles: serve advantage {doubles.serve_advantage_ppm} ppm)"
    )
    print()
    print("| figure | published | source | simulated | within? |")
    print("|---|---|---|---|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
