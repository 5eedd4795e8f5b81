"""`ttrec record --live` and its `--out`: refused at start-up when it cannot hold the
captures (one file for many fixtures, a directory that refuses files), and a capture that
cannot be created mid-run costs that capture only, never the recordings under way.

Loopback only, port 0, real files, trio's MockClock, every wait bounded.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Final

import pytest
import trio
from cli_support import invoke_on_mock_clock
from recorder_support import replayer
from replayer_support import FIXTURE, OTHER_FIXTURE
from test_disk_errors import _refuse_creation, unwritable_directory
from test_record_live import (
    capture_set,
    captured,
    entry,
    hostile_api,
    live_options,
    run_live,
    served_frames,
)

import ttrec.capture
from recorder.live import LiveRecorder, LiveSummary, api_client, describe
from recorder.live_options import LiveOptions
from recorder.secret import Token
from recorder.session import RecordOptions
from replayer import ServeOptions, ServerHandle
from ttrec.capture import create_exclusive

TOKEN: Final = "live-out-token-8765"


@pytest.fixture
def refused_url() -> Iterator[str]:
    """An http:// URL on loopback where nothing listens (a bound socket, never listening):
    a recorder that got as far as asking would be refused and poll again, for ever."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_live_refuses_an_out_file_at_start_up(tmp_path: Path, refused_url: str) -> None:
    out = tmp_path / "one.jsonl.zst"
    args = ["record", "--live", "--api-url", refused_url, "--base-url", "ws://127.0.0.1:9"]
    result, _ = invoke_on_mock_clock([*args, "--out", str(out), "--token", TOKEN], bound_s=60)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "one.jsonl.zst" in line and "directory" in line, line
    assert not out.exists() and list(tmp_path.iterdir()) == []


async def test_an_out_refused_mid_run_fails_one_capture_only(tmp_path: Path, autojump_clock: object) -> None:
    """The first fixture is being recorded when `--out` turns into a file (its folder moved
    away, a file put in its place): the second fixture's capture is refused, the first is
    recorded to its end in the moved folder, and the file is left as it was."""
    captures = capture_set(tmp_path)
    out, moved, log = tmp_path / "out", tmp_path / "moved", io.StringIO()
    live_polls = 0

    def script(n: int, query: str) -> Sequence[object]:
        nonlocal live_polls
        if "status=live" not in query:
            return (200, [])
        live_polls += 1
        if live_polls == 2:  # FIXTURE has been recording for a poll interval
            out.rename(moved)
            out.write_bytes(b"not a directory")
        listed = [FIXTURE] if live_polls < 6 else []
        listed += [OTHER_FIXTURE] if live_polls == 2 else []
        return (200, [entry(fixture) for fixture in listed])

    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, _):
            summary, recorder = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1, text
    assert captured(moved) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert out.read_bytes() == b"not a directory"
    (refusal,) = [line for line in text.splitlines() if "cannot create the capture" in line]
    assert OTHER_FIXTURE in refusal and "not a directory" in refusal
    assert recorder._recording == {}


