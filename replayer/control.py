"""Step control: hold a fixture's playback before a data frame, and release it step by step.

A test pauses the match, releases N frames (or runs to a seqNum, or to the next game point,
set end, match point), waits until they were sent, and asserts its consumer's state: no
timing involved.

The gate is per fixture and counts positions in the capture, not frames per connection:
`release(3)` from the start lets every connection of that fixture go up to the capture's
third data frame. So a consumer that reconnects (after a fault) with `startPosition` is
held at the same point of the match, and two consumers of one fixture see the same part of
it. While held, a connection stays alive: heartbeats go on as on a quiet line. The time a
connection spends held is added to its schedule, so after a release the rest plays at the
recorded pace, not in a burst.

The server calls `StepControl.attach` with its fixtures when it starts and each session
calls `FixtureGate.hold` before each data frame; `serve_control` answers the out-of-process
control interface (a websocket at CONTROL_PATH, see docs/harness.md).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import trio

from ttrec.errors import TtrecError
from ttrec.feed import Feed
from ttrec.moments import MOMENTS, Moment
from ttrec.schedule import Message, Timeline
from ttrec.truth import Truth

logger = logging.getLogger("replayer")

# Reserved for control: every feed path starts with /v2/, so no fixture can collide.
CONTROL_PATH: Final = "/_ttrec/control"
# A control client waits at most this long for released frames to be sent (a consumer
# that never connects must not hang a CI job); `"timeout"` in a command overrides it.
DEFAULT_WAIT_TIMEOUT_S: Final = 30.0


# How often a release looks again whether a heartbeat write has finished (rarely needed:
# loopback writes of a heartbeat take microseconds).
SEND_POLL_S: Final = 0.001


def _at_or_past(seq: int | None, target: int) -> bool:
    return seq is not None and seq >= target


class ControlError(TtrecError):
    """A step that cannot be taken: no such seqNum or moment ahead, an unknown fixture."""


class _Playing(Protocol):
    """What the gate needs of a session: whether a send is under way (never interrupted),
    and how many bytes it wrote that the client's TCP stack has not acknowledged yet."""

    sending_since: float | None

    def unacknowledged_bytes(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Position:
    """How far a fixture is released: `frames` data frames of the capture (None: all,
    free-running), the last released frame's seqNum and moments, and how many connections
    of the fixture are playing."""

    frames: int | None
    seq: int | None
    moments: frozenset[Moment]
    connections: int

    def as_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "seq": self.seq,
            "moments": sorted(self.moments),
            "connections": self.connections,
        }


