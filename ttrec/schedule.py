"""The playback schedule of a capture: what a replayed connection receives, and when.

Pure: built from capture records, no sockets and no clock. The replayer asks two things:

- `Timeline.playback(start_position, speed)`: the messages of one connection, in recorded
  order, each with its due time in seconds after the connection's first message. Due times
  are absolute from that first message (recorded `t` minus the first message's `t`, divided
  by the speed), so a late send never pushes the later ones back: delays do not accumulate.
- `Timeline.start_index(start_at)`: where `--start-at` (a seqNum, a set, a match moment)
  puts the start of every playback, as a data frame index (see `StartAt`).
- `HeartbeatPolicy.next_synthetic(last_sent_s, next_due_s)`: whether the server must make up
  a heartbeat before the next scheduled message because the line would otherwise be quiet
  for longer than the heartbeat interval.

Recorded heartbeats are part of the timeline and are sent verbatim, at every speed: at
speed 1 the client receives exactly the recorded sequence of text frames. A synthetic
heartbeat is only added where the scheduled gap exceeds the interval; when the capture has
recorded heartbeats, a grace of half an interval keeps the provider's own jitter (a
recorded gap of 10.02 s with a 10 s interval) from adding a frame the provider never sent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from ttrec.errors import TtrecError
from ttrec.feed import Feed, seq_num
from ttrec.moments import Moment, moments_of_texts, parse_moment
from ttrec.records import NS_PER_S, Binary, Frame, Heartbeat, Record
from ttrec.truth import TruthTable

# With recorded heartbeats, a scheduled gap may exceed the interval by this fraction of it
# before a synthetic heartbeat is added: the provider's own heartbeats arrive a little late.
RECORDED_HEARTBEAT_GRACE: Final = 0.5


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the recorded stream, as the replayer sends it."""

    t: int  # recorded nanoseconds since the capture started
    payload: str | bytes
    is_frame: bool  # a data frame (counts for startPosition, faults, seqNum)
    seq: int | None = None  # the data frame's seqNum, when it has one


@dataclass(frozen=True, slots=True)
class Step:
    """A message of one connection's playback; `due_s` is None when sent as fast as read."""

    due_s: float | None
    message: Message


@dataclass(frozen=True, slots=True)
class Playback:
    """The messages one connection receives: lazily computed, so a thousand connections
    over one capture share its timeline instead of each holding a copy."""

    timeline: Timeline
    start: int  # index in timeline.messages of the first message sent
    origin_t: int  # recorded t of that message
    speed: float | None

    def __iter__(self) -> Iterator[Step]:
        messages = self.timeline.messages
        for i in range(self.start, len(messages)):
            message = messages[i]
            if self.speed is None:
                yield Step(None, message)
            else:
                yield Step((message.t - self.origin_t) / NS_PER_S / self.speed, message)

    def __len__(self) -> int:
        return len(self.timeline.messages) - self.start

    @property
    def frames(self) -> int:
        """How many data frames this playback sends."""
        return self.timeline.frames - bisect_left(self.timeline.frame_positions, self.start)


