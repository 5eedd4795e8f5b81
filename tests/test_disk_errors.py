"""A full disk, a failing disk and a read-only directory while recording: the fixture
fails with one clear line, the others carry on, what was flushed before stays readable,
and nothing hangs.

In-process, the capture file of one fixture is swapped for one that refuses writes past
a byte budget with a chosen errno (ENOSPC, EDQUOT, EROFS, EIO), swept over budgets so that
the refusal lands on every kind of write (header, records, the closing frame). At the OS
level: `ttrec record` in a subprocess under RLIMIT_FSIZE (the kernel refuses the write
with EFBIG; SIGXFSZ ignored), and, in this process through click's CliRunner, an --out
directory the kernel refuses and an --out path under a file.
Rules: loopback only, port 0, `autojump_clock` in-process, `trio.fail_after` on every
network test.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final, cast

import pytest
import trio
from click.testing import CliRunner, Result
from recorder_support import (
    FIXTURE,
    FIXTURE_2,
    TOKEN,
    frames_of,
    limit_file_size,
    read,
    record_from,
    replayer,
    write_match,
)

import ttrec.capture
from recorder.session import RecordOptions
from replayer import ServeOptions, ServerHandle
from replayer.run import ServerThread
from ttrec.capture import CaptureReader, create_exclusive
from ttrec.cli import cli
from ttrec.errors import CaptureFormatError, CaptureWriteError

FRAMES: Final = 30
# The 60-frame recording below takes ~3.3 KB (zstd, ~30x): the limit cuts it mid-match.
LIMIT_BYTES: Final = 1500


class RefusingFile:
    """A real file that accepts `budget` bytes, then writes what fits and raises `errno`."""

    def __init__(self, inner: IO[bytes], budget: int, error: int) -> None:
        self._inner = inner
        self._left = budget
        self._error = error

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if len(chunk) > self._left:
            self._inner.write(chunk[: self._left])
            self._inner.flush()
            self._left = 0
            raise OSError(self._error, os.strerror(self._error))
        self._left -= len(chunk)
        return self._inner.write(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def refusing_disk(handle: ServerHandle, victim: str, budget: int, error: int) -> RecordOptions:
    """Recording options whose captures with `victim` in their name refuse writes after
    `budget` bytes (the recorder creates its files with `create_file`)."""

    def create(path: Path) -> IO[bytes]:
        f = create_exclusive(path)
        return cast(IO[bytes], RefusingFile(f, budget, error)) if victim in path.name else f

    return RecordOptions(base_url=handle.url, seed=1, create_file=create)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO])
async def test_a_refused_write_fails_that_fixture_only_and_keeps_what_was_flushed(
    tmp_path: Path, autojump_clock: object, error: int
) -> None:
    a = write_match(tmp_path / "a.jsonl.zst", FRAMES, FIXTURE, step_s=1.0)
    b = write_match(tmp_path / "b.jsonl.zst", FRAMES, FIXTURE_2, step_s=1.0)
    log = io.StringIO()
    with trio.fail_after(600):
        async with replayer([a, b], ServeOptions(speed=1.0)) as handle:
            options = refusing_disk(handle, FIXTURE, 1000, error)
            results = await record_from(
                handle, [FIXTURE, FIXTURE_2], tmp_path / "out", options=options, log=log
            )
    full, fine = results
    assert full.outcome == "failed"
    assert full.detail == f"cannot write the capture: {os.strerror(error)}"
    assert fine.outcome == "finished" and fine.complete and fine.frames == FRAMES
    # What reached the disk before the refusal reads back: a prefix of the match.
    reader, records = read(full.path)
    seqs = [f.data for f in frames_of(records)]
    _, source = read(a)
    assert 0 < len(seqs) < FRAMES and seqs == [f.data for f in frames_of(source)][: len(seqs)]
    assert reader.damage is None  # a refused write may tear the tail, never corrupt what precedes it
    assert TOKEN not in log.getvalue()


async def test_a_refusal_at_any_byte_never_escapes_or_hangs(tmp_path: Path, autojump_clock: object) -> None:
    """The budget swept across the whole file: the header, every record and the final
    frame end each meet the refusal once."""
    source = write_match(tmp_path / "a.jsonl.zst", 8, FIXTURE, step_s=1.0)
    outcomes: set[str] = set()
    for budget in range(0, 1200, 37):
        out = tmp_path / f"out-{budget}"
        with trio.fail_after(600):
            async with replayer([source], ServeOptions(speed=None)) as handle:
                options = refusing_disk(handle, FIXTURE, budget, errno.ENOSPC)
                try:
                    [result] = await record_from(handle, [FIXTURE], out, options=options)
                except CaptureWriteError as exc:
                    # Refused while creating the file: before any connection, one line.
                    assert "No space left on device" in str(exc) and "\n" not in str(exc)
                    outcomes.add("refused at creation")
                    continue
        outcomes.add(result.outcome)
        if result.outcome == "failed":
            assert "No space left on device" in result.detail
        for path in out.iterdir():
            try:
                with CaptureReader(path) as reader:
                    list(reader)
            except CaptureFormatError as exc:
                assert exc.line in (None, 1)  # not even the header made it
    assert outcomes >= {"failed", "finished", "refused at creation"}


# --- at the OS level --------------------------------------------------------------------


def _record_cli(
    url: str, out: Path, *fixtures: str, limit: int | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTREC_TOKEN": TOKEN, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ttrec", "record", *fixtures, "--base-url", url, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        preexec_fn=None if limit is None else (lambda: limit_file_size(limit)),
        check=False,
    )


def test_file_size_limit_from_the_kernel(tmp_path: Path) -> None:
    source = write_match(tmp_path / "a.jsonl.zst", 60, FIXTURE, step_s=0.01)
    with ServerThread([source], ServeOptions(speed=None)) as handle:
        done = _record_cli(handle.url, tmp_path / "out", FIXTURE, limit=LIMIT_BYTES)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [summary] = done.stdout.splitlines()
    assert f"{FIXTURE} failed:" in summary and "cannot write the capture: File too large" in summary
    [path] = (tmp_path / "out").iterdir()
    assert 0 < path.stat().st_size <= LIMIT_BYTES
    reader, records = read(path)
    frames = frames_of(records)
    assert 0 < len(frames) < 60 and reader.torn_tail


@contextlib.contextmanager
def unwritable_directory(path: Path) -> Iterator[bool]:
    """A directory this process cannot create files in: mode 0o555, or for root (whom
    modes do not stop) a read-only tmpfs mounted there. Yields False when neither works
    (root without the right to mount, e.g. in a container): the caller then makes the
    refusal in-process instead."""
    path.mkdir()
    path.chmod(0o555)
    mounted = False
    try:
        probe = path / "probe"
        try:
            probe.touch()
            probe.unlink()
            writable = True
        except OSError:
            writable = False
        if writable:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                check=False,
                capture_output=True,
            )
            mounted = done.returncode == 0
        yield not writable or mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=False)
        path.chmod(0o755)


@pytest.mark.parametrize("level", ["os", "in-process"])
def test_a_read_only_out_directory_fails_at_once_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    source = write_match(tmp_path / "a.jsonl.zst", 5, FIXTURE)
    ro = tmp_path / "ro"
    with ServerThread([source], ServeOptions(speed=None)) as handle, unwritable_directory(ro) as os_level:
        # In this process both ways (the kernel refuses this process as it would a `ttrec`
        # process; test_file_size_limit_from_the_kernel runs the real process).
        if level == "in-process" or not os_level:
            monkeypatch.setattr(ttrec.capture, "open", _refuse_creation, raising=False)
        result = _record_in_process(handle.url, ro, FIXTURE, FIXTURE_2)
        monkeypatch.undo()
        code, stderr = result.exit_code, result.stderr
        assert handle.connections == []  # failed before connecting
    assert code == 1
    [line] = stderr.strip().splitlines()
    assert line.startswith(f"Error: {ro}")
    assert "Read-only file system" in stderr or "Permission denied" in stderr
    assert "Traceback" not in stderr
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("command", ["simulate", "warp", "simulate-both-feeds"])
def test_a_capture_made_into_a_read_only_directory_is_named_as_given(tmp_path: Path, command: str) -> None:
    source = write_match(tmp_path / "a.jsonl.zst", 5, FIXTURE)
    ro = tmp_path / "ro"
    out = ro / "x.jsonl.zst"
    args = {
        "simulate": ["simulate", "-q", "--seed", "1"],
        "simulate-both-feeds": ["simulate", "-q", "--seed", "1", "--feeds", "statistics,actions"],
        "warp": ["warp", str(source), "--scale", "2"],
    }[command]
    with unwritable_directory(ro) as os_level:
        if not os_level:
            pytest.skip("this machine lets every directory be written to (root without mount)")
        result = CliRunner().invoke(cli, [*args, "-o", str(out)])
        left = list(ro.iterdir())
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line in (f"Error: {out}: Read-only file system", f"Error: {out}: Permission denied")
    assert left == []


def _record_in_process(url: str, out: Path, *fixtures: str) -> Result:
    """`ttrec record` in this process (click's CliRunner), for a run that fails before it
    connects; a traceback fails the test."""
    args = ["record", *fixtures, "--base-url", url, "--out", str(out)]
    result = CliRunner().invoke(cli, args, env={"TTREC_TOKEN": TOKEN})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _refuse_creation(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    if "x" in mode:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return open(path, mode, *args, **kwargs)


def test_a_capture_path_in_a_missing_directory_tree_is_made_or_refused_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    source = write_match(tmp_path / "a.jsonl.zst", 5, FIXTURE)
    with ServerThread([source], ServeOptions(speed=None)) as handle:
        done = _record_in_process(handle.url, blocker / "out", FIXTURE)
        assert handle.connections == []  # failed before connecting
    assert done.exit_code == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "Not a directory" in done.stderr
