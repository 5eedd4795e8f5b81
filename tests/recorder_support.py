"""Helpers for the recorder tests: a small match as a capture, a replayer serving it, and
the recorder pointed at it.

Rules for every recorder test: loopback only, port 0, trio's MockClock (`autojump_clock`)
for anything timed, and a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
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


def match_records(
    count: int, fixture: str = FIXTURE, step_s: float = 2.0, heartbeat_s: float = 0.5
) -> list[Record]:
    """Frames at irregular times (step_s, 1.5 step_s, ...), with a recorded heartbeat in
    each long pause (`heartbeat_s` after every fifth frame), as the provider's feed would look."""
    records: list[Record] = []
    t = 0
    for i, text in enumerate(match_frames(count, fixture)):
        t += int(step_s * NS * (1 + (i % 4) / 2))
        records.append(Frame(t, WALL, 0, text))
        if i % 5 == 4:
            hb = json.dumps(
                {"message": f"Heartbeat sent at 2026-11-24T07:00:{i % 60:02d}.5Z", "level": "INFO"}
            )
            records.append(Heartbeat(t + int(heartbeat_s * NS), WALL, 0, hb))
            t += int(heartbeat_s * NS)
    return records


def write_match(
    path: Path, count: int, fixture: str = FIXTURE, step_s: float = 2.0, heartbeat_s: float = 0.5
) -> Path:
    header = Header(
        fixture_id=fixture,
        url=f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{fixture}/statistics",
        source="recorded",
        created=WALL,
    )
    with CaptureWriter(path, header) as writer:
        for record_ in match_records(count, fixture, step_s, heartbeat_s):
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


def limit_file_size(limit: int) -> None:
    """For a child process, before exec (`preexec_fn`): the kernel refuses writes past
    `limit` bytes with EFBIG (a full disk), which without SIGXFSZ ignored would kill it.
    The process writes no bytecode: a .pyc cut short at the limit would be read, and
    refused, by every later process sharing the cache (conftest's PYTHONPYCACHEPREFIX).
    Set here, in the child, it reaches the exec of a `subprocess.run` given no `env`."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
