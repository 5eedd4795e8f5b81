"""Hostile clients against `ttrec serve`: each misbehaves in its own way while a
well-behaved client on the same server keeps getting every frame exactly on schedule.

Rules: loopback only, port 0, real sockets; trio's MockClock (`autojump_clock`) wherever
the hostile client does not need CPU time to hurt (on the MockClock the good client's
timing is checked to 2 ms); the real clock, with generous bounds, for floods and the
1,000-connection storm. A `trio.fail_after` bound on every test.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import pytest
import trio
from hostile_support import RawClient, raise_fd_limit, read_until_closed, reset
from replayer_support import (
    FIXTURE,
    OTHER_FIXTURE,
    client,
    frame_text,
    frames_every,
    running,
    timed,
    write_capture,
)
from wsproto.events import CloseConnection, RejectConnection

from replayer import ServeOptions, ServerHandle
from replayer.server import CLIENT_MAX_MESSAGE_BYTES
from ttrec.feed import AUTH_INVALID_FRAME, feed_path
from ttrec.wire import HANDSHAKE_TIMEOUT_S

FRAMES: Final = 30
STEP_S: Final = 1.0
PATH: Final = feed_path(FIXTURE)
MIB: Final = 1024 * 1024

Hostile = Callable[[ServerHandle], Awaitable[None]]


def _capture(tmp_path: Path, count: int = FRAMES, step_s: float = STEP_S) -> Path:
    return write_capture(tmp_path / "match.jsonl.zst", frames_every(count, step_s))


async def _good_client(handle: ServerHandle, count: int = FRAMES) -> list[float]:
    """Every frame, in order; returns their arrival offsets from the first."""
    async with client(handle.fixture_url(FIXTURE)) as ws:
        arrivals = await timed(ws, count)
    assert [m for _, m in arrivals] == [frame_text(i + 1) for i in range(count)]
    return [t - arrivals[0][0] for t, _ in arrivals]


async def _beside_good_client(
    tmp_path: Path, hostile: Hostile, options: ServeOptions | None = None, *, timeout_s: float = 300
) -> ServerHandle:
    """Run `hostile` next to a good client (which starts 0.5 s later); check the good
    client's schedule on the MockClock; return the handle (reports are in it)."""
    offsets: list[float] = []

    async def good(handle: ServerHandle) -> None:
        await trio.sleep(0.5)
        offsets.extend(await _good_client(handle))

    with trio.fail_after(timeout_s):
        async with running([_capture(tmp_path)], options) as handle, trio.open_nursery() as nursery:
            nursery.start_soon(good, handle)
            await hostile(handle)
    assert offsets == pytest.approx([i * STEP_S for i in range(FRAMES)], abs=0.002)
    return handle


def _reports(handle: ServerHandle, ended: str) -> list[str]:
    return [r.log_line() for r in handle.connections if r.ended == ended]


# --- messages --------------------------------------------------------------------------


async def test_binary_messages_after_auth_are_ignored_and_binary_auth_is_refused(
    tmp_path: Path, autojump_clock: object
) -> None:
    got: list[str | bytes | CloseConnection] = []
    refused: list[str | bytes | CloseConnection] = []

    async def hostile(handle: ServerHandle) -> None:
        raw = await RawClient.connect(handle.port)
        await raw.authenticate(PATH)
        for i in range(200):
            await raw.send_bytes(bytes([i % 256]) * 1000)
        got.extend([await raw.next_message() for _ in range(3)])
        await raw.aclose()
        binary_auth = await RawClient.connect(handle.port)
        await binary_auth.handshake(PATH)
        await binary_auth.send_bytes(b'{"authToken": "token"}')
        refused.append(await binary_auth.next_message())
        refused.append(await binary_auth.until_closed())

    handle = await _beside_good_client(tmp_path, hostile)
    assert got == [frame_text(1), frame_text(2), frame_text(3)]  # still played to
    assert refused[0] == AUTH_INVALID_FRAME
    assert isinstance(refused[1], CloseConnection) and refused[1].code == 1008
    assert len(_reports(handle, "auth-invalid")) == 1


async def test_a_10_mb_message_is_refused_with_1009_without_holding_it(
    tmp_path: Path, autojump_clock: object
) -> None:
    closes: list[int] = []

    async def flood(raw: RawClient, size: int) -> None:
        # The server stops reading past its bound and resets the connection: expected.
        with contextlib.suppress(trio.BrokenResourceError):
            await raw.send_text("x" * size)

    async def one(handle: ServerHandle, authenticate: bool) -> None:
        raw = await RawClient.connect(handle.port)
        if authenticate:
            await raw.authenticate(PATH)
        else:
            await raw.handshake(PATH)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood, raw, 10 * 1000 * 1000)
            closes.append((await raw.until_closed()).code)
        await raw.aclose()

    async def hostile(handle: ServerHandle) -> None:
        await one(handle, authenticate=True)  # after auth: the reader task sees it
        await one(handle, authenticate=False)  # as the auth message itself

    handle = await _beside_good_client(tmp_path, hostile)
    assert closes == [1009, 1009]
    refused = [(r.ended, r.code) for r in handle.connections if r.code == 1009]
    assert refused == [("message-too-big", 1009)] * 2
    assert CLIENT_MAX_MESSAGE_BYTES <= MIB  # the bound is small: at most this is ever held


