"""A capture's messages framed once for every client: the per-message cost is a write.

Server-to-client websocket frames are not masked (RFC 6455 §5.1), so the bytes on the
wire for one message are the same on every connection. The frames are made by wsproto's
own framing code (trio-websocket's), once per capture when the server starts.

`Wire.write_now` puts a frame into the socket's kernel buffer with one non-blocking
`send`, without awaiting: the session calls it from the shared timer (replayer.pacer) for
every connection whose message is due, so a due frame costs one system call a client and
no task switch. Whatever of the frame the kernel did not take waits in the connection's
`ServerStream`, which writes it before anything else written to the connection (pings,
pongs, close frames from trio-websocket), so frames never interleave; the session
finishes it under trio-websocket's send lock (`Wire.flush`).

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


class ServerStream(trio.abc.Stream):
    """A connection's stream as trio-websocket sees it: `first` (the request head read
    before the handshake, see replayer.plain_http) handed out again before anything newly
    received, and the rest of a frame a direct write left behind sent before anything else."""

    def __init__(self, stream: trio.abc.Stream, first: bytes = b"") -> None:
        self.stream = stream
        self._first = first
        self.rest: memoryview | None = None  # the unsent end of a directly written frame
        # Set when trio-websocket closes the stream or the client closed its end: before a
        # request was handed out, no request will come (a refusal's answer begins
        # `answer_head`); trio-websocket itself waits on until its handshake timeout.
        self.closed = trio.Event()
        self.answer_head = b""
        # The non-blocking socket under a plain TCP stream (a TLS stream has none to write to).
        self.socket: socket.socket | None = (
            stream.socket._sock  # type: ignore[attr-defined]  # trio's non-blocking socket
            if type(stream) is trio.SocketStream
            else None
        )

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._first:
            cut = len(self._first) if max_bytes is None else max_bytes
            first, self._first = self._first[:cut], self._first[cut:]
            return first
        data = await self.stream.receive_some(max_bytes)
        if not data:
            self.closed.set()
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if not self.answer_head:
            self.answer_head = bytes(data[:64])
        if self.rest is not None:
            rest, self.rest = self.rest, None
            await self.stream.send_all(rest)
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self.closed.set()
        await self.stream.aclose()


class Wire:
    """How one connection's messages are written (see the module's docstring)."""

    def __init__(self, ws: WebSocketConnection, frames: Frames = NO_FRAMES) -> None:
        self.ws = ws
        self.frames = frames
        stream = ws._stream if _SUPPORTED else None
        self._stream = stream if isinstance(stream, ServerStream) else None
        self._socket = None if self._stream is None else self._stream.socket

    @property
    def owed(self) -> bool:
        """Part of a directly written frame still waits: `flush` before anything else."""
        return self._stream is not None and self._stream.rest is not None

    def write_now(self, payload: str | bytes) -> bool:
        """Write the message's frame into the socket without awaiting; False (nothing
        written) when that cannot be done now: `send` it instead. After True, check `owed`."""
        sock = self._socket
        ws = self.ws
        if (
            sock is None
            or ws._stream_lock.locked()
            or self.owed
            or ws._close_reason is not None
            or ws._wsproto.state is not ConnectionState.OPEN
        ):
            return False
        frame = self.frames.get(payload)
        if frame is None:
            frame = frame_of(payload)
        try:
            sent = sock.send(frame)
        except OSError:  # full (BlockingIOError) or broken: `send` waits or says so
            return False
        if sent < len(frame):  # the client reads slower than we write
            assert self._stream is not None
            self._stream.rest = memoryview(frame)[sent:]
        return True

    async def flush(self) -> None:
        """Write what a direct write left (under the send lock, as trio-websocket writes)."""
        assert self._stream is not None
        async with self.ws._stream_lock:
            if self._stream.rest is not None:
                await _send_all(self.ws, b"")  # ServerStream writes the rest first

    async def send(self, payload: str | bytes) -> None:
        """`ws.send_message(payload)`, writing the ready frame when there is one; always a
        checkpoint."""
        if self.write_now(payload):
            if self.owed:
                await self.flush()
            await trio.lowlevel.checkpoint()
            return
        frame = self.frames.get(payload) if _SUPPORTED else None
        ws = self.ws
        if frame is None or ws._close_reason is not None or ws._wsproto.state is not ConnectionState.OPEN:
            await ws.send_message(payload)
            return
        async with ws._stream_lock:
            await _send_all(ws, frame)


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
