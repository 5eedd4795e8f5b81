"""An example consumer written with asyncio and the `websockets` package: it follows a
fixture and returns the final scoreboard (points per set, the last seqNum).

test_asyncio_scoreboard.py tests it with pytest-asyncio against ttrec's replayer
(`ttrec.testing.serve_asyncio` and the `ttrec_asyncio_server` fixture). It does not use
ttrec itself, nor share code with the other examples: the directory is meant to be
copied out whole (docs/harness.md).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Final

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

ACCEPT: Final = "application/vnd.imggaming.dde.api+json;version=1"
POINT_SCORED: Final = 1102


@dataclass
class Board:
    sets: list[tuple[int, int]] = field(default_factory=list)
    last_seq: int | None = None
    finished: bool = False
    frames: int = 0
    heartbeats: int = 0
    close_code: int | None = None
    seen: set[int] = field(default_factory=set)  # every seqNum received: how far to resume
    connections: int = 0

    def apply(self, text: str) -> None:
        try:
            frame: Any = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or "seqNum" not in frame or "fixtureId" not in frame:
            self.heartbeats += 1  # heartbeats and anything else that is not a data frame
            return
        self.seen.add(frame["seqNum"])
        if self.last_seq is not None and frame["seqNum"] <= self.last_seq:
            return
        points: dict[int, list[int]] = {}
        for team in frame.get("teamActionAggregates", []):
            side = 0 if team["team"]["homeTeam"] else 1
            for period in team.get("periodActionAggregates", []):
                for aggregate in period.get("aggregates", []):
                    if aggregate.get("actionId") == POINT_SCORED:
                        points.setdefault(period["period"], [0, 0])[side] = aggregate["actionAggregate"]
        self.sets = [(points[p][0], points[p][1]) for p in sorted(points)]
        self.last_seq = frame["seqNum"]
        self.finished = bool(frame.get("finished"))
        self.frames += 1


async def follow(
    url: str,
    token: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    stop_after: int | None = None,
    board: Board | None = None,
) -> Board:
    """Follow a fixture until its finished frame, the server's close, or `stop_after` frames,
    updating `board` (a new one if none is given) as frames arrive."""
    board = Board() if board is None else board
    async with connect(url, additional_headers={"Accept": ACCEPT}, ssl=ssl_context, max_size=None) as ws:
        await ws.send(json.dumps({"authToken": token}))
        try:
            async for message in ws:
                if isinstance(message, str):
                    board.apply(message)
                if board.finished or (stop_after is not None and board.frames >= stop_after):
                    break
        except websockets.ConnectionClosed:
            pass
    board.close_code = ws.close_code
    return board


async def follow_resuming(
    url: str,
    token: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    attempts: int = 10,
    backoff_s: float = 0.05,
) -> Board:
    """Follow a fixture to its finished frame across connection failures: on a drop, a
    close or a refused handshake, reconnect with `startPosition` = the number of distinct
    data frames received so far (what the provider counts; not the last seqNum, which need
    not be that number). A frame that comes twice is applied once."""
    board = Board()
    for attempt in range(attempts):
        resume = f"{url}{'&' if '?' in url else '?'}startPosition={len(board.seen)}" if board.seen else url
        board.connections += 1
        try:
            async with connect(
                resume, additional_headers={"Accept": ACCEPT}, ssl=ssl_context, max_size=None
            ) as ws:
                await ws.send(json.dumps({"authToken": token}))
                async for message in ws:
                    if isinstance(message, str):
                        board.apply(message)
                    if board.finished:
                        break
            board.close_code = ws.close_code
        except (websockets.ConnectionClosed, InvalidHandshake, OSError):
            pass
        if board.finished:
            return board
        await asyncio.sleep(backoff_s * 2**attempt)  # back off before trying again
    return board
