"""`ttrec record --live` as processes: a staggered `ttrec serve` and the recorders (plain,
json logs, quiet, a refused token) until idle; SIGTERM; and the one-line usage errors."""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import astuple, dataclass
from pathlib import Path

import pytest
import trio
from cli_support import invoke_on_mock_clock
from click.testing import CliRunner
from recorder_support import frames_of, read, write_match
from replayer_support import FIXTURE, OTHER_FIXTURE, wait_ready

from ttrec.cli import cli
from ttrec.errors import CaptureFormatError
from ttrec.records import Close

TOKEN = "live-cli-token-5678"
# This module runs on one xdist worker (tests/conftest.py, SAME_WORKER), so that its `runs`
# happen once.


# The recorders the tests below judge, by name: their `ttrec record` options beyond the
# server's addresses and the output folder.
RECORDERS = {
    "plain": ["--until", "idle", "--token", TOKEN],
    "json": ["--until", "idle", "--token", TOKEN, "--log-format", "json", "-v"],
    "quiet": ["--until", "idle", "--token", TOKEN, "-q"],
    "refused": ["--until", "idle", "--token", "not-the-token"],
}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    out_dir: Path


# A `ttrec record --live` process started before the server: it imports the command, says
# so (a file beside the ready file), waits (bounded) for the server's ready file, then runs
# the console entry point (`python -m ttrec` runs the same `main`) with the addresses in it.
# The server starts once every recorder has imported, so that nothing else of this test
# competes for the CPU when the fixtures API's clock starts: a recorder is then polling
# within milliseconds, and the matches need be live only briefly, however slowly a loaded
# machine starts processes.
RECORDER_WHEN_READY = """
import json, os, sys, time
from pathlib import Path

import recorder.live, ttrec.cli.record  # what `record --live` imports, paid before the server starts
from ttrec.cat import main

ready, args = Path(sys.argv[1]), sys.argv[2:]
ready.with_name(f"imported.{os.getpid()}").touch()
deadline = time.monotonic() + 60
while not ready.exists():
    if time.monotonic() > deadline:
        sys.exit("no ready file within 60 s")
    time.sleep(0.01)
info = json.loads(ready.read_text())
sys.argv = ["ttrec", "record", "--live", "--api-url", info["api_url"], "--base-url", info["url"], *args]
main()
"""


async def serve_and_record(folder: Path) -> dict[str, Run]:
    """One staggered `ttrec serve` and every recorder of RECORDERS at once, each a process
    with its own output folder: the matches are live for seconds of the real clock, lived
    once for all the tests instead of once each."""
    served = [
        write_match(folder / "a.jsonl.zst", 8, FIXTURE, step_s=0.8, heartbeat_s=0.4),
        write_match(folder / "b.jsonl.zst", 8, OTHER_FIXTURE, step_s=0.8, heartbeat_s=0.4),
    ]
    ready = folder / "ready.json"
    serve = [sys.executable, "-m", "ttrec", "serve", *map(str, served), "--ready-file", str(ready)]
    # Each match is live for 2.9 s (11.6 s of capture at speed 4), the second from 0.5 s on
    # (was 3.6 s, from 1 s on, with the recorders importing while the server started).
    # --on-end close: the recorders need not linger 2 s after the finished frame; --poll 0.25
    # (below): idle is seen a quarter second after the last capture closed.
    serve += ["--speed", "4", "--stagger", "0.5", "--on-end", "close", "--token", TOKEN]
    runs: dict[str, Run] = {}

    async def record(name: str) -> None:
        out_dir, out_file, err_file = folder / name, folder / f"{name}.out", folder / f"{name}.err"
        with out_file.open("wb") as out, err_file.open("wb") as err:
            command = [sys.executable, "-c", RECORDER_WHEN_READY, str(ready), "--poll", "0.25"]
            command += ["--out", str(out_dir), *RECORDERS[name]]
            done = await trio.run_process(command, stdout=out, stderr=err, check=False)
        runs[name] = Run(done.returncode, out_file.read_text(), err_file.read_text(), out_dir)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as recorders:
                for name in RECORDERS:
                    recorders.start_soon(record, name)
                while len(list(folder.glob("imported.*"))) < len(RECORDERS):
                    assert not runs, f"a recorder exited before the server started: {runs}"
                    await trio.sleep(0.02)
                server: trio.Process = await nursery.start(
                    lambda task_status: trio.run_process(serve, check=False, task_status=task_status)
                )
                await wait_ready(server, ready)  # the server started: or fail here, not after 60 s
            server.send_signal(signal.SIGTERM)
            await server.wait()
    return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return trio.run(serve_and_record, tmp_path_factory.mktemp("live"))


def test_records_every_fixture_until_idle(runs: dict[str, Run]) -> None:
    code, out, err, out_dir = astuple(runs["plain"])
    assert code == 0, err
    assert "2 capture(s): 2 finished, 0 failed, 0 stopped" in out
    fixtures = {}
    for path in out_dir.iterdir():
        reader, records = read(path)
        fixtures[reader.header.fixture_id] = len(frames_of(records))
    assert fixtures == {FIXTURE: 8, OTHER_FIXTURE: 8}
    assert "Traceback" not in err and TOKEN not in err + out


def test_json_logs_with_verbose(runs: dict[str, Run]) -> None:
    code, _, err, _ = astuple(runs["json"])
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    assert all(set(line) == {"time", "level", "subject", "message"} for line in lines)
    assert any(line["level"] == "debug" and line["message"].startswith("poll: ") for line in lines)
    assert {line["subject"] for line in lines} >= {"api", "fixtures", FIXTURE, OTHER_FIXTURE}


