"""One fixture's recording session: connect, record, and reconnect after transient failures
until the match is finished (or forever), without gaps or duplicates.

No gaps: each reconnect asks for one frame of overlap (`Recording.resume_position`) and
checks that the server's first frame is one the capture has; if not, it starts over from
startPosition 0; the watchdog turns a silent connection into a reconnect. No duplicates: a
provable resend (same seqNum, same text) is dropped (`Recording.text`). Permanent refusals
stop at once. A resume mismatch still unrepaired at the end fails the fixture.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal

import trio

from recorder.connection import Attempt, Connect, run_connection, websocket_connect
from recorder.policy import DEFAULT_BACKOFF, AttemptWindow, Backoff
from recorder.recording import Recording
from recorder.secret import Token
from recorder.status import FixtureStatus, Reporter
from recorder.stop import Stop
from ttrec.capture import create_exclusive
from ttrec.errors import CaptureWriteError
from ttrec.feed import DEFAULT_BASE_URL, HEARTBEAT_INTERVAL_S, MAX_REQUESTS_PER_S, Feed, feed_url

Until = Literal["finished", "forever"]
UNTIL: Final[tuple[Until, ...]] = ("finished", "forever")
WATCHDOG_HEARTBEATS: Final = 3  # silence for this many heartbeat intervals means a dead link
Outcome = Literal["finished", "failed", "stopped"]


@dataclass(frozen=True, slots=True)
class RecordOptions:
    base_url: str = DEFAULT_BASE_URL
    feed: Feed = "statistics"
    until: Until = "finished"
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S
    backoff: Backoff = field(default=DEFAULT_BACKOFF)
    # The provider's guideline, for the whole process; raise it only against your own server.
    max_attempts_per_s: int = MAX_REQUESTS_PER_S
    seed: int | None = None  # for the backoff jitter; None: unpredictable
    # How a new capture file is created (tests pass one that refuses writes, as a full disk).
    create_file: Callable[[Path], IO[bytes]] = create_exclusive

    @property
    def watchdog_s(self) -> float:
        return WATCHDOG_HEARTBEATS * self.heartbeat_interval_s


@dataclass(frozen=True, slots=True)
class FixtureResult:
    fixture_id: str
    path: str
    outcome: Outcome
    detail: str  # why it ended, one line, token scrubbed
    frames: int
    heartbeats: int
    duplicates: int
    connections: int  # opened (the handshake was answered)
    finished_seen: bool  # the finished:true frame is in the capture
    # resumes where the server skipped past our position and no resend from the start
    # filled in what it skipped: frames may be missing (docs/record.md)
    possible_gaps: tuple[str, ...] = ()
    attempts: int = 0  # connection attempts, the failed ones too

    @property
    def complete(self) -> bool:
        """The match was recorded up to its finished frame, nothing failed and no resume
        may have skipped a frame."""
        return self.finished_seen and self.outcome != "failed" and not self.possible_gaps


class AttemptLimiter:
    """The process-wide cap on connection attempts, shared by every session: at most
    `max_per_s` in any second as the server sees them (`recorder.policy.AttemptWindow`)."""

    def __init__(self, max_per_s: int = MAX_REQUESTS_PER_S) -> None:
        self._window = AttemptWindow(max_per_s, 1.0)
        self._changed = trio.Event()

    async def acquire(self) -> int:
        """Wait for a slot; the caller must `release` it once the handshake is answered or
        has failed. A cancelled wait releases its slot itself."""
        index = self._window.book()
        try:
            while (at := self._window.earliest_start(index)) is None:
                await self._changed.wait()
            await trio.sleep_until(at)
        except BaseException:
            self.release(index)
            raise
        return index

    def release(self, index: int) -> None:
        self._window.ended(index, trio.current_time())
        self._changed.set()
        self._changed = trio.Event()


class FixtureSession:
    def __init__(
        self,
        fixture_id: str,
        recording: Recording,
        token: Token,
        options: RecordOptions,
        *,
        status: FixtureStatus,
        reporter: Reporter,
        limiter: AttemptLimiter,
        stop: Stop,
        connect: Connect = websocket_connect,
        rng: random.Random | None = None,
    ) -> None:
        self.fixture_id = fixture_id
        self.recording = recording
        self.status = status
        self._token = token
        self._options = options
        self._reporter = reporter
        self._limiter = limiter
        self._stop = stop
        self._connect = connect
        self._rng = rng or random.Random(options.seed)
        self._start_position = 0  # of the connection being made
        self._slot: int | None = None  # the attempt slot held until the handshake is answered

    def _event(self, message: str) -> None:
        self.status.detail = message
        self._reporter.event(self.status, message)

    async def run(self) -> FixtureResult:
        try:
            outcome, detail = await self._loop()
        except CaptureWriteError as exc:
            # The disk refused a record: this fixture cannot go on; the others may.
            outcome, detail = "failed", f"cannot write the capture: {exc.problem}"
        self.status.state = outcome
        self._event(detail)
        for mismatch in self.recording.mismatches:
            self._event(f"frames may be missing: {mismatch.describe()}")
        return self.result(outcome, detail)

    def result(self, outcome: Outcome, detail: str) -> FixtureResult:
        s = self.status
        return FixtureResult(
            fixture_id=self.fixture_id,
            path=s.path,
            outcome=outcome,
            detail=detail,
            frames=s.frames,
            heartbeats=s.heartbeats,
            duplicates=s.duplicates,
            connections=s.connections,
            finished_seen=s.finished_seen,
            possible_gaps=tuple(m.describe() for m in self.recording.mismatches),
            attempts=s.attempts,
        )

    async def _loop(self) -> tuple[Outcome, str]:
        options = self._options
        failures = 0  # consecutive attempts that brought no new data frame
        while True:
            self.status.state = "waiting"
            with self._stop.interruptible():
                self._slot = await self._limiter.acquire()
            if self._stop.requested:
                self._release_slot()
                return "stopped", "stopped before connecting"
            start = self.recording.resume_position()
            attempt = Attempt(
                url=feed_url(options.base_url, self.fixture_id, options.feed, start_position=start),
                start_position=start,
                token=self._token,
                watchdog_s=options.watchdog_s,
                stop_at_finished=options.until == "finished",
                on_open=self._opened,
            )
            self.status.state = "connecting"
            self.status.detail = f"startPosition {start}" if start else ""
            self._start_position = start
            try:
                ending = await run_connection(attempt, self.recording, self._connect, self._stop)
            finally:
                self._release_slot()  # a failed attempt never reached _opened
            if ending.kind == "finished":
                return "finished", f"finished: {self.status.frames} frames"
            if ending.kind == "stopped":
                return "stopped", f"stopped: {self.status.frames} frames"
            if ending.verdict == "permanent":
                return "failed", f"gave up, will not retry: {ending.detail}"
            failures = 0 if ending.new_frames else failures + 1
            delay = options.backoff.delay_s(failures, self._rng)
            self.status.state = "backoff"
            self._event(f"{ending.detail}; reconnecting in {delay:.1f} s")
            with self._stop.interruptible():
                await trio.sleep(delay)
            if self._stop.requested:
                return "stopped", f"stopped: {self.status.frames} frames"

    def _release_slot(self) -> None:
        if self._slot is not None:
            self._limiter.release(self._slot)
            self._slot = None

    def _opened(self) -> None:
        self._release_slot()  # the server has answered: its count of this attempt is done
        self.status.state = "recording"
        start = self._start_position
        where = f" at startPosition {start}" if start else ""
        # Numbered by attempt, from 1: the `conn` of its records (from 0) plus one.
        self._event(f"connected (connection {self.status.attempts}){where}")
