"""One capture being recorded: time stamps, connection numbers, dedupe by seqNum, and the
records handed to the capture writer.

Synchronous on purpose: a message is stamped, classified and flushed to the file with no
checkpoint in between, so a cancellation can never leave a message half-recorded, and the
order of records is the order of arrival. The clock is injected (trio's by default, so
tests run on a MockClock).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import trio

from recorder.status import FixtureStatus
from ttrec.capture import CaptureWriter
from ttrec.feed import FrameKind, rfc3339
from ttrec.records import Binary, Close, ClosedBy, Error, Frame, Heartbeat, Open, Sent

NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Stamp:
    t: int  # ns since the capture started, on the monotonic clock
    wall: str  # RFC 3339 UTC


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a text message turned out to be."""

    kind: FrameKind
    seq: int | None = None
    finished: bool = False
    # a control frame {"error": ..., "status": N}, e.g. the auth refusal
    error_status: int | None = None
    duplicate: bool = False  # a data frame whose seqNum was already written: dropped


_HEARTBEAT: Final = Arrival("heartbeat")


def inspect_text(text: str) -> Arrival:
    """Classify a text message as `ttrec.feed.classify` does, parsing it at most once.

    The feed's rule (SPEC §1): a JSON object carrying `seqNum` and `fixtureId` is a data
    frame, anything else a heartbeat or control message. One parse also yields the seqNum
    (for dedupe) and `finished`; the recorder sees every frame, so parsing twice would
    double its main cost. Tests check agreement with `classify` and `seq_num`.
    """
    has_seq = '"seqNum"' in text and '"fixtureId"' in text
    has_error = '"error"' in text and '"status"' in text
    if not (has_seq or has_error):
        return _HEARTBEAT  # the cheap path: heartbeats are not parsed at all
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # nesting too deep for the parser: still kept, verbatim
        return _HEARTBEAT
    if not isinstance(obj, dict):
        return _HEARTBEAT
    if has_seq and "seqNum" in obj and "fixtureId" in obj:
        seq = obj["seqNum"]
        return Arrival(
            "frame",
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            finished=obj.get("finished") is True,
        )
    status = obj.get("status")
    if "error" in obj and isinstance(status, int) and not isinstance(status, bool):
        return Arrival("heartbeat", error_status=status)
    return _HEARTBEAT


class Recording:
    """Writes the records of one fixture's capture; counts what it wrote in `status`."""

    def __init__(
        self,
        writer: CaptureWriter,
        status: FixtureStatus,
        *,
        clock: Callable[[], float] = trio.current_time,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.writer = writer
        self.status = status
        self._clock = clock
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._start = clock()
        self._last_t = 0
        self._next_conn = 0
        self._seen: set[int] = set()

    @property
    def frames(self) -> int:
        """Data frames written: the startPosition of the next connection."""
        return self.status.frames

    def stamp(self) -> Stamp:
        # max(): a clock is monotonic, but float rounding must not make `t` go backwards.
        t = max(round((self._clock() - self._start) * NS_PER_S), self._last_t)
        self._last_t = t
        return Stamp(t, rfc3339(self._wall()))

    def new_connection(self) -> int:
        conn = self._next_conn
        self._next_conn += 1
        self.status.connections = self._next_conn
        return conn

    def opened(self, stamp: Stamp, conn: int, url: str, start_position: int) -> None:
        self.writer.write(Open(stamp.t, stamp.wall, conn, url, start_position))

    def sent(self, stamp: Stamp, conn: int, data: str) -> None:
        self.writer.write(Sent(stamp.t, stamp.wall, conn, data))

    def text(self, stamp: Stamp, conn: int, text: str) -> Arrival:
        arrival = inspect_text(text)
        if arrival.kind == "heartbeat":
            self.writer.write(Heartbeat(stamp.t, stamp.wall, conn, text))
            self.status.heartbeats += 1
            return arrival
        if arrival.seq is not None:
            if arrival.seq in self._seen:
                self.status.duplicates += 1
                return Arrival("frame", arrival.seq, arrival.finished, duplicate=True)
            self._seen.add(arrival.seq)
        self.writer.write(Frame(stamp.t, stamp.wall, conn, text))
        status = self.status
        status.frames += 1
        status.last_frame = text
        if arrival.seq is not None:
            status.last_seq = arrival.seq
        if arrival.finished:
            status.finished_seen = True
        return arrival

    def binary(self, stamp: Stamp, conn: int, data: bytes) -> None:
        self.writer.write(Binary(stamp.t, stamp.wall, conn, data))
        self.status.binaries += 1

    def closed(self, stamp: Stamp, conn: int, code: int | None, reason: str, by: ClosedBy) -> None:
        self.writer.write(Close(stamp.t, stamp.wall, conn, code, reason, by))

    def error(
        self,
        stamp: Stamp,
        conn: int,
        *,
        status: int | None = None,
        body: str | None = None,
        message: str | None = None,
    ) -> None:
        self.writer.write(Error(stamp.t, stamp.wall, conn, status=status, body=body, message=message))
