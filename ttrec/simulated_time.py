"""How long things take in a simulated match, on the capture's clock (integer ns).

Each interval names its source, or says it is our assumption; docs/simulator.md has the
table. Only integer draws from the match's generator, so a seed gives the same times
everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from ttrec.records import NS_PER_S
from ttrec.simulated_draws import below, between

S: Final = NS_PER_S  # a second, in record time
MS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class Duration:
    """Uniform on [low, high] ns, except that `tail_permille` draws in 1000 come uniformly
    from (high, tail_high]: a few long ones, as measured rallies and pauses have."""

    low: int
    high: int
    tail_high: int = 0
    tail_permille: int = 0

    def draw(self, rng: random.Random) -> int:
        if self.tail_permille and below(rng, 1000) < self.tail_permille:
            return between(rng, self.high + 1, self.tail_high)
        return between(rng, self.low, self.high)

    @property
    def longest(self) -> int:
        return max(self.high, self.tail_high)


# Rally (Point Started -> Point Scored). Leite et al. 2017 (J. Hum. Kinet. 55, 21 matches
# of the 2009-2012 World Championships and Olympics): median 3.3 s, quartiles 2.7-4.4 s,
# range 1.1-31.2 s. This gives median 3.4 s, quartiles 2.6-4.3 s, at most 20 s.
RALLY: Final = Duration(1800 * MS, 4600 * MS, tail_high=20 * S, tail_permille=150)
# Rest (Point Scored -> next Point Started), the same study: median 18.6 s, quartiles
# 14.5-23.4 s, range 1.8-93 s. Drawn here: median 17.9 s, quartiles 13.4-22.3 s, at most
# 40 s; towelling and time-outs below come on top (benchmarks/realism.py shows the sum).
REST: Final = Duration(9 * S, 25 * S, tail_high=40 * S, tail_permille=100)
# Towelling: ITTF Handbook 3.04.04 allows it after every 6 points of a game; how long it
# takes is our assumption.
TOWEL_EVERY_POINTS: Final = 6
TOWEL: Final = Duration(4 * S, 12 * S)
# Between games: ITTF 3.04.04 allows up to 1 minute; players use most of it (assumption),
# and the first serve follows a few seconds after play is called.
BETWEEN_GAMES: Final = Duration(50 * S, 70 * S)
# Time-out: ITTF 3.04.04 gives each player or pair one of up to 1 minute per match. How
# often it is taken and when are our assumptions: in half the matches a side keeps it for
# a bad moment, and calls it after a point that leaves it 3 or more behind in a game
# while it is not ahead in games.
TIMEOUT: Final = Duration(40 * S, 60 * S)
TIMEOUT_USED_PERMILLE: Final = 500
TIMEOUT_DEFICIT_POINTS: Final = 3
# Our assumptions for the rest.
PRE_MATCH: Final = Duration(3 * S, 8 * S)  # connection open -> serve assigned
FIRST_SERVE: Final = Duration(5 * S, 12 * S)  # serve assigned -> first point started
LET: Final = Duration(1 * S, 4 * S)  # a let -> the serve is taken again
ANNOUNCE: Final = Duration(300 * MS, 1500 * MS)  # Point Scored -> Game Point, Swap Serve...
LATENCY: Final = Duration(20 * MS, 150 * MS)  # provider's event timestamp -> frame received
CLOSE_AFTER: Final = Duration(1 * S, 3 * S)  # last frame -> the server closes
