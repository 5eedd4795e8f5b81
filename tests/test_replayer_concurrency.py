"""Many clients at once: each has its own timeline, and a stuck one delays nobody."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from replayer_support import (
    FIXTURE,
    OTHER_FIXTURE,
    client,
    frame_text,
    frames_every,
    running,
    texts,
    timed,
    write_capture,
)

from replayer import ConnectionReport, ServeOptions, ServerHandle


async def test_two_clients_on_different_timelines(tmp_path: Path, autojump_clock: object) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(6, 1.0))
    results: dict[str, list[tuple[float, str]]] = {}
    starts: dict[str, float] = {}

    async def watch(name: str, delay: float, query: str, url: str) -> None:
        await trio.sleep(delay)
        async with client(url + query) as ws:
            starts[name] = trio.current_time()
            results[name] = await timed(ws, 6 if not query else 4)

    with trio.fail_after(60):
        async with running([capture]) as handle:
            url = handle.fixture_url(FIXTURE)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch, "early", 0.0, "", url)
                nursery.start_soon(watch, "late", 2.5, "?startPosition=2", url)
    assert [m for _, m in results["early"]] == [frame_text(i) for i in range(1, 7)]
    assert [m for _, m in results["late"]] == [frame_text(i) for i in range(3, 7)]
    assert [t - starts["early"] for t, _ in results["early"]] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.002)
    assert [t - starts["late"] for t, _ in results["late"]] == pytest.approx([0, 1, 2, 3], abs=0.002)
    assert starts["late"] - starts["early"] == pytest.approx(2.5, abs=0.01)


async def test_clients_of_different_fixtures_and_many_of_the_same(
    tmp_path: Path, autojump_clock: object
) -> None:
    one = frames_every(20, 0.5)
    other = frames_every(10, 0.7, OTHER_FIXTURE)
    captures = [
        write_capture(tmp_path / "a.jsonl.zst", one),
        write_capture(tmp_path / "b.jsonl.zst", other, OTHER_FIXTURE),
    ]
    got: list[tuple[str, list[str]]] = []

    async def watch(fixture: str, count: int, url: str) -> None:
        async with client(url) as ws:
            got.append((fixture, [m for _, m in await timed(ws, count)]))

    with trio.fail_after(60):
        async with running(captures, ServeOptions(speed=10)) as handle:
            async with trio.open_nursery() as nursery:
                for i in range(30):
                    fixture, count = (FIXTURE, 20) if i % 2 else (OTHER_FIXTURE, 10)
                    nursery.start_soon(watch, fixture, count, handle.fixture_url(fixture))
            reports = await handle.wait_connections(30)
    assert len(got) == 30
    for fixture, messages in got:
        assert messages == texts(one if fixture == FIXTURE else other)
    assert {r.ended for r in reports} == {"client-closed"}


async def test_a_client_that_stops_reading_delays_nobody_and_is_dropped(
    tmp_path: Path, autojump_clock: object
) -> None:
    # Big frames, so that the stuck client fills both kernel buffers and the server's send
    # to it blocks: 300 x 64 KiB is far more than loopback buffers hold.
    records = frames_every(300, 0.01, pad="x" * 65_536)
    capture = write_capture(tmp_path / "big.jsonl.zst", records)
    options = ServeOptions(speed=None, send_timeout_s=5.0)
    with trio.fail_after(60):
        async with running([capture], options) as handle:
            url = handle.fixture_url(FIXTURE)
            async with client(url) as stuck:
                await stuck.get_message()  # connected and authenticated, then never reads again
                async with client(url) as reader:
                    start = trio.current_time()
                    arrivals = await timed(reader, 300)
                    assert [m for _, m in arrivals] == texts(records)
                    assert arrivals[-1][0] - start < 1.0  # did not wait for the stuck client
                    (stuck_report,) = await handle.wait_connections(1)
    assert stuck_report.ended == "send-timeout" and stuck_report.code == 1006
    assert 0 < stuck_report.frames_sent < 300
    assert stuck_report.duration_s == pytest.approx(5.0, abs=1.0)


def test_a_long_running_server_keeps_the_latest_reports_and_counts_them_all() -> None:
    handle = ServerHandle("ws://127.0.0.1:1", 1, {}, max_reports=10)
    for n in range(25):
        handle.record(_report(n))
    assert handle.ended == 25
    assert 9 <= len(handle.connections) <= 10  # trimmed a tenth at a time, never above the cap
    assert [r.frames_sent for r in handle.connections][-3:] == [22, 23, 24]  # the latest kept


def _report(frames: int) -> ConnectionReport:
    return ConnectionReport("127.0.0.1:1", "/", None, None, "client-closed", frames_sent=frames)
