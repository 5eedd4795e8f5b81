"""The truth at a connection's position: the harness handles (trio, thread, asyncio), the
control websocket's `truth` command and the connection reports (replayer.report).

The expected state is read off the frame itself (ttrec.match.parse_frame: its seqNum, its
sets, its finished flag), not from the truth fold under test. Rules: loopback only, port 0,
`autojump_clock` for the trio server, a bound on every wait.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Final

import trio
import trio.testing
from trio_websocket import ConnectionClosed, open_websocket_url

from ttrec.bundled import SAMPLES, sample_path
from ttrec.match import parse_frame
from ttrec.simulator import simulate_match
from ttrec.testing import serve_asyncio, serve_in_thread
from ttrec.testing.harness import open_server, serve_options
from ttrec.truth import SCHEMA, Truth

_SPEC = SAMPLES["sample-singles-bo5"]  # what the handles serve when no capture is named
SAMPLE: Final = simulate_match(_SPEC.seed, best_of=_SPEC.best_of, doubles=_SPEC.doubles)


def assert_at_frame(truth: Truth | dict[str, object] | None, number: int) -> None:
    """`truth` is the state after the sample's data frame `number` (1-based)."""
    frame = parse_frame(SAMPLE.frames[number - 1])
    assert truth is not None
    state = truth.to_json() if isinstance(truth, Truth) else truth
    assert state["frame"] == number and state["seq"] == frame.seq_num
    assert state["sets"] == [list(score) for score in frame.sets]
    assert state["finished"] is frame.finished and state["schema"] == SCHEMA


async def read_until_closed(ws: object) -> int:
    frames = 0
    try:
        while True:
            message = await ws.get_message()  # type: ignore[attr-defined]
            frames += '"seqNum"' in message
    except ConnectionClosed:
        return frames


async def test_trio_handle_and_control_truth_follow_each_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    options = serve_options(paused=True, faults=["drop:after=10"])
    with trio.fail_after(60):
        async with open_server(options=options) as server:
            assert server.truth() is None  # nobody was sent anything yet
            async with server.connect() as ws:
                await server.control.release(12, wait=False)
                assert await read_until_closed(ws) == 10  # the fault dropped it after 10
            (report,) = await server.wait_connections(1)
            assert report.last_frame == 10 and report.ended == "fault"
            assert_at_frame(report.truth, 10)
            assert_at_frame(server.truth(), 10)  # the latest connection, once ended
            async with server.connect(start_position=10):
                await server.control.sent()  # the second connection is held after frame 12
                assert_at_frame(server.truth(), 12)
                async with open_websocket_url(server.control_url) as control:
                    await control.send_message(json.dumps({"op": "truth"}))
                    answer = json.loads(await control.get_message())
            assert answer["ok"] and answer["frames"] == 12 and answer["fixture"] == SAMPLE.fixture_id
            assert answer["truth"] == server.truth().to_json()  # type: ignore[union-attr]
            assert_at_frame(answer["truth"], 12)


async def test_control_truth_is_null_before_a_frame_was_sent(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with (
            open_server(options=serve_options(paused=True)) as server,
            open_websocket_url(server.control_url) as control,
        ):
            await control.send_message(json.dumps({"op": "truth"}))
            answer = json.loads(await control.get_message())
    assert answer["ok"] and answer["truth"] is None and answer["frames"] == 0


async def take_all(url: str, token: str) -> int:
    from websockets.asyncio.client import connect

    from ttrec.feed import ACCEPT_HEADER, auth_message

    frames = 0
    async with connect(url, additional_headers={"Accept": ACCEPT_HEADER}, max_size=None) as ws:
        await ws.send(auth_message(token))
        async for message in ws:
            frames += '"seqNum"' in str(message)
    return frames


def test_thread_handle_truth_after_the_whole_match() -> None:
    last = len(SAMPLE.frames)
    with serve_in_thread(speed=None, on_end="close") as server:
        assert asyncio.run(asyncio.wait_for(take_all(server.fixture_url(), server.token), 30)) == last
        (report,) = server.wait_connections(1, timeout=30)
        truth = server.truth()
    assert_at_frame(truth, last)
    assert truth is not None and truth.winner == SAMPLE.winner and truth.ended == "completed"
    assert report.truth == truth and report.last_frame == last


def test_asyncio_handle_truth_at_a_released_position() -> None:
    async def main() -> Truth | None:
        async with serve_asyncio(paused=True) as server:
            reading = asyncio.create_task(take_all(server.fixture_url(), server.token))
            await server.control.release(30, timeout=30)
            truth = await server.truth()
            reading.cancel()
            return truth

    assert_at_frame(asyncio.run(asyncio.wait_for(main(), 60)), 30)


async def test_ending_a_connection_folds_no_truth_until_its_report_is_read(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Folding a capture's truth costs ~80 µs a frame: a connection's end must not pay it on
    the server's loop (replayer.report); reading the report's truth does, once. Served from
    a copy of the sample: a capture another test's server loaded in this process is shared
    (replayer.library), truths folded so far and all."""
    options = serve_options(faults=["drop:after=30"])
    capture = tmp_path / "sample.jsonl.zst"
    shutil.copyfile(sample_path("sample-singles-bo5"), capture)
    with trio.fail_after(60):
        async with open_server([capture], options=options) as server:
            async with server.connect() as ws:
                assert await read_until_closed(ws) == 30
            (report,) = await server.wait_connections(1)
    assert report.truths is not None and report.last_frame == 30
    assert report.truths._folded == []  # nothing folded by the connection's end
    assert_at_frame(report.truth, 30)
    assert report.to_json()["truth"]["frame"] == 30
    assert "truths" not in report.to_json()
