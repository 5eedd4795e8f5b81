"""`ttrec serve` as a process: ready file, a real client, SIGTERM; and its one-line errors."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from replayer_support import FIXTURE, client, frames_every, receive, texts, wait_ready, write_capture

from ttrec.cli import cli

TOKEN = "cli-secret-token"


@pytest.mark.parametrize("tls", [False, True])
async def test_serve_process_ready_file_client_and_sigterm(tmp_path: Path, tls: bool) -> None:
    records = frames_every(20, 0.5)
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    ready = tmp_path / "ready.json"
    stderr = tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--ready-file", str(ready)]
    args += ["--speed", "max", "--token", TOKEN] + (["--tls"] if tls else [])
    with stderr.open("wb") as err, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(args, stderr=err, check=False, task_status=task_status)
            )
            info = await wait_ready(process, ready)
            assert info["fixtures"] == [FIXTURE]
            url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            context = None
            if tls:
                assert str(info["url"]).startswith("wss://") and Path(str(info["ca_file"])).is_file()
                context = ssl.create_default_context(cafile=str(info["ca_file"]))
            async with client(url, token=TOKEN, ssl_context=context) as ws:
                assert await receive(ws, 20) == texts(records)
            # The server logs the connection once it has ended on its side: wait for that line.
            while "ended=client-closed" not in stderr.read_text():
                await trio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    log = stderr.read_text()
    assert "ended=client-closed(1000)" in log and f"fixture={FIXTURE}" in log and "frames=20" in log
    assert "SIGTERM, stopping" in log and "Traceback" not in log
    assert TOKEN not in log
    assert not ready.exists()  # removed on a clean exit


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", *args])
    return result.exit_code, result.output


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0))
    for args, message in [
        (["--speed", "fast"], "neither a number nor 'max'"),
        (["--speed", "-2"], "positive"),
        (["--fault", "drop:after=x"], "after must be an integer"),
        (["--heartbeat-interval", "0"], "heartbeat-interval"),
        (["--tls", "--certfile", str(capture)], "either --tls or --certfile"),
        (["--keyfile", str(capture)], "--keyfile needs --certfile"),
        (["--ca-file", "x.pem"], "only for --tls"),
    ]:
        code, output = run(str(capture), *args)
        assert code == 2, (args, output)
        assert message in output and "Traceback" not in output


def test_failures_exit_1_with_one_line(tmp_path: Path) -> None:
    one = write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0))
    code, output = run(str(tmp_path / "missing.jsonl.zst"))
    assert code == 1 and "no such file" in output and output.count("\n") == 1
    twin = tmp_path / "twin"
    twin.mkdir()
    write_capture(twin / "b.jsonl.zst", frames_every(2, 1.0))
    code, output = run(str(one), str(twin))
    assert code == 1 and "already served" in output and output.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run(str(one), "--port", str(port))
    assert code == 1 and "cannot listen on 127.0.0.1" in output and "Traceback" not in output
    code, output = run(str(one), "--certfile", str(one))
    assert code == 1 and "cannot load the certificate" in output


def test_no_capture_named_serves_the_bundled_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "samples"
    folder.mkdir()
    # Two stand-in samples of one fixture: the command stops at once, naming what it loaded.
    paths = [
        write_capture(folder / "one.jsonl.zst", frames_every(2, 1.0)),
        write_capture(folder / "two.jsonl.zst", frames_every(2, 1.0)),
    ]
    monkeypatch.setattr("ttrec.bundled.sample_paths", lambda: paths)
    code, output = run()
    assert code == 1 and "two.jsonl.zst" in output and "one.jsonl.zst" in output


def test_non_loopback_host_warns(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0))
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        code, output = run(str(capture), "--host", "0.0.0.0", "--port", str(taken.getsockname()[1]))
    assert "warning: binding 0.0.0.0 exposes" in output and code == 1


def test_help_has_an_example() -> None:
    code, output = run("--help")
    assert code == 0 and "Example:" in output and "--fault" in output and "--ready-file" in output
    version = subprocess.run(
        [sys.executable, "-m", "ttrec", "serve", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.split()[-1] == metadata.version("ttrec")
