"""An example consumer of the table-tennis statistics feed, written with trio: it keeps a
live scoreboard (points per set, sets won, the last seqNum) from the data frames.

This is the kind of code ttrec helps to test; test_trio_scoreboard.py tests it with the
pytest plugin (the `ttrec_server` fixture and step control). It does not use ttrec itself,
nor share code with the other examples: the directory is meant to be copied out whole
(docs/harness.md).
"""

from __future__ import annotations

import json
import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

ACCEPT: Final = "application/vnd.imggaming.dde.api+json;version=1"
POINT_SCORED: Final = 1102


def set_decided(home: int, away: int) -> bool:
    return max(home, away) >= 11 and abs(home - away) >= 2


@dataclass
class Scoreboard:
    sets: list[tuple[int, int]] = field(default_factory=list)  # (home, away) points per set
    last_seq: int | None = None
    finished: bool = False
    frames: int = 0
    heartbeats: int = 0
    seen: set[int] = field(default_factory=set)  # every seqNum received: how far to resume
    connections: int = 0
    changed: trio.Event = field(default_factory=trio.Event)  # set at every data frame

    @property
    def sets_won(self) -> tuple[int, int]:
        home = sum(set_decided(h, a) and h > a for h, a in self.sets)
        away = sum(set_decided(h, a) and a > h for h, a in self.sets)
        return home, away

    def apply(self, text: str) -> None:
        """Fold one text message in: a data frame updates the board, anything else is a
        heartbeat. Periods arrive in no particular order, so they are sorted here."""
        try:
            frame: Any = json.loads(text)
        except ValueError:
            self.heartbeats += 1
            return
        if not isinstance(frame, dict) or "seqNum" not in frame or "fixtureId" not in frame:
            self.heartbeats += 1
            return
        self.seen.add(frame["seqNum"])
        if self.last_seq is not None and frame["seqNum"] <= self.last_seq:
            return  # a duplicate or a replay after a reconnect: already counted
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
        self.changed.set()
        self.changed = trio.Event()


async def follow(
    url: str, token: str, board: Scoreboard, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Follow a fixture until its finished frame (then close) or until the server closes."""
    async with open_websocket_url(
        url, extra_headers=[(b"Accept", ACCEPT.encode())], ssl_context=ssl_context
    ) as ws:
        await ws.send_message(json.dumps({"authToken": token}))
        try:
            while not board.finished:
                message = await ws.get_message()
                if isinstance(message, str):
                    board.apply(message)
        except ConnectionClosed:
            return


async def follow_resuming(
    url: str,
    token: str,
    board: Scoreboard,
    *,
    ssl_context: ssl.SSLContext | None = None,
    attempts: int = 10,
    backoff_s: float = 0.5,
) -> None:
    """Follow a fixture to its finished frame across connection failures: after a drop, a
    close or a refused handshake, reconnect with `startPosition` = the number of distinct
    data frames received so far (what the provider counts; not the last seqNum, which need
    not be that number). A frame that comes twice is applied once."""
    for attempt in range(attempts):
        resume = f"{url}{'&' if '?' in url else '?'}startPosition={len(board.seen)}" if board.seen else url
        board.connections += 1
        with suppress(HandshakeError, OSError):  # refused or unreachable: try again
            await follow(resume, token, board, ssl_context=ssl_context)
        if board.finished:
            return
        await trio.sleep(backoff_s * 2**attempt)  # back off before trying again
