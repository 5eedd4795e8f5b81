"""Helpers for the recorder tests: a small match as a capture, a replayer serving it, and
the recorder pointed at it.

Rules for every recorder test: loopback only, port 0, trio's MockClock (`autojump_clock`)
for anything timed, and a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import trio
import zstandard
from frame_factory import stats_frame

from recorder.run import record
from recorder.secret import Token
from recorder.session import FixtureResult, RecordOptions
from recorder.status import PlainReporter
from replayer import ServeOptions, ServerHandle, serve
from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.records import Frame, Header, Heartbeat, Record

FIXTURE: Final = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
FIXTURE_2: Final = "2bd00469-86fa-4f0b-abcc-30cbef80dacc"
TOKEN: Final = "tok-9f8e7d6c5b4a-secret"
NS: Final = 1_000_000_000
WALL: Final = "2026-11-24T07:00:00.000000Z"
# README: "exponential backoff with jitter (0.5 s doubling, capped at 30 s)", written out by
# hand as the oracle so that a test never recomputes the code's own formula.
_DOCUMENTED_BACKOFF_CEILINGS_S: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def documented_backoff_ceiling_s(failures: int) -> float:
    """The longest wait the README promises after `failures` consecutive failures."""
    return _DOCUMENTED_BACKOFF_CEILINGS_S[min(failures, len(_DOCUMENTED_BACKOFF_CEILINGS_S) - 1)]


def match_frames(count: int, fixture: str = FIXTURE) -> list[str]:
    """`count` data frames of a plausible match: points accumulate, the last is finished."""
    texts = []
    home = away = 0
    for i in range(count):
        if i % 3 == 2:
            away += 1
        else:
            home += 1
        texts.append(stats_frame(i + 1, [(home % 12, away % 12)], finished=i == count - 1, fixture=fixture))
    return texts


def match_records(count: int, fixture: str = FIXTURE, step_s: float = 2.0) -> list[Record]:
    """Frames at irregular times (step_s, 1.5 step_s, ...), with a recorded heartbeat in
    each long pause, as the provider's feed would look."""
    records: list[Record] = []
    t = 0
    for i, text in enumerate(match_frames(count, fixture)):
        t += int(step_s * NS * (1 + (i % 4) / 2))
        records.append(Frame(t, WALL, 0, text))
        if i % 5 == 4:
            hb = json.dumps(
                {"message": f"Heartbeat sent at 2026-11-24T07:00:{i % 60:02d}.5Z", "level": "INFO"}
            )
            records.append(Heartbeat(t + int(0.5 * NS), WALL, 0, hb))
            t += int(0.5 * NS)
    return records


def write_match(path: Path, count: int, fixture: str = FIXTURE, step_s: float = 2.0) -> Path:
    header = Header(
        fixture_id=fixture,
        url=f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{fixture}/statistics",
        source="recorded",
        created=WALL,
    )
    with CaptureWriter(path, header) as writer:
        for record_ in match_records(count, fixture, step_s):
            writer.write(record_)
    return path


def read(path: Path | str) -> tuple[CaptureReader, list[Record]]:
    with CaptureReader(path) as reader:
        records = list(reader)
    return reader, records


def frames_of(records: Sequence[Record]) -> list[Frame]:
    return [r for r in records if isinstance(r, Frame)]


@asynccontextmanager
async def replayer(captures: Sequence[Path], options: ServeOptions) -> AsyncIterator[ServerHandle]:
    async with trio.open_nursery() as nursery:
        handle: ServerHandle = await nursery.start(serve, list(captures), options)
        yield handle
        nursery.cancel_scope.cancel()


async def record_from(
    handle: ServerHandle,
    fixtures: Sequence[str],
    out: Path,
    *,
    token: str = TOKEN,
    options: RecordOptions | None = None,
    log: io.StringIO | None = None,
) -> list[FixtureResult]:
    options = options or RecordOptions(base_url=handle.url, seed=1)
    return await record(
        fixtures, Token(token), out=out, options=options, reporter=PlainReporter(log or io.StringIO())
    )


class ReplayerThread:
    """A replayer on the real clock in a thread of its own, for tests that run the recorder
    synchronously (CliRunner) or as a subprocess: `with ReplayerThread(...) as handle:`."""

    def __init__(self, captures: Sequence[Path], options: ServeOptions) -> None:
        self._captures = list(captures)
        self._options = options
        self._ready = threading.Event()
        self._handle: ServerHandle | None = None
        self._scope: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread in __enter__/__exit__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as nursery:
                self._handle = await nursery.start(serve, self._captures, self._options)
                self._ready.set()
                await trio.sleep_forever()

    def __enter__(self) -> ServerHandle:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the replayer did not start within 30 s")
        if self._error is not None or self._handle is None:
            raise RuntimeError("the replayer failed to start") from self._error
        return self._handle

    def __exit__(self, *exc_info: object) -> None:
        if self._scope is not None and self._token is not None:
            trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(30)
        if self._error is not None:
            raise RuntimeError("the replayer failed") from self._error


def all_text(directory: Path) -> bytes:
    """Everything under `directory`, decompressed where it is a capture, as one blob."""
    blob = b""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            blob += path.read_bytes()
            if path.name.endswith(".zst"):
                blob += decompressed(path)
    return blob


def decompressed(path: Path) -> bytes:
    out = b""
    dctx = zstandard.ZstdDecompressor()
    with path.open("rb") as f, dctx.stream_reader(f, read_across_frames=True) as reader:
        while True:
            try:
                chunk = reader.read(1 << 16)
            except zstandard.ZstdError:
                break  # a torn tail: what was decodable is in already
            if not chunk:
                break
            out += chunk
    return out
