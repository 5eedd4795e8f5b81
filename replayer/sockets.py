"""What the kernel knows about a connection's socket that trio does not say."""

from __future__ import annotations

import array
import fcntl
import socket
import sys
from typing import Final

import trio

# Linux: the bytes in a TCP socket's send queue, sent or not, that the peer has not
# acknowledged (SIOCOUTQ, the same number as termios.TIOCOUTQ).
_SIOCOUTQ: Final = 0x5411


def unacknowledged_bytes(stream: trio.abc.Stream) -> int | None:
    """How many bytes written to `stream`'s socket the peer's TCP stack has not acknowledged
    (0: all of it is in the peer's receive buffer or already read). None where the system
    does not say (not Linux) or the socket is gone."""
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if not sys.platform.startswith("linux") or not isinstance(raw, trio.SocketStream):
        return None
    try:
        fd = raw.socket.fileno()
        if fd < 0:
            return None
        count = array.array("i", [0])
        fcntl.ioctl(fd, _SIOCOUTQ, count, True)
    except OSError:
        return None
    return count[0]


async def drop_connection(stream: trio.abc.Stream) -> None:
    """End the TCP connection with no websocket close frame (and, under TLS, no
    close_notify either): to the client it looks like the network went away."""
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    await trio.aclose_forcefully(raw)


async def sends_anything(stream: trio.abc.Stream) -> bool:
    """Wait until the client has sent a byte (True; the byte stays there to be read) or has
    gone without sending one (False: a port probe). True where it cannot be told (a stream
    that is not a socket's)."""
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if not isinstance(raw, trio.SocketStream):
        return True
    try:
        return bool(await raw.socket.recv(1, socket.MSG_PEEK))
    except OSError:  # reset before sending anything
        return False
