"""One accepted connection: authentication, then its own playback with heartbeats and faults.

Everything a connection can meet (the client leaving, a stuck client, a fault) ends in
`Session.ended`; nothing escapes to the server but cancellation.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, NoReturn

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from replayer.engine import (
    Action,
    Close,
    Drop,
    PlaybackEngine,
    PlayedToEnd,
    Send,
    SendHeartbeat,
    SleepUntil,
    WaitForGate,
)
from replayer.faults import FaultState
from replayer.library import Fixture
from replayer.options import ServeOptions
from replayer.pacer import Pacer
from replayer.report import ConnectionReport, Ending, LatenessHistogram, frame_reached
from replayer.sockets import drop_connection, unacknowledged_bytes
from replayer.wire import NO_FRAMES, Frames, Wire
from ttrec.faults import FiringBudget
from ttrec.feed import (
    AUTH_INVALID_FRAME,
    AUTH_INVALID_MESSAGE,
    default_heartbeat,
    parse_auth_message,
    restamp,
)
from ttrec.schedule import HeartbeatPolicy
from ttrec.wire import ABNORMAL_CLOSURE, CLOSE_TIMEOUT_S, MESSAGE_TOO_BIG, POLICY_VIOLATION

# Sends done in a row without a checkpoint (at speed max), so that one fast connection
# cannot keep the others from running: the cost of one trip through trio's scheduler is
# shared by this many frames.
SENDS_PER_TURN: Final = 32


@dataclass(slots=True)
class _Flush:
    """A frame went partly into the socket: await the rest (replayer.wire), then count it
    as sent (its `due`, as `Send`'s)."""

    due: float | None


class _Ended(Exception):
    """Unwinds the playback loop of this connection (never leaves the session)."""

    def __init__(self, ending: Ending, code: int | None) -> None:
        self.ending: Ending = ending
        self.code = code


def token_accepted(token: str | None, tokens: frozenset[str]) -> bool:
    """Constant-time: every configured token is compared, whichever matches."""
    if not token:
        return False
    if not tokens:
        return True
    given = token.encode()
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(given, candidate.encode())
    return matched


class Session:
    def __init__(
        self,
        ws: WebSocketConnection,
        stream: trio.abc.Stream,
        fixture: Fixture,
        options: ServeOptions,
        *,
        start_position: int,
        speed: float | None,
        lateness: LatenessHistogram,
        pacer: Pacer,
        connection_index: int = 0,
        fault_budget: FiringBudget | None = None,
        frames: Frames = NO_FRAMES,
    ) -> None:
        self.ws = ws
        self.stream = stream
        self.fixture = fixture
        self.options = options
        self.start_position = start_position
        self.speed = speed
        # --start-at makes the served stream begin there: startPosition counts data frames
        # of that stream, so a client resuming with the frames it received always moves on
        # (see docs/faults.md).
        self.start_frame = fixture.timeline.start_index(options.start_at) + start_position
        self.lateness = lateness
        self.pacer = pacer
        # The capture's messages, framed once for every client, and how they are written.
        self.wire = Wire(ws, frames)
        self._next: Action | _Flush | None = None  # what the timer's step left for the task to do
        # Set while a send is under way; the server's watchdog gives up on a client whose
        # send has lasted the send timeout (one check a second instead of a cancel scope
        # and a deadline per message).
        self.sending_since: float | None = None
        self._scope = trio.CancelScope()
        self._stuck = False
        self.ended: Ending | None = None  # None until something ended it; then final
        self.code: int | None = None
        self._last_sent = 0.0
        # Step control (replayer.control): holds data frames until a test releases them.
        control = options.control
        self.gate = None if control is None else control.gate(fixture.fixture_id, fixture.feed)
        fault_state = FaultState.for_connection(fixture, options, connection_index, fault_budget)
        self.engine = PlaybackEngine(
            fixture.timeline.playback(self.start_frame, speed),
            HeartbeatPolicy.for_timeline(fixture.timeline, options.heartbeat_interval_s),
            fault_state,
            gated=self.gate is not None,
            close_at_end=options.on_end == "close",
        )

    def report(self, *, client: str, path: str, duration_s: float) -> ConnectionReport:
        engine = self.engine
        return ConnectionReport(
            client=client,
            path=path,
            fixture=self.fixture.fixture_id,
            feed=self.fixture.feed,
            ended=self.ended or "shutdown",
            code=self.code,
            start_position=self.start_position,
            speed=self.speed,
            frames_sent=engine.frames_sent,
            played_to_end=engine.played_to_end,
            heartbeats_sent=engine.heartbeats_sent,
            synthetic_heartbeats=engine.synthetic_heartbeats,
            last_seq=engine.last_seq,
            faults=tuple(str(f) for f in engine.faults),
            fault_frames=tuple(engine.fault_frames),
            duration_s=duration_s,
            last_frame=None if (reached := frame_reached(engine)) is None else reached + 1,
            truths=self.fixture.timeline.truth_table(),
        )

    def shut_down(self, code: int) -> None:
        """The server closed this connection with `code` while stopping: its report says
        "shutdown" with that code."""
        self.code = code

    def _end(self, ending: Ending, code: int | None) -> None:
        if self.ended is None:
            self.ended, self.code = ending, code

    def _client_left(self) -> None:
        reason = self.ws.closed
        if reason is None or reason.code == ABNORMAL_CLOSURE:
            self._end("client-gone", ABNORMAL_CLOSURE)
        elif reason.code == MESSAGE_TOO_BIG:
            # trio-websocket closed it for us: the client sent more than the server reads.
            self._end("message-too-big", MESSAGE_TOO_BIG)
        else:
            self._end("client-closed", int(reason.code))

    async def run(self) -> None:
        """Authenticate, then play until the client leaves or something ends the connection."""
        with self._scope:
            try:
                await self._authenticate()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._drain, nursery.cancel_scope)
                    await self._play()
                    nursery.cancel_scope.cancel()
            except _Ended as end:
                self._end(end.ending, end.code)
            except ConnectionClosed:
                self._client_left()
            finally:
                self.engine.finish()  # nothing more is played; see PlaybackEngine.finish
        if self.gate is not None:
            self.gate.done(self, ended=True)
        if self._stuck:
            # Cancelled mid-write, the websocket framing is broken: only dropping is left.
            self._end("send-timeout", ABNORMAL_CLOSURE)
            await drop_connection(self.stream)

    def unacknowledged_bytes(self) -> int | None:
        """Bytes written to this connection's socket that the client has not acknowledged
        yet (see replayer.sockets); None where the system does not say."""
        return unacknowledged_bytes(self.stream)

    def give_up(self) -> None:
        """The client has not read for the send timeout: stop everything and drop it."""
        self._stuck = True
        self._scope.cancel()

    async def _authenticate(self) -> None:
        message: str | bytes | None = None
        with trio.move_on_after(self.options.auth_timeout_s):
            message = await self.ws.get_message()
        if message is None:
            await self._close("auth-timeout", POLICY_VIOLATION, "authentication timeout")
        token = parse_auth_message(message) if isinstance(message, str) else None
        if not token_accepted(token, self.options.tokens):
            await self._send(AUTH_INVALID_FRAME)
            await self._close("auth-invalid", POLICY_VIOLATION, AUTH_INVALID_MESSAGE)

    async def _drain(self, scope: trio.CancelScope) -> None:
        """Read and ignore client messages, so pings, close frames and flow control work;
        when the client leaves, stop the playback."""
        try:
            while True:
                await self.ws.get_message()
        except ConnectionClosed:
            if self.ended is None:  # else the server is closing it and _play finishes that
                self._client_left()
                scope.cancel()

    async def _play(self) -> None:
        try:
            action: Action | _Flush = self.engine.start(trio.current_time())
            while True:
                if not isinstance(action, _Flush):
                    action = self._run_ready(action, SENDS_PER_TURN)
                if isinstance(action, SleepUntil):
                    await self.pacer.sleep_until(action.at, self._on_time)
                    assert self._next is not None
                    action, self._next = self._next, None
                    continue
                await self._perform(action)
                action = self.engine.advance(trio.current_time())
                if self.gate is not None:
                    self._tell_gate()
        except _Ended as end:
            self._end(end.ending, end.code)
        except ConnectionClosed:
            self._client_left()

    def _on_time(self) -> float | None:
        """Run by the shared timer when this connection's sleep is over, without a task
        switch (replayer.pacer): write what is due; the next deadline to sleep until, or
        None to wake the task for what needs it (`_next`)."""
        action = self._run_ready(self.engine.advance(trio.current_time()), SENDS_PER_TURN)
        if type(action) is SleepUntil:
            return action.at
        self._next = action
        return None

    def _run_ready(self, action: Action, budget: int) -> Action | _Flush:
        """Perform, without awaiting, the sends whose frame goes straight into the socket
        (at most `budget`); the first action left to perform."""
        engine = self.engine
        while budget > 0:
            kind = type(action)
            if kind is Send:
                assert isinstance(action, Send)
                payload, due = action.payload, action.due
            elif kind is SendHeartbeat:
                payload, due = self._synthetic_heartbeat(), None
                action = Send(payload)
            else:
                return action
            if not self.wire.write_now(payload):
                return action
            if self.wire.owed:  # the rest of the frame must be awaited
                return _Flush(due)
            now = self._last_sent = trio.current_time()
            if due is not None:
                self.lateness.add(now - due)
            action = engine.advance(now)
            if self.gate is not None:
                self._tell_gate()
            budget -= 1
        return action

    def _tell_gate(self) -> None:
        """Tell step control of a data frame just sent (replayer.control.FixtureGate.sent_frame)."""
        message = self.engine.last_frame_message
        if message is not None:
            assert self.gate is not None
            self.gate.sent_frame(self, message)  # idempotent: moves the position forward only

    async def _perform(self, action: Action | _Flush) -> None:
        """Do what the engine said (replayer.engine); a close or a drop raises _Ended."""
        match action:
            case Send(payload=payload, due=due):
                await self._send(payload)
                if due is not None:
                    self.lateness.add(self._last_sent - due)
            case _Flush(due=due):
                await self._sent(self.wire.flush())
                if due is not None:
                    self.lateness.add(self._last_sent - due)
            case SleepUntil(at=at):
                await self.pacer.sleep_until(at)
            case SendHeartbeat():
                await self._send(self._synthetic_heartbeat())
            case WaitForGate(message=message):
                assert self.gate is not None
                await self.gate.hold(self, message, self._quiet_until)
            case PlayedToEnd():
                assert self.gate is not None
                self.gate.done(self, ended=False)
            case Close(code=code, reason=reason, ending=ending):
                await self._close(ending, code, reason)
            case Drop(ending=ending):
                await self._drop(ending)

    async def _quiet_until(self, until: float) -> None:
        """Keep the line alive until `until` (the engine's heartbeats), while step control
        holds a frame."""
        actions = self.engine.quiet(until)
        action = next(actions)
        while True:
            await self._perform(action)
            try:
                action = actions.send(trio.current_time())
            except StopIteration:
                return

    def _synthetic_heartbeat(self) -> str:
        now = datetime.now(UTC)
        template = self.fixture.timeline.heartbeat_template
        return default_heartbeat(now) if template is None else restamp(template, now)

    async def _send(self, payload: str | bytes) -> None:
        await self._sent(self.wire.send(payload))

    async def _sent(self, sending: Awaitable[None]) -> None:
        """Await a write, watched by the server for a client that stopped reading."""
        self.sending_since = trio.current_time()
        await sending
        self._last_sent = trio.current_time()
        self.sending_since = None

    async def _close(self, ending: Ending, code: int, reason: str) -> NoReturn:
        """Close with a close frame and end the connection's work (raises _Ended)."""
        self._end(ending, code)  # first: the drain task wakes as soon as the frame is out
        with trio.move_on_after(CLOSE_TIMEOUT_S):
            await self.ws.aclose(code, reason or None)
        raise _Ended(ending, code)

    async def _drop(self, ending: Ending) -> NoReturn:
        """End the TCP connection without a close frame (raises _Ended)."""
        self._end(ending, ABNORMAL_CLOSURE)
        await drop_connection(self.stream)
        raise _Ended(ending, ABNORMAL_CLOSURE)
