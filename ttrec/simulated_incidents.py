"""What happens in a simulated match besides the points: the actions no aggregate counts,
corrections and collection trouble, with their rates (docs/feeds.md lists them).

All of it is drawn from its own generator (`incident_rng`), so the points of a seed are the
same whatever the incidents do; they only move the clock. Integer draws only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

from ttrec.simulated_draws import below
from ttrec.simulated_points import PPM
from ttrec.simulated_time import MS, Duration, S

Scenario = Literal["completed", "suspended", "dropped"]
SCENARIOS: Final[tuple[Scenario, ...]] = ("completed", "suspended", "dropped")
CorrectionAt = Literal["match-point"]
CORRECTION_MOMENTS: Final[tuple[CorrectionAt, ...]] = ("match-point",)

# Assumptions (the provider publishes no rates). A point is corrected after a video check
# about once every four matches (a best-of-5 has some 80 points): 3000 per million points.
DEFAULT_CORRECTION_PPM: Final = 3_000
# A video check whose call stands, per point (table tennis has them only at some events).
VIDEO_CHECK_PPM: Final = 15_000
# Play stopped and resumed (a broken ball, a wet floor, a ball from the next table), per point.
STOPPAGE_PPM: Final = 35_000
# An injury stops play once in this many matches (per million matches).
INJURY_PPM: Final = 50_000

VIDEO_CHECK: Final = Duration(20 * S, 60 * S)  # underway -> result
STOPPAGE: Final = Duration(20 * S, 90 * S)  # play stopped -> resumed
INJURY_BREAK: Final = Duration(2 * 60 * S, 5 * 60 * S)  # injury -> play resumed
SUSPENSION: Final = Duration(2 * 60 * S, 6 * 60 * S)  # no signal -> collecting again
PRE_MATCH_STEP: Final = Duration(200 * MS, 900 * MS)  # lineups, status, start fixture
PERIOD_CALL: Final = Duration(1 * S, 3 * S)  # Start Period -> first serve of the game
# Where a collection is suspended or dropped: in game 2 (every match has one), after this
# many of its points.
TROUBLE_AFTER_POINTS: Final = (2, 12)


def incident_rng(seed: int) -> random.Random:
    """The incidents' own generator: a string seed is hashed the same on every platform."""
    return random.Random(f"ttrec-incidents-{seed}")


@dataclass(frozen=True, slots=True)
class Incidents:
    """How often things happen; `ttrec simulate --corrections/--correction-at/--scenario`."""

    correction_ppm: int = DEFAULT_CORRECTION_PPM
    correction_at: CorrectionAt | None = None
    scenario: Scenario = "completed"

    def __post_init__(self) -> None:
        if not 0 <= self.correction_ppm <= PPM:
            raise ValueError(f"correction_ppm must be within 0..{PPM}, got {self.correction_ppm}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}, got {self.scenario!r}")


def chance(rng: random.Random, ppm: int) -> bool:
    return below(rng, PPM) < ppm
