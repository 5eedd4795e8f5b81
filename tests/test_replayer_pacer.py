"""The shared timer: on time on the real clock, correct under MockClock, and cancellable."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import trio
from replayer_support import FIXTURE, client, frames_every, running, timed, write_capture
from trio.testing import MockClock

from replayer.pacer import WAKE_EARLY_S, Pacer, wake_early_for


async def test_real_clock_wake_ups_are_never_early() -> None:
    """The pacer wakes early and yields until the deadline (trio.sleep_until alone is ~1 ms
    late: whole-millisecond epoll timeouts), so it must never hand a sleeper back before its
    deadline. How late it is, is a figure of the machine: benchmarks/replay.py prints it."""
    pacer = Pacer()
    late: list[float] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            for _ in range(40):
                due = trio.current_time() + 0.0123
                await pacer.sleep_until(due)
                late.append(trio.current_time() - due)
            nursery.cancel_scope.cancel()
    assert len(late) == 40 and min(late) >= 0


async def test_many_sleepers_wake_in_deadline_order_and_cancelled_ones_do_not(autojump_clock: object) -> None:
    pacer = Pacer()
    woke: list[tuple[int, float]] = []

    async def sleeper(i: int, at: float) -> None:
        await pacer.sleep_until(at)
        woke.append((i, trio.current_time()))

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            start = trio.current_time()
            async with trio.open_nursery() as sleepers:
                for i in range(50):
                    sleepers.start_soon(sleeper, i, start + (50 - i) * 0.5)
                cancelled = trio.CancelScope()

                async def cancelled_sleeper() -> None:
                    with cancelled:
                        await sleeper(-1, start + 3.0)

                sleepers.start_soon(cancelled_sleeper)
                await trio.sleep(2.0)
                cancelled.cancel()
            nursery.cancel_scope.cancel()
    assert [i for i, _ in woke] == list(range(49, -1, -1))  # -1 was cancelled before its time
    for i, t in woke:
        assert t - start == pytest.approx((50 - i) * 0.5)


async def test_paced_playback_on_the_real_clock(tmp_path: Path) -> None:
    """Over a real socket on the real clock, frame k (every 0.05 s of capture time) never
    arrives before k * 0.05 s after the client began connecting: the server's schedule
    starts after that, so an early frame is a pacing bug, whatever the machine's load. How
    late frames are is a figure of the machine, not asserted here (benchmarks/replay.py
    prints it; the MockClock tests pin the schedule exactly)."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(6, 0.05))
    with trio.fail_after(10):
        async with running([capture]) as handle:
            began = trio.current_time()
            async with client(handle.fixture_url(FIXTURE)) as ws:
                arrivals = await timed(ws, 6)
    offsets = [t - began for t, _ in arrivals]
    assert all(offset >= 0.05 * k for k, offset in enumerate(offsets)), offsets


def test_the_margin_is_the_clocks_real_seconds() -> None:
    """Woken early only where a second of the clock is a second of sleep: under a virtual
    clock, yielding until a deadline would never reach it."""
    assert wake_early_for(MockClock()) == 0.0  # autojump or not: time moves only by jumps
    assert wake_early_for(MockClock(rate=1.0)) == WAKE_EARLY_S
    assert wake_early_for(MockClock(rate=1000.0)) == 0.0

    async def real() -> float:
        return wake_early_for(trio.lowlevel.current_clock())

    assert trio.run(real) == WAKE_EARLY_S


async def test_a_step_runs_at_each_deadline_and_the_sleeper_wakes_when_it_says(
    autojump_clock: object,
) -> None:
    pacer = Pacer(wake_early_s=0.0)
    ran: list[float] = []
    nexts = iter([2.0, 5.0, None])  # seconds after start: sleep on twice, then wake

    def step() -> float | None:
        ran.append(trio.current_time() - start)
        later = next(nexts)
        return None if later is None else start + later

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            start = trio.current_time()
            await pacer.sleep_until(start + 1.0, step)
            woke = trio.current_time() - start
            nursery.cancel_scope.cancel()
    assert ran == [1.0, 2.0, 5.0]
    assert woke == 5.0


async def test_what_a_step_raises_reaches_its_sleeper_and_the_pacer_goes_on(autojump_clock: object) -> None:
    pacer = Pacer(wake_early_s=0.0)

    def failing() -> float | None:
        raise ValueError("from the step")

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            with pytest.raises(ValueError, match="from the step"):
                await pacer.sleep_until(trio.current_time() + 1.0, failing)
            await pacer.sleep_until(trio.current_time() + 1.0)  # still pacing
            nursery.cancel_scope.cancel()


async def test_a_cancelled_sleepers_step_never_runs(autojump_clock: object) -> None:
    pacer = Pacer(wake_early_s=0.0)
    ran: list[float] = []

    def step() -> float | None:
        ran.append(trio.current_time())
        return None

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            with trio.move_on_after(1.0):
                await pacer.sleep_until(trio.current_time() + 2.0, step)
            await trio.sleep(5.0)
            nursery.cancel_scope.cancel()
    assert ran == []


async def test_a_cancelled_sleepers_step_is_let_go_before_its_deadline(autojump_clock: object) -> None:
    """A step holds a whole connection (its session, its buffers): a connection that ends
    while asleep must not stay in memory until its deadline comes round."""
    pacer = Pacer(wake_early_s=0.0)

    class Connection:
        def step(self) -> float | None:
            return None

    gone: list[weakref.ref[Connection]] = []

    async def connection_ends_while_asleep() -> None:
        connection = Connection()
        gone.append(weakref.ref(connection))
        with trio.move_on_after(1.0):
            await pacer.sleep_until(trio.current_time() + 3600.0, connection.step)

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(pacer.run)
            async with trio.open_nursery() as connections:
                connections.start_soon(connection_ends_while_asleep)
            gc.collect()
            assert gone[0]() is None  # an hour before its deadline
            nursery.cancel_scope.cancel()
