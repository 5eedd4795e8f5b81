"""Match moments read from the frames themselves: where faults trigger, where playback can
start or pause (`--start-at`, step control). Pure functions over `StatsFrame` values.

A moment belongs to the frame that shows it first:
  game-point   a Game Point count rose (either side)
  match-point  a Match Point count rose
  set-end      a set became decided (11 with a 2-point lead, or a deuce won by 2)
  final        the frame says `finished: true`
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Literal

from ttrec.match import GAME_POINT, MATCH_POINT, FrameError, StatsFrame, parse_frame, set_winner

Moment = Literal["game-point", "match-point", "set-end", "final"]
MOMENTS: Final[tuple[Moment, ...]] = ("game-point", "match-point", "set-end", "final")


def moments_of(previous: StatsFrame | None, current: StatsFrame) -> frozenset[Moment]:
    found: set[Moment] = set()
    for action, moment in ((GAME_POINT, "game-point"), (MATCH_POINT, "match-point")):
        if _total(current, action) > (_total(previous, action) if previous else 0):
            found.add(moment)  # type: ignore[arg-type]
    decided_before = _decided_sets(previous) if previous else 0
    if _decided_sets(current) > decided_before:
        found.add("set-end")
    if current.finished:
        found.add("final")
    return frozenset(found)


def moments_of_texts(texts: Iterable[str]) -> Iterator[frozenset[Moment]]:
    """The moments of each data frame of a capture, in order; a frame that is not a
    statistics frame has none and does not break the chain."""
    previous: StatsFrame | None = None
    for text in texts:
        try:
            current = parse_frame(text)
        except FrameError:
            yield frozenset()
            continue
        yield moments_of(previous, current)
        previous = current


def _total(frame: StatsFrame, action: int) -> int:
    return sum(team.count(action) for team in frame.teams)


def _decided_sets(frame: StatsFrame) -> int:
    return sum(set_winner(score) is not None for score in frame.sets)
