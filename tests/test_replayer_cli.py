"""`ttrec serve` as a process: ready file, a real client, SIGTERM; and its one-line errors (the
first start refusal and the first impossible fault as processes, the rest in this process on
trio's MockClock: tests/cli_support.py)."""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path

import pytest
import trio
from cli_support import invoke_on_mock_clock
from click.testing import CliRunner
from replayer_support import (
    FIXTURE,
    OTHER_FIXTURE,
    client,
    frames_every,
    receive,
    texts,
    wait_ready,
    write_capture,
)
from test_disk_errors import unwritable_directory
from test_replayer_interop import node_tls12_client
from test_replayer_tls import untrusting_client

from replayer.faults import FaultNeverFires, prepare
from replayer.library import load_fixtures
from replayer.options import ServeOptions
from ttrec.cli import cli
from ttrec.faults import parse_fault

TOKEN = "cli-secret-token"


@pytest.mark.parametrize("tls", [False, True])
async def test_serve_process_ready_file_client_and_sigterm(tmp_path: Path, tls: bool) -> None:
    records = frames_every(20, 0.5)
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    ready = tmp_path / "ready.json"
    stderr = tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--ready-file", str(ready)]
    # --ca-file relative to the server's directory: the ready file must still say where it is.
    args += ["--speed", "max", "--token", TOKEN] + (["--tls", "--ca-file", "ca.pem"] if tls else [])
    with stderr.open("wb") as err, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    args, stderr=err, check=False, cwd=tmp_path, task_status=task_status
                )
            )
            info = await wait_ready(process, ready)
            assert info["fixtures"] == [FIXTURE]
            url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            context = None
            if tls:
                assert str(info["url"]).startswith("wss://") and info["ca_file"] == str(tmp_path / "ca.pem")
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
    # In the log format of every other server line: a timestamp first.
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ttrec serve: SIGTERM, stopping$", log, re.M), log
    assert "Traceback" not in log
    assert TOKEN not in log
    assert not ready.exists()  # removed on a clean exit


