"""One accepted connection: authentication, then its own playback with heartbeats and faults.

Everything a connection can meet (the client leaving, a stuck client, a fault) ends in
`Session.ended`; nothing escapes to the server but cancellation.
"""

from __future__ import annotations

import hmac
import math
from datetime import UTC, datetime
from typing import Final, NoReturn

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from replayer.faults import FaultState, drop_connection
from replayer.library import Fixture
from replayer.options import ServeOptions
from replayer.pacer import Pacer
from replayer.report import ConnectionReport, Ending, LatenessHistogram
from replayer.sockets import unacknowledged_bytes
from replayer.wire import NO_FRAMES, Frames, send_framed
from ttrec.faults import (
    CloseFault,
    ConnectionFault,
    CorruptFault,
    DelayFault,
    DropFault,
    DuplicateFault,
    FiringBudget,
    HeartbeatsOnlyFault,
    NoHeartbeatsFault,
    ReorderFault,
    StallFault,
    corrupt_text,
)
from ttrec.feed import (
    AUTH_INVALID_FRAME,
    AUTH_INVALID_MESSAGE,
    default_heartbeat,
    parse_auth_message,
    restamp,
)
from ttrec.schedule import HeartbeatPolicy, Message, Playback

# How long the server waits for the client's answer to a close frame it sent.
CLOSE_TIMEOUT_S: Final = 5.0
POLICY_VIOLATION: Final = 1008
NORMAL_CLOSURE: Final = 1000
ABNORMAL_CLOSURE: Final = 1006  # reported for a peer that vanished; never sent
MESSAGE_TOO_BIG: Final = 1009


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
        self.playback: Playback = fixture.timeline.playback(self.start_frame, speed)
        self.policy = HeartbeatPolicy.for_timeline(fixture.timeline, options.heartbeat_interval_s)
        self.lateness = lateness
        self.pacer = pacer
        self.frames = frames  # the capture's messages, framed once for every client (replayer.wire)
        # Set while a send is under way; the server's watchdog gives up on a client whose
        # send has lasted the send timeout (one check a second instead of a cancel scope
        # and a deadline per message).
        self.sending_since: float | None = None
        self._scope = trio.CancelScope()
        self._stuck = False
        self.frames_sent = 0
        self.played_to_end = False  # the last data frame of the capture was sent
        self.heartbeats_sent = 0
        self.synthetic_heartbeats = 0
        self.last_seq: int | None = None
        self.faults: list[ConnectionFault] = []
        self.fault_frames: list[int] = []  # frames_sent when each fault fired
        self.fault_state = FaultState.for_connection(fixture, options, connection_index, fault_budget)
        self.ended: Ending | None = None  # None until something ended it; then final
        self.code: int | None = None
        self._last_sent = 0.0
        self._origin = 0.0  # when this playback's schedule starts; faults and holds move it
        self._last_frame: str | None = None  # the last data frame sent (duplicate, corrupt)
        # Step control (replayer.control): holds data frames until a test releases them.
        control = options.control
        self.gate = None if control is None else control.gate(fixture.fixture_id, fixture.feed)

    def report(self, *, client: str, path: str, duration_s: float) -> ConnectionReport:
        return ConnectionReport(
            client=client,
            path=path,
            fixture=self.fixture.fixture_id,
            feed=self.fixture.feed,
            ended=self.ended or "shutdown",
            code=self.code,
            start_position=self.start_position,
            speed=self.speed,
            frames_sent=self.frames_sent,
            played_to_end=self.played_to_end,
            heartbeats_sent=self.heartbeats_sent,
            synthetic_heartbeats=self.synthetic_heartbeats,
            last_seq=self.last_seq,
            faults=tuple(str(f) for f in self.faults),
            fault_frames=tuple(self.fault_frames),
            duration_s=duration_s,
        )

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
            self._origin = self._last_sent = trio.current_time()
            await self._at_point(None)
            index = self.fault_state.first_index(self.playback)  # capture index of the next frame
            held: tuple[Message, int] | None = None  # a frame a reorder fault keeps back
            for step in self.playback:
                message = step.message
                if self.gate is not None and message.is_frame:
                    self._origin += await self.gate.hold(self, message, self._quiet_until)
                due = None if step.due_s is None else self._origin + step.due_s
                if not message.is_frame:
                    if due is not None:
                        await self._quiet_until(due)
                    if not self.fault_state.heartbeats_withheld(trio.current_time()):
                        await self._send(message.payload)
                        if isinstance(message.payload, str):
                            self.heartbeats_sent += 1
                    continue
                this = (message, index)
                index += 1
                if self.fault_state.reorder_pending and held is None:
                    self.fault_state.reorder_pending = False
                    held = this  # sent right after the next data frame
                    continue
                delay = self.fault_state.take_delay()
                if delay:
                    due = (trio.current_time() if due is None else due) + delay
                if due is not None:
                    await self._quiet_until(due)
                await self._send(message.payload)
                if step.due_s is not None and due is not None:
                    self.lateness.add(self._last_sent - due)
                sent = [this]
                if held is not None:
                    await self._send(held[0].payload)
                    sent.append(held)
                    held = None
                for frame, frame_index in sent:  # faults only after a swapped pair is out
                    self._frame_sent(frame)
                    await self._at_point(frame_index)
            if held is not None:  # a reorder at the very end: nothing left to swap with
                await self._send(held[0].payload)
                self._frame_sent(held[0])
                await self._at_point(held[1])
            self.played_to_end = True
            if self.gate is not None:
                self.gate.done(self, ended=False)
            if self.options.on_end == "close":
                await self._close("end-of-capture", NORMAL_CLOSURE, "end of capture")
            await self._quiet_until(math.inf)
        except _Ended as end:
            self._end(end.ending, end.code)
        except ConnectionClosed:
            self._client_left()

    def _frame_sent(self, message: Message) -> None:
        self.frames_sent += 1
        self._last_frame = message.payload if isinstance(message.payload, str) else None
        if message.seq is not None:
            self.last_seq = message.seq

    async def _quiet_until(self, due: float) -> None:
        """Sleep until `due`, sending synthetic heartbeats when the line would stay quiet
        for longer than the interval (see ttrec.schedule)."""
        while True:
            beat = self.policy.next_synthetic(self._last_sent, None if math.isinf(due) else due)
            if beat is not None:  # a no-heartbeats fault may hold it back
                beat = max(beat, self.fault_state.heartbeats_resume_at)
            if beat is None or beat >= due:
                await self.pacer.sleep_until(due)
                return
            await self.pacer.sleep_until(beat)
            await self._send(self._synthetic_heartbeat())
            self.heartbeats_sent += 1
            self.synthetic_heartbeats += 1

    def _synthetic_heartbeat(self) -> str:
        now = datetime.now(UTC)
        template = self.fixture.timeline.heartbeat_template
        return default_heartbeat(now) if template is None else restamp(template, now)

    async def _send(self, payload: str | bytes) -> None:
        self.sending_since = trio.current_time()
        await send_framed(self.ws, payload, self.frames)
        self._last_sent = trio.current_time()
        self.sending_since = None

    async def _at_point(self, frame_index: int | None) -> None:
        """Right after authentication (None) or after the capture's data frame `frame_index`
        was sent: apply the faults that fire here, in the order given."""
        state = self.fault_state
        for fault in state.due(self.frames_sent, frame_index):
            self.faults.append(fault)
            self.fault_frames.append(self.frames_sent)
            now = trio.current_time()
            match fault:
                case DropFault():
                    await self._drop("fault")
                case CloseFault(code=code, reason=reason):
                    await self._close("fault", code, reason)
                case StallFault(duration_s=duration):
                    await self.pacer.sleep_until(now + duration)
                    # Resume where playback was: the rest of the schedule moves by the stall,
                    # and the line counts as fresh (no heartbeat owed for the silence).
                    self._origin += duration
                    self._last_sent = trio.current_time()
                case NoHeartbeatsFault(duration_s=duration):
                    state.withhold_heartbeats(now, duration)
                case HeartbeatsOnlyFault(duration_s=duration):
                    await self._quiet_until(math.inf if duration is None else now + duration)
                    self._origin += trio.current_time() - now
                case DuplicateFault():
                    if self._last_frame is not None:
                        await self._send(self._last_frame)
                case ReorderFault():
                    state.reorder_pending = True
                case DelayFault(by_s=by):
                    state.add_delay(by)
                case CorruptFault():
                    await self._send(corrupt_text(self._last_frame))

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
