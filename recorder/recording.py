"""One capture being recorded: time stamps, connection numbers, the token scrubbed out of
everything stored, dedupe of provable resends, the resume position, and the records handed
to the capture writer.

Synchronous on purpose: a message is stamped, classified and flushed to the file with no
checkpoint in between, so a cancellation can never leave a message half-recorded, and the
order of records is the order of arrival. The clock is injected (trio's by default, so
tests run on a MockClock).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import trio

from recorder.secret import Token
from ttrec.capture import CaptureWriter
from ttrec.feed import Feed, FrameKind, TextMessage, inspect_text, rfc3339
from ttrec.records import NS_PER_S, Binary, Close, ClosedBy, Error, Frame, Heartbeat, Open, Sent


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
    duplicate: bool = False  # a provable resend of a data frame already written: dropped
    # the first frame of a resumed connection was new: the server resumed past our
    # position, so reconnect from the start to fill what it may have skipped
    resync: bool = False


def _arrival(message: TextMessage, *, duplicate: bool = False, resync: bool = False) -> Arrival:
    return Arrival(message.kind, message.seq, message.finished, message.error_status, duplicate, resync)


def _digest(text: str) -> bytes:
    # 128 bits: two different frames colliding is not a risk worth a thought.
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class ResumeMismatch:
    """A resumed connection whose first data frame was not the one it was asked to repeat:
    the server skipped past where we believed we were, so frames may be missing between
    `expected` and `got` (docs/record.md, "Reconnecting without gaps or duplicates")."""

    conn: int
    start_position: int
    expected: int  # the seqNum startPosition pointed at (our newest new frame)
    got: int  # the seqNum the server sent first

    def describe(self) -> str:
        # Numbered from 1 as in the log ("connected (connection 2)"); `conn` in the capture
        # counts from 0.
        return (
            f"connection {self.conn + 1} resumed at startPosition {self.start_position} but began at "
            f"seqNum {self.got}, not {self.expected}: frames after {self.expected} may be missing"
        )


@dataclass(slots=True)
class Counters:
    """What one fixture's capture holds so far. The recording keeps them (its resume
    position depends on them); status displays only read them."""

    frames: int = 0
    heartbeats: int = 0
    binaries: int = 0
    duplicates: int = 0  # resends dropped
    attempts: int = 0  # connection attempts, failed ones too (each numbers its records' `conn`)
    connections: int = 0  # those of them that opened (the handshake was answered)
    last_seq: int | None = None
    finished_seen: bool = False
    last_frame: str = ""  # exact text of the newest data frame


class Recording:
    """Writes the records of one fixture's capture; counts what it wrote in `counters`.

    Every text stored (frames, heartbeats, close reasons, error bodies) and every binary
    message has the token cut out first (`Token.scrub`); such a record is marked
    `redacted`. A data frame is dropped only as a provable resend: the same seqNum with
    the same (scrubbed) text is already in the capture.
    """

    def __init__(
        self,
        writer: CaptureWriter,
        *,
        token: Token | None = None,
        feed: Feed = "statistics",
        clock: Callable[[], float] = trio.current_time,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.writer = writer
        self.counters = Counters()
        self.feed = feed  # which data-frame rule to read arrivals by (ttrec.feed.inspect_text)
        self._token = token
        self._clock = clock
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._start = clock()
        self._last_t = 0
        self._next_conn = 0
        # seqNum -> digests of the texts written with it (several only if the server sent
        # different frames under one seqNum; all are kept, none is provably a resend).
        self._seen: dict[int, set[bytes]] = {}
        self._newest: int | None = None  # seqNum of the last frame that advanced the position
        self._check: tuple[int, int] | None = None  # (conn, startPosition) until its first frame
        self._from_start: int | None = None  # a connection opened at startPosition 0
        self._opened_at: tuple[int, int] | None = None  # (startPosition, position) of the last open
        self.mismatches: list[ResumeMismatch] = []  # not yet repaired by a resend from the start
        self.gaps_closed = 0  # mismatches a resend from the start repaired

    @property
    def frames(self) -> int:
        """Data frames written."""
        return self.counters.frames

    @property
    def position(self) -> int:
        """Distinct seqNums written: how many of the server's events the capture holds."""
        return len(self._seen)

    def resume_position(self) -> int:
        """The startPosition of the next connection: one frame of overlap, so that the
        server's first frame proves where it resumed (it must be one we have); after an
        unrepaired mismatch, 0 (everything again; the resends are dropped)."""
        if self.mismatches:
            return 0
        overlap = max(self.position - 1, 0)
        if self._opened_at == (overlap, self.position):
            # The last connection asked for the same overlap and brought nothing new (a
            # server that drops us right after that frame): do not ask for it again.
            return self.position
        return overlap

    def idle_s(self) -> float:
        """Seconds since the newest record was stamped (for the --metrics gauge)."""
        return max(self._clock() - self._start - self._last_t / NS_PER_S, 0.0)

    def stamp(self) -> Stamp:
        # max(): a clock is monotonic, but float rounding must not make `t` go backwards.
        t = max(round((self._clock() - self._start) * NS_PER_S), self._last_t)
        self._last_t = t
        return Stamp(t, rfc3339(self._wall()))

    def new_connection(self) -> int:
        conn = self._next_conn
        self._next_conn += 1
        self.counters.attempts = self._next_conn
        return conn

    def scrub(self, text: str) -> tuple[str, bool]:
        """`text` without the token, and whether anything was cut."""
        if self._token is None:
            return text, False
        clean = self._token.scrub(text)
        return clean, clean != text

    def opened(self, stamp: Stamp, conn: int, url: str, start_position: int) -> None:
        self.writer.write(Open(stamp.t, stamp.wall, conn, url, start_position))
        self.counters.connections += 1
        # Only an overlapping resume can be checked; startPosition 0 is "everything".
        self._check = (conn, start_position) if 0 < start_position < self.position else None
        self._from_start = conn if start_position == 0 else None
        self._opened_at = (start_position, self.position)

    def sent(self, stamp: Stamp, conn: int, data: str) -> None:
        self.writer.write(Sent(stamp.t, stamp.wall, conn, data))

    def text(self, stamp: Stamp, conn: int, text: str) -> Arrival:
        stored, redacted = self.scrub(text)
        message = inspect_text(stored, self.feed)
        seq = message.seq
        if message.kind == "heartbeat" or seq is None:
            self.writer.write(Heartbeat(stamp.t, stamp.wall, conn, stored, redacted))
            self.counters.heartbeats += 1
            return _arrival(message)
        known = self._seen.get(seq)
        mismatch = self._resume_check(conn, seq, known is not None)
        self._repair(conn, seq)
        digest = _digest(stored)
        if known is not None and digest in known:
            self.counters.duplicates += 1
            return _arrival(message, duplicate=True)
        if known is None:
            self._seen[seq] = {digest}
            self._newest = seq
        else:
            known.add(digest)
        self.writer.write(Frame(stamp.t, stamp.wall, conn, stored, redacted))
        counters = self.counters
        counters.frames += 1
        counters.last_frame = stored
        counters.last_seq = seq
        if message.finished:
            counters.finished_seen = True
        return _arrival(message, resync=mismatch)

    def _resume_check(self, conn: int, seq: int, known: bool) -> bool:
        """On a resumed connection the first data frame must be one the capture has (the
        overlap asked for); a new one means the server resumed past our position."""
        check, self._check = self._check, None
        if check is None or check[0] != conn or known:
            return False
        assert self._newest is not None
        self.mismatches.append(ResumeMismatch(conn, check[1], self._newest, seq))
        return True

    def _repair(self, conn: int, seq: int) -> None:
        # A connection from startPosition 0 has been sent everything up to `seq`: the
        # frames a mismatch may have skipped (all below its `got`) have now arrived.
        if conn == self._from_start and self.mismatches:
            still = [m for m in self.mismatches if m.got > seq]
            self.gaps_closed += len(self.mismatches) - len(still)
            self.mismatches = still

    def binary(self, stamp: Stamp, conn: int, data: bytes) -> None:
        clean = data
        if self._token is not None:
            clean = self._token.scrub_bytes(data)
        self.writer.write(Binary(stamp.t, stamp.wall, conn, clean, clean != data))
        self.counters.binaries += 1

    def closed(self, stamp: Stamp, conn: int, code: int | None, reason: str, by: ClosedBy) -> None:
        clean, redacted = self.scrub(reason)
        self.writer.write(Close(stamp.t, stamp.wall, conn, code, clean, by, redacted))

    def error(
        self,
        stamp: Stamp,
        conn: int,
        *,
        status: int | None = None,
        body: str | None = None,
        message: str | None = None,
    ) -> None:
        redacted = False
        if body is not None:
            body, redacted = self.scrub(body)
        if message is not None:
            message, cut = self.scrub(message)
            redacted = redacted or cut
        self.writer.write(
            Error(stamp.t, stamp.wall, conn, status=status, body=body, message=message, redacted=redacted)
        )
