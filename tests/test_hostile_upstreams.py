"""Hostile upstreams against `ttrec record`: a raw TCP server speaking just enough
websocket (wsproto) to misbehave at every moment of a connection, and garbage, oversized
or endless messages; the recorder keeps every good frame exactly once and reconnects or
stops as its policy says (docs/record.md).

Rules: loopback only, port 0, real sockets through the recorder's real `connect`; trio's
MockClock (`autojump_clock`), so handshake timeouts, watchdogs and backoffs cost no real
time; a `trio.fail_after` bound on every test.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import pytest
import trio
import trio.testing
import zstandard
from click.testing import CliRunner
from hostile_support import reset
from recorder_support import FIXTURE, TOKEN, frames_of, match_frames, read
from replayer_support import heartbeat_text
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, RejectData, Request
from wsproto.events import BytesMessage as WsBytes
from wsproto.events import TextMessage as WsText

from recorder.connection import MAX_MESSAGE_BYTES
from recorder.run import record
from recorder.secret import Token
from recorder.session import FixtureResult, RecordOptions
from recorder.status import PlainReporter
from recorder.stop import Stop
from ttrec.cli import cli
from ttrec.feed import REDACTED
from ttrec.records import Close, Error, Heartbeat, Open
from ttrec.wire import HANDSHAKE_TIMEOUT_S

COUNT: Final = 6
FRAMES: Final = match_frames(COUNT)
MIB: Final = 1024 * 1024


class Peer:
    """One accepted TCP connection, server side, with a wsproto state machine."""

    def __init__(self, stream: trio.SocketStream, gap_s: float = 0.5) -> None:
        self.stream = stream
        self.gap_s = gap_s  # between frames
        self.ws = WSConnection(ConnectionType.SERVER)
        self.start_position = 0

    async def _event(self) -> object:
        while True:
            for event in self.ws.events():
                return event
            data = await self.stream.receive_some(65536)
            if not data:
                raise trio.BrokenResourceError("client left")
            self.ws.receive_data(data)

    async def read_request(self) -> Request:
        event = await self._event()
        assert isinstance(event, Request), event
        query = parse_qs(urlsplit(event.target).query)
        self.start_position = int(query.get("startPosition", ["0"])[0])
        return event

    async def accept(self) -> None:
        await self.read_request()
        await self.stream.send_all(self.ws.send(AcceptConnection()))

    async def read_auth(self) -> str:
        event = await self._event()
        assert isinstance(event, WsText) and event.message_finished, event
        return event.data

    async def text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(WsText(data=text)))

    async def frames(self, count: int | None = None) -> int:
        """Frames from startPosition on (`count` of them, or all); returns the last index."""
        end = COUNT if count is None else min(COUNT, self.start_position + count)
        for i in range(self.start_position, end):
            await trio.sleep(self.gap_s)
            await self.text(FRAMES[i])
        return end

    async def until_client_leaves(self) -> None:
        try:
            while True:
                event = await self._event()
                if isinstance(event, CloseConnection):
                    if self.ws.state is ConnectionState.REMOTE_CLOSING:  # else it answered ours
                        await self.stream.send_all(self.ws.send(event.response()))
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


Behaviour = Callable[[Peer], Awaitable[None]]


async def well_behaved(peer: Peer) -> None:
    await peer.accept()
    await peer.read_auth()
    await peer.frames()
    await peer.until_client_leaves()


class Upstream:
    """Connection n runs behaviours[n]; once they are used up, `well_behaved`."""

    def __init__(self, behaviours: Sequence[Behaviour], gap_s: float = 0.5) -> None:
        self.behaviours = list(behaviours)
        self.gap_s = gap_s
        self.connections = 0
        self.auth_messages: list[str] = []
        self.start_positions: list[int] = []

    async def handler(self, stream: trio.SocketStream) -> None:
        n = self.connections
        self.connections += 1
        behaviour = self.behaviours[n] if n < len(self.behaviours) else well_behaved
        peer = Peer(stream, self.gap_s)
        try:
            await behaviour(peer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the recorder left: fine, it is what some behaviours provoke
        finally:
            self.start_positions.append(peer.start_position)
            if stream.socket.fileno() != -1:
                await trio.aclose_forcefully(stream)


async def _record(
    tmp_path: Path, upstream: Upstream, *, stop_after_s: float = 600
) -> tuple[FixtureResult, str]:
    log = io.StringIO()
    with trio.fail_after(stop_after_s):
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(partial(trio.serve_tcp, upstream.handler, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            [result] = await record(
                [FIXTURE],
                Token(TOKEN),
                out=tmp_path / "out",
                options=RecordOptions(base_url=f"ws://127.0.0.1:{port}", seed=1),
                reporter=PlainReporter(log),
            )
            nursery.cancel_scope.cancel()
    return result, log.getvalue()


def _assert_every_frame_once(result: FixtureResult) -> None:
    assert result.outcome == "finished" and result.complete, result
    reader, records = read(result.path)
    assert not reader.torn_tail and reader.damage is None
    assert [f.data for f in frames_of(records)] == FRAMES
    # Every connection opened after the first resumed where the capture stood.
    opens = [r for r in records if isinstance(r, Open)]
    for o in opens:
        assert (f"startPosition={o.start_position}" in o.url) == (o.start_position > 0)
    assert TOKEN not in (Path(result.path).read_bytes().decode("latin-1"))


# --- closes at every moment ---------------------------------------------------------------


async def close_at_once(peer: Peer) -> None:
    return


async def reset_at_once(peer: Peer) -> None:
    reset(peer.stream)


async def close_mid_request(peer: Peer) -> None:
    await peer.stream.receive_some(20)


async def close_mid_response(peer: Peer) -> None:
    await peer.read_request()
    response = peer.ws.send(AcceptConnection())
    await peer.stream.send_all(response[: len(response) // 2])


async def close_after_handshake(peer: Peer) -> None:
    await peer.accept()


async def close_after_auth(peer: Peer) -> None:
    await peer.accept()
    await peer.read_auth()


async def close_frame_after_auth(peer: Peer) -> None:
    await peer.accept()
    await peer.read_auth()
    await peer.stream.send_all(peer.ws.send(CloseConnection(code=1011, reason="internal error")))
    await peer.until_client_leaves()


def frames_then(k: int, how: str) -> Behaviour:
    """k frames, then: `cut` (half of the next frame's bytes, then FIN), `reset` (RST),
    `close` (a close frame 1001), `normal` (close 1000 before the match is over)."""

    async def behaviour(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        end = await peer.frames(k)
        if how == "cut":
            wire = peer.ws.send(WsText(data=FRAMES[end % COUNT]))
            await peer.stream.send_all(wire[: len(wire) // 2])
        elif how == "reset":
            reset(peer.stream)
        elif how in ("close", "normal"):
            code = 1001 if how == "close" else 1000
            await peer.stream.send_all(peer.ws.send(CloseConnection(code=code)))
            await peer.until_client_leaves()

    behaviour.__name__ = f"{k}-frames-then-{how}"
    return behaviour


MOMENTS: Final[list[Behaviour]] = [
    close_at_once,
    reset_at_once,
    close_mid_request,
    close_mid_response,
    close_after_handshake,
    close_after_auth,
    close_frame_after_auth,
    *[frames_then(k, how) for how in ("cut", "reset", "close", "normal") for k in range(COUNT)],
]


@pytest.mark.parametrize("behaviour", MOMENTS, ids=[b.__name__ for b in MOMENTS])
async def test_a_connection_ending_at_any_moment_loses_and_duplicates_nothing(
    tmp_path: Path, autojump_clock: object, behaviour: Behaviour
) -> None:
    # Twice the same misbehaviour, then a good server: the backoff grows, the capture is whole.
    upstream = Upstream([behaviour, behaviour])
    result, _ = await _record(tmp_path, upstream)
    _assert_every_frame_once(result)
    assert upstream.connections == result.attempts <= 3
    _, records = read(result.path)
    assert result.connections == len([r for r in records if isinstance(r, Open)])  # those opened


async def test_k_frames_then_a_cut_every_time_still_gets_the_whole_match(
    tmp_path: Path, autojump_clock: object
) -> None:
    # Each connection delivers two frames and dies mid-frame. A resume asks for one frame
    # of overlap (startPosition = frames held - 1), so each connection after the first
    # repeats one frame (dropped as a resend) and adds one: COUNT - 1 connections in all.
    upstream = Upstream([frames_then(2, "cut")] * COUNT)
    result, _ = await _record(tmp_path, upstream)
    _assert_every_frame_once(result)
    assert result.connections == COUNT - 1
    assert upstream.start_positions[: COUNT - 1] == list(range(COUNT - 1))
    assert result.duplicates == COUNT - 2


# --- garbage and oversized messages -------------------------------------------------------

NESTED_FRAME: Final = '{"seqNum": 99, "fixtureId": "x", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
GARBAGE: Final[list[str | bytes]] = [
    "not json at all",
    "",
    "[1, 2, 3]",
    '{"seqNum": "seven"}',
    '["seqNum", "fixtureId"]',  # the keys, but not an object
    '{"seqNum": 1}',  # half a data frame: a heartbeat by the feed's rule
    '{"seqNum": 5, "fixtureId": "' + FIXTURE + '"',  # truncated JSON
    NESTED_FRAME,  # deeper than Python's JSON parser can go
    '{"error": "odd", "status": "x"}',
    "\u0000\u2028\ufeff",
    b"\x00\xff\xfe binary junk",
    b"",
]


async def test_garbage_messages_are_kept_verbatim_and_good_frames_all_recorded(
    tmp_path: Path, autojump_clock: object
) -> None:
    async def garbage_between_frames(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        for i, frame in enumerate(FRAMES):
            for junk in GARBAGE if i % 2 == 0 else GARBAGE[:3]:
                await peer.stream.send_all(
                    peer.ws.send(WsBytes(data=junk) if isinstance(junk, bytes) else WsText(data=junk))
                )
            await peer.text(frame)
        await peer.until_client_leaves()

    result, _ = await _record(tmp_path, Upstream([garbage_between_frames]))
    _assert_every_frame_once(result)
    assert result.connections == 1
    _, records = read(result.path)
    kept = [r.data for r in records if isinstance(r, Heartbeat)]
    texts = [g for g in GARBAGE if isinstance(g, str)]
    assert kept[: len(texts)] == texts  # byte for byte, nested monster included


async def test_invalid_utf8_in_a_text_frame_is_a_reconnect(tmp_path: Path, autojump_clock: object) -> None:
    async def bad_utf8(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        await peer.frames(2)
        await peer.stream.send_all(b"\x81\x04\xff\xfe\xfd\xfc")  # a text frame that is not UTF-8
        await peer.until_client_leaves()

    result, _ = await _record(tmp_path, Upstream([bad_utf8]))
    _assert_every_frame_once(result)
    _, records = read(result.path)
    first_close = next(r for r in records if isinstance(r, Close))
    assert first_close.code == 1007


@pytest.mark.parametrize("fragmented", [False, True], ids=["one-frame", "fragments"])
async def test_an_oversized_message_is_refused_and_the_rest_recorded(
    tmp_path: Path, fragmented: bool
) -> None:
    # The real clock: 17 MiB take real milliseconds on loopback, and the MockClock would
    # jump to the watchdog's deadline while the bytes are in flight.
    async def oversized(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        await peer.frames(3)
        size = MAX_MESSAGE_BYTES + MIB
        if fragmented:
            chunk = "y" * MIB
            for i in range(size // MIB):
                await peer.stream.send_all(
                    peer.ws.send(WsText(data=chunk, message_finished=i == size // MIB - 1))
                )
        else:
            await peer.text("y" * size)
        await peer.until_client_leaves()

    async def then_a_heartbeat(peer: Peer) -> None:
        # The heartbeat after the finished frame ends the recorder's linger at once (else
        # FINISHED_LINGER_S, 2 s of the real clock).
        await peer.accept()
        await peer.read_auth()
        await peer.frames()
        await peer.text(heartbeat_text(0))
        await peer.until_client_leaves()

    upstream = Upstream([oversized, then_a_heartbeat], gap_s=0.01)
    result, _ = await _record(tmp_path, upstream, stop_after_s=60)
    _assert_every_frame_once(result)
    _, records = read(result.path)
    first_close = next(r for r in records if isinstance(r, Close))
    assert (first_close.code, first_close.by) == (1009, "client")


async def test_a_frame_that_claims_to_be_endless_is_cut_by_the_watchdog(
    tmp_path: Path, autojump_clock: object
) -> None:
    async def endless(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        await peer.frames(2)
        # A text frame header announcing 2**62 bytes, then a few of them, then silence.
        await peer.stream.send_all(b"\x81\x7f" + (2**62).to_bytes(8, "big") + b"zzz")
        await trio.sleep_forever()

    result, log = await _record(tmp_path, Upstream([endless]))
    _assert_every_frame_once(result)
    assert "no message for 30 s" in log


# --- handshakes that never end or go wrong -----------------------------------------------


async def never_answers(peer: Peer) -> None:
    await peer.read_request()
    await trio.sleep_forever()


async def trickles_the_response(peer: Peer) -> None:
    await peer.read_request()
    for byte in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Slow: " + b"z" * 1000:
        await peer.stream.send_all(bytes([byte]))
        await trio.sleep(0.5)


async def answers_garbage(peer: Peer) -> None:
    await peer.read_request()
    await peer.stream.send_all(b"\x00\x01garbage, not HTTP\r\n\r\n")
    await trio.sleep_forever()


async def answers_200(peer: Peer) -> None:
    await peer.read_request()
    await peer.stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await trio.sleep_forever()


async def answers_503_with_a_huge_body(peer: Peer) -> None:
    await peer.read_request()
    await peer.stream.send_all(peer.ws.send(RejectConnection(status_code=503, has_body=True)))
    await peer.stream.send_all(peer.ws.send(RejectData(data=b"busy " * 200_000)))


async def accepts_then_garbage(peer: Peer) -> None:
    await peer.accept()
    await peer.read_auth()
    await peer.frames(1)
    await peer.stream.send_all(b"\x0f\x0f\x0f\x0f not websocket framing")
    await trio.sleep_forever()


HANDSHAKES: Final[list[Behaviour]] = [
    never_answers,
    trickles_the_response,
    answers_garbage,
    answers_200,
    answers_503_with_a_huge_body,
    accepts_then_garbage,
]


@pytest.mark.parametrize("behaviour", HANDSHAKES, ids=[b.__name__ for b in HANDSHAKES])
async def test_broken_handshakes_are_retried_with_backoff(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, behaviour: Behaviour
) -> None:
    if behaviour is answers_503_with_a_huge_body:
        # A megabyte crosses loopback while every task waits on its socket; on a busy
        # machine the kernel can take a moment to deliver it, and a clock that jumps the
        # moment all tasks wait would end the handshake's timeout meanwhile (once in ~20
        # runs under load): time moves only after 50 ms of real idleness here.
        autojump_clock.autojump_threshold = 0.05
    upstream = Upstream([behaviour, behaviour])
    start = trio.current_time()
    result, log = await _record(tmp_path, upstream)
    _assert_every_frame_once(result)
    assert result.attempts == 3
    _, records = read(result.path)
    assert result.connections == len([r for r in records if isinstance(r, Open)])  # those opened
    assert result.connections == (3 if behaviour is accepts_then_garbage else 1)
    if behaviour in (never_answers, trickles_the_response):
        # Each stalled attempt is given up after the handshake timeout, not later.
        assert trio.current_time() - start < 2 * (HANDSHAKE_TIMEOUT_S + 5) + COUNT
        assert f"no handshake within {HANDSHAKE_TIMEOUT_S:g} s" in log
    if behaviour is answers_503_with_a_huge_body:
        errors = [r for r in records if isinstance(r, Error)]
        assert [e.status for e in errors] == [503, 503]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_permanent_refusals_stop_without_retrying(
    tmp_path: Path, autojump_clock: object, status: int
) -> None:
    async def refuses(peer: Peer) -> None:
        await peer.read_request()
        body = json.dumps({"error": "no", "status": status, "echo": TOKEN}).encode()
        await peer.stream.send_all(
            peer.ws.send(
                RejectConnection(
                    status_code=status, headers=[(b"content-length", str(len(body)).encode())], has_body=True
                )
            )
        )
        await peer.stream.send_all(peer.ws.send(RejectData(data=body)))

    upstream = Upstream([refuses] * 5)
    result, log = await _record(tmp_path, upstream)
    await trio.sleep(120)
    assert upstream.connections == 1
    assert result.outcome == "failed" and str(status) in result.detail
    assert TOKEN not in log and TOKEN not in result.detail  # an echoed token is scrubbed
    assert TOKEN.encode() not in Path(result.path).read_bytes()


async def test_an_auth_error_frame_stops_and_other_error_frames_retry(
    tmp_path: Path, autojump_clock: object
) -> None:
    async def error_frame(status: int) -> Behaviour:
        async def behaviour(peer: Peer) -> None:
            await peer.accept()
            await peer.read_auth()
            await peer.frames(2)
            await peer.text(json.dumps({"error": "nope", "status": status}))
            await peer.until_client_leaves()

        return behaviour

    upstream = Upstream([await error_frame(503), await error_frame(401)])
    result, _ = await _record(tmp_path, upstream)
    assert upstream.connections == 2
    assert result.outcome == "failed" and "401" in result.detail
    _, records = read(result.path)
    # Every good frame kept: 1, 2, then 2 again (the resume's one frame of overlap, dropped) and 3.
    assert [f.data for f in frames_of(records)] == FRAMES[:3]


# --- what counts as a data frame, what advances startPosition, what is a resend -------------

STATUS_FRAME: Final = json.dumps({"seqNum": None, "fixtureId": FIXTURE, "type": "status"})
JUNK_3: Final = json.dumps({"seqNum": 3, "fixtureId": FIXTURE})


def frames_junk_then_cut(k: int, junk: Sequence[str], after: int = 0) -> Behaviour:
    """Frames 1..k with `junk` texts sent after frame `after` (0: before the first), then FIN."""

    async def behaviour(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        for i in range(peer.start_position, k):
            if i == after:
                for text in junk:
                    await peer.text(text)
            await trio.sleep(peer.gap_s)
            await peer.text(FRAMES[i])
        if after == k:
            for text in junk:
                await peer.text(text)

    return behaviour


async def test_a_frame_with_a_null_seqnum_is_not_a_data_frame_and_no_frame_is_skipped(
    tmp_path: Path, autojump_clock: object
) -> None:
    # Two frames, three status messages shaped almost like data frames, a drop. Counted as
    # data frames they would put startPosition 3 ahead: frames 3..5 never asked for.
    upstream = Upstream([frames_junk_then_cut(2, [STATUS_FRAME] * 3, after=1)])
    result, _ = await _record(tmp_path, upstream)
    _assert_every_frame_once(result)
    assert upstream.start_positions[1] == 1  # two frames held, one of overlap
    _, records = read(result.path)
    assert [r.data for r in records if isinstance(r, Heartbeat)] == [STATUS_FRAME] * 3


async def test_junk_under_a_seqnum_does_not_make_the_real_frame_a_duplicate(
    tmp_path: Path, autojump_clock: object
) -> None:
    # {"seqNum": 3, "fixtureId": ID} is a data frame by the rule and is kept; the real frame
    # 3 after it differs, so it is not provably a resend and is kept too. The position
    # counts seqNums, so the resume after the drop still asks for frame 4 (overlap).
    upstream = Upstream([frames_junk_then_cut(4, [JUNK_3], after=2)])
    result, _ = await _record(tmp_path, upstream)
    assert result.complete and result.duplicates == 1  # frame 4, the resume's overlap
    _, records = read(result.path)
    assert [f.data for f in frames_of(records)] == [*FRAMES[:2], JUNK_3, *FRAMES[2:]]
    assert upstream.start_positions[:2] == [0, 3]


async def test_a_server_resuming_past_our_position_is_caught_and_refilled_from_the_start(
    tmp_path: Path, autojump_clock: object
) -> None:
    # A junk frame with a seqNum the match never has counts as a position the server never
    # had: the resume (startPosition 2, expecting frame 2 again) gets frame 3, a new one,
    # which proves the server resumed past us. The recorder starts over from 0 and the
    # resends fill whatever may have been skipped.
    junk = json.dumps({"seqNum": 99, "fixtureId": FIXTURE})
    upstream = Upstream([frames_junk_then_cut(2, [junk], after=2)])
    result, log = await _record(tmp_path, upstream)
    assert result.complete and not result.possible_gaps
    assert upstream.start_positions[:3] == [0, 2, 0]
    _, records = read(result.path)
    assert [f.data for f in frames_of(records)] == [*FRAMES[:2], junk, *FRAMES[2:]]
    assert "resumed past our position" in log


async def test_a_skip_that_cannot_be_refilled_fails_the_fixture_and_says_so(
    tmp_path: Path, autojump_clock: object
) -> None:
    # The server resumes past us, then refuses the resend from the start for good.
    async def refuse(peer: Peer) -> None:
        await peer.read_request()
        await peer.stream.send_all(peer.ws.send(RejectConnection(status_code=403)))

    junk = json.dumps({"seqNum": 99, "fixtureId": FIXTURE})
    upstream = Upstream([frames_junk_then_cut(2, [junk], after=2), frames_junk_then_cut(3, []), refuse])
    result, log = await _record(tmp_path, upstream)
    assert not result.complete
    assert result.possible_gaps and "startPosition 2" in result.possible_gaps[0]
    assert "frames may be missing" in log


# --- the token never reaches a capture ------------------------------------------------------


async def test_a_server_echoing_the_token_leaves_no_trace_of_it_in_the_capture(
    tmp_path: Path, autojump_clock: object
) -> None:
    echoes = [
        json.dumps({"error": f"token {TOKEN} has expired"}),
        f"hello {TOKEN}",
        FRAMES[0].replace('"version"', f'"echo":"{TOKEN}","version"'),  # a data frame with it
    ]

    async def echoing(peer: Peer) -> None:
        await peer.accept()
        await peer.read_auth()
        for text in echoes:
            await peer.text(text)
        await peer.stream.send_all(peer.ws.send(WsBytes(data=f"bin {TOKEN}".encode())))
        await peer.stream.send_all(peer.ws.send(CloseConnection(code=1011, reason=f"bye {TOKEN}")))
        await peer.until_client_leaves()

    async def rejecting(peer: Peer) -> None:
        await peer.read_request()
        body = RejectData(data=f"bad token {TOKEN}".encode())
        await peer.stream.send_all(
            peer.ws.send(RejectConnection(status_code=503, has_body=True)) + peer.ws.send(body)
        )

    upstream = Upstream([echoing, rejecting])
    result, log = await _record(tmp_path, upstream)
    assert result.complete
    raw = zstandard.ZstdDecompressor().stream_reader(Path(result.path).read_bytes()).read()
    assert TOKEN.encode() not in raw and TOKEN not in log
    _, records = read(result.path)
    redacted = [r for r in records if getattr(r, "redacted", False)]
    # 2 heartbeats, the data frame, the binary message, the close, the rejected handshake.
    assert [type(r).__name__ for r in redacted] == [
        "Heartbeat",
        "Heartbeat",
        "Frame",
        "Binary",
        "Close",
        "Error",
    ]
    assert [r.data for r in redacted[:2]] == [e.replace(TOKEN, REDACTED) for e in echoes[:2]]
    # Nothing else is marked: the record says exactly which texts are not byte-exact.
    assert all(TOKEN not in str(r) for r in records)
    for args in (["info", "--json", result.path], ["info", result.path]):
        out = CliRunner().invoke(cli, args)
        assert out.exit_code == 0, out.output
        if "--json" in args:
            assert json.loads(out.output)["redacted"] == 6
        else:
            assert "redacted    6 records" in out.output


# --- the connection-rate limit, counted where it matters: at the server -----------------------


async def test_no_second_holds_more_than_five_handshakes_as_the_server_sees_them(
    tmp_path: Path, autojump_clock: object
) -> None:
    # A busy server: the first requests wait 0.6 s in its queue before it reads them, then
    # every handshake is refused with 503 (worth a retry). Ten fixtures hammer it. Spaced on
    # the recorder's clock alone, the retries at 1.0 s land next to the queued five.
    seen: list[float] = []

    async def queued_then_503(stream: trio.SocketStream) -> None:
        peer = Peer(stream)
        try:
            if len(seen) < 5:
                await trio.sleep(0.6)
            await peer.read_request()
            seen.append(trio.current_time())
            await stream.send_all(peer.ws.send(RejectConnection(status_code=503)))
        except trio.BrokenResourceError:
            pass
        finally:
            await trio.aclose_forcefully(stream)

    fixtures = [f"{i:08d}-86fa-4f0b-abcc-30cbef80dacc" for i in range(10)]
    stop = Stop()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(partial(trio.serve_tcp, queued_then_503, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            start = trio.current_time()

            async def stop_later() -> None:
                await trio.sleep(6)
                stop.request()

            nursery.start_soon(stop_later)
            await record(
                fixtures,
                Token(TOKEN),
                out=tmp_path / "out",
                options=RecordOptions(base_url=f"ws://127.0.0.1:{port}", seed=1),
                stop=stop,
                reporter=PlainReporter(io.StringIO()),
            )
            nursery.cancel_scope.cancel()
    assert len(seen) >= 15  # the limit slowed the recorder down, it did not stall it
    times = sorted(t - start for t in seen)
    crowded = [(a, b) for a, b in zip(times, times[5:], strict=False) if b - a <= 1.0]
    assert not crowded, f"6 handshakes within a second at the server: {crowded[:3]}"


async def test_the_record_command_says_frames_may_be_missing_and_exits_1(tmp_path: Path) -> None:
    # The same unrepaired skip through `ttrec record` itself (real clock: short backoffs).
    async def refuse(peer: Peer) -> None:
        await peer.read_request()
        await peer.stream.send_all(peer.ws.send(RejectConnection(status_code=403)))

    junk = json.dumps({"seqNum": 99, "fixtureId": FIXTURE})
    behaviours = [frames_junk_then_cut(2, [junk], after=2), frames_junk_then_cut(3, []), refuse]
    upstream = Upstream(behaviours, gap_s=0.01)
    out = tmp_path / "m.jsonl.zst"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(partial(trio.serve_tcp, upstream.handler, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            base = f"ws://127.0.0.1:{port}"
            done = await trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "ttrec",
                    "record",
                    FIXTURE,
                    "--base-url",
                    base,
                    "--out",
                    str(out),
                    "--token",
                    TOKEN,
                ],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            nursery.cancel_scope.cancel()
    assert done.returncode == 1
    stderr = done.stderr.decode()
    last = stderr.splitlines()[-1]
    # Numbered as the log numbers it: the second connection (its records' conn is 1).
    assert last.startswith(f"{FIXTURE}: frames may be missing: connection 2 resumed at startPosition 2")
    assert f"{FIXTURE} connected (connection 2) at startPosition 2" in stderr
