"""What a capture holds (`ttrec info`), as a pure fold over its records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttrec.action_fold import ActionFold, games_won
from ttrec.actions import PacketError, parse_packet
from ttrec.match import FrameError, StatsFrame, parse_frame, set_winner
from ttrec.records import NS_PER_S, Binary, Close, Error, Frame, Header, Heartbeat, Record
from ttrec.truth import ended_of


@dataclass
class SeqTracker:
    """Missing seqNum ranges, kept incrementally so memory stays small on long captures."""

    first: int | None = None
    highest: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # inclusive missing ranges

    def add(self, seq: int) -> None:
        if self.highest is None or self.first is None:
            self.first = self.highest = seq
            return
        if seq > self.highest:
            if seq > self.highest + 1:
                self.gaps.append((self.highest + 1, seq - 1))
            self.highest = seq
            return
        if seq < self.first:
            if seq < self.first - 1:
                self.gaps.insert(0, (seq + 1, self.first - 1))
            self.first = seq
            return
        self._fill(seq)  # a late (reordered) frame may close a gap

    def _fill(self, seq: int) -> None:
        for index, (low, high) in enumerate(self.gaps):
            if low <= seq <= high:
                parts = [(low, seq - 1)] if low < seq else []
                parts += [(seq + 1, high)] if seq < high else []
                self.gaps[index : index + 1] = parts
                return


@dataclass
class Cadence:
    """Spacing of one kind of record: count, mean and largest gap, without keeping them."""

    count: int = 0
    last_t: int | None = None
    total_gap_ns: int = 0
    max_gap_ns: int = 0
    backwards: int = 0  # gaps below zero: a broken capture (`ttrec check` says where)

    def add(self, t: int) -> None:
        if self.last_t is not None:
            gap = t - self.last_t
            self.backwards += gap < 0
            self.total_gap_ns += gap
            self.max_gap_ns = max(self.max_gap_ns, gap)
        self.last_t = t
        self.count += 1

    @property
    def mean_gap_s(self) -> float | None:
        return self.total_gap_ns / (self.count - 1) / NS_PER_S if self.count > 1 else None


@dataclass
class SetTimes:
    """When a set's first point was scored and when the set was decided (ns of `t`)."""

    first_t: int
    decided_t: int | None = None