@dataclass(frozen=True, slots=True)
class Timeline:
    """The server-to-client messages of a capture, over all its connections, in order."""

    messages: tuple[Message, ...]
    frame_positions: tuple[int, ...]  # index in `messages` of each data frame
    heartbeat_template: str | None  # the last recorded heartbeat, shape for synthetic ones
    feed: Feed = "statistics"  # whose data-frame rule and moments the frames follow
    # Computed on first use and kept (moments parse every frame: only when a fault or
    # --start-at needs them, once per capture, never per client).
    _cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def frames(self) -> int:
        return len(self.frame_positions)

    @property
    def has_recorded_heartbeats(self) -> bool:
        return self.heartbeat_template is not None

    def moment_index(self) -> MomentIndex:
        cached = self._cache.get("moments")
        if not isinstance(cached, MomentIndex):
            texts = (self.messages[i].payload for i in self.frame_positions)
            cached = self._cache["moments"] = MomentIndex.of(
                (t if isinstance(t, str) else "" for t in texts), self.feed
            )
        return cached

    def truth_table(self) -> TruthTable:
        """The true match state after each data frame (ttrec.truth), folded on first use and
        kept: a connection's truth is a lookup, never a parse of the capture."""
        cached = self._cache.get("truths")
        if not isinstance(cached, TruthTable):
            texts = (self.messages[i].payload for i in self.frame_positions)
            cached = self._cache["truths"] = TruthTable(
                (t if isinstance(t, str) else "" for t in texts), self.feed
            )
        return cached

    def start_index(self, start_at: StartAt | None) -> int:
        """The data frame (0-based) a `--start-at` playback begins with; StartAtError when the
        capture has no such point."""
        if start_at is None:
            return 0
        cached = self._cache.get(start_at)
        if not isinstance(cached, int):
            cached = self._cache[start_at] = self._find_start(start_at)
        return cached

    def _find_start(self, start_at: StartAt) -> int:
        if start_at.kind == "seq":
            for index, position in enumerate(self.frame_positions):
                seq = self.messages[position].seq
                if seq is not None and seq >= start_at.number:
                    return index
            raise StartAtError(start_at, "no data frame has that seqNum or a later one")
        if start_at.kind == "set":
            if start_at.number == 1:
                return 0
            ends = self.moment_index().occurrences.get("set-end", ())
            if len(ends) < start_at.number - 1:
                raise StartAtError(start_at, f"the capture has only {self._sets_begun()} set(s)")
            after = ends[start_at.number - 2] + 1
            if after >= self.frames:
                raise StartAtError(start_at, "the match ends with the set before it")
            return after
        assert start_at.moment is not None
        found = self.moment_index().occurrences.get(start_at.moment, ())
        if len(found) < start_at.number:
            have = f"only {len(found)}" if found else "none"
            raise StartAtError(start_at, f"the capture has {have}")
        return found[start_at.number - 1]

    def _sets_begun(self) -> int:
        """Sets the capture shows being played: the first, and one more after each set end
        that is followed by play (not the end of the match, a drop, or the capture's end)."""
        occurrences = self.moment_index().occurrences
        final = occurrences.get("final", ())
        stop = min(final[0], self.frames - 1) if final else self.frames - 1
        return 1 + sum(1 for end in occurrences.get("set-end", ()) if end < stop)

    def playback(self, start_position: int = 0, speed: float | None = 1.0) -> Playback:
        """The playback of a connection that asked to skip `start_position` data frames.

        From the start, everything recorded is sent, leading heartbeats included; after a
        skip, the first message is the first data frame not skipped (heartbeats recorded
        before it belong to the part the client already has).
        """
        if start_position < 0:
            raise ValueError(f"start position must not be negative, got {start_position}")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if start_position == 0:
            start = 0
        elif start_position < self.frames:
            start = self.frame_positions[start_position]
        else:
            start = len(self.messages)
        origin_t = self.messages[start].t if start < len(self.messages) else 0
        return Playback(self, start, origin_t, speed)


