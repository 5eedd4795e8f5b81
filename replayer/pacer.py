"""One timer for every connection: wakes each playback task when its message is due.

Why not `trio.sleep_until` in each task: a thousand connections of one fixture, started
together, have messages due at nearly the same moments. With one cancel scope per sleep,
each wake-up costs a deadline registration and a Cancelled exception, and trio's sleeps
wake up to 1 ms late (epoll timeouts are whole milliseconds, rounded up). Here a single
task keeps a heap of deadlines, handles every sleeper that is due in one pass, and on the
real clock wakes a little early and yields until the deadline, so sends leave on time.

A sleeper may leave a step to run at its deadline instead of being woken: the step does
what needs no waiting (a session writes its due frame, see replayer.wire) and either names
its next deadline, so that the sleeper stays asleep, or asks for the sleeper to be woken.
A due frame then costs no task switch, which is what keeps the tail short when a thousand
frames fall due at once.

Sleeping on a Linux timerfd instead, which wakes within tens of microseconds of a deadline
and so needs no early wake and no yielding, was tried (2026-11-30) and left: it cut the
server's CPU time per paced frame to a third at 100 clients (99-129 µs against 287-321 µs),
but its tails were longer in alternating runs of `benchmarks/replay.py` at speed 10 (p99 at
100 clients all at once 1.0-4.9 ms against 1.2-2.9 ms; at 1,000 spread 4.0-8.4 against
3.1-5.2 ms). A sleeping server must be woken, and on the 2-core machine the OS often woke
it on the core its clients' process ran on, up to 1.3 ms later (`perf sched timehist`); a
server yielding until the deadline is already running.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import Final, NoReturn

import trio

# trio's sleeps end up to ~1.1 ms late: wake this much early and yield until the deadline.
# The yielding is a busy wait, but one that lets every other task run between two looks.
WAKE_EARLY_S: Final = 0.0015

# Run at a sleeper's deadline: the next deadline to sleep until, or None to wake it.
Step = Callable[[], float | None]


def wake_early_for(clock: trio.abc.Clock) -> float:
    """The margin for `clock`: WAKE_EARLY_S when its seconds are slept as real seconds; 0
    under a virtual clock (trio.testing.MockClock), where time moves only when every task
    sleeps, so that yielding until a deadline would never reach it."""
    ahead = clock.deadline_to_sleep_time(clock.current_time() + 1.0)
    return WAKE_EARLY_S if 0.5 < ahead < 2.0 else 0.0


class _Waiter:
    __slots__ = ("error", "step", "task")

    def __init__(self, task: trio.lowlevel.Task, step: Step | None) -> None:
        self.task: trio.lowlevel.Task | None = task  # None once woken or cancelled
        self.step = step
        self.error: Exception | None = None  # what the step raised, for the woken sleeper


class Pacer:
    def __init__(self, wake_early_s: float | None = None) -> None:
        """`wake_early_s`: how early to wake and yield until a deadline; None: chosen for
        the clock the pacer runs under (`wake_early_for`)."""
        self._heap: list[tuple[float, int, _Waiter]] = []
        self._order = itertools.count()
        self._sleep: trio.CancelScope | None = None  # the runner's sleep, moved earlier by newcomers
        self._early_s = wake_early_s

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        if self._early_s is None:
            self._early_s = wake_early_for(trio.lowlevel.current_clock())
        task_status.started()
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                self._due(heapq.heappop(heap)[2])
            while heap and heap[0][2].task is None:  # cancelled sleepers
                heapq.heappop(heap)
            earliest = heap[0][0] if heap else math.inf
            if earliest - now <= self._early_s:
                await trio.lowlevel.checkpoint()
                continue
            with trio.CancelScope(deadline=earliest - self._early_s) as self._sleep:
                await trio.sleep_forever()
            self._sleep = None

    def _due(self, waiter: _Waiter) -> None:
        """Run a due sleeper's step (if any): sleep on until its next deadline, or wake it
        (with the step's exception, if it raised one)."""
        task = waiter.task
        if task is None:
            return
        if waiter.step is not None:
            try:
                deadline = waiter.step()
            except Exception as exc:  # the sleeper's to handle, never the pacer's
                waiter.error = exc
            else:
                if deadline is not None:
                    heapq.heappush(self._heap, (deadline, next(self._order), waiter))
                    return
        waiter.task = None
        trio.lowlevel.reschedule(task)

    async def sleep_until(self, deadline: float, step: Step | None = None) -> None:
        """Like trio.sleep_until (a checkpoint, cancellable), woken by the pacer; with a
        `step`, woken only once the step says so (see the module's docstring)."""
        if deadline <= trio.current_time() and step is None:
            await trio.lowlevel.checkpoint()
            return
        waiter = _Waiter(trio.lowlevel.current_task(), step)
        heapq.heappush(self._heap, (deadline, next(self._order), waiter))
        early = self._early_s or 0.0
        if self._sleep is not None and deadline - early < self._sleep.deadline:
            self._sleep.deadline = deadline - early

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            # Left in the heap until its deadline, where the runner discards it: let go of
            # the step now, which holds the whole connection (its session and buffers).
            waiter.task = waiter.step = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
        if waiter.error is not None:
            raise waiter.error
