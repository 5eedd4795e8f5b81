"""A capture's messages framed once for every client: the per-message cost is a write.

Server-to-client websocket frames are not masked (RFC 6455 §5.1), so the bytes on the
wire for one message are the same on every connection. The frames are made by wsproto's
own framing code (trio-websocket's), once per capture when the server starts. A send is
one non-blocking write into the socket when trio-websocket is not writing to it; a frame
that does not leave at once is finished under trio-websocket's send lock, so pings, pongs
and close frames interleave with the frames exactly as with its own `send_message`.

trio-websocket negotiates no extension (no permessage-deflate), so a message's frame does
not depend on the connection. Whenever the connection is not plainly open, or the
trio-websocket in use lacks the internals relied on, the message goes through
`send_message` instead, with the same outcome as before.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, NoReturn

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto.connection import ConnectionState
from wsproto.frame_protocol import FrameProtocol

# A direct write uses trio-websocket's (0.12) send lock, stream and close bookkeeping, as
# its own `_send` does; without them every message goes through `send_message`.
_SUPPORTED: Final = hasattr(WebSocketConnection, "_abort_web_socket")
Frames = Mapping[str | bytes, bytes]  # payload -> its frame
NO_FRAMES: Final[Frames] = MappingProxyType({})


def frame_of(payload: str | bytes) -> bytes:
    """The complete, unmasked server frame of one message (text for str, binary for bytes)."""
    return bytes(FrameProtocol(client=False, extensions=[]).send_data(payload, fin=True))


def frames_of(payloads: Iterable[str | bytes]) -> dict[str | bytes, bytes]:
    """Each distinct payload's frame. Keyed by the payload itself: a str caches its hash,
    so looking a recorded message up costs no hashing of its text."""
    return {payload: frame_of(payload) for payload in payloads}


async def send_framed(ws: WebSocketConnection, payload: str | bytes, frames: Frames) -> None:
    """`ws.send_message(payload)`, writing the ready frame when there is one."""
    frame = frames.get(payload) if _SUPPORTED else None
    if frame is None or ws._close_reason is not None or ws._wsproto.state is not ConnectionState.OPEN:
        await ws.send_message(payload)
        return
    lock = ws._stream_lock
    stream = ws._stream
    if type(stream) is trio.SocketStream and not lock.locked():
        # The common case, a plain TCP stream nobody is writing to: one non-blocking send
        # into the kernel's buffer and one checkpoint, instead of trio's lock and stream
        # layers (two trips through the scheduler a message). Nothing can write between
        # the check and the send: no await comes between them.
        try:
            sent = _raw(stream).send(frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            await _broken(ws)
        if sent < len(frame):  # the client reads slower than we write: wait for it
            lock.acquire_nowait()  # before any await: the rest of the frame goes next
            try:
                await _send_all(ws, memoryview(frame)[sent:])
            finally:
                lock.release()
        await trio.lowlevel.checkpoint()
        return
    async with lock:
        await _send_all(ws, frame)


def _raw(stream: trio.SocketStream) -> socket.socket:
    raw: socket.socket = stream.socket._sock  # type: ignore[attr-defined]  # trio's non-blocking socket
    return raw


async def _send_all(ws: WebSocketConnection, data: bytes | memoryview) -> None:
    try:
        await ws._stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        await _broken(ws)


async def _broken(ws: WebSocketConnection) -> NoReturn:
    """As trio-websocket does when a write finds the connection gone."""
    await ws._abort_web_socket()
    assert ws._close_reason is not None
    raise ConnectionClosed(ws._close_reason) from None
