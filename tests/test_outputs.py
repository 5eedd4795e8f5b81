"""No command destroys a file ttrec did not write (ttrec.outputs, docs/outputs.md).

Over the real command line (subprocesses, or click's CliRunner in this process) on real
files: a capture, a file of the user's, a FIFO, a directory, a symlink and (as root) a
character device given as an output are refused with one line, exit 2, and left as they
were; ttrec's own ready file, report and CA file are replaced by a later run; a derived
capture that fails half-way (the kernel's file size limit) leaves nothing behind, and the
retry succeeds; `-o -` is stdout; `record --out` never turns a mistyped file name into a
directory.

`serve`'s and `record`'s refusals run in this process, where the old code served forever
or a recorder would retry its connection forever: serving or connecting is replaced by a
failure (`serve_refusing`, `record_refusing`), so that a regression fails the test at once
rather than hangs it; one refusal of each still goes through a real process, for the
wiring (a process start costs some 0.3-0.4 s of CPU, the in-process run a few ms).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pty
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final, cast

import pytest
from click.testing import CliRunner
from recorder_support import limit_file_size
from test_disk_errors import RefusingFile

import replayer.run
from ttrec import capture as capture_io
from ttrec import outputs
from ttrec.capture import CaptureReader, create_exclusive
from ttrec.cli import cli
from ttrec.cli import record as record_command
from ttrec.cli.logs import LIBRARY_LOGGERS
from ttrec.errors import OutputRefused, OutputWriteError
from ttrec.records import Frame
from ttrec.simulator import simulate_match, write_capture

TIMEOUT_S: Final = 30
FIXTURE_ID: Final = "00000000-0000-4000-8000-00000000abcd"


@pytest.fixture(scope="module")
def capture_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One simulated capture's bytes: simulated once, written afresh for each test."""
    directory = tmp_path_factory.mktemp("simulated")
    return write_capture(simulate_match(3, fixture_id=FIXTURE_ID), directory / "match.jsonl.zst").read_bytes()


@pytest.fixture
def capture(tmp_path: Path, capture_bytes: bytes) -> Path:
    path = tmp_path / "match.jsonl.zst"
    path.write_bytes(capture_bytes)
    return path


def ttrec(
    *args: str | Path, cwd: Path | None = None, limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttrec", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=None if limit is None else (lambda: limit_file_size(limit)),
        check=False,
    )