class FixtureGate:
    """The step control of one fixture (all its connections)."""

    def __init__(self, fixture_id: str, feed: Feed, timeline: Timeline, *, paused: bool) -> None:
        self.fixture_id = fixture_id
        self.feed = feed
        self._timeline = timeline
        frames = [timeline.messages[i] for i in timeline.frame_positions]
        # Message values are the timeline's own, so a value lookup finds the position of
        # the frame a session is about to send (a fault's duplicate maps to the original).
        self._index: dict[Message, int] = {}
        for i, message in enumerate(frames):
            self._index.setdefault(message, i)
        self._seqs = [m.seq for m in frames]
        self._limit: float = 0 if paused else math.inf
        # Per playing session: the capture position of the next data frame it will send
        # (inf once its playback has no frame left). Ended sessions are forgotten.
        self._at: dict[_Playing, float] = {}
        self._changed = trio.Event()

    # -- what tests call -------------------------------------------------------------

    @property
    def total_frames(self) -> int:
        return len(self._seqs)

    @property
    def paused(self) -> bool:
        return not math.isinf(self._limit)

    def position(self) -> Position:
        if math.isinf(self._limit):
            return Position(None, None, frozenset(), len(self._at))
        frames = int(self._limit)
        last = frames - 1
        seq = self._seqs[last] if last >= 0 else None
        moments = frozenset(self._timeline.moment_index().per_frame[last]) if last >= 0 else frozenset()
        return Position(frames, seq, moments, len(self._at))

    def pause(self) -> Position:
        """Hold every connection before the next data frame the furthest one would send
        (before the first frame when nobody is connected yet)."""
        if math.isinf(self._limit):
            playing = [at for at in self._at.values() if not math.isinf(at)]
            self._set_limit(max(playing, default=0))
        return self.position()

    def resume(self) -> Position:
        """Free-running again: the rest of the match at the recorded pace."""
        self._set_limit(math.inf)
        return self.position()

    async def release(self, frames: int = 1, *, wait: bool = True) -> Position:
        """Let `frames` more data frames go; with `wait`, return once they were sent."""
        if frames < 0:
            raise ControlError(f"cannot release a negative number of frames ({frames})")
        self.pause()
        self._set_limit(min(self._limit + frames, self.total_frames))
        return await self.sent() if wait else self.position()

    async def run_to(
        self, moment: Moment | None = None, *, seq: int | None = None, wait: bool = True
    ) -> Position:
        """Release up to and including the next frame (not yet released) showing `moment`
        ("game-point", "match-point", "set-end", "final"), or carrying seqNum `seq` (the
        first at or past it). Already released: nothing changes. Neither ahead: ControlError."""
        if (moment is None) == (seq is None):
            raise ControlError("say where to run to: a moment or seq=N, not both")
        self.pause()
        start = int(self._limit)
        if seq is not None:
            if any(_at_or_past(s, seq) for s in self._seqs[:start]):
                return await self.sent() if wait else self.position()
            ahead = range(start, self.total_frames)
            target = next((i for i in ahead if _at_or_past(self._seqs[i], seq)), None)
            what = f"seqNum {seq}"
        else:
            if moment not in MOMENTS:
                raise ControlError(f"unknown moment {moment!r} (known: {', '.join(MOMENTS)})")
            found = self._timeline.moment_index().occurrences.get(moment, ())
            target = next((i for i in found if i >= start), None)
            what = f"{moment}"
        if target is None:
            raise ControlError(f"no {what} after frame {start} of fixture {self.fixture_id}")
        self._set_limit(target + 1)
        return await self.sent() if wait else self.position()

    async def sent(self) -> Position:
        """Wait until the released frames were sent: at least one connection of the fixture
        is held at the release point (or has sent every frame), and none is behind it."""
        while not self._settled():
            await self._changed.wait()
        return self.position()

    async def delivered(self) -> Position:
        """`sent()`, then wait until every playing connection's socket has no byte left that
        the client's TCP stack has not acknowledged: what was released is in the client's
        receive buffer, so its next read returns it without waiting. Whether the consumer
        has read or applied it only the consumer can say. Where the system does not tell
        (not Linux), this is `sent()`."""
        await self.sent()
        # The kernel sends no event when the peer acknowledges; over loopback it takes
        # microseconds, so looking every millisecond costs nothing.
        while any(session.unacknowledged_bytes() for session in self._at):  # noqa: ASYNC110
            await trio.sleep(SEND_POLL_S)
        return self.position()

    # -- what sessions call ------------------------------------------------------------

    async def hold(
        self, session: _Playing, message: Message, quiet: Callable[[float], Awaitable[None]]
    ) -> float:
        """Before sending a data frame: wait until it is released, meanwhile `quiet(inf)`
        (the session's heartbeats). Returns the seconds held, to shift the schedule by."""
        index = self._index.get(message)
        if index is None:
            return 0.0
        self._at[session] = index
        self._notify()
        if index < self._limit:
            return 0.0
        started = trio.current_time()
        while index >= self._limit:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._wake_when_released, index, session, nursery.cancel_scope)
                    await quiet(math.inf)
            except BaseExceptionGroup as group:
                # The session expects what its sends raise (ConnectionClosed) as such, not
                # wrapped by this nursery; the waker itself never fails.
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
        return trio.current_time() - started

    def sent_frame(self, session: _Playing, message: Message) -> None:
        """`session` has sent this data frame: the next it will send comes after it. Told at
        once, so that `sent()` returns then, not when the session next holds (a recorded
        heartbeat before the next frame may be seconds of the schedule away)."""
        index = self._index.get(message)
        at = self._at.get(session)
        if index is not None and at is not None and index + 1 > at:
            self._at[session] = index + 1
            self._notify()

    def done(self, session: _Playing, *, ended: bool) -> None:
        """The session sent its last frame (`ended=False`), or the connection is over."""
        if ended:
            self._at.pop(session, None)
        else:
            self._at[session] = math.inf
        self._notify()

    # -- inside ------------------------------------------------------------------------

    async def _wake_when_released(self, index: int, session: _Playing, scope: trio.CancelScope) -> None:
        while index >= self._limit:
            await self._changed.wait()
        # A heartbeat being written is never cut in half: cancelling a websocket write
        # part-way breaks the framing. Cancelled before or between sends, nothing is lost.
        while session.sending_since is not None:  # noqa: ASYNC110 (sessions keep no event for it)
            await trio.sleep(SEND_POLL_S)
        scope.cancel()

    def _settled(self) -> bool:
        if not self._at:
            return False
        return all(at >= self._limit for at in self._at.values())

    def _set_limit(self, limit: float) -> None:
        self._limit = limit
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


class StepControl:
    """Step control over every fixture of a server; `ServeOptions(control=StepControl())`.

    `paused=True` holds every fixture before its first data frame from the start (the
    connection is accepted and authenticated, and gets heartbeats)."""

    def __init__(self, *, paused: bool = False) -> None:
        self.paused_at_start = paused
        self._gates: dict[tuple[str, Feed], FixtureGate] = {}

    def attach(self, timelines: Mapping[tuple[str, Feed], Timeline]) -> None:
        """Called by the server when it starts, with what it serves."""
        for key, timeline in timelines.items():
            if key not in self._gates:
                self._gates[key] = FixtureGate(key[0], key[1], timeline, paused=self.paused_at_start)

    def gate(self, fixture_id: str | None = None, feed: Feed = "statistics") -> FixtureGate:
        """The gate of a fixture; without an id, of the only fixture served."""
        if fixture_id is None:
            keys = [key for key in self._gates if key[1] == feed]
            if not keys:
                raise ControlError(f"no fixture of the {feed} feed is served here")
            if len(keys) != 1:
                raise ControlError(f"name the fixture: {len(keys)} fixtures of the {feed} feed are served")
            return self._gates[keys[0]]
        gate = self._gates.get((fixture_id, feed))
        if gate is None:
            raise ControlError(f"fixture {fixture_id} ({feed}) is not served here")
        return gate

    @property
    def gates(self) -> Iterable[FixtureGate]:
        return self._gates.values()


