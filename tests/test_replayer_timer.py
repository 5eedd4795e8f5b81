"""The pacer's timerfd (replayer.timer): fires at its deadline, never before, can be moved
earlier while waited on, and disarms; where there is none, the pacer polls."""

from __future__ import annotations

import math
import os
import sys

import pytest
import trio

from replayer import timer as timer_module
from replayer.timer import PreciseTimer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


def open_timer() -> PreciseTimer:
    timer = PreciseTimer.open()
    assert timer is not None
    return timer


async def test_it_fires_at_its_deadline_and_never_before() -> None:
    with open_timer() as timer, trio.fail_after(5):
        for delay in (0.0005, 0.003, 0.02):
            start = trio.current_time()
            timer.set(delay)
            await timer.wait()
            assert trio.current_time() - start >= delay


async def test_a_deadline_already_past_fires_at_once() -> None:
    with open_timer() as timer, trio.fail_after(5):
        timer.set(-1.0)  # 0 would disarm a timerfd
        await timer.wait()


async def test_set_to_infinity_it_never_fires() -> None:
    with open_timer() as timer:
        timer.set(0.001)
        timer.set(math.inf)
        with trio.move_on_after(0.1) as waited:
            await timer.wait()
        assert waited.cancelled_caught


async def test_set_earlier_while_waited_on_it_fires_at_the_new_deadline() -> None:
    """How the pacer hands a newcomer's earlier deadline to its sleeping runner."""
    with open_timer() as timer, trio.fail_after(5):
        timer.set(3600.0)
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(timer.wait)
            await trio.sleep(0.01)
            timer.set(0.01)
        assert 0.02 <= trio.current_time() - start < 5


async def test_python_3_13s_own_timerfd_is_used_where_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11 and 3.12 reach libc through ctypes; 3.13 has os.timerfd_create. The
    second path is run here with the first one's calls standing in for os's."""
    made: list[int] = []
    libc_timer = open_timer()

    def timerfd_create(clock: int, *, flags: int) -> int:
        assert (clock, flags) == (timer_module.time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        made.append(libc_timer.fd)
        return libc_timer.fd

    def timerfd_settime_ns(fd: int, *, initial: int) -> None:
        assert fd == libc_timer.fd
        libc_timer.set(math.inf if initial == 0 else initial / 1e9)

    monkeypatch.setattr(os, "timerfd_create", timerfd_create, raising=False)
    monkeypatch.setattr(os, "timerfd_settime_ns", timerfd_settime_ns, raising=False)
    with open_timer() as timer, trio.fail_after(5):
        assert made == [timer.fd]
        start = trio.current_time()
        timer.set(0.002)
        await timer.wait()
        assert trio.current_time() - start >= 0.002


def test_without_timerfd_there_is_no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timer_module.sys, "platform", "darwin")
    assert PreciseTimer.open() is None
