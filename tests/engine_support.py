"""An instantaneous performer of replayer.engine's actions on a virtual clock: what a
client would see, with no socket and no trio (tests/test_engine.py, tests/test_schedule.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from replayer.engine import (
    Action,
    Actions,
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
from replayer.options import ServeOptions
from ttrec.faults import Fault, needs_moments
from ttrec.records import NS_PER_S as NS
from ttrec.records import Frame, Heartbeat
from ttrec.schedule import HeartbeatPolicy, Timeline

SYNTHETIC = "SYNTHETIC"
W = "2026-11-24T07:00:00Z"  # the wall time of every record made here


def frame(t_s: float, seq: int) -> Frame:
    """A data frame recorded at `t_s` seconds, with seqNum `seq`."""
    return Frame(round(t_s * NS), W, 0, f'{{"seqNum":{seq},"fixtureId":"f"}}')


def beat(t_s: float, n: int = 0) -> Heartbeat:
    """The `n`-th recorded heartbeat, at `t_s` seconds."""
    return Heartbeat(round(t_s * NS), W, 0, f'{{"message":"Heartbeat {n}","level":"INFO"}}')


@dataclass(frozen=True)
class Seen:
    """One thing the client sees: a message at `at`, or the end of the connection."""

    at: float
    payload: str | bytes | None  # None: the connection ended (closed or dropped)
    due: float | None = None


class _Stop(Exception):
    pass


def engine_for(
    timeline: Timeline,
    *,
    speed: float | None = 1.0,
    interval_s: float = 10.0,
    faults: tuple[Fault, ...] = (),
    seed: int = 0,
    start: int = 0,
    gated: bool = False,
    close_at_end: bool = False,
) -> PlaybackEngine:
    options = ServeOptions(faults=faults, seed=seed)
    moments = timeline.moment_index() if needs_moments(faults) else None
    state = FaultState(options, random.Random(seed), moments)
    return PlaybackEngine(
        timeline.playback(start, speed),
        HeartbeatPolicy.for_timeline(timeline, interval_s),
        state,
        gated=gated,
        close_at_end=close_at_end,
    )


class Performer:
    """Performs every action at once (a send takes no time); a gate holds each data frame
    for `hold_s`. Stops at `horizon` or when the connection ends."""

    def __init__(self, engine: PlaybackEngine, horizon: float, hold_s: float = 0.0) -> None:
        self.engine = engine
        self.horizon = horizon
        self.hold_s = hold_s
        self.now = 0.0
        self.seen: list[Seen] = []
        self.actions: list[Action] = []

    def run(self) -> list[Seen]:
        try:
            action = self.engine.start(self.now)
            while True:
                self._perform(action)
                action = self.engine.advance(self.now)
        except _Stop:
            return self.seen

    def _perform(self, action: Action) -> None:
        self.actions.append(action)
        match action:
            case SleepUntil(at=at):
                if at > self.horizon:
                    raise _Stop
                self.now = max(self.now, at)
            case Send(payload=payload, due=due):
                self.seen.append(Seen(self.now, payload, due))
            case SendHeartbeat():
                self.seen.append(Seen(self.now, SYNTHETIC))
            case WaitForGate():
                self._quiet(self.engine.quiet(self.now + self.hold_s))
            case PlayedToEnd():
                pass
            case Close() | Drop():
                self.seen.append(Seen(self.now, None))
                raise _Stop

    def _quiet(self, actions: Actions) -> None:
        action = next(actions)
        while True:
            self._perform(action)
            try:
                action = actions.send(self.now)
            except StopIteration:
                return
