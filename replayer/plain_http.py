"""The HTTP request before the websocket handshake, read once so that a plain HTTP request
(a browser, curl, a health check: no `Upgrade: websocket`) gets an answer that says what
this server is, and a log line. trio-websocket alone answers it with an empty 400 and then
waits out the handshake timeout.

A websocket request is handed on untouched: `replayer.wire.ServerStream` gives
trio-websocket the bytes read here first, then the rest of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import h11
import trio

HEAD_LIMIT_BYTES: Final = 16 * 1024  # a handshake is well under 1 KiB; more is not a client of ours
PLAIN_HTTP_STATUS: Final = 400
PLAIN_HTTP_BODY: Final = (
    b"This is a websocket server (ttrec serve): connect with a websocket client,"
    b" e.g. ttrec watch ws://HOST:PORT/v2/tabletennis/fixtures/FIXTURE_ID/statistics\n"
)


@dataclass(frozen=True, slots=True)
class Head:
    received: bytes  # everything read so far, to be replayed to the websocket library
    plain_target: str | None = None  # the path of a well-formed HTTP request that is no upgrade
    conn: h11.Connection | None = None  # for the answer to that request
    upgrade_target: str | None = None  # the path of a whole request with `Upgrade: websocket`
    reset: bool = False  # the client reset the connection before its request was whole


async def read_head(stream: trio.abc.Stream, first: bytes = b"") -> Head:
    """Read until the request head is complete (`first`: its first bytes, already read);
    anything unusual (not HTTP, too long, the client gone) is left for trio-websocket to
    answer as before."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT_BYTES)
    received = bytearray(first)
    if first:  # (h11 takes empty data for the end of the stream)
        conn.receive_data(first)
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return Head(bytes(received))
        if isinstance(event, h11.Request):
            upgrade = any(
                name == b"upgrade" and b"websocket" in value.lower() for name, value in event.headers
            )
            target = event.target.decode("ascii", "replace")
            if upgrade:
                return Head(bytes(received), upgrade_target=target)
            return Head(bytes(received), target, conn)
        if event is not h11.NEED_DATA:
            return Head(bytes(received))
        try:
            data = await stream.receive_some()
        except trio.BrokenResourceError:
            return Head(bytes(received), reset=True)
        if not data:
            return Head(bytes(received))
        received += data
        conn.receive_data(bytes(data))


async def answer_plain(stream: trio.abc.Stream, conn: h11.Connection) -> None:
    """The answer to a plain HTTP request: what this server is, then close."""
    headers = [
        (b"Content-Type", b"text/plain; charset=utf-8"),
        (b"Content-Length", str(len(PLAIN_HTTP_BODY)).encode()),
        (b"Connection", b"close"),
    ]
    out = conn.send(h11.Response(status_code=PLAIN_HTTP_STATUS, headers=headers, reason=b"Bad Request"))
    out = (out or b"") + (conn.send(h11.Data(data=PLAIN_HTTP_BODY)) or b"")
    out += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(out)