def test_quiet_shows_no_info_lines(runs: dict[str, Run]) -> None:
    code, out, err, _ = astuple(runs["quiet"])
    assert code == 0 and err == ""
    assert "2 finished" in out


def test_a_refused_token_is_one_line_and_exit_1(runs: dict[str, Run]) -> None:
    code, out, err, _ = astuple(runs["refused"])
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "ttrec record: the fixtures API refused the token (HTTP 401): "
        '{"error": "The supplied authentication is invalid", "status": 401}'
    )
    assert "Traceback" not in err and "not-the-token" not in err + out


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--live", FIXTURE], "name no FIXTURE_ID"),
        (["--until", "idle", FIXTURE], "--until idle is for --live"),
        (["--live", "--until", "forever"], "--until is finished or idle"),
        (["--live", "--feeds", "statistics,odds"], "--feeds"),
        (["--live", "--api-url", "ftp://example.invalid"], "--api-url"),
        (["--live", "--type", "friendly"], "--type"),
        (["--live", "--metrics", "9100"], "--metrics: expected ADDR:PORT"),
        (["--metrics", "127.0.0.1:9100", FIXTURE], "--metrics is for --live"),
        (["--live", "--feed", "actions"], "--feed is for FIXTURE_ID"),
        (["--live", "--shard", "3/3"], "--shard: shard 3 of 3"),
        (["--live", "--shard", "0/2", "--replicas", "3"], "--shard: replicas"),
        (["--live", "--replicas", "2"], "--replicas needs --shard"),
        (["--live", "--log-format", "xml"], "--log-format"),
    ],
)
def test_usage_errors(args: list[str], problem: str) -> None:
    result = CliRunner().invoke(cli, ["record", "--token", TOKEN, *args])
    assert result.exit_code == 2, result.output
    assert problem in result.output and "Traceback" not in result.output


# Each option only --live reads, given without it, and a value it would accept with it.
LIVE_ONLY_OPTIONS = [
    ["--feeds", "statistics,actions"],
    ["--type", "official"],
    ["--coverage", "inVenue"],
    ["--poll", "5"],
    ["--api-url", "http://127.0.0.1:9"],
    ["--replicas", "1"],
    ["--shard", "0/2"],
    ["--metrics", "127.0.0.1:0"],
]


@pytest.mark.parametrize("option", LIVE_ONLY_OPTIONS, ids=lambda option: option[0])
def test_a_live_only_option_without_live_is_refused(option: list[str], tmp_path: Path) -> None:
    """Refused, not ignored: `record ID --feeds statistics,actions` recorded the statistics
    feed only, without a word. On the MockClock, against a loopback port nothing listens
    on: a recorder that went ahead would retry for ever and meet the bound instead."""
    args = ["record", FIXTURE, "--token", TOKEN, "--base-url", "ws://127.0.0.1:9", "--out", str(tmp_path)]
    result, _ = invoke_on_mock_clock([*args, *option], bound_s=60)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert f"{option[0]} is for --live" in line
    assert list(tmp_path.iterdir()) == []


def test_every_live_only_option_given_is_named(tmp_path: Path) -> None:
    args = ["record", FIXTURE, "--token", TOKEN, "--base-url", "ws://127.0.0.1:9", "--out", str(tmp_path)]
    result, _ = invoke_on_mock_clock([*args, "--poll", "5", "--feeds", "actions"], bound_s=60)
    assert result.exit_code == 2 and "--poll, --feeds are for --live" in result.output, result.output


def _has_a_frame(path: Path) -> bool:
    """Whether the capture being written holds a frame yet. A capture the recorder has just
    created has no header yet (its first bytes are a moment away): no frame, not an error."""
    try:
        return bool(frames_of(read(path)[1]))
    except CaptureFormatError:
        if path.stat().st_size > 0:
            raise
        return False


async def test_sigterm_closes_every_capture_and_exits_0(tmp_path: Path) -> None:
    served = [
        write_match(tmp_path / "a.jsonl.zst", 40, FIXTURE, step_s=0.2),
        write_match(tmp_path / "b.jsonl.zst", 40, OTHER_FIXTURE, step_s=0.2),
    ]
    ready, out_dir = tmp_path / "ready.json", tmp_path / "out"
    serve = [sys.executable, "-m", "ttrec", "serve", *map(str, served), "--ready-file", str(ready)]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            server: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(serve, check=False, task_status=task_status)
            )
            info = await wait_ready(server, ready)
            record = [sys.executable, "-m", "ttrec", "record", "--live", "--api-url", info["api_url"]]
            record += ["--base-url", info["url"], "--poll", "0.5", "--out", str(out_dir), "--token", TOKEN]
            recorder: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    record, check=False, capture_stdout=True, capture_stderr=True, task_status=task_status
                )
            )
            while not out_dir.exists() or len(list(out_dir.iterdir())) < 2:
                await trio.sleep(0.05)
            while not all(_has_a_frame(path) for path in out_dir.iterdir()):
                await trio.sleep(0.05)  # a frame in, each
            recorder.send_signal(signal.SIGTERM)
            code = await recorder.wait()
            server.send_signal(signal.SIGTERM)
            await server.wait()
    assert code == 0
    for path in out_dir.iterdir():
        reader, records = read(path)
        assert not reader.torn_tail and reader.damage is None
        assert isinstance(records[-1], Close)
        assert 0 < len(frames_of(records)) < 40