# -- the out-of-process interface ------------------------------------------------------


class _Truths(Protocol):
    """Where the truth at a connection's position comes from (replayer.report.Positions)."""

    def truth(self, fixture_id: str, feed: Feed = "statistics") -> Truth | None: ...


async def run_command(control: StepControl, command: Any, truths: _Truths | None = None) -> dict[str, Any]:
    """One control command (a decoded JSON object) to its JSON answer; never raises for a
    bad command, it answers `{"ok": false, "error": ...}`. `truth` answers the position and
    `truth`: the truth line (docs/verdict.md) at the last data frame sent to the fixture's
    latest connection, null before one was sent."""
    try:
        gate, position = await _execute(control, command)
    except ControlError as exc:
        return {"ok": False, "error": str(exc)}
    except trio.TooSlowError:
        return {"ok": False, "error": "timed out waiting for the released frames to be sent"}
    answer = {"ok": True, "fixture": gate.fixture_id, "paused": gate.paused, **position.as_json()}
    if command.get("op") == "truth":
        truth = None if truths is None else truths.truth(gate.fixture_id, gate.feed)
        answer["truth"] = None if truth is None else truth.to_json()
    return answer


async def _execute(control: StepControl, command: Any) -> tuple[FixtureGate, Position]:
    if not isinstance(command, dict):
        raise ControlError("a command is a JSON object")
    op = command.get("op")
    fixture = command.get("fixture")
    feed = command.get("feed", "statistics")
    if fixture is not None and not isinstance(fixture, str):
        raise ControlError("fixture must be a string")
    if feed not in ("statistics", "actions"):
        raise ControlError("feed must be statistics or actions")
    gate = control.gate(fixture, feed)
    wait = command.get("wait", True)
    if not isinstance(wait, bool):  # "no" is not false: waiting on it would surprise
        raise ControlError("wait must be true or false")
    seq = command.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise ControlError("seq must be an integer")
    with trio.fail_after(_number(command, "timeout", DEFAULT_WAIT_TIMEOUT_S)):
        if op in ("status", "truth"):  # run_command adds the truth
            return gate, gate.position()
        if op == "pause":
            return gate, gate.pause()
        if op == "resume":
            return gate, gate.resume()
        if op == "release":
            return gate, await gate.release(_count(command, "frames", 1), wait=wait)
        if op == "run_to":
            return gate, await gate.run_to(command.get("moment"), seq=seq, wait=wait)
        if op == "sent":
            return gate, await gate.sent()
        if op == "delivered":
            return gate, await gate.delivered()
    known = "status, truth, pause, resume, release, run_to, sent, delivered"
    raise ControlError(f"unknown op {op!r} (known: {known})")


def _number(command: dict[str, Any], key: str, default: float) -> float:
    value = command.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key} must be a non-negative number")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        number = math.inf
    # Python's json reads NaN and Infinity: every wait stays bounded.
    if not 0 <= number < math.inf:
        raise ControlError(f"{key} must be a non-negative number")
    return number


def _count(command: dict[str, Any], key: str, default: int) -> int:
    """A whole number: 2.5 frames is no number of frames to round for the caller, but 2.0
    is 2 (JSON writers in some languages write every number of a float type so)."""
    value = command.get(key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlError(f"{key} must be a non-negative integer")
    return value


class _ControlSocket(Protocol):
    async def get_message(self) -> str | bytes: ...

    async def send_message(self, message: str | bytes) -> None: ...


async def serve_control(ws: _ControlSocket, control: StepControl, truths: _Truths | None = None) -> None:
    """A control connection: one JSON command per text message, one JSON answer each,
    until the client leaves (its ConnectionClosed reaches the caller)."""
    while True:
        message = await ws.get_message()
        try:
            answer = await _answer(control, message, truths)
        except Exception as exc:
            # A bug met by one command is that command's answer, not the connection's end
            # (nor, to the client, a server shutting down): the next command gets its own.
            error = f"internal error: {type(exc).__name__}: {exc}"
            logger.warning("control command failed: %s", error)
            logger.debug("details", exc_info=True)
            answer = {"ok": False, "error": error}
        await ws.send_message(json.dumps(answer))


async def _answer(control: StepControl, message: str | bytes, truths: _Truths | None) -> dict[str, Any]:
    try:
        command = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return {"ok": False, "error": "a command is a JSON object"}
    return await run_command(control, command, truths)
