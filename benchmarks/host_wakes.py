"""Whose fault a late wake is: this machine's scheduler, or the host the machine runs on.

A process that asked epoll to sleep for t (CPython rounds t up to a whole millisecond, so
the kernel is asked for ceil(t)) and woke ceil(t) + x later was either kept waiting in the
guest kernel's run queue (another process of this machine had the core: Linux counts that
time in the thread's `run_delay`, /proc/thread-self/schedstat) or, with no such wait, woken
late from outside: on a virtual machine whose idle vCPUs halt at once (the haltpoll cpuidle
driver with guest_halt_poll_ns 0, as on the 2-core benchmark machine), every timer that ends
a sleep needs the host to run that vCPU's thread again, which a busy host does milliseconds
late. No code in the sleeping process can shorten that; a process that never sleeps (spins)
is held up far less often, which is how the two were told apart on 2026-11-30 (run this
file: docs/replay.md quotes what it printed).

A wake counts as the host's when less than half of x was spent in the run queue. What else
lands in x with no run-queue wait, and so is counted the host's too: the guest's own
interrupt handling, and in the server (a trio Instrument sees the wake only after trio has
handled the events epoll returned) the few microseconds an event takes, which a burst of a
thousand sockets' events can make a millisecond or two.
"""

from __future__ import annotations

import math
import os
import random
import select
import time
from dataclasses import dataclass, field
from typing import Final

SCHEDSTAT: Final = "/proc/thread-self/schedstat"  # cpu time, run_delay, timeslices (ns)


class RunQueueWait:
    """The calling thread's total wait in the run queue, in seconds (None off Linux). Opened
    once, so that each look is one pread (about a microsecond)."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(SCHEDSTAT, os.O_RDONLY)
        except OSError:
            self._fd = None

    def seconds(self) -> float | None:
        if self._fd is None:
            return None
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def kernel_timeout(timeout_s: float) -> float:
    """The sleep epoll is asked for when Python asks for `timeout_s`: whole milliseconds,
    rounded up (CPython's select.epoll.poll)."""
    return math.ceil(timeout_s * 1000) / 1000 if timeout_s > 0 else 0.0


def from_host(past_kernel_s: float, run_queue_s: float | None) -> bool:
    """Whether a wake `past_kernel_s` later than the kernel was asked, with `run_queue_s`
    spent in the guest's run queue meanwhile, was late from outside the machine: less than
    half of that delay is the guest's own."""
    return run_queue_s is not None and past_kernel_s > 0 and run_queue_s < past_kernel_s / 2


@dataclass
class LateWakeTally:
    """Wakes more than `margin_s` after the timeout asked (so the frames then due were late),
    and how many of them came late from the host."""

    margin_s: float
    overs: list[float] = field(default_factory=list)
    from_host: int = 0

    def add(self, timeout_s: float, slept_s: float, run_queue_s: float | None) -> None:
        over = slept_s - timeout_s
        if over > self.margin_s:
            self.overs.append(over)
            self.from_host += from_host(slept_s - kernel_timeout(timeout_s), run_queue_s)

    def clear(self) -> None:
        self.overs.clear()
        self.from_host = 0


def steal_jiffies() -> tuple[int, int] | None:
    """(steal, all) CPU time of the whole machine so far (/proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)


def steal_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of all CPU time between two `steal_jiffies` that the host took for itself."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return 100 * (after[0] - before[0]) / (after[1] - before[1])


def lone_sleeper(seconds: float, naps_s: tuple[float, float], margin_s: float) -> tuple[int, LateWakeTally]:
    """The baseline for the server's late wakes, measured in the same run: this process
    alone, doing nothing but sleep in epoll for `seconds`, each nap drawn from `naps_s`
    (not whole milliseconds, as the server's are not, so that the rounding up adds to both
    alike). Returns the number of naps and the tally of those more than `margin_s` late."""
    run_queue, poller = RunQueueWait(), select.epoll()
    tally = LateWakeTally(margin_s)
    naps, draw = 0, random.Random(0)
    try:
        end = time.perf_counter() + seconds
        while (start := time.perf_counter()) < end:
            nap = draw.uniform(*naps_s)
            queued = run_queue.seconds()
            poller.poll(nap)
            slept = time.perf_counter() - start
            after = run_queue.seconds()
            tally.add(nap, slept, None if queued is None or after is None else after - queued)
            naps += 1
    finally:
        run_queue.close()
        poller.close()
    return naps, tally


def lone_spinner(seconds: float, gap_s: float) -> tuple[int, float]:
    """This process never sleeping for `seconds`: how often, and at most how long, it did
    not run for more than `gap_s` (the host taking a running vCPU away, or another process
    of this machine having the core)."""
    gaps, longest = 0, 0.0
    last = time.perf_counter()
    end = last + seconds
    while last < end:
        now = time.perf_counter()
        if now - last > gap_s:
            gaps, longest = gaps + 1, max(longest, now - last)
        last = now
    return gaps, longest


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main() -> None:
    """Sleeping against spinning on this machine, for docs/replay.md: a lone sleeper (2 ms
    naps) alone and beside a busy loop, then a lone spinner."""
    import argparse
    import multiprocessing

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="for each measure")
    args = parser.parse_args()
    margin_s = 0.0015
    print(f"load average {os.getloadavg()[0]:.2f} at start; margin {margin_s * 1000:g} ms")
    for beside in ("nothing", "a busy loop"):
        busy = None
        if beside != "nothing":
            busy = multiprocessing.get_context("spawn").Process(target=_busy, args=(args.seconds + 5,))
            busy.start()
        stolen = steal_jiffies()
        naps, tally = lone_sleeper(args.seconds, (0.002, 0.002), margin_s)
        if busy is not None:
            busy.terminate()
            busy.join(timeout=10)
        steal = steal_percent(stolen, steal_jiffies())
        print(
            f"sleeper beside {beside}: {naps:,} naps of 2 ms in {args.seconds:g} s,"
            f" {len(tally.overs)} woke more than {margin_s * 1000:g} ms late ({tally.from_host} the"
            f" host's), the latest {max(tally.overs, default=0.0) * 1000:.1f} ms; steal {steal or 0.0:.1f} %"
        )
    gaps, longest = lone_spinner(args.seconds, margin_s)
    print(
        f"spinner: {gaps} gaps over {margin_s * 1000:g} ms in {args.seconds:g} s,"
        f" the longest {longest * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
