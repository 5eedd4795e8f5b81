"""A stop (Ctrl-C, SIGTERM, `Stop.request()`) acts at once even while a websocket handshake
or a fixtures API request is pending, rather than after their 10 s timeouts.

Against a loopback listener that accepts connections and never answers: in this process on
trio's MockClock (the time a stop takes, exactly), and as real `ttrec record` processes sent
a real signal (the time to exit, with a bound generous for a loaded machine).
"""

from __future__ import annotations

import io
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Final

import pytest
import trio
from recorder_support import FIXTURE, read

from recorder.live import LiveRecorder, api_client
from recorder.live_options import LiveOptions
from recorder.run import record
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.stop import Stop
from ttrec.records import Error, Open
from ttrec.wire import HANDSHAKE_TIMEOUT_S

TOKEN: Final = "stop-token-24680"
STOP_AFTER_S: Final = 2.0
# Well under the 10 s the handshake and API timeouts would take, generous for a noisy machine.
TTREC: Final = [sys.executable, "-m", "ttrec"]  # the command as a user runs it
EXIT_BOUND_S: Final = 3.0


@asynccontextmanager
async def never_answers() -> AsyncIterator[tuple[int, trio.Event]]:
    """A loopback listener that accepts connections, reads them and never answers; yields
    its port and an event set once a connection is accepted."""
    accepted = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        accepted.set()
        while await stream.receive_some():
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1], accepted
        nursery.cancel_scope.cancel()


async def _stop_after(stop: Stop, seconds: float) -> None:
    await trio.sleep(seconds)
    stop.request()


async def test_a_stop_during_a_handshake_acts_at_once(tmp_path: Path, autojump_clock: object) -> None:
    out, log, stop = tmp_path / "h.jsonl.zst", io.StringIO(), Stop()
    with trio.fail_after(60):
        async with never_answers() as (port, accepted), trio.open_nursery() as nursery:
            nursery.start_soon(_stop_after, stop, STOP_AFTER_S)
            options = RecordOptions(base_url=f"ws://127.0.0.1:{port}", seed=1)
            (result,) = await record([FIXTURE], Token(TOKEN), out=out, options=options, stop=stop, log=log)
            stopped_at = trio.current_time()
            assert accepted.is_set()  # the stop found the handshake under way
    assert result.outcome == "stopped"
    assert stopped_at < STOP_AFTER_S + 0.1 < HANDSHAKE_TIMEOUT_S, log.getvalue()
    assert "no handshake within" not in log.getvalue()
    reader, records = read(out)
    assert not reader.torn_tail
    assert not [r for r in records if isinstance(r, Open | Error)]  # nothing opened, nothing failed


async def test_a_stop_during_an_api_request_acts_at_once(tmp_path: Path, autojump_clock: object) -> None:
    log, stop = io.StringIO(), Stop()
    with trio.fail_after(60):
        async with never_answers() as (port, accepted), trio.open_nursery() as nursery:
            nursery.start_soon(_stop_after, stop, STOP_AFTER_S)
            live = LiveOptions(f"http://127.0.0.1:{port}")
            async with api_client(live) as http:
                recorder = LiveRecorder(
                    Token(TOKEN),
                    out=tmp_path / "out",
                    options=RecordOptions(),
                    live=live,
                    http=http,
                    stop=stop,
                    log=log,
                )
                summary = await recorder.run()
            stopped_at = trio.current_time()
            assert accepted.is_set()
    assert stopped_at < STOP_AFTER_S + 0.1 < live.request_timeout_s, log.getvalue()
    assert summary.recorded == 0 and recorder.poll_failures == 0  # a stop is not an API failure
    assert "no answer within" not in log.getvalue()


async def _time_to_exit(
    command: list[str], accepted: trio.Event, signum: int, folder: Path
) -> tuple[float, int, str]:
    """Run `command` until its connection is accepted, signal it, and time its exit:
    (seconds from the signal to the exit, exit status, stderr)."""
    err_path = folder / "stderr.txt"
    with err_path.open("wb") as err:
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    command, check=False, stdout=err, stderr=err, task_status=task_status
                )
            )
            await accepted.wait()
            await trio.sleep(0.5)  # well into the handshake or request
            sent = time.monotonic()
            process.send_signal(signum)
            code = await process.wait()
            took = time.monotonic() - sent
    return took, code, err_path.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_record_exits_at_once_on_a_signal_during_a_handshake(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "h.jsonl.zst"
    with trio.fail_after(60):
        async with never_answers() as (port, accepted):
            command = [*TTREC, "record", FIXTURE, "--base-url", f"ws://127.0.0.1:{port}"]
            command += ["--token", TOKEN, "--out", str(out)]
            took, code, stderr = await _time_to_exit(command, accepted, signum, tmp_path)
    assert took < EXIT_BOUND_S, (took, stderr)
    assert code == 1  # stopped before its finished frame
    assert "no handshake within" not in stderr and "Traceback" not in stderr
    assert "stopped" in stderr
    reader, _ = read(out)
    assert not reader.torn_tail


async def test_record_live_exits_at_once_on_sigterm_during_an_api_request(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with never_answers() as (port, accepted):
            command = [*TTREC, "record", "--live", "--api-url", f"http://127.0.0.1:{port}"]
            command += ["--base-url", "ws://127.0.0.1:9", "--token", TOKEN, "--out", str(tmp_path / "out")]
            took, code, stderr = await _time_to_exit(command, accepted, signal.SIGTERM, tmp_path)
    assert took < EXIT_BOUND_S, (took, stderr)
    assert code == 0, stderr  # nothing was being recorded: nothing failed
    assert "no answer within" not in stderr and "Traceback" not in stderr


async def test_watch_exits_at_once_on_ctrl_c_during_a_handshake(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with never_answers() as (port, accepted):
            url = f"ws://127.0.0.1:{port}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            command = [*TTREC, "watch", "--plain", url, "--token", TOKEN]
            took, code, stderr = await _time_to_exit(command, accepted, signal.SIGINT, tmp_path)
    assert took < EXIT_BOUND_S, (took, stderr)
    assert (code, stderr.strip()) == (1, "Aborted!")