@dataclass
class CaptureSummary:
    header: Header
    frames: int = 0
    heartbeats: int = 0
    binary: int = 0
    errors: int = 0
    redacted: int = 0  # records the recorder cut the token out of (not byte-exact)
    bad_frames: int = 0  # data frames that are not statistics frames
    connections: set[int] = field(default_factory=set)
    first_t: int | None = None
    last_t: int = 0
    closes: list[Close] = field(default_factory=list)
    seq: SeqTracker = field(default_factory=SeqTracker)
    latest: StatsFrame | None = None  # the frame with the highest seqNum: the match state
    torn_tail: bool = False
    damage: str | None = None
    frame_cadence: Cadence = field(default_factory=Cadence)
    heartbeat_cadence: Cadence = field(default_factory=Cadence)
    set_times: dict[int, SetTimes] = field(default_factory=dict)  # period -> times
    # an actions capture (header feed "actions"): its packets folded; None on statistics
    actions: ActionFold | None = None

    def __post_init__(self) -> None:
        if self.header.feed == "actions" and self.actions is None:
            self.actions = ActionFold()

    def add(self, record: Record) -> None:
        if self.first_t is None:
            self.first_t = record.t
        self.last_t = record.t
        if not isinstance(record, Error):  # a refused attempt (an Error alone) opened nothing
            self.connections.add(record.conn)
        if getattr(record, "redacted", False):
            self.redacted += 1
        match record:
            case Frame(data=data):
                self.frames += 1
                self.frame_cadence.add(record.t)
                self._add_frame(data, record.t)
            case Heartbeat():
                self.heartbeats += 1
                self.heartbeat_cadence.add(record.t)
            case Binary():
                self.binary += 1
            case Error():
                self.errors += 1
            case Close():
                self.closes.append(record)

    def _add_frame(self, data: str, t: int) -> None:
        if self.actions is not None:
            self._add_packet(self.actions, data, t)
            return
        try:
            frame = parse_frame(data)
        except FrameError:
            self.bad_frames += 1
            return
        self.seq.add(frame.seq_num)
        if self.latest is None or frame.seq_num >= self.latest.seq_num:
            self.latest = frame
        for period in frame.period_numbers:
            score = frame.points(period)
            if score == (0, 0):
                continue
            times = self.set_times.setdefault(period, SetTimes(first_t=t))
            if times.decided_t is None and set_winner(score) is not None:
                times.decided_t = t

    def _add_packet(self, fold: ActionFold, data: str, t: int) -> None:
        try:
            packet = parse_packet(data)
        except PacketError:
            self.bad_frames += 1
            return
        self.seq.add(packet.seq)
        fold.add(packet)
        for period, score in enumerate(packet.summary.periods if packet.summary else (), start=1):
            if score == (0, 0):
                continue
            times = self.set_times.setdefault(period, SetTimes(first_t=t))
            if times.decided_t is None and set_winner(score) is not None:
                times.decided_t = t

    def _header_team(self, *, home: bool) -> str | None:
        """The team a header names (a simulated capture's `teams`), for a capture whose
        frames do not (yet) name them."""
        teams = self.header.extra.get("teams")
        for team in teams if isinstance(teams, list) else []:
            if isinstance(team, dict) and team.get("homeTeam") is home and isinstance(team.get("name"), str):
                return str(team["name"])
        return None

    @property
    def duration_s(self) -> float:
        return 0.0 if self.first_t is None else (self.last_t - self.first_t) / NS_PER_S

    def as_json(self) -> dict[str, Any]:
        if self.actions is not None:
            return self._as_json_actions(self.actions)
        latest = self.latest
        teams = {
            "home": latest.home.team.name if latest and latest.home else self._header_team(home=True),
            "away": latest.away.team.name if latest and latest.away else self._header_team(home=False),
        }
        return {
            **self._capture_json(),
            "finished": bool(latest and latest.finished),
            "teams": teams,
            "sets": [list(score) for score in latest.sets] if latest else [],
            "sets_won": list(latest.sets_won) if latest else [0, 0],
            "winner": latest.winner if latest else None,
            "ended": ended_of(bool(latest and latest.finished), latest.winner if latest else None),
            "torn_tail": self.torn_tail,
            "damage": self.damage,
        }

    def _capture_json(self) -> dict[str, Any]:
        """The keys every capture has, whichever its feed."""
        return {
            "fixture_id": self.header.fixture_id,
            "feed": self.header.feed,
            "source": self.header.source,
            "url": self.header.url,
            "created": self.header.created,
            "tool": self.header.tool,
            "frames": self.frames,
            "heartbeats": self.heartbeats,
            "binary": self.binary,
            "errors": self.errors,
            "redacted": self.redacted,
            "connections": len(self.connections),
            "duration_s": round(self.duration_s, 3),
            "first_seq": self.seq.first,
            "last_seq": self.seq.highest,
            "seq_gaps": [list(gap) for gap in self.seq.gaps],
        }

    def _as_json_actions(self, fold: ActionFold) -> dict[str, Any]:
        """The same keys as a statistics capture's, the score from the latest fixtureSummary,
        and what only the actions feed tells: actions by type, corrections, collection."""
        summary = fold.summary
        sets = fold.summary_sets()
        return {
            **self._capture_json(),
            "finished": fold.finished,
            "teams": {
                "home": fold.teams.get("home") or self._header_team(home=True),
                "away": fold.teams.get("away") or self._header_team(home=False),
            },
            "sets": [list(score) for score in sets],
            "sets_won": [summary.home_score, summary.away_score] if summary else list(games_won(sets)),
            "winner": fold.winner(),
            "ended": ended_of(fold.finished, fold.winner(), dropped=fold.dropped),
            "torn_tail": self.torn_tail,
            "damage": self.damage,
            "actions": dict(sorted(fold.by_type.items())),
            "corrections": fold.corrections,
            "collection": [[seq, status] for seq, status in fold.collection],
        }
