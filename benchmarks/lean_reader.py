"""A websocket client cheap enough to measure the server's throughput, not its own.

A trio-websocket client parses every frame through wsproto as it arrives, about 100 µs
of the client process's CPU a frame: at ~10,000 frames/s it is the client, not the
server, that sets the pace, for the replay server and for a bare trio-websocket server
alike. This reader does the opening handshake with wsproto, sends the auth message, then
only receives raw bytes (up to `RECV_BYTES` a call) and walks the frame headers to know
when `count` messages are in: a few array look-ups a frame. Payloads are checked after
the timed window (`messages`), so the check costs the measure nothing and still fails
on a frame the server got wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request

RECV_BYTES: Final = 1 << 20
HEAD_END: Final = b"\r\n\r\n"
_CONTROL: Final = 0x8  # opcodes from 8 up are control frames (close, ping, pong)
_CLOSE: Final = 0x8


class LeanReaderError(Exception):
    """The server answered something else than the handshake and frames expected."""


def frame_end(buf: bytes | bytearray, pos: int) -> tuple[int, int, int] | None:
    """The frame starting at `pos`: (opcode, payload start, end), or None while incomplete.
    Server frames are never masked (RFC 6455 §5.1): a masked one is an error."""
    if len(buf) - pos < 2:
        return None
    second = buf[pos + 1]
    if second & 0x80:
        raise LeanReaderError("a masked frame from the server")
    size = second & 0x7F
    start = pos + 2
    if size == 126:
        start += 2
        if len(buf) < start:
            return None
        size = int.from_bytes(buf[pos + 2 : start], "big")
    elif size == 127:
        start += 8
        if len(buf) < start:
            return None
        size = int.from_bytes(buf[pos + 2 : start], "big")
    end = start + size
    return (buf[pos] & 0x0F, start, end) if len(buf) >= end else None


def messages(buf: bytes | bytearray) -> list[bytes]:
    """The payloads of the complete data frames in `buf` (each message one frame, as
    both servers send them), in order; a close frame is an error."""
    found: list[bytes] = []
    pos = 0
    while (frame := frame_end(buf, pos)) is not None:
        opcode, start, end = frame
        if opcode == _CLOSE:
            raise LeanReaderError(f"closed by the server after {len(found)} messages")
        if opcode < _CONTROL:
            found.append(bytes(buf[start:end]))
        pos = end
    return found


async def read_messages(
    url: str, auth: str, count: int, headers: Sequence[tuple[str, str]] = ()
) -> bytearray:
    """Connect to `url`, authenticate with `auth`, receive until `count` data frames are
    in; the raw bytes received (check them with `messages`)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    ws = WSConnection(ConnectionType.CLIENT)
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        await stream.send_all(
            ws.send(Request(host=f"{host}:{port}", target=target, extra_headers=list(headers)))
        )
        buf = bytearray()
        while HEAD_END not in buf:
            chunk = await stream.receive_some(RECV_BYTES)
            if not chunk:
                raise LeanReaderError("the server closed during the handshake")
            buf += chunk
        head = buf.index(HEAD_END) + len(HEAD_END)
        ws.receive_data(bytes(buf[:head]))
        if not any(isinstance(event, AcceptConnection) for event in ws.events()):
            raise LeanReaderError(f"handshake refused: {bytes(buf[:head]).splitlines()[0]!r}")
        del buf[:head]
        await stream.send_all(ws.send(Message(data=auth)))
        pos = got = 0
        while True:
            while (frame := frame_end(buf, pos)) is not None:
                opcode, _, pos = frame
                if opcode < _CONTROL:
                    got += 1
            if got >= count:
                return buf
            chunk = await stream.receive_some(RECV_BYTES)
            if not chunk:
                raise LeanReaderError(f"the server closed after {got} of {count} messages")
            buf += chunk
