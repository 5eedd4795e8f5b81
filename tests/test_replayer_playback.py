"""Playback: exact frames, pacing by recorded time and speed, startPosition, speed=fast, the end."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from replayer_support import (
    FIXTURE,
    NS,
    WALL,
    client,
    frame_text,
    frames_every,
    receive,
    running,
    texts,
    timed,
    write_capture,
)
from trio_websocket import ConnectionClosed

from replayer import ServeOptions
from ttrec.records import Binary, Frame, Record

# Irregular gaps, as in a match: points, pauses, a set break.
OFFSETS_S = [0.0, 0.4, 0.45, 3.0, 3.01, 9.5, 9.9, 40.0]
RECORDS: list[Record] = [
    Frame(int(t * NS) + 5 * NS, WALL, 0, frame_text(i + 1)) for i, t in enumerate(OFFSETS_S)
]


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "match.jsonl.zst", RECORDS)


def offsets(arrivals: list[tuple[float, str]], start: float) -> list[float]:
    return [t - start for t, _ in arrivals]


async def test_frames_arrive_byte_for_byte_at_their_recorded_offsets(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(120):
        async with running([capture], ServeOptions(heartbeat_interval_s=60)) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(RECORDS))
            assert [m for _, m in arrivals] == texts(RECORDS)
            assert offsets(arrivals, start) == pytest.approx(OFFSETS_S, abs=0.002)
            (report,) = await handle.wait_connections(1)
            assert report.frames_sent == len(RECORDS) and report.last_seq == len(RECORDS)
            assert report.ended == "client-closed" and report.code == 1000


@pytest.mark.parametrize("speed", [10.0, 0.5])
async def test_speed_divides_the_recorded_offsets(
    capture: Path, autojump_clock: object, speed: float
) -> None:
    with trio.fail_after(200):
        async with running([capture], ServeOptions(speed=speed, heartbeat_interval_s=100)) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(RECORDS))
            assert offsets(arrivals, start) == pytest.approx([t / speed for t in OFFSETS_S], abs=0.002)


async def test_speed_max_sends_everything_at_once(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with running([capture], ServeOptions(speed=None)) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(RECORDS))
            assert [m for _, m in arrivals] == texts(RECORDS)
            assert offsets(arrivals, start)[-1] < 0.01


async def test_speed_fast_in_the_query_overrides_the_server_speed(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(10):
        async with running([capture]) as handle:
            async with client(handle.fixture_url(FIXTURE) + "?speed=fast") as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(RECORDS))
            assert offsets(arrivals, start)[-1] < 0.01
            (report,) = await handle.wait_connections(1)
            assert report.speed is None


async def test_speed_normal_in_the_query_paces_a_max_server(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(100):
        async with running([capture], ServeOptions(speed=None, heartbeat_interval_s=60)) as handle:
            async with client(handle.fixture_url(FIXTURE) + "?speed=normal") as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(RECORDS))
            assert offsets(arrivals, start) == pytest.approx(OFFSETS_S, abs=0.002)


async def test_start_position_skips_frames_and_starts_the_clock_at_the_first_sent(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(100):
        async with running([capture], ServeOptions(heartbeat_interval_s=60)) as handle:
            async with client(handle.fixture_url(FIXTURE) + "?startPosition=5") as ws:
                start = trio.current_time()
                arrivals = await timed(ws, 3)
            assert [m for _, m in arrivals] == [frame_text(6), frame_text(7), frame_text(8)]
            expected = [t - OFFSETS_S[5] for t in OFFSETS_S[5:]]
            assert offsets(arrivals, start) == pytest.approx(expected, abs=0.002)
            (report,) = await handle.wait_connections(1)
            assert report.start_position == 5 and report.frames_sent == 3 and report.last_seq == 8


async def test_start_position_past_the_end_sends_only_heartbeats(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(100):
        async with running([capture], ServeOptions(heartbeat_interval_s=10)) as handle:
            async with client(handle.fixture_url(FIXTURE) + "?startPosition=8") as ws:
                start = trio.current_time()
                arrivals = await timed(ws, 2)
            assert offsets(arrivals, start) == pytest.approx([10, 20], abs=0.002)
            assert all('"Heartbeat sent at' in m for _, m in arrivals)


async def test_on_end_close_closes_with_1000_after_the_last_frame(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(10):
        async with running([capture], ServeOptions(speed=None, on_end="close")) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                assert await receive(ws, len(RECORDS)) == texts(RECORDS)
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason.code == 1000
            (report,) = await handle.wait_connections(1)
            assert report.ended == "end-of-capture" and report.code == 1000


async def test_on_end_stay_keeps_the_connection_open_with_heartbeats(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(1000):
        async with running([capture], ServeOptions(speed=None, heartbeat_interval_s=10)) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                await receive(ws, len(RECORDS))
                start = trio.current_time()
                arrivals = await timed(ws, 30)
            assert offsets(arrivals, start) == pytest.approx([10.0 * (i + 1) for i in range(30)], abs=0.01)
            (report,) = await handle.wait_connections(1)
            assert report.synthetic_heartbeats == 30 and report.ended == "client-closed"


async def test_binary_records_are_replayed_as_binary(tmp_path: Path, autojump_clock: object) -> None:
    records: list[Record] = [*frames_every(2, 1.0), Binary(3 * NS, WALL, 0, b"\x00\xffraw")]
    capture = write_capture(tmp_path / "b.jsonl.zst", records)
    with trio.fail_after(10):
        async with (
            running([capture], ServeOptions(speed=None)) as handle,
            client(handle.fixture_url(FIXTURE)) as ws,
        ):
            assert [await ws.get_message() for _ in range(3)] == [
                frame_text(1),
                frame_text(2),
                b"\x00\xffraw",
            ]


async def test_shutdown_closes_open_connections_with_1001(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as outer:
            server_scope = trio.CancelScope()
            handles = []

            async def run_server(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                with server_scope:
                    async with running([capture]) as handle:
                        handles.append(handle)
                        task_status.started()
                        await trio.sleep_forever()

            await outer.start(run_server)
            async with client(handles[0].fixture_url(FIXTURE)) as ws:
                await receive(ws, 1)
                server_scope.cancel()
                with pytest.raises(ConnectionClosed) as info:
                    while True:
                        await ws.get_message()
                assert info.value.reason.code == 1001
            assert handles[0].connections[0].ended == "shutdown"


async def test_the_bundled_samples_replay_exactly(autojump_clock: object) -> None:
    from ttrec.bundled import sample_paths
    from ttrec.capture import read_capture

    paths = sample_paths()
    with trio.fail_after(60):
        async with running(paths, ServeOptions(speed=None, on_end="close")) as handle:
            assert len(handle.fixtures) == len(paths)
            for path in paths:
                header, records = read_capture(path)
                async with client(handle.fixture_url(header.fixture_id, header.feed)) as ws:  # type: ignore[arg-type]
                    expected = texts(records)
                    assert await receive(ws, len(expected)) == expected
                    with pytest.raises(ConnectionClosed):
                        await ws.get_message()