def test_live_fails_at_once_on_a_directory_that_refuses_files(
    tmp_path: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `record ID` does (docs/record.md, "an unwritable directory fails at once"): exit 1
    and one line, before asking the API anything, rather than poll for ever recording nothing."""
    ro = tmp_path / "ro"
    args = ["record", "--live", "--api-url", refused_url, "--base-url", "ws://127.0.0.1:9"]
    args += ["--out", str(ro), "--token", TOKEN, "--poll", "1"]
    with unwritable_directory(ro) as os_level:
        if os_level:  # the kernel refuses: the real process (a recorder that polls on is killed at 60 s)
            command = [sys.executable, "-m", "ttrec", *args]
            done = subprocess.run(command, check=False, capture_output=True, timeout=60)
            code, stderr = done.returncode, done.stderr.decode()
        else:  # root without the right to mount: the refusal made in-process
            monkeypatch.setattr(ttrec.capture, "_PROC_FDS", tmp_path / "no-such-dir")  # named files only
            monkeypatch.setattr(ttrec.capture, "open", _refuse_creation, raising=False)
            result, _ = invoke_on_mock_clock(args, bound_s=60)
            code, stderr = result.exit_code, result.stderr
        assert list(ro.iterdir()) == []
    assert code == 1, stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"Error: {ro}") and "Read-only file system" in line, line


class FlakyDisk:
    """Creates captures with `create_exclusive`, except the first `failures` after the
    start-up check's probe, which the disk refuses (ENOSPC)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.refused = 0

    def __call__(self, path: Path) -> IO[bytes]:
        if not path.name.startswith(".") and self.refused < self.failures:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return create_exclusive(path)


async def run_on_disk(
    handle: ServerHandle, live: LiveOptions, out: Path, log: io.StringIO, disk: FlakyDisk
) -> tuple[LiveSummary, LiveRecorder]:
    options = RecordOptions(base_url=handle.url, seed=1, heartbeat_interval_s=10.0, create_file=disk)
    async with api_client(live) as http:
        recorder = LiveRecorder(Token(TOKEN), out=out, options=options, live=live, http=http, log=log)
        return await recorder.run(), recorder


def listed_for(polls: int, fixture: str = FIXTURE) -> object:
    """An API script: `fixture` live for the first `polls` polls, then nothing."""
    live_polls = 0

    def script(n: int, query: str) -> Sequence[object]:
        nonlocal live_polls
        if "status=live" not in query:
            return (200, [])
        live_polls += 1
        return (200, [entry(fixture)] if live_polls <= polls else [])

    return script


async def one_fixture_live_on(
    disk: FlakyDisk, captures: list[Path], script: object, out: Path, log: io.StringIO
) -> tuple[LiveSummary, LiveRecorder]:
    """`record --live` of the served captures, listed live as `script` says, onto `disk`."""
    with trio.fail_after(3600):
        async with (
            replayer(captures, ServeOptions(speed=1.0)) as handle,
            hostile_api(script) as (url, _),
        ):
            return await run_on_disk(handle, live_options(url), out, log, disk)


async def test_a_capture_not_created_mid_run_is_tried_again_at_the_next_poll(
    tmp_path: Path, autojump_clock: object
) -> None:
    captures, out, log, disk = capture_set(tmp_path)[:1], tmp_path / "out", io.StringIO(), FlakyDisk(2)
    summary, recorder = await one_fixture_live_on(disk, captures, listed_for(8), out, log)
    text = log.getvalue()
    refusals = [line for line in text.splitlines() if "cannot create the capture" in line]
    assert len(refusals) == 2 and all("No space left on device" in line for line in refusals), text
    # The third try, a poll later: the whole match, from startPosition 0.
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert (summary.finished, summary.failed, summary.not_created) == (1, 0, 2)
    tally = recorder.snapshot().fixtures
    assert (tally.done, tally.failed, tally.recording) == (1, 0, 0)
    assert recorder._retry == {}
    assert describe(summary) == [
        "record --live: 1 capture(s): 1 finished, 0 failed, 0 stopped; 2 could not be created"
    ]
    # The status line: waiting after each refusal, not recording; recording once created.
    statuses = [line.split(" fixtures ", 1)[1] for line in text.splitlines() if " fixtures " in line]
    assert statuses == [  # (this recorder asks for the scheduled ones too)
        "1 live, 0 scheduled, 1 recording, 0 done, 0 failed",  # the first try
        "1 live, 0 scheduled, 0 recording, 0 done, 0 failed, 1 waiting for a capture file",  # refused, twice
        "1 live, 0 scheduled, 1 recording, 0 done, 0 failed",  # the third try, created
        "1 live, 0 scheduled, 0 recording, 1 done, 0 failed",
        "0 live, 0 scheduled, 0 recording, 1 done, 0 failed",
    ], text


async def test_a_fixture_whose_capture_never_could_be_created_counts_failed(
    tmp_path: Path, autojump_clock: object
) -> None:
    captures, out, log, disk = capture_set(tmp_path)[:1], tmp_path / "out", io.StringIO(), FlakyDisk(1000)
    summary, recorder = await one_fixture_live_on(disk, captures, listed_for(3), out, log)
    assert disk.refused == 3  # once per poll that listed it live
    assert (summary.recorded, summary.not_created) == (0, 3)
    assert recorder.snapshot().fixtures.failed == 1
    assert recorder._retry == {} and list(out.iterdir()) == []
