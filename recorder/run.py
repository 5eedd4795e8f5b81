"""Recording many fixtures in one process: one capture file and one session each, a shared
attempt limiter, status reporting, and a clean stop on SIGINT / SIGTERM.

`record()` is what `ttrec record` calls; it is also the library entry point.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import stat
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final, TextIO

import trio

from recorder.connection import Connect, websocket_connect
from recorder.naming import candidate_paths
from recorder.recording import Recording
from recorder.secret import Token
from recorder.session import AttemptLimiter, FixtureResult, FixtureSession, RecordOptions
from recorder.status import FixtureStatus, LiveReporter, PlainReporter, Reporter
from recorder.stop import Stop
from ttrec.capture import CAPTURE_SUFFIX, CaptureWriter, create_exclusive, open_new
from ttrec.errors import CaptureWriteError, TtrecError
from ttrec.feed import Feed, feed_url, rfc3339, validate_fixture_id
from ttrec.logstyle import LogStyle
from ttrec.outputs import check_capture_destination
from ttrec.records import Header

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
WRITE_BITS: Final = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class OutputError(TtrecError):
    """--out cannot be used as asked (e.g. one file for several fixtures)."""


def output_paths(out: Path, fixture_ids: Sequence[str], feed: Feed, started: datetime) -> list[list[Path]]:
    """For each fixture the paths to try in order: `out` itself when it names a capture
    file (one fixture only), else fresh names inside the directory `out`."""
    if out.name.endswith(CAPTURE_SUFFIX):
        if len(fixture_ids) != 1:
            raise OutputError(f"--out {out} names one file but {len(fixture_ids)} fixtures were given")
        return [[out]]
    return [candidate_paths(out, fixture_id, feed, started) for fixture_id in fixture_ids]


def open_capture(
    paths: Sequence[Path], header: Header, create: Callable[[Path], IO[bytes]] = create_exclusive
) -> CaptureWriter:
    """A writer on the first of `paths` that does not exist yet (never overwrites), each
    made with `create` (which refuses an existing file)."""
    last: CaptureWriteError | None = None
    for path in paths:
        if path.exists():
            continue
        try:
            return CaptureWriter(open_new(path, create), header, path=path)
        except CaptureWriteError as exc:
            if not path.exists():
                raise  # not a race with another recorder: the directory refuses us
            last = exc
    raise last or CaptureWriteError(paths[0], "already exists; ttrec never overwrites a capture")


def open_captures(
    fixture_ids: Sequence[str], out: Path, options: RecordOptions, started: datetime
) -> list[CaptureWriter]:
    """A new capture per fixture, or none at all (those already opened are closed)."""
    _prepare(out)
    writers: list[CaptureWriter] = []
    try:
        choices = output_paths(out, fixture_ids, options.feed, started)
        for fixture_id, paths in zip(fixture_ids, choices, strict=True):
            header = Header(
                fixture_id=fixture_id,
                url=feed_url(options.base_url, fixture_id, options.feed),
                source="recorded",
                created=rfc3339(started),
                feed=options.feed,
            )
            writers.append(open_capture(paths, header, options.create_file))
    except BaseException:
        for writer in writers:
            _close_quietly(writer)
        raise
    return writers


def _prepare(out: Path) -> None:
    """Refuse an `out` that is neither a new capture file nor a directory; make the directory."""
    check_capture_destination(out, CAPTURE_SUFFIX)
    if not out.name.endswith(CAPTURE_SUFFIX):
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureWriteError(out, exc.strerror or str(exc)) from None


def check_directory(out: Path, create: Callable[[Path], IO[bytes]] = create_exclusive) -> None:
    """For a recorder that creates its captures later, as fixtures go live (`--live`):
    refuse now, before anything is written or asked, an `out` that names one file
    (OutputError: many fixtures cannot share it) or a directory where a capture cannot be
    created (CaptureWriteError, as `record ID` meets it: read-only, no permission)."""
    if out.name.endswith(CAPTURE_SUFFIX):
        raise OutputError(
            f"--out {out} names one file, but --live records each fixture into its own: give a directory"
        )
    _prepare(out)
    # Created the way a capture is (`create`), then let go: on Linux an unnamed file that
    # never gets a name, elsewhere a named one, ours, removed at once.
    probe = out / f".ttrec-probe-{secrets.token_hex(8)}{CAPTURE_SUFFIX}"
    open_new(probe, create).close()
    with contextlib.suppress(FileNotFoundError):
        probe.unlink()


def _recordings(
    fixture_ids: Sequence[str], out: Path, options: RecordOptions, token: Token, files: ExitStack
) -> list[tuple[Recording, FixtureStatus]]:
    """A recording per fixture, each with the status its display reads; `files` closes
    the captures. Files are opened synchronously: creating a file is quick, and a
    directory that refuses us should fail the command before any connection is made."""
    writers = open_captures(fixture_ids, out, options, datetime.now(UTC))
    recordings: list[tuple[Recording, FixtureStatus]] = []
    for fixture_id, writer in zip(fixture_ids, writers, strict=True):
        files.callback(_close_quietly, writer)
        recording = Recording(writer, token=token, feed=options.feed)
        recordings.append((recording, FixtureStatus(fixture_id, str(writer.path), recording.counters)))
    return recordings


def make_reporter(
    stream: TextIO, statuses: Sequence[FixtureStatus], live: bool | None, style: LogStyle | None = None
) -> Reporter:
    """Live lines on a terminal; plain lines otherwise, and always for JSON logs or -v/-q."""
    style = style or LogStyle()
    if live is None:
        live = stream.isatty() and style == LogStyle()
    return LiveReporter(stream, statuses) if live else PlainReporter(stream, style=style)


async def record(
    fixture_ids: Sequence[str],
    token: Token,
    *,
    out: Path,
    options: RecordOptions | None = None,
    connect: Connect = websocket_connect,
    stop: Stop | None = None,
    reporter: Reporter | None = None,
    log: TextIO | None = None,
    live: bool | None = None,
    handle_signals: bool = False,
    style: LogStyle | None = None,
) -> list[FixtureResult]:
    """Record every fixture into its own new capture until each ends; see `FixtureResult`.

    Status goes to `reporter`, or else to `log` (default stderr): live status lines when
    `live` (default: when `log` is a terminal), plain log lines otherwise.

    Raises CaptureWriteError before any connection when a capture file cannot be created.
    """
    options = options or RecordOptions()
    fixture_ids = list(dict.fromkeys(validate_fixture_id(f) for f in fixture_ids))
    if not fixture_ids:
        raise ValueError("no fixture to record")
    stop = stop or Stop()
    rng = random.Random(options.seed)
    limiter = AttemptLimiter(options.max_attempts_per_s)

    with ExitStack() as files:
        recordings = _recordings(fixture_ids, out, options, token, files)
        if reporter is None:
            reporter = make_reporter(log or sys.stderr, [status for _, status in recordings], live, style)
        sessions = [
            FixtureSession(
                status.fixture_id,
                recording,
                token,
                options,
                status=status,
                reporter=reporter,
                limiter=limiter,
                stop=stop,
                connect=connect,
                rng=random.Random(rng.random()),
            )
            for recording, status in recordings
        ]
        results = await _run_all(sessions, stop, reporter, handle_signals)
        return [close_capture(session, result) for session, result in zip(sessions, results, strict=True)]


async def _run_all(
    sessions: Sequence[FixtureSession], stop: Stop, reporter: Reporter, handle_signals: bool
) -> list[FixtureResult]:
    results: list[FixtureResult | None] = [None] * len(sessions)

    async def run_one(i: int) -> None:
        results[i] = await sessions[i].run()

    async with trio.open_nursery() as nursery:
        helpers = trio.CancelScope()

        async def helper_tasks() -> None:
            with helpers:
                async with trio.open_nursery() as inner:
                    if handle_signals:
                        inner.start_soon(stop_on_signals, stop, nursery.cancel_scope)
                    if isinstance(reporter, LiveReporter):
                        inner.start_soon(reporter.run)

        nursery.start_soon(helper_tasks)
        async with trio.open_nursery() as fixtures:
            for i in range(len(sessions)):
                fixtures.start_soon(run_one, i)
        helpers.cancel()
    done: list[FixtureResult] = []
    for i, result in enumerate(results):
        done.append(result or sessions[i].result("stopped", "interrupted"))
    return done


async def stop_on_signals(stop: Stop, everything: trio.CancelScope) -> None:
    """First signal: close every connection and file cleanly. Second: stop waiting for
    servers' close frames and cancel at once (the files are still closed)."""
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for _ in signals:
            if stop.requested:
                everything.cancel()
                return
            stop.request()


def close_capture(session: FixtureSession, result: FixtureResult) -> FixtureResult:
    """Close the capture now, so that a disk error at the very end is reported too."""
    try:
        session.recording.writer.close()
    except CaptureWriteError as exc:
        return session.result("failed", f"cannot finish the capture: {exc.problem}")
    seal(session.recording.writer.path)
    return result


def seal(path: Path) -> None:
    """Mark a closed capture read-only: the sign, for a tool that ships captures elsewhere
    (`find DIR -name '*.jsonl.zst' ! -perm -u+w`), that ttrec will not write to it again. A
    capture still being written, or left by a killed recorder, stays writable (docs/record.md).
    """
    with contextlib.suppress(OSError):  # a file system without modes: the log still says it
        os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & ~WRITE_BITS)


def _close_quietly(writer: CaptureWriter) -> None:
    # Runs only on the way out of an exception (normal paths closed in close_capture already);
    # the original exception is the one worth reporting.
    with contextlib.suppress(CaptureWriteError):
        writer.close()
        seal(writer.path)
