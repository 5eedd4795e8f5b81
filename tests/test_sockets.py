"""replayer.sockets.unacknowledged_bytes: what `delivered()` waits on (Linux only).

A real loopback TCP connection whose reader has a tiny receive buffer and does not read:
what the writer wrote stays unacknowledged until the reader takes it. Bounded waits.
"""

from __future__ import annotations

import socket
import sys

import pytest
import trio

from replayer.sockets import unacknowledged_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIOCOUTQ is Linux's")
# Under trio's TCP_NOTSENT_LOWAT (16 KiB), so send_all returns with the reader's window full.
PAYLOAD = 12 * 1024


async def test_bytes_a_reader_has_not_taken_are_unacknowledged_until_it_reads() -> None:
    with trio.fail_after(20):
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        reader_sock = trio.socket.socket()
        reader_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
        await reader_sock.connect(listener.getsockname())
        accepted, _ = await listener.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * PAYLOAD)
        writer, reader = trio.SocketStream(accepted), trio.SocketStream(reader_sock)
        assert unacknowledged_bytes(writer) == 0
        await writer.send_all(b"x" * PAYLOAD)  # returns: it is in the kernel's send buffer
        await trio.sleep(0.05)
        waiting = unacknowledged_bytes(writer)
        assert waiting is not None and 0 < waiting <= PAYLOAD  # more than the reader's window
        received = 0
        while received < PAYLOAD:
            received += len(await reader.receive_some(65536))
        while unacknowledged_bytes(writer):  # the reader's ACKs arrive over loopback at once
            await trio.sleep(0.001)
        assert unacknowledged_bytes(writer) == 0
        await writer.aclose()
        assert unacknowledged_bytes(writer) is None  # a closed socket says nothing
        await reader.aclose()
        listener.close()