def invoke(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """In-process (click's CliRunner), for commands that cannot hang: the same result shape."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # what a process would show as a traceback: the test fails with it
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def refuse_capture_writes_past(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    """Every capture file opened from now on refuses writes past `budget` bytes with EFBIG,
    as the kernel does under a file size limit (RLIMIT_FSIZE, which is process-wide)."""
    opened = capture_io.open_new

    def open_refusing(path: Path, create: Callable[[Path], IO[bytes]] = create_exclusive) -> IO[bytes]:
        return cast(IO[bytes], RefusingFile(opened(path, create), budget, errno.EFBIG))

    monkeypatch.setattr(capture_io, "open_new", open_refusing)


def serve_refusing(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`ttrec serve ARGS` in this process, for a run that must be refused before it serves:
    serving raises instead (the old code served forever), and the library loggers that
    `serve` points at stderr are put back afterwards."""

    async def serves(*_: object, **__: object) -> None:
        raise AssertionError("ttrec serve went on to serve")

    monkeypatch.setattr(replayer.run, "serve_until_stopped", serves)
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "level", logger.level)
    result = CliRunner().invoke(cli, ["serve", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # the test fails with it
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def record_refusing(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`ttrec record ARGS` in this process, for a run whose --out must be refused before any
    connection: connecting raises instead (a recorder retries a refused connection forever)."""

    def connects(*_: object, **__: object) -> None:
        raise AssertionError("ttrec record went on to connect")

    def no_connection(ca_file: Path | None) -> object:
        return connects

    monkeypatch.setattr(record_command, "resolve_connect", no_connection)
    result = CliRunner().invoke(cli, ["record", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # the test fails with it
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def refused(done: subprocess.CompletedProcess[str], kind: str) -> str:
    """A directory is refused by click's own path check (its usage format); the rest by ttrec."""
    if kind == "dir":
        assert done.returncode == 2 and "is a directory" in done.stderr, done.stderr
        return ""
    return one_line_exit_2(done)


def one_line_exit_2(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    usage_line = r"(ttrec|cli) (\w+): .+ \(try '\1 \2 --help'\)"  # cli: click's test runner
    assert len(lines) == 1 and re.fullmatch(usage_line, lines[0]), done.stderr
    return lines[0]


def snapshot(path: Path) -> tuple[int, bytes | None]:
    """What a path is: its file type and, for a regular file, its bytes."""
    mode = path.lstat().st_mode
    return stat.S_IFMT(mode), path.read_bytes() if stat.S_ISREG(mode) else None


def foreign_paths(tmp_path: Path, capture: Path) -> dict[str, Path]:
    """Paths a user may pass by mistake, none of them ttrec's to replace."""
    notes = tmp_path / "notes.json"
    notes.write_text('{"url": "mine", "port": 1}\n')  # JSON, but not written by ttrec
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    directory = tmp_path / "dir"
    directory.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(notes)
    found = {"capture": capture, "notes": notes, "fifo": fifo, "dir": directory, "symlink": link}
    if os.geteuid() == 0:
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
        found["device"] = device
    return found


# The cases and one of each kind; the first (the issue's own) through a real process,
# the others in this process. Every kind against every option is the same check
# (ttrec.outputs), run on the module itself below.
@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("--ready-file", "capture"),
        ("--ready-file", "notes"),
        ("--report", "capture"),
        ("--report", "device"),
        ("--report", "symlink"),
        ("--ca-file", "capture"),
        ("--ca-file", "fifo"),
    ],
)
def test_serve_refuses_an_output_it_did_not_write(
    tmp_path: Path, capture: Path, option: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = foreign_paths(tmp_path, capture)
    path = found.get(kind, found["fifo"])  # no device node without root
    before = snapshot(path)
    tls = ["--tls"] if option == "--ca-file" else []
    args: list[str | Path] = [capture, "--port", "0", *tls, option, path]
    in_a_process = (option, kind) == ("--ready-file", "capture")
    done = ttrec("serve", *args) if in_a_process else serve_refusing(monkeypatch, *args)
    line = one_line_exit_2(done)
    assert str(path) in line and snapshot(path) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("purpose", [outputs.READY_FILE, outputs.REPORT, outputs.CA_FILE])
def test_every_kind_of_foreign_path_is_refused(
    tmp_path: Path, capture: Path, purpose: outputs.Purpose
) -> None:
    for kind, path in foreign_paths(tmp_path, capture).items():
        before = snapshot(path)
        with pytest.raises(OutputRefused):
            outputs.write_replacing(path, b"x", purpose)
        outputs.remove_own(path, purpose)
        assert snapshot(path) == before, kind


def test_serve_refuses_one_file_for_two_outputs(
    tmp_path: Path, capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = tmp_path / "out.json"
    line = one_line_exit_2(serve_refusing(monkeypatch, capture, "--ready-file", same, "--report", same))
    assert "different files" in line and not same.exists()


def _serve_until_ready(args: list[str | Path], ready: Path) -> subprocess.Popen[bytes]:
    """A `ttrec serve` process, once its ready file names its URL (not a stale one)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ttrec", "serve", *map(str, args)], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not (ready.exists() and json.loads(ready.read_text())["url"].startswith("wss://")):
        assert process.poll() is None, "ttrec serve exited before it was ready"
        assert time.monotonic() < deadline, "ttrec serve never became ready"
        time.sleep(0.02)
    return process


def test_serve_replaces_its_own_files_from_an_earlier_run(tmp_path: Path, capture: Path) -> None:
    """Two runs: the second finds the first's report and CA file and, as a killed server
    leaves it, a stale ready file of ours; it replaces all three."""
    ready, report, ca = tmp_path / "ready.json", tmp_path / "report.json", tmp_path / "ca.pem"
    args: list[str | Path] = [capture, "--tls", "--ca-file", ca, "--ready-file", ready, "--report", report]
    cas = []
    for run in range(2):
        if run == 1:  # removed before the run is ready: ready means the new file
            ready.write_text(json.dumps({"written_by": "ttrec serve --ready-file", "url": "stale"}))
        process = _serve_until_ready(args, ready)
        try:
            written = json.loads(ready.read_text())
            assert next(iter(written)) == "written_by" and written["port"] > 0
            cas.append(ca.read_bytes())
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=TIMEOUT_S) == 0
        assert not ready.exists()  # removed at exit: it was ours
        assert json.loads(report.read_text())["running"] is False
    assert cas[0] != cas[1]  # a new throwaway CA, written over the old one


DERIVED: Final[dict[str, Callable[[Path, Path], list[str | Path]]]] = {
    "simulate": lambda src, out: ["simulate", "--seed", "5", "-o", out],
    "slice": lambda src, out: ["slice", src, "-o", out, "--seq", "2.."],
    "splice": lambda src, out: ["splice", src, src, "-o", out],
    "warp": lambda src, out: ["warp", src, "-o", out, "--scale", "0.5"],
}


# One command under the kernel's own limit, in a real process; the others in this process,
# their capture file refusing writes as the kernel does (every command writes its capture
# through ttrec.outputs.new_capture and a CaptureWriter).
@pytest.mark.parametrize("command", DERIVED)
def test_a_failed_write_leaves_nothing_and_the_retry_succeeds(
    tmp_path: Path, capture: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "derived" / "out.jsonl.zst"
    out.parent.mkdir()
    if command == "simulate":
        failed = ttrec(*DERIVED[command](capture, out), limit=2000)  # the kernel: EFBIG past 2000 bytes
    else:
        with monkeypatch.context() as refusing:
            refuse_capture_writes_past(refusing, 2000)
            failed = invoke(*DERIVED[command](capture, out))
    assert failed.returncode == 1, failed.stderr
    assert "File too large" in failed.stderr
    assert "Traceback" not in failed.stderr and str(out) in failed.stderr
    assert list(out.parent.iterdir()) == []  # no partial capture, no temporary file
    retried = invoke(*DERIVED[command](capture, out))  # in-process: no file size limit to set
    assert retried.returncode == 0, retried.stderr
    with CaptureReader(out) as reader:
        assert any(isinstance(r, Frame) for r in reader) and not reader.torn_tail


@pytest.mark.parametrize("command", DERIVED)
def test_derived_outputs_never_replace_anything(tmp_path: Path, capture: Path, command: str) -> None:
    for kind, path in foreign_paths(tmp_path, capture).items():
        before = snapshot(path)
        if kind == "capture" and command != "simulate":
            continue  # the input itself: its own case in test_cli_derive
        line = refused(invoke(*DERIVED[command](capture, path)), kind)
        assert kind == "dir" or str(path) in line, line
        assert snapshot(path) == before, kind


@pytest.mark.parametrize("command", DERIVED)
def test_dash_is_stdout_and_never_a_file(
    tmp_path: Path, capture: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command writes `-o -` through one function (ttrec.outputs.new_capture): one
    command goes through a real process and its real stdout, the others in-process."""
    to_file = tmp_path / "file.jsonl.zst"
    assert invoke(*DERIVED[command](capture, to_file)).returncode == 0
    args = [str(a) for a in DERIVED[command](capture, Path("-"))]
    if command == "simulate":
        done = subprocess.run(
            [sys.executable, "-m", "ttrec", *args],
            capture_output=True,
            timeout=TIMEOUT_S,
            cwd=tmp_path,
            check=False,
        )
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, args)
        returncode, stdout, stderr = result.exit_code, result.stdout_bytes, result.stderr_bytes
    assert returncode == 0, stderr
    assert not (tmp_path / "-").exists()
    piped = tmp_path / "piped.jsonl.zst"
    piped.write_bytes(stdout)
    with CaptureReader(to_file) as a, CaptureReader(piped) as b:
        assert list(b) == list(a) and b.header.fixture_id == a.header.fixture_id
    assert b"stdout" in stderr  # the summary goes to stderr, the capture alone to stdout


def test_dash_sends_nothing_when_the_capture_cannot_be_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ttrec", "simulate", "--seed", "1", "-o", "-"],
        capture_output=True,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
        preexec_fn=lambda: limit_file_size(2000),  # the temporary file meets the limit
        check=False,
    )
    assert done.returncode == 1 and done.stdout == b"", done.stderr
    assert done.stderr.decode().strip().splitlines() == ["Error: stdout: File too large"]


def test_dash_on_a_terminal_is_refused(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ttrec", "simulate", "--seed", "1", "-o", "-"],
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT_S,
            cwd=tmp_path,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2 and "terminal" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_input_name_that_is_not_utf8_is_sliced(tmp_path: Path, capture: Path) -> None:
    strange = Path(os.fsdecode(bytes(tmp_path) + b"/in\xff.jsonl.zst"))
    capture.rename(strange)
    out = tmp_path / "out.jsonl.zst"
    done = ttrec("slice", strange, "-o", out, "--seq", "2..")
    assert done.returncode == 0, done.stderr
    with CaptureReader(out) as reader:
        assert reader.header.extra["derived_from"][0]["path"].endswith("in\ufffd.jsonl.zst")


# The first through a real `ttrec record` process, for the wiring; the others in this process.
@pytest.mark.parametrize("name", ["match.zst", "match.jsonl", "out.d"])
def test_record_never_turns_a_file_name_into_a_directory(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / name
    args: list[str | Path] = [FIXTURE_ID, "--token", "t", "--base-url", "ws://127.0.0.1:9", "--out", out]
    done = ttrec("record", *args) if name == "match.zst" else record_refusing(monkeypatch, *args)
    line = one_line_exit_2(done)
    assert ".jsonl.zst" in line and not out.exists()


def test_record_refuses_an_out_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = tmp_path / "notes"
    notes.write_text("mine")
    one_line_exit_2(
        record_refusing(
            monkeypatch, FIXTURE_ID, "--token", "t", "--base-url", "ws://127.0.0.1:9", "--out", notes
        )
    )
    assert notes.read_text() == "mine"


# --- the module itself ------------------------------------------------------------------


def test_only_ttrec_s_own_files_are_replaceable(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    outputs.write_replacing(
        ready, b'{"written_by": "ttrec serve --ready-file", "port": 1}', outputs.READY_FILE
    )
    outputs.write_replacing(
        ready, b'{"written_by": "ttrec serve --ready-file", "port": 2}', outputs.READY_FILE
    )
    assert json.loads(ready.read_text())["port"] == 2
    with pytest.raises(OutputRefused, match="not the report"):
        outputs.write_replacing(ready, b"{}", outputs.REPORT)  # ttrec's, but for another purpose
    outputs.remove_own(ready, outputs.REPORT)
    assert ready.exists()
    outputs.remove_own(ready, outputs.READY_FILE)
    assert not ready.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.json"
    old = b'{"written_by": "ttrec serve --report", "running": true}'
    outputs.write_replacing(report, old, outputs.REPORT)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OutputWriteError, match="cannot write the report: No space left"):
        outputs.write_replacing(report, b'{"written_by": "ttrec serve --report"}', outputs.REPORT)
    assert report.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_dash_in_process_writes_the_capture_to_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["simulate", "--seed", "9", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\x28\xb5\x2f\xfd")  # zstd, the capture itself
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad", [["--speed", "0"], ["--port", "99999"], ["--token", ""], ["--keyfile", "k.pem"]]
)
def test_a_stale_ready_file_goes_even_when_another_option_is_refused(
    tmp_path: Path, capture: Path, bad: list[str]
) -> None:
    """A killed server's ready file must not tell a waiting script that this run is ready,
    whichever option then fails, and wherever on the command line it stands."""
    ready, foreign = tmp_path / "ready.json", tmp_path / "notes.json"
    foreign.write_text(json.dumps({"url": "ws://mine"}))
    before = snapshot(foreign)
    for path in (ready, foreign):
        if path == ready:
            ready.write_text(json.dumps(_ready_of(_gone_pid())))
        done = invoke("serve", capture, *bad, "--ready-file", path)
        assert done.returncode == 2, done.stderr
    assert not ready.exists()
    assert snapshot(foreign) == before  # not ours: left as it was


def _ready_of(pid: int | None) -> dict[str, object]:
    content: dict[str, object] = {"written_by": "ttrec serve --ready-file", "url": "ws://127.0.0.1:9"}
    return content if pid is None else {**content, "pid": pid}


def _gone_pid() -> int:
    """The pid of a process that has ended (and been reaped): no process has it now."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(ended.stdout)


@pytest.mark.parametrize("args", [["--help"], ["--speed", "0"]])
def test_a_running_servers_ready_file_is_never_removed_early(tmp_path: Path, args: list[str]) -> None:
    """`--help` or a run refused for its options never takes a ready file away from the
    server still running that wrote it (its "pid")."""
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps(_ready_of(os.getpid())))  # this process: running
    before = snapshot(ready)
    done = invoke("serve", "--ready-file", ready, *args)
    assert done.returncode == (0 if args == ["--help"] else 2), done.stderr
    assert snapshot(ready) == before
    for pid in (None, _gone_pid()):  # an older file without pid, or a server that has gone
        ready.write_text(json.dumps(_ready_of(pid)))
        assert invoke("serve", "--ready-file", ready, "--speed", "0").returncode == 2
        assert not ready.exists()


def test_shell_completion_never_removes_a_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps(_ready_of(_gone_pid())))
    env = {
        **os.environ,
        "_TTREC_COMPLETE": "bash_complete",
        "COMP_WORDS": f"ttrec serve --ready-file {ready} --sp",
        "COMP_CWORD": "4",
    }
    script = Path(sys.executable).with_name("ttrec")  # completion answers to the program's name
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "--speed" in done.stdout, done.stdout + done.stderr
    assert ready.exists()