@pytest.mark.parametrize(
    ("connect", "why"),
    [
        (untrusting_client, "does not trust the CA"),
        (node_tls12_client, "the client hung up right after the TLS handshake (does it trust the CA?)"),
    ],
)
async def test_a_failed_tls_handshake_is_reported_and_counts_for_exit_after(
    tmp_path: Path, connect: Callable[[int], Awaitable[None]], why: str
) -> None:
    """A client that does not trust the CA (OpenSSL's refuses during the handshake, Node's
    on TLS 1.2 right after it): one log line and one report entry like any other
    connection's, and `--exit-after 1` stops the server (exit 0)."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 0.5))
    ready, report, stderr = tmp_path / "ready.json", tmp_path / "report.json", tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--tls", "--ready-file", str(ready)]
    args += ["--report", str(report), "--exit-after", "1"]
    with stderr.open("wb") as err, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(args, stderr=err, check=False, task_status=task_status)
            )
            await connect((await wait_ready(process, ready))["port"])
            assert await process.wait() == 0
    written = json.loads(report.read_text())
    assert written["connections_ended"] == 1 and written["running"] is False
    (entry,) = written["connections"]
    assert entry["ended"] == "tls-failed" and why in entry["reason"]
    log = stderr.read_text()
    line = rf" client=127\.0\.0\.1:\d+ .* ended=tls-failed after=\S+ reason=\"{re.escape(entry['reason'])}\"$"
    assert re.search(line, log, re.M), log
    assert "failed:" not in log and "Error" not in log and "Traceback" not in log, log


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
    assert code == 1 and "No such file or directory" in output and output.count("\n") == 1
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
    monkeypatch.setattr("ttrec.bundled.every_sample_file", lambda: paths)

    def serving_too_long(*_: object) -> None:
        raise TimeoutError("ttrec serve went on serving: the samples it loaded were not the stand-ins")

    # Bounded: should the command serve after all, a timer ends it (the test then fails).
    previous = signal.signal(signal.SIGALRM, serving_too_long)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        code, output = run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
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


def serve_process(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ttrec", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_start_refusals_are_one_line_before_listening(tmp_path: Path) -> None:
    capture = str(write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0)))
    for first, (args, code, message) in enumerate(
        [
            (
                ["--certfile", str(tmp_path / "nonexistent.pem")],
                1,
                f"{tmp_path / 'nonexistent.pem'}: no such file",
            ),
            (["--token", ""], 2, "--token: a token must not be empty"),
            (["--token", "ok", "--token", "  "], 2, "--token: a token must not be empty"),
            (["--report", str(tmp_path / "no-dir" / "r.json")], 1, "cannot write the report"),
            (["--ready-file", str(tmp_path / "no-dir" / "r.json")], 1, "cannot write the ready file"),
        ]
    ):
        # The first as a process, the others in this process on the MockClock (were one
        # accepted, it would listen for a client: the bound ends it as a failure).
        if first == 0:
            done = serve_process(capture, *args, "--exit-after", "1")
            returncode, stderr = done.returncode, done.stderr
        else:
            result, _ = invoke_on_mock_clock(["serve", capture, *args, "--exit-after", "1"], bound_s=60)
            returncode, stderr = result.exit_code, result.stderr
        assert returncode == code, (args, stderr)
        assert stderr.count("\n") == 1 and message in stderr, (args, stderr)
        assert "listening" not in stderr


def test_a_fault_that_can_never_fire_is_refused(tmp_path: Path) -> None:
    # frames_every(2, ...) has no game point at all; 12 frames give after=12 but not after=13.
    short = write_capture(tmp_path / "a.jsonl.zst", frames_every(12, 1.0))
    for first, (fault, words) in enumerate(
        [
            ("drop:at=game-point#999", "has 0 game-point(s)"),
            ("drop:at=final", "has no final"),
            ("close:after=13", "plays 12 data frame(s)"),
        ]
    ):
        # The first as a process; the others on the MockClock in this process (were one
        # accepted, it would serve until the bound ends it as a failure).
        if first == 0:
            done = serve_process(str(short), "--fault", fault)
            returncode, output = done.returncode, done.stderr
        else:
            result, _ = invoke_on_mock_clock(["serve", str(short), "--fault", fault], bound_s=60)
            returncode, output = result.exit_code, result.stderr
        assert returncode == 2, (fault, output)
        assert output.count("\n") == 1 and f"--fault: {fault}" in output and words in output, output


def test_a_fault_that_fires_on_one_capture_of_several_is_accepted(tmp_path: Path) -> None:
    short = write_capture(tmp_path / "a.jsonl.zst", frames_every(5, 1.0))
    long = write_capture(
        tmp_path / "b.jsonl.zst", frames_every(20, 1.0, fixture=OTHER_FIXTURE), OTHER_FIXTURE
    )
    options = ServeOptions(faults=(parse_fault("close:after=13"),))
    with pytest.raises(FaultNeverFires, match=r"a\.jsonl\.zst plays 5 data frame"):
        prepare(load_fixtures([short]), options)
    prepare(load_fixtures([short, long]), options)  # fires on b.jsonl.zst's playbacks: accepted


def test_a_torn_capture_is_served_with_one_warning_naming_it(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(50, 1.0, pad="x" * 2000))
    torn = tmp_path / "torn.jsonl.zst"
    torn.write_bytes(capture.read_bytes()[:-200])
    with socket.socket() as taken:  # the server loads, warns, then cannot listen: it stops at once
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = serve_process(str(torn), "--port", str(taken.getsockname()[1]))
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and f"{torn}: torn tail after line" in warnings[0], result.stderr


def test_a_report_on_a_read_only_file_system_is_one_line_before_listening(tmp_path: Path) -> None:
    capture = str(write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0)))
    with unwritable_directory(tmp_path / "ro") as unwritable:
        if not unwritable:
            pytest.skip("cannot make a directory this process cannot write to")
        result = serve_process(capture, "--report", str(tmp_path / "ro" / "r.json"), "--exit-after", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {tmp_path / 'ro' / 'r.json'}: cannot write the report: ")