GARBAGE_AUTH: Final = [
    "not json",
    "",
    "[]",
    "null",
    '"authToken"',
    '{"authToken": 5}',
    '{"authToken": ""}',
    '{"authToken": null}',
    '{"token": "token"}',
    '{"authToken": ["token"]}',
    "\x00" * 100,
    "\ud800" * 3,  # lone surrogates are not valid UTF-8 on the wire; wsproto sends them as '?'
    '{"authToken": "token"' + " " * 50_000,  # unterminated, just under the size bound
    "[" * 50_000,  # nesting deep enough to overflow the JSON parser's recursion limit
    '{"a":' * 10_000 + "1" + "}" * 10_000,
]


async def test_garbage_auth_messages_get_401_and_1008(tmp_path: Path, autojump_clock: object) -> None:
    answers: list[tuple[str | bytes | CloseConnection, int]] = []

    async def hostile(handle: ServerHandle) -> None:
        for text in GARBAGE_AUTH:
            raw = await RawClient.connect(handle.port)
            await raw.handshake(PATH)
            try:
                await raw.send_text(text)
            except UnicodeEncodeError:
                await raw.stream.send_all(b"\x81\x83\x00\x00\x00\x00\xff\xfe\xfd")  # masked, not UTF-8
            first = await raw.next_message()
            answers.append((first, (await raw.until_closed()).code if first == AUTH_INVALID_FRAME else -1))
            await raw.aclose()

    handle = await _beside_good_client(tmp_path, hostile, ServeOptions(tokens=frozenset({"token"})))
    for text, (first, code) in zip(GARBAGE_AUTH, answers, strict=True):
        if text.startswith("\ud800"):
            # Invalid UTF-8 in a text frame is a protocol error (1007 at the server, whose
            # close frame the client may not see before the TCP connection ends).
            assert isinstance(first, CloseConnection) and first.code in (1006, 1007), text[:40]
            continue
        assert (first, code) == (AUTH_INVALID_FRAME, 1008), text[:40]
    assert len(_reports(handle, "auth-invalid")) == len(GARBAGE_AUTH) - 1


async def test_an_auth_message_over_the_bound_is_closed_with_1009(
    tmp_path: Path, autojump_clock: object
) -> None:
    codes: list[int] = []

    async def hostile(handle: ServerHandle) -> None:
        raw = await RawClient.connect(handle.port)
        await raw.handshake(PATH)
        await raw.send_text(json.dumps({"authToken": "t" * (CLIENT_MAX_MESSAGE_BYTES + 1)}))
        codes.append((await raw.until_closed()).code)

    handle = await _beside_good_client(tmp_path, hostile)
    assert codes == [1009]
    assert len(_reports(handle, "message-too-big")) == 1


async def test_a_flood_of_small_messages_delays_nobody(tmp_path: Path) -> None:
    """Real clock: the flood costs CPU, which the MockClock would not show."""
    count, step_s = 30, 0.05  # 30 frames judged, each 50 ms after the last, under the flood
    capture = _capture(tmp_path, count, step_s)
    sent = 0

    async def flood(port: int, stop: trio.Event) -> None:
        nonlocal sent
        raw = await RawClient.connect(port)
        await raw.authenticate(PATH)
        message = "y" * 1000
        while not stop.is_set():
            await raw.send_text(message)
            sent += 1
        await raw.aclose()

    with trio.fail_after(60):
        async with running([capture]) as handle, trio.open_nursery() as nursery:
            stop = trio.Event()
            for _ in range(3):
                nursery.start_soon(flood, handle.port, stop)
            await trio.sleep(0.3)
            offsets = await _good_client(handle, count)
            stop.set()
    assert sent > 1000
    lateness = [offset - i * step_s for i, offset in enumerate(offsets)]
    assert max(abs(x) for x in lateness) < 0.25, lateness


# --- handshakes and silence --------------------------------------------------------------