_NO_MOMENTS: Final[Mapping[Moment, int]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MomentIndex:
    """The match moments of a capture's data frames, found once from the frames."""

    # per data frame: each moment it shows -> its occurrence in the capture (1 = first)
    per_frame: tuple[Mapping[Moment, int], ...]
    occurrences: Mapping[Moment, tuple[int, ...]]  # moment -> data frame indices, in order

    @classmethod
    def of(cls, frame_texts: Iterable[str], feed: Feed = "statistics") -> MomentIndex:
        per_frame: list[Mapping[Moment, int]] = []
        found: dict[Moment, list[int]] = {}
        for index, moments in enumerate(moments_of_texts(frame_texts, feed)):
            if not moments:
                per_frame.append(_NO_MOMENTS)
                continue
            here: dict[Moment, int] = {}
            for moment in sorted(moments):
                found.setdefault(moment, []).append(index)
                here[moment] = len(found[moment])
            per_frame.append(MappingProxyType(here))
        return cls(tuple(per_frame), MappingProxyType({m: tuple(i) for m, i in found.items()}))


StartKind = Literal["seq", "set", "moment"]


class StartAtError(TtrecError):
    def __init__(self, start_at: StartAt | str, problem: str) -> None:
        self.start_at = start_at
        self.problem = problem
        super().__init__(f"--start-at {start_at}: {problem}")


@dataclass(frozen=True, slots=True)
class StartAt:
    """Where every playback begins (`ttrec serve --start-at`): the first data frame with
    seqNum >= `number`, the first frame of set `number`, or the `number`-th frame showing
    `moment`. Every statistics frame is a full snapshot, so a client joins mid-match."""

    kind: StartKind
    number: int
    moment: Moment | None = None

    def __str__(self) -> str:
        if self.moment is not None:
            return self.moment + ("" if self.number == 1 else f"#{self.number}")
        return f"{self.kind}={self.number}"


def parse_start_at(text: str) -> StartAt:
    """`seq=120`, `set=3`, or a moment with an optional occurrence: `game-point`,
    `match-point#2`, `set-end#1`, `final`; StartAtError says what is wrong."""
    raw = text.strip()
    key, eq, value = raw.partition("=")
    if eq:
        key = key.strip()
        if key not in ("seq", "set"):
            raise StartAtError(raw, f"expected seq=N, set=N or a moment, got {key!r}=")
        value = value.strip()
        if not value.isdigit() or not value.isascii() or int(value) < (0 if key == "seq" else 1):
            raise StartAtError(raw, f"{key} must be a whole number{'' if key == 'seq' else ' from 1'}")
        return StartAt("seq" if key == "seq" else "set", int(value))
    try:
        moment, nth = parse_moment(raw)
    except ValueError as exc:
        raise StartAtError(raw, f"{exc}; or seq=N, set=N") from None
    return StartAt("moment", nth or 1, moment)


def build_timeline(records: Iterable[Record], feed: Feed = "statistics") -> Timeline:
    """The timeline of a capture's records (of `feed`, its header's); client messages and
    bookkeeping are left out."""
    messages: list[Message] = []
    frame_positions: list[int] = []
    template: str | None = None
    for record in records:
        match record:
            case Frame(t=t, data=data):
                frame_positions.append(len(messages))
                messages.append(Message(t, data, is_frame=True, seq=seq_num(data, feed)))
            case Heartbeat(t=t, data=data):
                template = data
                messages.append(Message(t, data, is_frame=False))
            case Binary(t=t, data=raw):
                messages.append(Message(t, raw, is_frame=False))
            case _:
                pass
    return Timeline(tuple(messages), tuple(frame_positions), template, feed)


@dataclass(frozen=True, slots=True)
class HeartbeatPolicy:
    """When the server makes up a heartbeat: after `interval_s` of quiet, unless the next
    scheduled message is due within `grace_s` after that."""

    interval_s: float
    grace_s: float = 0.0

    @classmethod
    def for_timeline(cls, timeline: Timeline, interval_s: float) -> HeartbeatPolicy:
        if not interval_s > 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval_s}")
        grace = interval_s * RECORDED_HEARTBEAT_GRACE if timeline.has_recorded_heartbeats else 0.0
        return cls(interval_s, grace)

    def next_synthetic(self, last_sent_s: float, next_due_s: float | None) -> float | None:
        """When a synthetic heartbeat is due, given the time of the last message sent and the
        due time of the next scheduled one (None: nothing more is scheduled); None when the
        next scheduled message comes soon enough."""
        due = last_sent_s + self.interval_s
        if next_due_s is not None and next_due_s <= due + self.grace_s:
            return None
        return due
