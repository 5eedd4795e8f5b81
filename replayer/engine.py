"""One connection's playback, sans IO (the shape of wsproto): what to do next, never doing it.

`PlaybackEngine` knows the schedule (ttrec.schedule), the heartbeat policy, the reorder
holding, delays, step-control holds and what each fault does; it never sleeps, sends or
reads a clock. The session (replayer.session) asks it for an action, performs it, and tells
it the time the action finished:

    action = engine.start(now)
    while True:
        ...perform action...        # send, sleep, wait for the gate, close, drop
        action = engine.advance(now)

An action that ends the connection (`Close`, `Drop`) is the last one asked for; `SleepUntil`
at infinity (the capture played, nothing more to send) is never followed by another. The
client leaving is the session's business: it stops asking. Either way the session calls
`engine.finish()` once the connection is over. With the same playback, policy and fault
state (the same seed) the engine gives the same actions for the same times, so it is
tested without sockets (tests/test_engine.py).

Heartbeats owed while a step-control gate holds a frame come from `engine.quiet(until)`,
a second stream of actions the session performs inside the gate's wait.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

from replayer.faults import FaultState
from replayer.report import Ending
from ttrec.faults import ConnectionFault, corrupt_text
from ttrec.schedule import HeartbeatPolicy, Message, Playback
from ttrec.wire import NORMAL_CLOSURE

# --- actions --------------------------------------------------------------------------------
# Values (compared by value), not frozen only because a frozen dataclass costs three times
# as much to make, and one is made for every message sent.


@dataclass(slots=True)
class Send:
    """Send this message of the capture (its frame is ready, see replayer.wire). `due` is
    when the schedule wanted it, for the lateness histogram (None: unscheduled)."""

    payload: str | bytes
    due: float | None = None


@dataclass(slots=True)
class SendHeartbeat:
    """Send a synthetic heartbeat (its text carries the wall clock: the session makes it)."""


@dataclass(slots=True)
class SleepUntil:
    """Do nothing until `at` (the session's clock; math.inf: for good)."""

    at: float


@dataclass(slots=True)
class WaitForGate:
    """Wait until step control releases `message`, keeping the line alive with the actions
    of `engine.quiet(math.inf)` meanwhile."""

    message: Message


@dataclass(slots=True)
class PlayedToEnd:
    """The capture's last data frame is out (step control counts the connection as done)."""


@dataclass(slots=True)
class Close:
    """Send a close frame with `code` and `reason` and end the connection."""

    code: int
    reason: str
    ending: Ending


@dataclass(slots=True)
class Drop:
    """End the TCP connection without a close frame."""

    ending: Ending


Action = Send | SendHeartbeat | SleepUntil | WaitForGate | PlayedToEnd | Close | Drop
# What a generator of actions receives back: the clock once the action is done.
Actions = Generator[Action, float, None]
Numbered = tuple[Message, int]  # a data frame and its index among the capture's data frames


class PlaybackEngine:
    def __init__(
        self,
        playback: Playback,
        policy: HeartbeatPolicy,
        faults: FaultState,
        *,
        gated: bool = False,
        close_at_end: bool = False,
    ) -> None:
        self.playback = playback
        self.policy = policy
        self.fault_state = faults
        self.gated = gated
        self.close_at_end = close_at_end
        # What the connection's report says (replayer.report.ConnectionReport).
        self.frames_sent = 0
        self.played_to_end = False
        self.heartbeats_sent = 0
        self.synthetic_heartbeats = 0
        self.last_seq: int | None = None
        self.faults: list[ConnectionFault] = []
        self.fault_frames: list[int] = []  # frames_sent when each fault fired
        self.now = 0.0
        self._last_sent = 0.0
        self._origin = 0.0  # when this playback's schedule starts; faults and holds move it
        self._last_frame: str | None = None  # the last data frame sent (duplicate, corrupt)
        self.last_frame_message: Message | None = None  # the same, as the timeline's message
        self._actions: Actions | None = None
        self._faulty = bool(faults.faults)  # without faults nothing is due after a frame

    def start(self, now: float) -> Action:
        """The first action, at `now` (right after authentication)."""
        self.now = self._origin = self._last_sent = now
        self._actions = self._play()
        return next(self._actions)

    def advance(self, now: float) -> Action:
        """The previous action is done at `now`: the next one."""
        assert self._actions is not None, "start() first"
        return self._step(self._actions, now)

    def finish(self) -> None:
        """The connection is over: end the playback's generator. Its frame refers back to
        this engine, a reference cycle that refcounting never frees; left to the garbage
        collector, it waits for a full collection, which `replayer.collector` makes rare
        on purpose (and it holds the connection's fault generator, ~2.5 KB)."""
        if self._actions is not None:
            self._actions.close()
            self._actions = None

    def quiet(self, until: float) -> Actions:
        """Keep the line alive until `until`: synthetic heartbeats whenever it would stay
        quiet for longer than the interval (see ttrec.schedule), unless a no-heartbeats
        fault withholds them; the last action is a sleep until `until`."""
        while True:
            beat = self._next_beat(until)
            if beat is None:
                yield from self._wait(SleepUntil(until))
                return
            yield from self._wait(SleepUntil(beat))
            yield from self._wait(SendHeartbeat())
            self._last_sent = self.now
            self.heartbeats_sent += 1
            self.synthetic_heartbeats += 1

    def _next_beat(self, until: float) -> float | None:
        """When the next synthetic heartbeat leaves, if before `until`."""
        beat = self.policy.next_synthetic(self._last_sent, None if math.isinf(until) else until)
        if beat is not None:
            beat = max(beat, self.fault_state.heartbeats_resume_at)
        return None if beat is None or beat >= until else beat

    def _step(self, actions: Actions, now: float) -> Action:
        self.now = now
        return actions.send(now)

    def _wait(self, action: Action) -> Generator[Action, float, None]:
        """Yield `action`; the session's answer is the clock."""
        self.now = yield action

    def _send(self, payload: str | bytes, due: float | None = None) -> Actions:
        yield from self._wait(Send(payload, due))
        self._last_sent = self.now

    def _play(self) -> Actions:
        yield from self._at_point(None)
        index = self.fault_state.first_index(self.playback)  # capture index of the next frame
        held: Numbered | None = None  # a frame a reorder fault keeps back
        held_due: float | None = None
        for step in self.playback:
            message = step.message
            if self.gated and message.is_frame:
                before = self.now
                yield from self._wait(WaitForGate(message))
                self._origin += self.now - before
            due = None if step.due_s is None else self._origin + step.due_s
            if not message.is_frame:
                yield from self._recorded_heartbeat(message, due)
                continue
            this = (message, index)
            index += 1
            if self.fault_state.reorder_pending and held is None:
                self.fault_state.reorder_pending = False
                held, held_due = this, due  # sent right after the next data frame
                continue
            yield from self._frame(this, due, held)
            held = None
        if held is not None:  # a reorder at the very end: nothing left to swap with,
            if held_due is not None:  # so it leaves at its own time (never early)
                yield from self.quiet(held_due)
            yield from self._send(held[0].payload)
            self._count(held[0])
            yield from self._at_point(held[1])
        yield from self._end()

    def _recorded_heartbeat(self, message: Message, due: float | None) -> Actions:
        """A recorded non-data message (heartbeat or binary) at its time."""
        if due is not None:
            yield from self.quiet(due)
        if not self.fault_state.heartbeats_withheld(self.now):
            yield from self._send(message.payload)
            if isinstance(message.payload, str):
                self.heartbeats_sent += 1

    def _frame(self, this: Numbered, due: float | None, held: Numbered | None) -> Actions:
        """Send a data frame (late by any pending delay), then the frame a reorder held
        back; faults fire only once a swapped pair is out. Lateness is measured only for a
        frame with a schedule (not for one sent as fast as read, even when delayed)."""
        timed = due is not None
        delay = self.fault_state.take_delay()
        if delay:
            due = (self.now if due is None else due) + delay
        if due is not None:
            if self._next_beat(due) is None:  # the usual case, without a generator for it
                self.now = yield SleepUntil(due)
            else:
                yield from self.quiet(due)
        # The hot path of every frame, written out: no nested generator per step.
        self.now = yield Send(this[0].payload, due if timed else None)
        self._last_sent = self.now
        if held is not None:
            self.now = yield Send(held[0].payload)
            self._last_sent = self.now
        for message, frame_index in (this,) if held is None else (this, held):
            self._count(message)
            if self._faulty:
                yield from self._at_point(frame_index)

    def _count(self, message: Message) -> None:
        """Bookkeeping for a data frame just sent."""
        self.frames_sent += 1
        self._last_frame = message.payload if isinstance(message.payload, str) else None
        self.last_frame_message = message
        if message.seq is not None:
            self.last_seq = message.seq

    def _end(self) -> Actions:
        self.played_to_end = True
        if self.gated:
            yield from self._wait(PlayedToEnd())
        if self.close_at_end:
            yield from self._wait(Close(NORMAL_CLOSURE, "end of capture", "end-of-capture"))
        yield from self.quiet(math.inf)

    def _at_point(self, frame_index: int | None) -> Actions:
        """Right after authentication (None) or after the capture's data frame `frame_index`
        was sent: the faults that fire here, in the order given."""
        for fault in self.fault_state.due(self.frames_sent, frame_index):
            self.faults.append(fault)
            self.fault_frames.append(self.frames_sent)
            yield from fault.apply(self)

    # -- what each fault does (ttrec.faults.FaultTarget; the fault picks one) -----------

    def drop(self) -> Actions:
        yield from self._wait(Drop("fault"))

    def close(self, code: int, reason: str) -> Actions:
        yield from self._wait(Close(code, reason, "fault"))

    def stall(self, seconds: float) -> Actions:
        yield from self._wait(SleepUntil(self.now + seconds))
        # Resume where playback was: the rest of the schedule moves by the stall, and the
        # line counts as fresh (no heartbeat owed for the silence).
        self._origin += seconds
        self._last_sent = self.now

    def withhold_heartbeats(self, seconds: float | None) -> Actions:
        self.fault_state.withhold_heartbeats(self.now, seconds)
        yield from ()

    def withhold_data(self, seconds: float | None) -> Actions:
        began = self.now
        yield from self.quiet(math.inf if seconds is None else began + seconds)
        self._origin += self.now - began

    def resend_last_frame(self) -> Actions:
        if self._last_frame is not None:
            yield from self._send(self._last_frame)

    def swap_next_frames(self) -> Actions:
        self.fault_state.reorder_pending = True
        yield from ()

    def delay_next_frame(self, seconds: float) -> Actions:
        self.fault_state.add_delay(seconds)
        yield from ()

    def send_corrupt_frame(self) -> Actions:
        yield from self._send(corrupt_text(self._last_frame))
