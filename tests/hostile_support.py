"""A websocket client with no manners, for the hostile-client tests: raw TCP, a wsproto
state machine, and every step (handshake, frames, close, reset) under the test's control.

Rules, as for every network test here: loopback only, port 0, `autojump_clock` for
anything timed, a `trio.fail_after` bound on every test.
"""

from __future__ import annotations

import resource
import socket
import struct
from collections.abc import Sequence
from typing import Final

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)

from ttrec.feed import ACCEPT_HEADER, auth_message

RECEIVE_BYTES: Final = 65536
# SO_LINGER with a zero timeout: close() sends a TCP RST instead of a FIN.
LINGER_RESET: Final = struct.pack("ii", 1, 0)


def raise_fd_limit(wanted: int) -> None:
    """Allow `wanted` open files in this process, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def reset(stream: trio.SocketStream) -> None:
    """End the TCP connection with a RST: the abrupt way a crashed client leaves."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    stream.socket.close()


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it ends the TCP connection (a reset ends it too)."""
    answer = b""
    try:
        while chunk := await stream.receive_some(RECEIVE_BYTES):
            answer += chunk
    except trio.BrokenResourceError:
        pass
    return answer


class RawClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._events: list[Event] = []
        self._parts: list[str | bytes] = []

    @classmethod
    async def connect(cls, port: int, *, rcvbuf: int | None = None) -> RawClient:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so that the TCP window offered to the server is small too.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        await sock.connect(("127.0.0.1", port))
        return cls(trio.SocketStream(sock))

    async def handshake(
        self, path: str, headers: Sequence[tuple[bytes, bytes]] = ((b"Accept", ACCEPT_HEADER.encode()),)
    ) -> Event:
        """Send the upgrade request; AcceptConnection or RejectConnection back, or
        CloseConnection(1006) when the server just hangs up."""
        await self.stream.send_all(
            self.ws.send(Request(host="127.0.0.1", target=path, extra_headers=list(headers)))
        )
        while True:
            event = await self.next_event()
            if isinstance(event, AcceptConnection | RejectConnection | CloseConnection):
                return event

    async def authenticate(self, path: str, token: str = "token") -> None:
        accepted = await self.handshake(path)
        assert isinstance(accepted, AcceptConnection), accepted
        await self.send_text(auth_message(token))

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(data=text)))

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(self.ws.send(BytesMessage(data=data)))

    async def next_event(self) -> Event:
        """The next wsproto event; CloseConnection(1006) once the TCP connection ends."""
        while not self._events:
            try:
                data = await self.stream.receive_some(RECEIVE_BYTES)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                return CloseConnection(code=1006)
            self.ws.receive_data(data)
            self._events.extend(self.ws.events())
        return self._events.pop(0)

    async def next_message(self) -> str | bytes | CloseConnection:
        """The next whole message, or the CloseConnection that ended the stream."""
        while True:
            event = await self.next_event()
            if isinstance(event, CloseConnection):
                return event
            if isinstance(event, Message):
                self._parts.append(event.data)
                if event.message_finished:
                    parts, self._parts = self._parts, []
                    if isinstance(parts[0], str):
                        return "".join(p for p in parts if isinstance(p, str))
                    return b"".join(p for p in parts if isinstance(p, bytes))

    async def until_closed(self) -> CloseConnection:
        """Read (and drop) messages until the server closes; its close, or 1006."""
        while True:
            message = await self.next_message()
            if isinstance(message, CloseConnection):
                return message

    async def aclose(self) -> None:
        await self.stream.aclose()
