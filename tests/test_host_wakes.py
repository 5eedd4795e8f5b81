"""benchmarks/host_wakes.py: a late wake is the host's only when the guest's run queue does
not explain it, and the README table carries that split beside every lateness row."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest
from benchmark_support import load_benchmark

host_wakes = load_benchmark("host_wakes")


@pytest.mark.parametrize(
    ("past_kernel_s", "run_queue_s", "from_host"),
    [
        (0.010, 0.0, True),  # no wait here at all: the vCPU was run late
        (0.010, 0.004, True),  # less than half of the delay is this machine's
        (0.010, 0.005, False),  # half of it: another process of this machine had the core
        (0.010, 0.009, False),
        (0.0, 0.0, False),  # woke when the kernel was asked to: nobody's delay
        (0.010, None, False),  # off Linux: not known, so never blamed on the host
    ],
)
def test_a_late_wake_is_the_hosts_only_without_a_run_queue_wait(
    past_kernel_s: float, run_queue_s: float | None, from_host: bool
) -> None:
    assert host_wakes.from_host(past_kernel_s, run_queue_s) is from_host


def test_the_kernel_is_asked_for_whole_milliseconds_rounded_up() -> None:
    assert host_wakes.kernel_timeout(0.0021) == pytest.approx(0.003)
    assert host_wakes.kernel_timeout(0.002) == pytest.approx(0.002)
    assert host_wakes.kernel_timeout(0.0) == 0.0


def test_the_tally_counts_only_wakes_past_its_margin() -> None:
    tally = host_wakes.LateWakeTally(0.0015)
    # (timeout asked, slept, run-queue wait)
    tally.add(0.0021, 0.0031, 0.0)  # 1.0 ms over: within the margin, not counted
    tally.add(0.0021, 0.0041, 0.0)  # 2.0 ms over; 1.1 ms past the 3 ms asked of the kernel: the host's
    tally.add(0.0021, 0.0041, 0.0006)  # the same, 0.6 of those 1.1 ms queued here: the guest's
    tally.add(0.002, 0.010, 0.006)  # 8 ms over, 6 of them queued: the guest's
    tally.add(0.002, 0.0035, 0.0)  # exactly the margin: not counted
    assert tally.overs == pytest.approx([0.002, 0.002, 0.008])
    assert tally.from_host == 1
    tally.clear()
    assert (tally.overs, tally.from_host) == ([], 0)


def test_steal_is_the_hosts_share_of_the_cpu_time_between_two_looks() -> None:
    assert host_wakes.steal_percent((10, 1000), (40, 1600)) == pytest.approx(5.0)
    assert host_wakes.steal_percent((10, 1000), (10, 1000)) is None  # no time passed
    assert host_wakes.steal_percent(None, (10, 1000)) is None


def _spin_pinned(cpu: int, seconds: float, started: Any = None) -> None:
    os.sched_setaffinity(0, {cpu})
    if started is not None:
        started.set()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.skipif(not Path(host_wakes.SCHEDSTAT).exists(), reason="Linux's schedstat only")
def test_the_run_queue_wait_grows_when_another_process_has_the_core() -> None:
    """This thread and a spinning process on one CPU take turns: this thread then waits in
    the run queue, and the figure shows it (a constant or unread value would not grow)."""
    cpu = min(os.sched_getaffinity(0))
    before_affinity = os.sched_getaffinity(0)
    wait = host_wakes.RunQueueWait()
    context = multiprocessing.get_context("spawn")
    started = context.Event()
    spinner = context.Process(target=_spin_pinned, args=(cpu, 30.0, started))
    try:
        spinner.start()
        assert started.wait(timeout=30), "the spinner never started"
        os.sched_setaffinity(0, {cpu})
        first = wait.seconds()
        _spin_pinned(cpu, 0.5)  # both want the one CPU for half a second
        later = wait.seconds()
        assert first is not None and later is not None
        assert later - first > 0.01, (first, later)
    finally:
        os.sched_setaffinity(0, before_affinity)
        spinner.terminate()
        spinner.join(timeout=10)
        wait.close()
    assert wait.seconds() is None


def test_the_readme_rows_give_the_hosts_share_and_the_lone_sleeper() -> None:
    run_all = load_benchmark("run_all")
    conditions = {"date": "2026-11-30T16:00:00Z", "cores": 2, "cpu": "Test CPU", "load_1m_at_start": 0.5}
    conditions |= {"python": "3.11.7", "zstandard": "0.25.0", "trio": "0.35.0"}
    row = {"speed": 10.0, "clients": 100, "connect": "at once", "p99_ms": 6.25, "max_ms": 9.5}
    row |= {"full_gcs": 0, "full_gc_max_ms": 0.0, "late_wakes": 7, "late_wakes_host": 5}
    row |= {"late_wake_max_ms": 8.5, "steal_pct": 3.25}
    sleeper = {"naps": 4000, "nap_ms": 2.0, "late_wakes": 12, "late_wakes_host": 11, "late_wake_max_ms": 10.4}
    figures = {"lateness": [row], "lone_sleeper": [sleeper, {**sleeper, "late_wakes": 3}]}
    results = {"mode": "full", "benchmarks": {"replay": {"conditions": conditions, "figures": figures}}}
    lines = run_all.render_table(results).splitlines()
    lateness = next(line for line in lines if "lateness, 100 client(s), speed 10, at once" in line)
    assert "7 late wake(s) (5 from the host), latest 8.5 ms; steal 3.2 %" in lateness
    before = next(line for line in lines if "lone sleeper before" in line)
    after = next(line for line in lines if "lone sleeper after" in line)
    assert "4,000 naps of 2 ms" in before and "12 late wake(s) (11 from the host), latest 10.4 ms" in before
    assert "3 late wake(s)" in after
