"""Match invariants a capture must satisfy (`ttrec check`), as a pure fold over records.

Feed `Checker.add(line, record)` with each record and its line number, then `finish()`;
every problem names the line it was found on. `notes` says what was accepted that a naive
reader would not expect: corrections and a collection that ended without a result.

Counts only grow, except in a correction (SPEC §6). On a statistics capture alone the
video check that causes it shows only as a gap in `seqNum`s, so the rule is: a frame may
take back one Point Scored of one side in one set (match total and that set both down by
exactly one) when nothing else of that side changed, the other side either did not change
or gained exactly that point in the same set (the point given to the other side), and at
least `CORRECTION_MIN_GAP` uncounted actions (the video check and its result) came between
it and the previous frame. Any other fall is a problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from ttrec.action_invariants import ActionChecker
from ttrec.match import (
    POINT_SCORED,
    FrameError,
    StatsFrame,
    TeamStats,
    is_legal_set_score,
    parse_frame,
    set_winner,
)
from ttrec.records import Frame, Header, Record

# Video Check Underway and Video Check Result come between a point and its correction.
CORRECTION_MIN_GAP: Final = 2


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Checker:
    header: Header
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    _last_t: int = 0
    _last_conn: int = 0
    _last_seq: dict[int, int] = field(default_factory=dict)  # conn -> last seqNum
    _previous: StatsFrame | None = None
    _finished_line: int | None = None
    _sides_seen: set[str] = field(default_factory=set)  # a team once in the statistics stays
    _actions: ActionChecker | None = None  # an actions capture's packets are checked there

    def __post_init__(self) -> None:
        if self.header.feed == "actions":
            self._actions = ActionChecker(self.header.fixture_id)

    def add(self, line: int, record: Record) -> None:
        if record.t < self._last_t:
            self._problem(line, f"time went backwards ({record.t} < {self._last_t} ns)")
        self._last_t = max(self._last_t, record.t)
        if record.conn < self._last_conn:
            self._problem(line, f"connection number went backwards ({record.conn} < {self._last_conn})")
        self._last_conn = max(self._last_conn, record.conn)
        if isinstance(record, Frame) and self._actions is not None:
            self._actions.add(line, record.conn, record.data)
            self.notes.extend(Problem(n, m) for n, m in self._actions.notes)
            self._actions.notes.clear()
        elif isinstance(record, Frame):
            self._add_frame(line, record)

    def _add_frame(self, line: int, record: Frame) -> None:
        try:
            obj = json.loads(record.data)
        except (ValueError, RecursionError):
            self._problem(line, "data frame is not a statistics frame: not JSON")
            return
        try:
            frame = parse_frame(obj)
        except FrameError as exc:
            self._problem(line, f"data frame is not a statistics frame: {exc}")
            return
        self._check_strict(line, obj, frame)
        if self._finished_line is not None:
            self._problem(line, f"data frame after the finished frame on line {self._finished_line}")
        if frame.finished:
            self._finished_line = line
        if frame.fixture_id.lower() != self.header.fixture_id.lower():
            self._problem(line, f"fixtureId {frame.fixture_id} is not the capture's {self.header.fixture_id}")
        last = self._last_seq.get(record.conn)
        if last is not None and frame.seq_num <= last:
            self._problem(line, f"seqNum {frame.seq_num} does not increase (previous {last})")
        self._last_seq[record.conn] = frame.seq_num
        self._check_totals(line, frame)
        self._check_sets(line, frame, dropped=self._is_drop(frame))
        if self._previous is not None:
            gap = frame.seq_num - self._previous.seq_num - 1
            correction = _correction(self._previous, frame) if gap >= CORRECTION_MIN_GAP else None
            if correction is None:
                self._check_monotonic(line, self._previous, frame)
            else:
                self.notes.append(Problem(line, f"correction at seqNum {frame.seq_num}: {correction}"))
        self._previous = frame

    def _check_strict(self, line: int, obj: Any, frame: StatsFrame) -> None:
        """What the lenient parser (shared with playback) lets through but a valid capture
        never has: a null `finished`, or a team that vanishes mid-match."""
        if isinstance(obj, dict) and "finished" in obj and not isinstance(obj["finished"], bool):
            self._problem(line, f"'finished' must be true or false, got {json.dumps(obj['finished'])}")
        for side, stats in (("home", frame.home), ("away", frame.away)):
            if stats is not None:
                self._sides_seen.add(side)
            elif side in self._sides_seen:
                self._problem(line, f"the {side} team's statistics are missing (present on an earlier frame)")

    def _check_totals(self, line: int, frame: StatsFrame) -> None:
        for team in frame.teams:
            actions = set(team.totals).union(*(counts.keys() for counts in team.periods.values()))
            for action in sorted(actions):
                total = team.count(action)
                summed = sum(team.count(action, p) for p in team.periods)
                if total != summed:
                    self._problem(
                        line,
                        f"{_side(team)} action {action}: match total {total} != sum over periods {summed}",
                    )

    def _is_drop(self, frame: StatsFrame) -> bool:
        """A dropped collection's last frame (SPEC §6): `finished`, sent for a status change
        (no count changed since the previous frame) with the set in play left undecided."""
        before = self._previous
        if not frame.finished or before is None or not frame.sets or set_winner(frame.sets[-1]):
            return False
        pairs = ((before.home, frame.home), (before.away, frame.away))
        return all(old is not None and new is not None and not _changes(old, new) for old, new in pairs)

    def _check_sets(self, line: int, frame: StatsFrame, *, dropped: bool) -> None:
        sets = frame.sets
        for index, score in enumerate(sets):
            period = frame.period_numbers[index]
            is_last = index == len(sets) - 1
            # The last set may still be in play, unless the match is over.
            done = not is_last or frame.finished
            legal = is_legal_set_score(score, finished=True) or (
                not done and is_legal_set_score(score, finished=False)
            )
            if not legal and dropped and is_last and is_legal_set_score(score, finished=False):
                # The collection ended without a result (CollectionDropped): not a bad count.
                self.notes.append(
                    Problem(line, f"finished without a result: set {period} stopped at {score[0]}-{score[1]}")
                )
                continue
            if not legal:
                state = "completed" if done else "in-play"
                self._problem(line, f"set {period}: {score[0]}-{score[1]} is not a legal {state} score")

    def _check_monotonic(self, line: int, before: StatsFrame, after: StatsFrame) -> None:
        for old, new in ((before.home, after.home), (before.away, after.away)):
            if old is None or new is None:
                continue
            for action, count in old.totals.items():
                if new.count(action) < count:
                    self._problem(
                        line, f"{_side(new)} action {action} total fell from {count} to {new.count(action)}"
                    )
            for period, counts in old.periods.items():
                for action, count in counts.items():
                    if new.count(action, period) < count:
                        self._problem(
                            line,
                            f"{_side(new)} action {action} in period {period} fell from {count}"
                            f" to {new.count(action, period)}",
                        )

    def _problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def finish(self) -> list[Problem]:
        if self._actions is not None:
            return sorted(
                [*self.problems, *(Problem(n, m) for n, m in self._actions.problems)], key=lambda p: p.line
            )
        return self.problems


def _correction(before: StatsFrame, after: StatsFrame) -> str | None:
    """What a frame corrected, when its only change is one Point Scored taken back from one
    side (and perhaps given to the other, in the same set); None for anything else."""
    pairs = ((before.home, after.home), (before.away, after.away))
    if any(old is None or new is None for old, new in pairs):
        return None
    changes = [_changes(old, new) for old, new in pairs if old is not None and new is not None]
    for loser, gainer, name, other_name in ((0, 1, "home", "away"), (1, 0, "away", "home")):
        taken = changes[loser]
        if len(taken) != 1 or taken[0][2] != -1 or taken[0][0] != POINT_SCORED:
            continue
        period = taken[0][1]
        if period is None:
            continue
        given = changes[gainer]
        if not given:
            return f"{name} Point Scored in set {period} cancelled"
        if given == [(POINT_SCORED, period, 1)]:
            return f"{name} Point Scored in set {period} given to {other_name}"
    return None


def _changes(old: TeamStats, new: TeamStats) -> list[tuple[int, int | None, int]]:
    """(action, period, change) of every per-set count that changed, checked against the
    match totals: None as the period when a total moved differently from its sets."""
    changed: list[tuple[int, int | None, int]] = []
    periods = set(old.periods) | set(new.periods)
    actions = set(old.totals) | set(new.totals)
    for action in sorted(actions):
        by_set = [(p, new.count(action, p) - old.count(action, p)) for p in sorted(periods)]
        moved = [(p, d) for p, d in by_set if d]
        total = new.count(action) - old.count(action)
        if sum(d for _, d in moved) != total:
            changed.append((action, None, total))
        changed.extend((action, p, d) for p, d in moved)
    return changed


def _side(team: TeamStats) -> str:
    return "home" if team.team.home else "away"


__all__ = ["Checker", "Problem"]
