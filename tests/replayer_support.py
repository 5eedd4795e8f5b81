"""Helpers for the replayer tests: small captures made on the spot, a running server, a client.

Rules for every replayer test: loopback only, port 0, trio's MockClock (`autojump_clock`)
for anything timed, and a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from replayer import ServeOptions, ServerHandle, serve
from ttrec.capture import CaptureWriter
from ttrec.feed import ACCEPT_HEADER, auth_message
from ttrec.records import Frame, Header, Heartbeat, Record

FIXTURE: Final = "6a1b2c3d-0000-4000-8000-00000000abcd"
OTHER_FIXTURE: Final = "6a1b2c3d-0000-4000-8000-00000000ef01"
NS: Final = 1_000_000_000
ACCEPT: Final = [("Accept", ACCEPT_HEADER)]
WALL: Final = "2026-11-24T07:00:00Z"


def frame_text(seq: int, fixture: str = FIXTURE, pad: str = "") -> str:
    return json.dumps({"seqNum": seq, "fixtureId": fixture, "finished": False, "pad": pad})


def heartbeat_text(n: int) -> str:
    return json.dumps({"message": f"Heartbeat sent at 2026-11-24T07:00:{n:02d}.517484Z", "level": "INFO"})


def header(fixture: str = FIXTURE) -> Header:
    return Header(
        fixture_id=fixture,
        url=f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{fixture}/statistics",
        source="recorded",
        created=WALL,
    )


def frames_every(count: int, step_s: float, fixture: str = FIXTURE, pad: str = "") -> list[Record]:
    return [Frame(int(i * step_s * NS), WALL, 0, frame_text(i + 1, fixture, pad)) for i in range(count)]


def write_capture(path: Path, records: Sequence[Record], fixture: str = FIXTURE) -> Path:
    with CaptureWriter(path, header(fixture)) as writer:
        for record in records:
            writer.write(record)
    return path


def texts(records: Sequence[Record]) -> list[str]:
    return [r.data for r in records if isinstance(r, Frame | Heartbeat)]


@asynccontextmanager
async def running(
    captures: Sequence[Path], options: ServeOptions | None = None, **kwargs: object
) -> AsyncIterator[ServerHandle]:
    async with trio.open_nursery() as nursery:
        handle: ServerHandle = await nursery.start(
            lambda task_status: serve(
                captures,
                options or ServeOptions(),
                task_status=task_status,
                **kwargs,  # type: ignore[arg-type]
            )
        )
        yield handle
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def client(
    url: str, token: str | None = "token", headers: Sequence[tuple[str, str]] = ACCEPT, **kwargs: object
) -> AsyncIterator[WebSocketConnection]:
    async with open_websocket_url(url, extra_headers=list(headers), **kwargs) as ws:  # type: ignore[arg-type]
        if token is not None:
            await ws.send_message(auth_message(token))
        yield ws


async def receive(ws: WebSocketConnection, count: int) -> list[str]:
    out = []
    for _ in range(count):
        message = await ws.get_message()
        assert isinstance(message, str)
        out.append(message)
    return out


async def timed(ws: WebSocketConnection, count: int) -> list[tuple[float, str]]:
    """`count` messages, each with the (mock) time it arrived."""
    out = []
    for _ in range(count):
        message = await ws.get_message()
        assert isinstance(message, str)
        out.append((trio.current_time(), message))
    return out


async def wait_ready(process: trio.Process, ready: Path) -> dict[str, Any]:
    """The ready file of a `ttrec serve` subprocess, once it has written it."""
    with trio.fail_after(20):
        while not ready.exists():
            assert process.returncode is None, "ttrec serve exited before it was ready"
            await trio.sleep(0.02)
    info = json.loads(ready.read_text())
    assert isinstance(info, dict)
    return info
