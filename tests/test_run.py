"""replayer.run without the CLI: the serve-for-CI run (ready file, report, exit-after, what it
says), the server in a thread, the server that lives as long as its consumer, and the
speed that fits a capture into a number of seconds.

Loopback only, port 0; every wait bounded (trio.fail_after, the runner's own start bound).
The CLI's own behaviour (`ttrec serve`) is proven in test_replayer_cli.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
import trio
from replayer_support import FIXTURE, frames_every, write_capture
from trio_websocket import ConnectionClosed, open_websocket_url

from replayer import ServeOptions, ServerHandle
from replayer.run import RunPlan, ServerThread, run_server, serve_while, speed_to_last
from ttrec.errors import CaptureFormatError, OutputRefused
from ttrec.feed import ACCEPT_HEADER, auth_message, classify

HEADERS = [(b"Accept", ACCEPT_HEADER.encode())]


async def read_all(url: str) -> int:
    """Connect as a consumer and count the data frames until the server closes."""
    frames = 0
    async with open_websocket_url(url, extra_headers=HEADERS) as ws:
        await ws.send_message(auth_message("any"))
        try:
            while True:
                frames += classify(await ws.get_message()) == "frame"
        except ConnectionClosed:  # the server's close 1000 after the last frame
            return frames


def test_speed_to_last_fits_the_last_record_into_the_seconds(tmp_path: Path) -> None:
    # 11 frames, 2 s apart: the last one is at 20 s.
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(11, 2.0))
    assert speed_to_last(capture, 5.0) == pytest.approx(4.0)
    assert speed_to_last(capture, 40.0) == 1.0  # never slower than recorded
    assert speed_to_last(capture, 40.0, at_least=0.25) == pytest.approx(0.5)


async def test_serve_while_stops_the_server_when_the_consumer_returns(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(7, 0.0))
    seen: list[ServerHandle] = []

    async def consume(handle: ServerHandle) -> int:
        seen.append(handle)
        return await read_all(handle.fixture_url(FIXTURE))

    with trio.fail_after(20):
        frames = await serve_while([capture], ServeOptions(speed=None, on_end="close"), consume)
    assert frames == 7
    # Stopped: nobody listens on that port any more.
    with pytest.raises(OSError), trio.fail_after(5):
        await trio.open_tcp_stream("127.0.0.1", seen[0].port)


def test_server_thread_serves_until_the_block_ends(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(4, 0.0))
    with ServerThread([capture], ServeOptions(speed=None, on_end="close")) as handle:
        url = handle.fixture_url(FIXTURE)
        assert trio.run(read_all, url) == 4
    assert any(t.name == "ttrec-serve" for t in threading.enumerate()) is False
    with pytest.raises(OSError):
        trio.run(trio.open_tcp_stream, "127.0.0.1", handle.port)


def test_server_thread_raises_the_real_error_of_a_bad_capture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.zst"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureFormatError), ServerThread([bad], ServeOptions()):
        pass


def test_run_server_writes_ready_and_report_and_stops_after_n(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 0.0))
    ready, report = tmp_path / "ready.json", tmp_path / "report.json"
    said: list[str] = []
    plan = RunPlan(ready_file=ready, report_file=report, exit_after=2, api=None)
    options = ServeOptions(speed=None, on_end="close")

    urls: list[str] = []
    failures: list[BaseException] = []

    def two_consumers() -> None:  # run_server needs the main thread (it listens for signals)
        try:
            urls.append(_wait_for_ready(ready))
            for _ in range(2):
                assert trio.run(read_all, f"{urls[0]}/v2/tabletennis/fixtures/{FIXTURE}/statistics") == 3
        except BaseException as exc:
            failures.append(exc)
            stop_the_run()

    signalled: list[bool] = []

    def stop_the_run() -> None:  # what a CI job does to a server that will not stop by itself
        signalled.append(True)
        os.kill(os.getpid(), signal.SIGINT)

    consumers = threading.Thread(target=two_consumers)
    consumers.start()
    watchdog = threading.Timer(60, stop_the_run)  # the bound on the whole run
    watchdog.start()
    try:
        handle = run_server([capture], options, plan, say=said.append)
    finally:
        watchdog.cancel()
    consumers.join(30)
    assert not failures and not consumers.is_alive()
    assert not signalled, "exit_after=2 did not stop the run: a signal had to"
    assert handle.ended == 2
    url = urls[0]
    assert not ready.exists(), "the ready file outlived the server"
    written = json.loads(report.read_text())
    assert written["running"] is False and written["connections_ended"] == 2
    assert [c["frames_sent"] for c in written["connections"]] == [3, 3]
    assert said[0] == f"ttrec serve: listening on {url}"
    assert said[-1] == "ttrec serve: stopped after 2 connection(s)"


def test_run_server_refuses_a_file_it_did_not_write_before_listening(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 0.0))
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me\n")
    said: list[str] = []
    with pytest.raises(OutputRefused):
        run_server([capture], ServeOptions(), RunPlan(report_file=mine), say=said.append)
    assert mine.read_text() == "keep me\n" and said == []


def _wait_for_ready(path: Path, timeout_s: float = 30.0) -> str:
    async def poll() -> str:
        with trio.fail_after(timeout_s):
            while not path.exists():
                await trio.sleep(0.01)
        return str(json.loads(path.read_text())["url"])

    return trio.run(poll)
