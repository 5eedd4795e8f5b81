"""benchmarks/host_wakes.py: a late wake is the host's only when the guest's run queue does
not explain it, and the README table carries that split beside every lateness row."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchmark_support import load_benchmark

host_wakes = load_benchmark("host_wakes")


@pytest.mark.parametrize(
    ("over_s", "run_queue_s", "from_host"),
    [
        (0.010, 0.0, True),  # no wait here at all: the vCPU was run late
        (0.010, 0.004, True),  # less than half of the delay is this machine's
        (0.010, 0.005, False),  # half of it: another process of this machine had the core
        (0.010, 0.009, False),
        (0.010, None, False),  # off Linux: not known, so never blamed on the host
    ],
)
def test_a_late_wake_is_the_hosts_only_without_a_run_queue_wait(
    over_s: float, run_queue_s: float | None, from_host: bool
) -> None:
    assert host_wakes.from_host(over_s, run_queue_s) is from_host


def test_the_tally_counts_only_wakes_past_its_margin() -> None:
    tally = host_wakes.LateWakeTally(0.0015)
    for over, queued in ((0.001, 0.0), (0.002, 0.0), (0.008, 0.006), (0.0015, 0.0)):
        tally.add(over, queued)
    assert tally.overs == [0.002, 0.008]
    assert tally.from_host == 1
    tally.clear()
    assert (tally.overs, tally.from_host) == ([], 0)


def test_steal_is_the_hosts_share_of_the_cpu_time_between_two_looks() -> None:
    assert host_wakes.steal_percent((10, 1000), (40, 1600)) == pytest.approx(5.0)
    assert host_wakes.steal_percent((10, 1000), (10, 1000)) is None  # no time passed
    assert host_wakes.steal_percent(None, (10, 1000)) is None


@pytest.mark.skipif(not Path(host_wakes.SCHEDSTAT).exists(), reason="Linux's schedstat only")
def test_the_run_queue_wait_reads_this_threads_schedstat() -> None:
    wait = host_wakes.RunQueueWait()
    try:
        first = wait.seconds()
        assert first is not None and first >= 0
        os.sched_yield()
        later = wait.seconds()
        assert later is not None and later >= first  # a running total never goes back
    finally:
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
