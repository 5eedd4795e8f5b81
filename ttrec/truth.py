"""The true match state after every data frame of a capture: what a consumer should believe.

One `Truth` per data frame, folded from the frames alone (the same fold as `ttrec watch`'s
board, so the two can never disagree). Its JSON form is the schema `ttrec truth` prints and
`ttrec verdict` compares beliefs against (docs/verdict.md):

  schema      "ttrec.truth/1" — bumped when a field changes meaning
  seq         the frame's seqNum (the key a consumer reports its beliefs under)
  frame       1-based index of the data frame in the capture
  sets        [[home, away], ...] points per set, in period order
  sets_won    [home, away]
  server      "home" | "away" | null: who serves next, from Point Started / Swap Serve
  moment      "game-point" | "match-point" | null: from the Game Point / Match Point until
              the next point is scored (ttrec.standing_moment, corrections included)
  moment_side "home" | "away" | null: the side that holds the game or match point
  finished    the frame's `finished`
  winner      "home" | "away" | null (null until finished, and when it ended without a result)
  ended       null while live; "completed" with a winner, "dropped" when the collection
              ended without one (a finished frame whose last set is undecided; on an actions
              capture, collectionStatus CollectionDropped)
  corrections data frames so far in which a point count went down (a point taken back);
              on an actions capture, the packets so far that correct an earlier action
              (Cancelled, Deleted, Updated, Restored, or naming relatedFixtureActionIds)
  teams       {"home": name, "away": name}

On an actions capture (`truths(texts, "actions")`) there is one line per packet, keyed by
its fixtureSeqNum: sets from fixtureSummary.periods, sets_won from its homeTeamScore and
awayTeamScore, the moment from the packets as on the statistics feed (ttrec.standing_moment),
the server from the last Point Started or Swap Serve packet that names a team, as on the
statistics feed (null when none does; ttrec.scoreboard). The fields mean the same on both
feeds, so one consumer's beliefs are judged alike whichever feed it reads.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from ttrec.action_fold import ActionFold
from ttrec.actions import PacketError, parse_packet
from ttrec.feed import Feed
from ttrec.match import (
    POINT_SCORED,
    FrameError,
    Side,
    StatsFrame,
    parse_frame,
)
from ttrec.scoreboard import Scoreboard
from ttrec.standing_moment import Kind

SCHEMA: Final = "ttrec.truth/1"
Ended = Literal["completed", "dropped"]
# The fields a belief may report; `seq` is its key, `schema`, `frame` and `teams` describe
# the truth line itself.
COMPARABLE: Final = (
    "sets",
    "sets_won",
    "server",
    "moment",
    "moment_side",
    "finished",
    "winner",
    "ended",
    "corrections",
)


@dataclass(frozen=True, slots=True)
class Truth:
    seq: int
    frame: int
    sets: tuple[tuple[int, int], ...]
    sets_won: tuple[int, int]
    server: Side | None
    moment: str | None
    moment_side: Side | None
    finished: bool
    winner: Side | None
    ended: Ended | None
    corrections: int
    teams: Mapping[str, str]
    # Constant, but a field: a Truth inside a report (replayer.report) turned to JSON by
    # dataclasses.asdict says its schema as `ttrec truth` does.
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "seq": self.seq,
            "frame": self.frame,
            "sets": [list(score) for score in self.sets],
            "sets_won": list(self.sets_won),
            "server": self.server,
            "moment": self.moment,
            "moment_side": self.moment_side,
            "finished": self.finished,
            "winner": self.winner,
            "ended": self.ended,
            "corrections": self.corrections,
            "teams": dict(self.teams),
        }

    def line(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


def line_problem(line: Any) -> str | None:
    """What keeps a decoded JSON value from being a truth line as `Truth.to_json` writes it
    (`ttrec verdict` reads a TRUTH file with it), or None."""
    if not isinstance(line, dict):
        return "not a JSON object"
    if "schema" not in line:
        return "no schema"
    if line["schema"] != SCHEMA:
        return f"schema {line['schema']!r}"
    for name, fits in _FIELD_CHECKS.items():
        if name not in line:
            return f"no {name}"
        if not fits(line[name]):
            return f"{name} {json.dumps(line[name])[:40]} is not what a truth line holds there"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_int(v) and v >= 0 for v in value)


def _one_of(*allowed: object) -> Any:
    return lambda value: value in allowed and type(value) in {type(a) for a in allowed}


_SIDE_OR_NONE = _one_of("home", "away", None)
_FIELD_CHECKS: Final = {
    "seq": lambda value: _is_int(value) and value >= 0,
    "frame": lambda value: _is_int(value) and value >= 1,
    "sets": lambda value: isinstance(value, list) and all(_is_pair(score) for score in value),
    "sets_won": _is_pair,
    "server": _SIDE_OR_NONE,
    "moment": _one_of(*get_args(Kind), None),
    "moment_side": _SIDE_OR_NONE,
    "finished": lambda value: isinstance(value, bool),
    "winner": _SIDE_OR_NONE,
    "ended": _one_of("completed", "dropped", None),
    "corrections": lambda value: _is_int(value) and value >= 0,
    # A side's name is known once a packet or frame has named it: on the actions feed the
    # first lines may name one side or none.
    "teams": lambda value: (
        isinstance(value, dict)
        and value.keys() <= {"home", "away"}
        and all(isinstance(v, str) for v in value.values())
    ),
}


def truths(frame_texts: Iterable[str], feed: Feed = "statistics") -> Iterator[Truth]:
    """The state after each data frame; a frame that is not a frame of `feed` changes
    nothing and gets no line (there is no seqNum to key it by)."""
    if feed == "actions":
        yield from _packet_truths(frame_texts)
        return
    board = Scoreboard()
    corrections = 0
    for index, text in enumerate(frame_texts, start=1):
        try:
            frame = parse_frame(text)
        except FrameError:
            continue
        if board.frame is not None and _points_taken_back(board.frame, frame):
            corrections += 1
        board.add_frame(frame, at=float(index))
        yield _truth(board, frame, index, corrections)


def _packet_truths(texts: Iterable[str]) -> Iterator[Truth]:
    fold = ActionFold()
    board = Scoreboard()  # the server and the moment, as `ttrec watch` shows them
    for index, text in enumerate(texts, start=1):
        try:
            packet = parse_packet(text)
        except PacketError:
            continue
        fold.add(packet)
        board.add_packet(packet, at=float(index))
        summary = fold.summary
        winner = fold.winner()
        ended = ended_of(fold.finished, winner, dropped=fold.dropped)
        live = not fold.finished and not fold.dropped
        held = board.standing.held if live else None
        yield Truth(
            seq=packet.seq,
            frame=index,
            sets=summary.periods if summary else (),
            sets_won=(summary.home_score, summary.away_score) if summary else (0, 0),
            server=board.server if live else None,
            moment=held[0] if held else None,
            moment_side=held[1] if held else None,
            finished=fold.finished,
            winner=winner,
            ended=ended,
            corrections=fold.corrections,
            teams={str(side): name for side, name in fold.teams.items()},
        )


def ended_of(finished: bool, winner: str | None, *, dropped: bool = False) -> Ended | None:
    """How a match ended (the `ended` of the truth and of `ttrec info`): None while it goes
    on, "completed" with a winner, "dropped" when the collection was dropped or the match
    finished without a result (SPEC §6)."""
    if dropped or (finished and not winner):
        return "dropped"
    return "completed" if finished else None


def _truth(board: Scoreboard, frame: StatsFrame, index: int, corrections: int) -> Truth:
    held = None if frame.finished else board.standing.held
    winner = frame.winner
    ended = ended_of(frame.finished, winner)
    return Truth(
        seq=frame.seq_num,
        frame=index,
        sets=tuple(frame.sets),
        sets_won=frame.sets_won,
        server=None if frame.finished else board.server,
        moment=held[0] if held else None,
        moment_side=held[1] if held else None,
        finished=frame.finished,
        winner=winner,
        ended=ended,
        corrections=corrections,
        teams={side: team.team.name for side, team in (("home", frame.home), ("away", frame.away)) if team},
    )


def _points_taken_back(before: StatsFrame, after: StatsFrame) -> bool:
    for old, new in ((before.home, after.home), (before.away, after.away)):
        if old is None:
            continue
        for period in old.periods:
            if (new.count(POINT_SCORED, period) if new else 0) < old.count(POINT_SCORED, period):
                return True
    return False


class TruthTable:
    """The truth after any data frame of one capture, folded once and only as far as asked:
    the server looks a connection's position up here (replayer.report) as often as it likes
    without parsing the capture again. Keyed by the 0-based index of the data frame among
    the capture's data frames; a frame that is not a frame of the feed keeps the truth of
    the frame before it (None before the first)."""

    def __init__(self, frame_texts: Iterable[str], feed: Feed = "statistics") -> None:
        self._pending: Iterator[Truth] | None = truths(frame_texts, feed)
        self._folded: list[Truth] = []  # in frame order; each Truth's `frame` is 1-based
        # A harness handle's report may be read in a test's thread while the server's
        # thread folds: one folder at a time.
        self._folding = threading.Lock()

    def at(self, index: int) -> Truth | None:
        """The state after data frame `index` (0-based); None when no frame up to it was a
        data frame of the feed."""
        if index < 0:
            return None
        self._fold_past(index + 1)
        found = bisect_right(self._folded, index + 1, key=lambda truth: truth.frame)
        return self._folded[found - 1] if found else None

    def _fold_past(self, frame: int) -> None:
        with self._folding:
            self._fold_locked(frame)

    def _fold_locked(self, frame: int) -> None:
        while self._pending is not None and (not self._folded or self._folded[-1].frame < frame):
            following = next(self._pending, None)
            if following is None:
                self._pending = None
            else:
                self._folded.append(following)
