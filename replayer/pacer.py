"""One timer for every connection: wakes each playback task when its message is due.

Why not `trio.sleep_until` in each task: a thousand connections of one fixture, started
together, have messages due at nearly the same moments. With one cancel scope per sleep,
each wake-up costs a deadline registration and a Cancelled exception, and trio's sleeps
wake up to 1 ms late (epoll timeouts are whole milliseconds, rounded up). Here a single
task keeps a heap of deadlines, reschedules every task that is due in one pass, and on the
real clock wakes a little early and yields until the deadline, so sends leave on time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
from typing import Final, NoReturn

import trio

# trio's sleeps end up to ~1.1 ms late: wake this much early and yield until the deadline.
# The yielding is a busy wait, but one that lets every other task run between two looks.
WAKE_EARLY_S: Final = 0.0015


def _virtual_time() -> bool:
    """True under trio.testing.MockClock, where time only moves when every task sleeps:
    yielding until a deadline would never reach it."""
    testing = sys.modules.get("trio.testing")
    return testing is not None and isinstance(trio.lowlevel.current_clock(), testing.MockClock)


class _Waiter:
    __slots__ = ("task",)

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task: trio.lowlevel.Task | None = task  # None once woken or cancelled


class Pacer:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Waiter]] = []
        self._order = itertools.count()
        self._sleep: trio.CancelScope | None = None  # the runner's sleep, moved earlier by newcomers
        self._early_s = WAKE_EARLY_S

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        if _virtual_time():
            self._early_s = 0.0
        task_status.started()
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                waiter = heapq.heappop(heap)[2]
                if waiter.task is not None:
                    trio.lowlevel.reschedule(waiter.task)
                    waiter.task = None
            while heap and heap[0][2].task is None:  # cancelled sleepers
                heapq.heappop(heap)
            earliest = heap[0][0] if heap else math.inf
            if earliest - now <= self._early_s:
                await trio.lowlevel.checkpoint()
                continue
            with trio.CancelScope(deadline=earliest - self._early_s) as self._sleep:
                await trio.sleep_forever()
            self._sleep = None

    async def sleep_until(self, deadline: float) -> None:
        """Like trio.sleep_until (a checkpoint, cancellable), woken by the pacer."""
        if deadline <= trio.current_time():
            await trio.lowlevel.checkpoint()
            return
        waiter = _Waiter(trio.lowlevel.current_task())
        heapq.heappush(self._heap, (deadline, next(self._order), waiter))
        wake_at = deadline - self._early_s
        if self._sleep is not None and wake_at < self._sleep.deadline:
            self._sleep.deadline = wake_at

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            waiter.task = None  # left in the heap; the runner discards it
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