async def test_connections_that_never_authenticate_are_closed_after_the_auth_timeout(
    tmp_path: Path, autojump_clock: object
) -> None:
    closed_at: list[tuple[int, float]] = []

    async def silent(port: int) -> None:
        raw = await RawClient.connect(port)
        await raw.handshake(PATH)
        start = trio.current_time()
        close = await raw.until_closed()
        closed_at.append((close.code, trio.current_time() - start))

    async def hostile(handle: ServerHandle) -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(silent, handle.port)

    handle = await _beside_good_client(tmp_path, hostile, ServeOptions(auth_timeout_s=4.0))
    assert len(closed_at) == 50
    assert {code for code, _ in closed_at} == {1008}
    assert all(t == pytest.approx(4.0, abs=0.01) for _, t in closed_at)
    assert len(_reports(handle, "auth-timeout")) == 50


async def _slowloris(
    port: int, request: bytes, trickle_s: float | None, log: list[tuple[str, float]]
) -> None:
    """Send half a request, then one byte every `trickle_s` (or nothing); note when the
    server hung up."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    start = trio.current_time()
    half = request[: len(request) // 2]
    rest = request[len(half) :]
    await stream.send_all(half)
    outcome = "open"
    async with trio.open_nursery() as nursery:

        async def trickle() -> None:
            if trickle_s is None:
                return
            for byte in rest[:-4]:  # never the final blank line
                await trio.sleep(trickle_s)
                try:
                    await stream.send_all(bytes([byte]))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        nursery.start_soon(trickle)
        try:
            while await stream.receive_some(4096):
                pass
            outcome = "eof"
        except trio.BrokenResourceError:
            outcome = "reset"
        nursery.cancel_scope.cancel()
    log.append((outcome, trio.current_time() - start))
    await stream.aclose()


UPGRADE: Final = (
    f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Accept: application/vnd.imggaming.dde.api+json;version=1\r\n\r\n"
).encode()


@pytest.mark.parametrize("trickle_s", [None, 0.5], ids=["half-then-nothing", "half-then-a-byte-each-0.5s"])
async def test_slowloris_handshakes_are_cut_off_at_the_handshake_timeout(
    tmp_path: Path, autojump_clock: object, trickle_s: float | None
) -> None:
    log: list[tuple[str, float]] = []

    async def hostile(handle: ServerHandle) -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(_slowloris, handle.port, UPGRADE, trickle_s, log)
            nursery.start_soon(_slowloris, handle.port, b"", None, log)  # connects, says nothing

    await _beside_good_client(tmp_path, hostile)
    assert len(log) == 101
    # The deadline is from the connection's start, however the bytes trickle in.
    assert all(t == pytest.approx(HANDSHAKE_TIMEOUT_S, abs=0.01) for _, t in log), log[:3]
    assert {outcome for outcome, _ in log} <= {"eof", "reset"}


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nX: " + b"a" * (2 * MIB),  # a header line that never ends
        b"GET " + b"/" * (2 * MIB) + b" HTTP/1.1\r\n\r\n",  # a request target of 2 MiB
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 500,  # a TLS hello on plain ws
        b"\x00\xff" * 10_000,  # binary noise
        b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",  # not an upgrade
    ],
    ids=["endless-header", "huge-target", "tls-hello", "noise", "post"],
)
async def test_garbage_instead_of_a_handshake_is_cut_off_quickly(
    tmp_path: Path, autojump_clock: object, request_bytes: bytes
) -> None:
    log: list[tuple[str, float]] = []

    async def hostile(handle: ServerHandle) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", handle.port)
        start = trio.current_time()
        with contextlib.suppress(trio.BrokenResourceError):  # refused while still sending: fine
            await stream.send_all(request_bytes)
        answer = await read_until_closed(stream)
        log.append((answer[:12].decode("latin-1"), trio.current_time() - start))
        await stream.aclose()

    await _beside_good_client(tmp_path, hostile)
    [(answer, took)] = log
    # Either an HTTP error at once, or the handshake timeout; never held open longer.
    assert took <= HANDSHAKE_TIMEOUT_S + 0.01
    assert answer == "" or answer.startswith("HTTP/1.1 4"), answer


# --- leaving abruptly, and not reading ------------------------------------------------------


async def test_abrupt_resets_at_every_stage_are_survived(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Each reset after the handshake is a `client-gone` connection; one before a whole
    request is none (as a client that closes then): neither is a 'connection failed' warning."""

    async def hostile(handle: ServerHandle) -> None:
        stages = ["tcp", "half-request", "after-handshake", "after-auth", "after-frames", "mid-message"]
        for stage in stages:
            raw = await RawClient.connect(handle.port)
            if stage == "half-request":
                await raw.stream.send_all(UPGRADE[:40])
            if stage in ("after-handshake", "after-auth", "after-frames", "mid-message"):
                await raw.handshake(PATH)
            if stage in ("after-auth", "after-frames", "mid-message"):
                await raw.send_text('{"authToken": "token"}')
            if stage == "after-frames":
                for _ in range(3):
                    await raw.next_message()
            if stage == "mid-message":
                await raw.next_message()
                await raw.stream.send_all(b"\x81\xfe\x10\x00" + b"\x00" * 4 + b"par")  # 4 KiB frame, 3 bytes
            await trio.sleep(0.1)
            reset(raw.stream)
            await trio.sleep(0.1)
        # Another round, all at once.
        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(_reset_after_auth, handle.port)

    handle = await _beside_good_client(tmp_path, hostile)
    gone = _reports(handle, "client-gone")
    assert len(gone) == 4 + 50, [r.log_line() for r in handle.connections]
    # The stage "after-handshake" reset came before any auth message.
    assert [r.code for r in handle.connections if r.ended == "client-gone"] == [1006] * 54
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def _reset_after_auth(port: int) -> None:
    raw = await RawClient.connect(port)
    await raw.authenticate(PATH)
    await raw.next_message()
    reset(raw.stream)


