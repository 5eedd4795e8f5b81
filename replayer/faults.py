"""The socket side of faults: what ttrec.faults decides, done to a connection.

`FaultState` is one connection's fault bookkeeping (its random generator, what is pending
for the next data frame, when heartbeats may resume); the session applies what it says.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ttrec.faults import (
    ConnectionFault,
    FaultSpecError,
    FiringBudget,
    RejectFault,
    connection_rng,
    faults_due,
    needs_moments,
    rejection,
)
from ttrec.feed import Feed
from ttrec.moments import Moment
from ttrec.schedule import MomentIndex, Playback, StartAtError

if TYPE_CHECKING:
    from replayer.library import Fixture
    from replayer.options import ServeOptions

_NO_MOMENTS: Final[Mapping[Moment, int]] = {}


class FaultState:
    def __init__(
        self,
        options: ServeOptions,
        rng: random.Random,
        moments: MomentIndex | None,
        budget: FiringBudget | None = None,
    ) -> None:
        self.faults = options.faults
        self.rng = rng
        self.moments = moments
        # Shared by every connection to the fixture (see FiringBudget); a lone connection
        # without one gets its own.
        self.budget = FiringBudget(options.faults) if budget is None else budget
        self.reorder_pending = False
        self.heartbeats_resume_at = -math.inf  # no heartbeat leaves before this (trio time)
        self._delay_s = 0.0

    @classmethod
    def for_connection(
        cls, fixture: Fixture, options: ServeOptions, index: int, budget: FiringBudget | None = None
    ) -> FaultState:
        """The state of the `index`-th connection attempt on `fixture` (see connection_rng),
        spending the fixture's `budget` of firings."""
        rng = connection_rng(options.seed, fixture.fixture_id, fixture.feed, index)
        moments = fixture.timeline.moment_index() if needs_moments(options.faults) else None
        return cls(options, rng, moments, budget)

    @staticmethod
    def first_index(playback: Playback) -> int:
        """The capture index of the first data frame `playback` sends."""
        return bisect_left(playback.timeline.frame_positions, playback.start)

    def due(self, frames_sent: int, frame_index: int | None) -> list[ConnectionFault]:
        moments = _NO_MOMENTS
        if self.moments is not None and frame_index is not None:
            moments = self.moments.per_frame[frame_index]
        return faults_due(
            self.faults,
            frames_sent=frames_sent,
            after_frame=frame_index is not None,
            moments=moments,
            draw=self.rng.random,
            budget=self.budget,
        )

    def withhold_heartbeats(self, now: float, duration_s: float | None) -> None:
        until = math.inf if duration_s is None else now + duration_s
        self.heartbeats_resume_at = max(self.heartbeats_resume_at, until)

    def heartbeats_withheld(self, now: float) -> bool:
        return now < self.heartbeats_resume_at

    def add_delay(self, seconds: float) -> None:
        self._delay_s += seconds

    def take_delay(self) -> float:
        """The extra seconds the next data frame waits (delay faults add up), then none."""
        delay, self._delay_s = self._delay_s, 0.0
        return delay


def rejected(options: ServeOptions, attempt: int) -> RejectFault | None:
    """The reject fault that refuses this connection attempt on a fixture, if any."""
    return rejection(options.faults, attempt)


class FaultNeverFires(FaultSpecError):
    """A fault no served capture can trigger (`at=game-point#999` on a match with 9): a
    test relying on it would pass without the fault ever happening."""

    def __init__(self, spec: str, problem: str) -> None:
        super().__init__(spec, problem)
        self.args = (f"{spec} can never fire: {problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


def prepare(fixtures: Mapping[tuple[str, Feed], Fixture], options: ServeOptions) -> None:
    """At server start: find the match moments a fault or --start-at needs (once per capture,
    not per client), and refuse to start when a capture has no --start-at point
    (StartAtError) or a fault can fire on none of them (FaultNeverFires), rather than serve
    something else than asked."""
    for fixture in fixtures.values():
        if needs_moments(options.faults):
            fixture.timeline.moment_index()
        try:
            fixture.timeline.start_index(options.start_at)
        except StartAtError as exc:
            raise StartAtError(exc.start_at, f"{exc.problem} ({fixture.path})") from None
    for fault in options.faults:
        reasons = [
            fault.why_never(f.timeline, f.timeline.start_index(options.start_at), f.path.name)
            for f in fixtures.values()
        ]
        if reasons and all(reasons):
            raise FaultNeverFires(str(fault), "; ".join(r for r in reasons if r))
