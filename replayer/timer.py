"""A wake-up within tens of microseconds of a deadline, for the pacer: a Linux timerfd in trio's epoll.

trio's own sleeps end at whole milliseconds (epoll_wait's timeout is in milliseconds,
rounded up), so the pacer used to wake 1.5 ms early and poll until each deadline. Through
a round of due frames that polling kept the server running all the time, and on the 2-core
machine the scheduler put the clients' process on the server's core while the other core
idled (a socket wake-up prefers the waker's core), so that the server waited 2-5 ms at a
time behind its own clients (seen with `perf sched timehist`; docs/replay.md). A timerfd
is readable at its deadline to the nanosecond and wakes epoll then, so the server sleeps
until each deadline instead of polling.

Where there is no timerfd (not Linux), `PreciseTimer.open()` gives None and the pacer
polls as before. Python 3.13 has `os.timerfd_create`; before it, libc is called directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Final

import trio

_NANO: Final = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class PreciseTimer:
    """One timerfd on the monotonic clock: `set` it, then `await wait()`."""

    def __init__(self, fd: int, settime: Callable[[float], None]) -> None:
        self.fd = fd
        self._settime = settime

    @classmethod
    def open(cls) -> PreciseTimer | None:
        """A new timer, or None where the system has no timerfd."""
        if not sys.platform.startswith("linux"):
            return None
        flags = os.O_NONBLOCK | os.O_CLOEXEC
        if hasattr(os, "timerfd_create"):  # Python 3.13+
            fd = os.timerfd_create(time.CLOCK_MONOTONIC, flags=flags)
            settime_ns = os.timerfd_settime_ns  # type: ignore[attr-defined]  # mypy runs as 3.11
            return cls(fd, lambda seconds: settime_ns(fd, initial=_nanoseconds(seconds)))
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            create, settime = libc.timerfd_create, libc.timerfd_settime
        except (OSError, AttributeError):
            return None
        fd = create(time.CLOCK_MONOTONIC, flags)
        if fd < 0:
            return None

        def set_ns(seconds: float) -> None:
            ns = _nanoseconds(seconds)
            value = _Itimerspec(_Timespec(0, 0), _Timespec(ns // _NANO, ns % _NANO))
            if settime(fd, 0, ctypes.byref(value), None) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

        return cls(fd, set_ns)

    def set(self, seconds: float) -> None:
        """Fire `seconds` from now (at once if not positive); math.inf: never."""
        self._settime(seconds)

    async def wait(self) -> None:
        """Until the timer fires (or was set again meanwhile; the caller looks at the clock)."""
        await trio.lowlevel.wait_readable(self.fd)
        with contextlib.suppress(BlockingIOError):  # set again since it fired
            os.read(self.fd, 8)  # the count of expirations: clears the readiness

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> PreciseTimer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _nanoseconds(seconds: float) -> int:
    """The timer's setting: 0 disarms it, so a due deadline fires in 1 ns."""
    if math.isinf(seconds):
        return 0
    return max(1, int(seconds * _NANO))