async def test_clients_that_never_read_are_dropped_and_delay_nobody(
    tmp_path: Path, autojump_clock: object
) -> None:
    # 64 KiB frames: a client that reads nothing fills both kernel buffers within a few
    # frames; speed=fast makes the server push as fast as it can.
    big = write_capture(
        tmp_path / "big.jsonl.zst", frames_every(300, 0.0, OTHER_FIXTURE, pad="z" * 65536), OTHER_FIXTURE
    )
    dropped: list[int] = []

    async def never_reads(port: int) -> None:
        raw = await RawClient.connect(port, rcvbuf=4096)
        await raw.authenticate(feed_path(OTHER_FIXTURE) + "?speed=fast")
        await trio.sleep(30)  # does not read; the server gives up after its send timeout
        dropped.append((await raw.until_closed()).code)

    offsets: list[float] = []
    with trio.fail_after(300):
        async with running([_capture(tmp_path), big]) as handle, trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(never_reads, handle.port)
            await trio.sleep(0.5)
            offsets = await _good_client(handle)
    assert offsets == pytest.approx([i * STEP_S for i in range(FRAMES)], abs=0.002)
    stuck = [r for r in handle.connections if r.ended == "send-timeout"]
    assert len(stuck) == 5 and all(r.frames_sent < 300 for r in stuck)
    assert len(dropped) == 5


# --- many at once -------------------------------------------------------------------------


async def test_1000_connections_at_once(tmp_path: Path) -> None:
    """Real clock: 1,000 handshakes and auths in one storm, each client gets its first
    frames; a good client that connected before the storm stays on schedule."""
    n = 1000
    raise_fd_limit(4 * n)
    count, step_s = 40, 0.1
    capture = _capture(tmp_path, count, step_s)
    firsts: list[str | bytes | CloseConnection] = []
    offsets: list[float] = []

    async def storm_client(port: int, go: trio.Event) -> None:
        await go.wait()
        raw = await RawClient.connect(port)
        answer = await raw.handshake(PATH)
        assert not isinstance(answer, RejectConnection)
        await raw.send_text('{"authToken": "token"}')
        firsts.append(await raw.next_message())
        await raw.aclose()

    async def good(handle: ServerHandle) -> None:
        offsets.extend(await _good_client(handle, count))

    with trio.fail_after(120):
        async with running([capture], ServeOptions(speed=1.0, auth_timeout_s=60)) as handle:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(good, handle)
                await trio.sleep(0.5)
                go = trio.Event()
                for _ in range(n):
                    nursery.start_soon(storm_client, handle.port, go)
                go.set()
            await handle.wait_connections(n + 1)
    assert firsts == [frame_text(1)] * n
    lateness = [offset - i * step_s for i, offset in enumerate(offsets)]
    # Generous: a 2-core CI machine doing 1,000 handshakes in the same process.
    assert max(lateness) < 2.0, lateness
    assert sum(x < 0.1 for x in lateness) >= count // 2, lateness


async def test_a_plain_http_request_is_told_what_this_is_and_logged(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A browser or curl (no Upgrade header) used to get an empty 400 and leave no trace.
    caplog.set_level("INFO", logger="replayer")
    async with running([_capture(tmp_path)]) as handle:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", handle.port)
            await stream.send_all(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            answer = b""
            while chunk := await stream.receive_some(4096):
                answer += chunk
            await stream.aclose()
            [report] = await handle.wait_connections(1)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"websocket" in body and b"ttrec watch" in body
    assert f"content-length: {len(body)}\r\n".encode() in head.lower() + b"\r\n"
    assert (report.ended, report.code, report.path) == ("rejected", 400, PATH)
    assert any("ended=rejected(400)" in r.getMessage() and PATH in r.getMessage() for r in caplog.records)
