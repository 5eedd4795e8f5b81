"""`python -m ttrec record` as a real process on the real clock: killed with SIGKILL it
leaves a readable file with a torn tail; SIGTERM and SIGINT close every file cleanly; the
token never shows in `ps`, the files or the output.

Rules: loopback only, port 0, and every wait bounded (subprocess timeouts, polling with
deadlines). The replayer runs in a thread of this process at a moderate speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from recorder_support import FIXTURE, FIXTURE_2, TOKEN, all_text, frames_of, limit_file_size, write_match

from replayer import ServeOptions, ServerHandle
from replayer.run import ServerThread
from ttrec.capture import CaptureReader
from ttrec.cli import cli
from ttrec.errors import CaptureFormatError
from ttrec.feed import seq_num
from ttrec.records import Close

FRAMES = 200
STEP_S = 1.0
SPEED = 40.0  # 200 frames ~1.75 s apart: ~9 s of playback, far longer than any test waits (~1 s)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerHandle]:
    a = write_match(tmp_path / "a.jsonl.zst", FRAMES, FIXTURE, step_s=STEP_S)
    b = write_match(tmp_path / "b.jsonl.zst", FRAMES, FIXTURE_2, step_s=STEP_S)
    with ServerThread([a, b], ServeOptions(speed=SPEED)) as handle:
        yield handle


def start_recorder(handle: ServerHandle, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TTREC_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "ttrec", "record", FIXTURE, FIXTURE_2, "--base-url", handle.url]
    return subprocess.Popen(
        [*command, "--out", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def frames_in(path: Path) -> int:
    try:
        with CaptureReader(path) as reader:
            return sum(1 for line in reader.raw_lines() if b'"type":"frame"' in line)
    except (CaptureFormatError, OSError):  # still being created
        return 0


def wait_for_frames(out: Path, at_least: int, timeout_s: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = sorted(out.glob("*.jsonl.zst"))
        if len(files) == 2 and all(frames_in(p) >= at_least for p in files):
            return files
        time.sleep(0.05)
    raise TimeoutError(f"no {at_least} frames in {out} within {timeout_s} s")


def writable(path: Path) -> bool:
    """Any write permission bit (root ignores them, so os.access would say yes)."""
    return bool(path.stat().st_mode & 0o222)


def test_sigkill_mid_match_leaves_every_record_up_to_the_kill_and_a_torn_tail(
    served: ServerHandle, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = start_recorder(served, out)
    try:
        files = wait_for_frames(out, 10)
        being_written = [writable(path) for path in files]
    finally:
        proc.kill()
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Being written, then left by a killed recorder: writable, so not shipped (docs/record.md).
    assert all(being_written) and all(writable(path) for path in files)
    for path in files:
        with CaptureReader(path) as reader:
            records = list(reader)
            assert reader.torn_tail  # the last zstd frame was never ended
            assert reader.damage is None
        frames = frames_of(records)
        # Everything written before the kill reads back: a gap-free prefix of the match.
        assert len(frames) >= 10
        assert [seq_num(f.data) for f in frames] == list(range(1, len(frames) + 1))
        info = CliRunner().invoke(cli, ["info", "--json", str(path)])
        summary = json.loads(info.stdout.splitlines()[0])
        assert summary["torn_tail"] is True
        assert summary["frames"] == len(frames) and summary["seq_gaps"] in (0, [])
    assert TOKEN.encode() not in all_text(out)
    assert TOKEN.encode() not in stdout + stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_close_every_file_cleanly(
    served: ServerHandle, tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "out"
    proc = start_recorder(served, out)
    try:
        files = wait_for_frames(out, 5)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr.decode()  # stopped before the matches finished
    assert b"Traceback" not in stderr
    lines = stdout.decode().splitlines()
    assert len(lines) == 2 and all(" stopped: " in line for line in lines)
    for path in files:
        assert not writable(path)  # closed: sealed read-only, the sign that it may be shipped
        with CaptureReader(path) as reader:
            records = list(reader)
            assert not reader.torn_tail
        last = records[-1]
        assert isinstance(last, Close) and (last.by, last.code) == ("client", 1001)
        frames = frames_of(records)
        assert [seq_num(f.data) for f in frames] == list(range(1, len(frames) + 1))


def test_token_given_on_the_command_line_is_hidden_from_ps(served: ServerHandle, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ttrec", "record", FIXTURE, "--base-url", served.url, "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "TTREC_TOKEN"}
    proc = subprocess.Popen(
        [*command, "--token", TOKEN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait = time.monotonic() + 30
        while time.monotonic() < wait and not list(out.glob("*.jsonl.zst")):
            time.sleep(0.05)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        ps = subprocess.run(["ps", "-o", "args=", "-p", str(proc.pid)], capture_output=True, timeout=30)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert b"record" in cmdline and b"--token" in cmdline
    assert TOKEN.encode() not in cmdline
    assert TOKEN.encode() not in ps.stdout


FULL_AT = 2048  # bytes a file may grow to: the disk is "full"


def test_a_disk_that_refuses_writes_fails_the_fixture_clearly_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "TTREC_TOKEN": TOKEN}
    source = write_match(tmp_path / "a.jsonl.zst", FRAMES, FIXTURE, step_s=STEP_S)
    # As fast as the recorder reads: the disk is full after a few dozen frames, not seconds.
    with ServerThread([source], ServeOptions(speed=None)) as handle:
        command = [sys.executable, "-m", "ttrec", "record", FIXTURE, "--base-url", handle.url]
        done = subprocess.run(
            [*command, "--out", str(out)],
            env=env,
            capture_output=True,
            timeout=60,
            preexec_fn=lambda: limit_file_size(FULL_AT),
        )
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert b"cannot write the capture: File too large" in done.stdout + done.stderr
    [path] = out.glob("*.jsonl.zst")
    with CaptureReader(path) as reader:
        frames = frames_of(list(reader))
    assert frames  # what was flushed before the refusal reads back, gap-free
    assert [seq_num(f.data) for f in frames] == list(range(1, len(frames) + 1))
