"""Handshakes are worked on a few at a time (replayer.server.OPENING_AT_ONCE), so that a
storm of them cannot hold up the frames of clients already connected, while no client
that has not sent a whole request can take one of those places."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import pytest
import trio
from replayer_support import FIXTURE, client, frame_text, frames_every, receive, running, write_capture

import replayer.server as server_module
from replayer.server import OPENING_AT_ONCE
from replayer.tls import self_signed
from ttrec.feed import feed_path
from ttrec.wire import HANDSHAKE_TIMEOUT_S


async def test_a_few_handshakes_at_a_time_and_every_client_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: object
) -> None:
    real = server_module.wrap_server_stream
    working = most = 0

    async def slow_handshake(*args: Any, **kwargs: Any) -> Any:
        nonlocal working, most
        working += 1
        most = max(most, working)
        try:
            await trio.sleep(0.01)  # while this one works, the others would pile up beside it
            return await real(*args, **kwargs)
        finally:
            working -= 1

    monkeypatch.setattr(server_module, "wrap_server_stream", slow_handshake)
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    clients = 3 * OPENING_AT_ONCE
    firsts: list[list[str]] = []
    with trio.fail_after(60):
        async with running([capture]) as handle, trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(_first_frame, handle.fixture_url(FIXTURE), firsts)
    assert most == OPENING_AT_ONCE
    assert firsts == [[frame_text(1)]] * clients


async def test_clients_that_sent_no_whole_request_take_no_place(
    tmp_path: Path, autojump_clock: object
) -> None:
    """More of them than there are places, each stalled after a header line longer than
    the server reads before handing the bytes on: a good client still opens at once,
    not after the others' handshake timeout."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    stalled: list[trio.SocketStream] = []
    firsts: list[list[str]] = []
    with trio.fail_after(60):
        async with running([capture]) as handle:
            for _ in range(OPENING_AT_ONCE + 2):
                stream = await trio.open_tcp_stream("127.0.0.1", handle.port)
                head = f"GET {feed_path(FIXTURE)} HTTP/1.1\r\nUpgrade: websocket\r\nX: "
                await stream.send_all(head.encode() + b"a" * 20_000)
                stalled.append(stream)
            await trio.sleep(0.1)
            began = trio.current_time()
            await _first_frame(handle.fixture_url(FIXTURE), firsts)
            opened_in = trio.current_time() - began
            for stream in stalled:
                await stream.aclose()
    assert firsts == [[frame_text(1)]]
    assert opened_in < HANDSHAKE_TIMEOUT_S / 2


async def _first_frame(url: str, firsts: list[list[str]]) -> None:
    async with client(url) as ws:
        firsts.append(await receive(ws, 1))


def _upgrade(method: str = "GET", version: str = "1.1", *, key: bool = True, ws_version: str = "13") -> bytes:
    lines = [f"{method} {feed_path(FIXTURE)} HTTP/{version}", "Host: 127.0.0.1", "Upgrade: websocket"]
    lines += ["Connection: Upgrade"] if method != "NOCONN" else []
    lines += ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] if key else []
    lines += [f"Sec-WebSocket-Version: {ws_version}"]
    return ("\r\n".join(lines) + "\r\n\r\n").replace("NOCONN", "GET").encode()


# Upgrade requests trio-websocket refuses, with the status RFC 6455 gives each (§4.2.1:
# the server answers an invalid handshake 400; §4.4: a version it does not speak 426).
REFUSED: Final = {
    "no-key": (_upgrade(key=False), 400),
    "version-99": (_upgrade(ws_version="99"), 426),
    "no-connection-upgrade": (_upgrade("NOCONN"), 400),
    "post": (_upgrade("POST"), 400),
    "http-1.0": (_upgrade(version="1.0"), 400),
}


@pytest.mark.parametrize("kind", list(REFUSED))
async def test_a_refused_websocket_request_frees_its_place_and_is_reported(
    tmp_path: Path, autojump_clock: object, kind: str
) -> None:
    """More of them than there are places, each left open after its answer: a good client
    still opens at once, and each is reported refused with its status (so that it counts
    for `--exit-after` and has its log line)."""
    request, status = REFUSED[kind]
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    held: list[trio.SocketStream] = []
    answers: list[bytes] = []
    firsts: list[list[str]] = []
    with trio.fail_after(60):
        async with running([capture]) as handle:
            for _ in range(OPENING_AT_ONCE + 2):
                stream = await trio.open_tcp_stream("127.0.0.1", handle.port)
                await stream.send_all(request)
                answers.append(await stream.receive_some(4096))
                held.append(stream)
            began = trio.current_time()
            await _first_frame(handle.fixture_url(FIXTURE), firsts)
            opened_in = trio.current_time() - began
            for stream in held:
                await stream.aclose()
            refused = [r for r in handle.connections if r.ended == "rejected"]
    assert firsts == [[frame_text(1)]]
    assert opened_in < 1.0
    assert all(answer.startswith(f"HTTP/1.1 {status} ".encode()) for answer in answers), answers[0][:40]
    assert [(r.code, r.fixture) for r in refused] == [(status, FIXTURE)] * (OPENING_AT_ONCE + 2)
    assert all(f" speed=- ended=rejected({status}) " in r.log_line() for r in refused)


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize("reads_head", [False, True], ids=["leaves-at-once", "reads-the-head-then-leaves"])
async def test_a_refused_client_that_leaves_during_the_answer_is_reported(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture, tls: bool, reads_head: bool
) -> None:
    """A websocket request refused 400 (no Accept) whose client closes its TCP connection
    (under TLS with no close_notify) before the whole answer is out: reported `rejected`
    with its status and logged in one ordinary line, so counted by `--exit-after`, as one
    that reads it all (the answer's second write failed: a 'connection failed' warning
    with an ExceptionGroup of ConnectionClosed 1006, and no report)."""
    caplog.set_level(logging.INFO, logger="replayer")
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    made = self_signed()
    with trio.fail_after(30):
        async with running([capture], ssl_context=made.context if tls else None) as handle:
            tcp = await trio.open_tcp_stream("127.0.0.1", handle.port)
            stream: trio.abc.Stream = tcp
            if tls:
                stream = trio.SSLStream(tcp, made.client_context(), server_hostname="127.0.0.1")
            await stream.send_all(_upgrade())  # no Accept header
            if reads_head:
                assert (await stream.receive_some()).startswith(b"HTTP/1.1 400 ")
            await tcp.aclose()
            (refused,) = await handle.wait_connections(1)
    assert (refused.ended, refused.code, refused.fixture) == ("rejected", 400, FIXTURE)
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [refused.log_line()]
