"""Match moments read from the frames themselves: where faults trigger, where playback can
start or pause (`--start-at`, step control). Pure functions over `StatsFrame` values and,
on the actions feed, `ActionPacket` values.

A moment belongs to the frame that shows it first:
  game-point   a Game Point count rose (either side)
  match-point  a Match Point count rose
  set-end      a set became decided (11 with a 2-point lead, or a deuce won by 2)
  final        the frame says `finished: true`

On the actions feed the same moments belong to the packet of the action itself: a Game Point
or Match Point packet (a fresh one: a re-send that corrects an earlier action is not a new
moment), the packet whose fixtureSummary first shows one more decided set, the packet that
says finished. Since a statistics frame's seqNum is its action's fixtureSeqNum (SPEC §6),
the n-th moment of a kind is the same action on either feed (tests/test_moments_actions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Literal, get_args

from ttrec.actions import ActionPacket, PacketError, parse_packet
from ttrec.feed import Feed
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


def packet_moments(previous_sets: int, was_finished: bool, packet: ActionPacket) -> frozenset[Moment]:
    """The moments an action packet shows; `previous_sets` is the number of decided sets
    in the last summary before it, `was_finished` whether a packet before it was finished
    (the actions feed goes on after the end, e.g. a Status Updated: "final" is the first)."""
    found: set[Moment] = set()
    fresh = not packet.related and packet.send_type not in ("Cancelled", "Deleted")
    if fresh and packet.type_id == GAME_POINT:
        found.add("game-point")
    if fresh and packet.type_id == MATCH_POINT:
        found.add("match-point")
    if packet.summary is not None and decided_sets(packet.summary.periods) > previous_sets:
        found.add("set-end")
    if packet.finished and not was_finished:
        found.add("final")
    return frozenset(found)


def decided_sets(periods: Iterable[tuple[int, int]]) -> int:
    return sum(set_winner(score) is not None for score in periods)


def moments_of_texts(texts: Iterable[str], feed: Feed = "statistics") -> Iterator[frozenset[Moment]]:
    """The moments of each data frame of a capture, in order; a frame that is not a
    frame of `feed` has none and does not break the chain."""
    if feed == "actions":
        yield from _packet_moments_of_texts(texts)
        return
    previous: StatsFrame | None = None
    for text in texts:
        try:
            current = parse_frame(text)
        except FrameError:
            yield frozenset()
            continue
        yield moments_of(previous, current)
        previous = current


def _packet_moments_of_texts(texts: Iterable[str]) -> Iterator[frozenset[Moment]]:
    sets = 0
    finished = False
    for text in texts:
        try:
            packet = parse_packet(text)
        except PacketError:
            yield frozenset()
            continue
        yield packet_moments(sets, finished, packet)
        finished = finished or packet.finished
        if packet.summary is not None:
            sets = decided_sets(packet.summary.periods)


def _total(frame: StatsFrame, action: int) -> int:
    return sum(team.count(action) for team in frame.teams)


def _decided_sets(frame: StatsFrame) -> int:
    return decided_sets(frame.sets)


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
