"""The shared timer: on time on the real clock, correct under MockClock, and cancellable."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from replayer_support import FIXTURE, client, frames_every, running, timed, write_capture

from replayer.pacer import Pacer


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
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(6, 0.05))
    with trio.fail_after(10):
        async with running([capture]) as handle, client(handle.fixture_url(FIXTURE)) as ws:
            arrivals = await timed(ws, 6)
    first = arrivals[0][0]
    offsets = [t - first for t, _ in arrivals]
    # generous: shared CI machines; the benchmark measures the real precision
    assert offsets == pytest.approx([0, 0.05, 0.1, 0.15, 0.2, 0.25], abs=0.02)
