"""ttrec.testing for consumers that are not trio (serve_in_thread), and `ttrec serve`'s CI
flags (--report, --exit-after, --control, --paused) as a process.

Rules: loopback only, port 0, a bound on every wait. The thread server runs on the real
clock at speed max, so these tests take milliseconds of playback.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Final

import pytest
import trio
import websockets
from replayer_support import FIXTURE, frames_every, wait_ready, write_capture
from trio_websocket import ConnectionClosed, open_websocket_url
from websockets.asyncio.client import connect

from replayer.control import CONTROL_PATH
from ttrec.bundled import SAMPLES
from ttrec.errors import CaptureFormatError
from ttrec.feed import ACCEPT_HEADER, auth_message, classify, seq_num
from ttrec.records import Heartbeat
from ttrec.simulator import simulate_match
from ttrec.testing import DEFAULT_TOKEN, serve_in_thread

# The default capture is the bundled singles sample: the simulator's match for its seed.
_SPEC = SAMPLES["sample-singles-bo5"]
SAMPLE: Final = simulate_match(_SPEC.seed, best_of=_SPEC.best_of, doubles=_SPEC.doubles)
SAMPLE_FIXTURE: Final = SAMPLE.fixture_id
SAMPLE_FRAMES: Final = len(SAMPLE.frames)
SAMPLE_HEARTBEATS: Final = sum(isinstance(r, Heartbeat) for r in SAMPLE.records)


async def consume(url: str, token: str, *, ssl: Any = None, limit: int | None = None) -> dict[str, Any]:
    """An asyncio consumer: every message until the server closes (or `limit` frames)."""
    frames: list[int | None] = []
    heartbeats = 0
    async with connect(url, additional_headers={"Accept": ACCEPT_HEADER}, ssl=ssl, max_size=None) as ws:
        await ws.send(auth_message(token))
        try:
            async for message in ws:
                assert isinstance(message, str)
                if classify(message) == "frame":
                    frames.append(seq_num(message))
                    if limit is not None and len(frames) == limit:
                        break
                else:
                    heartbeats += 1
        except websockets.ConnectionClosed:
            pass
    return {"frames": frames, "heartbeats": heartbeats, "code": ws.close_code}


def test_serve_in_thread_for_an_asyncio_consumer() -> None:
    with serve_in_thread(on_end="close") as server:
        assert server.token == DEFAULT_TOKEN and server.ca_file is None
        assert server.fixture_id == SAMPLE_FIXTURE
        got = asyncio.run(asyncio.wait_for(consume(server.fixture_url(), server.token), 20))
        reports = server.wait_connections(1, timeout=20)
    assert got["frames"] == [seq_num(text) for text in SAMPLE.frames] and got["code"] == 1000
    assert got["heartbeats"] == SAMPLE_HEARTBEATS
    (report,) = reports
    assert (report.frames_sent, report.heartbeats_sent, report.last_seq, report.ended) == (
        SAMPLE_FRAMES,
        SAMPLE_HEARTBEATS,
        seq_num(SAMPLE.frames[-1]),
        "end-of-capture",
    )


def test_serve_in_thread_with_tls_tokens_and_faults(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(30, 0.01))
    with serve_in_thread(
        [capture], tls=True, tokens=["s3cret"], faults=["close:after=10,code=4000"]
    ) as server:
        assert server.url.startswith("wss://") and server.ca_file is not None and server.ca_file.exists()
        assert server.token == "s3cret"
        got = asyncio.run(
            asyncio.wait_for(consume(server.fixture_url(), "s3cret", ssl=server.ssl_context), 20)
        )
        (report,) = server.wait_connections(1)
        ca_file = server.ca_file
    assert got["frames"] == list(range(1, 11)) and got["code"] == 4000
    assert report.faults == ("close:after=10,code=4000",) and report.ended == "fault"
    assert not ca_file.exists()  # the temporary CA went with the server


def test_serve_in_thread_step_control_from_a_synchronous_test(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(30, 0.01))
    with serve_in_thread([capture], paused=True) as server:
        received: dict[str, Any] = {}

        def run_consumer() -> None:
            received.update(asyncio.run(consume(server.fixture_url(), server.token, limit=12)))

        consumer = threading.Thread(target=run_consumer)
        consumer.start()
        position = server.control.release(5, timeout=20)
        assert (position.frames, position.seq, position.connections) == (5, 5, 1)
        assert server.control.run_to(seq=12, timeout=20).seq == 12
        consumer.join(20)
        assert received["frames"] == list(range(1, 13))
        assert server.control.position().frames == 12
        server.control.resume()
        server.wait_connections(1, timeout=20)
        assert server.connections[0].last_seq == 12


def test_serve_in_thread_stops_open_connections_with_1001(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 0.01))
    codes: list[int | None] = []
    with serve_in_thread([capture]) as server:
        url, token = server.fixture_url(), server.token

        async def stay() -> None:
            async with connect(url, additional_headers={"Accept": ACCEPT_HEADER}) as ws:
                await ws.send(auth_message(token))
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        await ws.recv()
            codes.append(ws.close_code)

        def run_stay() -> None:
            asyncio.run(asyncio.wait_for(stay(), 20))

        staying = threading.Thread(target=run_stay)
        staying.start()
        deadline = time.monotonic() + 20
        while not server.control.position().connections:  # connected and playing
            assert time.monotonic() < deadline, "the client never connected"
            time.sleep(0.01)
    staying.join(20)
    assert codes == [1001]
    assert server.connections[0].ended == "shutdown"


def test_serve_in_thread_takes_options_or_keywords_not_both() -> None:
    from ttrec.testing import serve_options

    with pytest.raises(TypeError), serve_in_thread(None, serve_options(), speed=1.0):
        pass


# -- the command line -----------------------------------------------------------------


async def take(url: str, count: int | None, query: str = "") -> list[str]:
    out: list[str] = []
    async with open_websocket_url(url + query, extra_headers=[(b"Accept", ACCEPT_HEADER.encode())]) as ws:
        await ws.send_message(auth_message("any"))
        while count is None or len(out) < count:
            message = await ws.get_message()
            assert isinstance(message, str)
            out.append(message)
    return out


async def test_serve_report_and_exit_after(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(40, 0.001))
    ready, report = tmp_path / "ready.json", tmp_path / "report.json"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--speed", "max"]
    args += [
        "--ready-file",
        str(ready),
        "--report",
        str(report),
        "--exit-after",
        "2",
        "--fault",
        "drop:after=15,times=always",
    ]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    args, stderr=subprocess.PIPE, check=False, task_status=task_status
                )
            )
            info = await wait_ready(process, ready)
            assert json.loads(report.read_text()) == {
                "written_by": "ttrec serve --report",  # how a later run knows it may replace it
                "url": info["url"],
                "fixtures": [FIXTURE],
                "running": True,
                "connections_ended": 0,
                "connections": [],
            }
            url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            with pytest.raises(ConnectionClosed):
                await take(url, None)
            # the report is rewritten as soon as a connection ends
            while not json.loads(report.read_text())["connections"]:
                await trio.sleep(0.02)
            with pytest.raises(ConnectionClosed):
                await take(url, None, "?startPosition=15")
            await process.wait()
    assert process.returncode == 0
    written = json.loads(report.read_text())
    assert written["running"] is False and written["connections_ended"] == 2
    first, second = written["connections"]
    assert first["frames_sent"] == 15 and first["last_seq"] == 15 and first["ended"] == "fault"
    assert first["faults"] == ["drop:after=15,times=always"] and first["code"] == 1006
    assert second["start_position"] == 15 and second["last_seq"] == 30
    # each connection's truth at the last frame it received (frame_text: seqNum = frame number)
    assert first["last_frame"] == 15 and first["truth"]["seq"] == 15 and first["truth"]["frame"] == 15
    assert second["last_frame"] == 30 and second["truth"]["seq"] == 30
    assert first["truth"]["schema"] == "ttrec.truth/1" and first["truth"]["finished"] is False
    assert set(first) >= {"client", "fixture", "heartbeats_sent", "duration_s", "speed"}
    assert not ready.exists()


async def test_serve_paused_with_the_control_websocket(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(10, 0.001))
    ready = tmp_path / "ready.json"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--speed", "max", "--paused"]
    args += ["--ready-file", str(ready), "--exit-after", "1"]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(args, check=False, task_status=task_status)
            )
            info = await wait_ready(process, ready)
            assert info["control_url"] == info["url"] + CONTROL_PATH
            url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            got: list[str] = []

            async def consumer() -> None:
                got.extend(await take(url, 3))

            nursery.start_soon(consumer)
            async with open_websocket_url(info["control_url"]) as control:
                await control.send_message(json.dumps({"op": "release", "frames": 3}))
                answer = json.loads(await control.get_message())
            assert answer["ok"] and answer["seq"] == 3 and answer["paused"]
            await process.wait()
    assert [seq_num(m) for m in got] == [1, 2, 3]
    assert process.returncode == 0


def test_serve_help_names_the_ci_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ttrec", "serve", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--report", "--exit-after", "--control", "--paused"):
        assert flag in result.stdout


def test_blocking_control_called_inside_an_event_loop_says_to_use_serve_asyncio() -> None:
    """The blocking call would stop the loop the consumer runs in: it says so at once rather
    than timing out after 30 s."""
    import asyncio

    from ttrec.testing import serve_in_thread

    async def inside_a_loop() -> None:
        server.control.release(3)

    with serve_in_thread(paused=True) as server:
        with pytest.raises(RuntimeError, match=r"running asyncio event loop.*serve_asyncio"):
            asyncio.run(inside_a_loop())
        # From plain synchronous code, a wait nobody can satisfy says what the server saw.
        with pytest.raises(TimeoutError, match=rf"1 of {SAMPLE_FRAMES} frames released, 0 connected"):
            server.control.release(1, timeout=0.2)
        with pytest.raises(TimeoutError, match=r"0 connected.*is the consumer connected"):
            server.control.sent(timeout=0.2)


def test_serve_in_thread_raises_the_real_start_error(tmp_path: Path) -> None:
    # Not RuntimeError("... ExceptionGroup ..."): the error a caller can catch and read.
    missing = tmp_path / "missing.jsonl.zst"
    with pytest.raises(CaptureFormatError) as caught, serve_in_thread([missing]):
        pass
    assert caught.value.path == missing and caught.value.problem == "No such file or directory"
