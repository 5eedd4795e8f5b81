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
from typing import Final, Literal, get_args

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


def parse_moment(text: str, *, what: str = "moment") -> tuple[Moment, int | None]:
    """`game-point` or `game-point#2` (the 2nd of the capture); ValueError with the reason."""
    name, hash_, nth_text = text.strip().partition("#")
    name = name.strip()
    if name not in MOMENTS:
        raise ValueError(f"unknown {what} {name!r} (known: {', '.join(MOMENTS)})")
    moment: Moment = next(m for m in get_args(Moment) if m == name)
    if not hash_:
        return moment, None
    if not nth_text.strip().isdigit() or int(nth_text) < 1:
        raise ValueError(f"the occurrence after # must be a whole number from 1, got {nth_text!r}")
    return moment, int(nth_text)
