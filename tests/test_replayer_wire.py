"""replayer.wire: frames made once per capture, written as they are to every client.

Loopback only, port 0, every wait bounded by trio.fail_after. The frame layout is checked
against RFC 6455 §5.2 by hand and decoded by wsproto's client side; the writes are read
back by trio-websocket clients, including one that stops reading for a while, so that a
frame larger than the socket buffers leaves in several writes, and one that pings while
the rest of a directly written frame still waits (the pong must come after that frame).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Awaitable, Callable

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket, wrap_server_stream
from wsproto.frame_protocol import FrameProtocol, Opcode

from replayer.wire import ServerStream, Wire, frame_of, frames_of

Handler = Callable[[WebSocketConnection], Awaitable[None]]


def rfc6455_header(opcode: int, length: int) -> bytes:
    """FIN set, no RSV bits, unmasked: 7-bit length, or 126 + 16-bit, or 127 + 64-bit."""
    first = 0x80 | opcode
    if length < 126:
        return bytes([first, length])
    if length < 1 << 16:
        return bytes([first, 126]) + struct.pack("!H", length)
    return bytes([first, 127]) + struct.pack("!Q", length)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_frame_is_the_rfc_header_and_the_utf8_payload(size: int) -> None:
    text = ("é" * size)[:size]
    payload = text.encode()
    assert frame_of(text) == rfc6455_header(0x1, len(payload)) + payload
    assert frame_of(payload) == rfc6455_header(0x2, len(payload)) + payload


def test_a_client_decodes_the_frames_to_the_messages() -> None:
    messages: list[str | bytes] = ['{"seqNum":1}', "🏓" * 40_000, b"\x00\xff"]
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(b"".join(frame_of(m) for m in messages))
    frames = list(client.received_frames())
    assert [f.opcode for f in frames] == [Opcode.TEXT, Opcode.TEXT, Opcode.BINARY]
    assert [f.payload for f in frames] == messages and all(f.frame_finished for f in frames)
    assert frames_of(messages) == {m: frame_of(m) for m in messages}


async def serve_wired(handler: Handler, *, task_status: trio.TaskStatus[int]) -> None:
    """A websocket server whose connections are ServerStreams, as the replayer's are."""

    async def on_stream(stream: trio.SocketStream) -> None:
        async with trio.open_nursery() as nursery:
            request = await wrap_server_stream(nursery, ServerStream(stream))
            ws = await request.accept()
            await handler(ws)
            nursery.cancel_scope.cancel()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, on_stream, listeners)
        task_status.started(listeners[0].socket.getsockname()[1])


async def serve_messages(messages: list[str | bytes], *, task_status: trio.TaskStatus[int]) -> None:
    frames = frames_of(messages[::2])  # every other one framed ahead, the rest sent as usual

    async def handler(ws: WebSocketConnection) -> None:
        wire = Wire(ws, frames)
        try:
            for message in messages:
                await wire.send(message)
            await ws.get_message()
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        task_status.started(await nursery.start(serve_wired, handler))


async def test_framed_and_unframed_messages_arrive_in_order_even_to_a_slow_reader() -> None:
    # 4 MB messages do not fit the socket buffers: the client's pause makes the server's
    # write stop part way and finish when the client reads again.
    messages: list[str | bytes] = [f"{i}:" + "x" * (4_000_000 if i % 3 == 0 else 10) for i in range(12)]
    messages.append(b"binary\x00")
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_messages, messages)
            async with open_websocket(
                "127.0.0.1", port, "/", use_ssl=False, max_message_size=8_000_000
            ) as ws:
                await trio.sleep(0.2)
                got = [await ws.get_message() for _ in messages]
            nursery.cancel_scope.cancel()
    assert got == messages


async def test_a_closed_connection_raises_connection_closed_as_send_message_does() -> None:
    outcome: list[str] = []

    async def handler(ws: WebSocketConnection) -> None:
        wire = Wire(ws, frames_of(["hello"]))
        with contextlib.suppress(ConnectionClosed):
            await ws.get_message()
        assert not wire.write_now("hello")  # closed: nothing written directly
        try:
            await wire.send("hello")
        except ConnectionClosed as exc:
            outcome.append(f"closed {exc.reason.code}")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_wired, handler)
            async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as ws:
                await ws.aclose(1000)
            while not outcome:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert outcome == ["closed 1000"]


async def test_a_pong_waits_for_the_rest_of_a_directly_written_frame() -> None:
    # 32 MB is more than loopback's socket buffers take while the client is not reading:
    # the direct write leaves a rest, and the pong trio-websocket sends must follow it.
    big = "p" * 32_000_000
    owed: list[bool] = []

    async def handler(ws: WebSocketConnection) -> None:
        wire = Wire(ws, frames_of([big]))
        assert wire.write_now(big)
        owed.append(wire.owed)
        with contextlib.suppress(ConnectionClosed):
            await ws.get_message()  # the client's ping is answered meanwhile

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_wired, handler)
            async with open_websocket(
                "127.0.0.1", port, "/", use_ssl=False, max_message_size=40_000_000
            ) as ws:
                while not owed:
                    await trio.sleep(0.01)
                async with trio.open_nursery() as pinging:
                    pinging.start_soon(ws.ping, b"are you there")
                    got = await ws.get_message()
            nursery.cancel_scope.cancel()
    assert owed == [True]
    assert got == big  # whole: had the pong gone out inside it, the client would have failed
