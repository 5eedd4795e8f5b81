"""Reconnects without gaps or duplicates, permanent refusals without retries, the watchdog,
the process-wide attempt limit and a polite stop.

Against the replayer over loopback where it can produce the situation (drops, closes,
refusals), and through the injected `connect` with scripted sockets where it cannot yet
(a server that stalls, or ignores startPosition).
Rules: loopback only, port 0, `autojump_clock` for anything timed, `trio.fail_after` on
every network test.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trio
import trio.testing
from recorder_support import (
    FIXTURE,
    FIXTURE_2,
    TOKEN,
    documented_backoff_ceiling_s,
    frames_of,
    match_frames,
    read,
    record_from,
    replayer,
    write_match,
)
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    open_websocket_url,
)

from recorder.connection import Socket
from recorder.policy import Backoff
from recorder.run import record
from recorder.secret import Token
from recorder.session import FixtureResult, RecordOptions
from recorder.status import PlainReporter
from recorder.stop import Stop
from replayer import ServeOptions
from ttrec.capture import CaptureReader
from ttrec.faults import parse_fault
from ttrec.feed import AUTH_INVALID_FRAME, seq_num
from ttrec.records import Close, Error, Frame, Heartbeat, Open


def _seqs(frames: Sequence[Frame]) -> list[int | None]:
    return [seq_num(f.data) for f in frames]


# --- against the replayer ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        "drop:after=7,times=always",
        "close:after=7,times=always,code=1011",
        "close:after=7,times=always,code=1000",
    ],
)
async def test_server_ending_the_connection_mid_match_loses_and_duplicates_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, fault: str
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 30, step_s=1.0)
    options = ServeOptions(speed=1.0, faults=(parse_fault(fault),))
    with trio.fail_after(600):
        async with replayer([source], options) as handle:
            [result] = await record_from(handle, [FIXTURE], tmp_path / "out")
            reports = list(handle.connections)
    assert result.outcome == "finished" and result.complete
    # 30 frames, 7 per connection, each resume repeating one (startPosition = held - 1):
    # 7 + 6 + 6 + 6 + 5 new frames, 5 connections, the last one ends with finished:true.
    assert result.connections == 5 == len(reports)
    assert [r.start_position for r in reports] == [0, 6, 12, 18, 24]
    assert result.duplicates == 4

    _, records = read(result.path)
    assert _seqs(frames_of(records)) == list(range(1, 31))  # every seqNum exactly once, in order
    opens = [r for r in records if isinstance(r, Open)]
    assert [(o.conn, o.start_position) for o in opens] == [(0, 0), (1, 6), (2, 12), (3, 18), (4, 24)]
    assert all(f"startPosition={o.start_position}" in o.url for o in opens[1:])
    closes = [r for r in records if isinstance(r, Close)]
    expected_by = "network" if fault.startswith("drop") else "server"
    assert [c.by for c in closes] == [expected_by] * 4 + ["client"]
    if fault.startswith("close"):
        assert {c.code for c in closes[:4]} == {int(fault.rsplit("=", 1)[1])}
    current = -1
    for record_ in records:
        if isinstance(record_, Open):
            current += 1
        assert record_.conn == current


async def test_wrong_token_stops_at_once_and_never_retries(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 10)
    log = io.StringIO()
    with trio.fail_after(300):
        async with replayer([source], ServeOptions(tokens=frozenset({"the-right-one"}))) as handle:
            start = trio.current_time()
            [result] = await record_from(handle, [FIXTURE], tmp_path / "out", log=log)
            elapsed = trio.current_time() - start
            await trio.sleep(60)  # long enough for any retry to show up
            reports = list(handle.connections)
    assert result.outcome == "failed" and not result.complete
    assert result.connections == 1 and len(reports) == 1
    assert elapsed < 1.0
    assert "401" in result.detail and "will not retry" in result.detail
    _, records = read(result.path)
    heartbeats = [r for r in records if isinstance(r, Heartbeat)]
    assert [h.data for h in heartbeats] == [AUTH_INVALID_FRAME]  # kept, as every text frame
    assert not frames_of(records)
    assert TOKEN not in log.getvalue()


@pytest.mark.parametrize("status", [404, 400])
async def test_handshake_refusals_stop_at_once_and_never_retry(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, status: int
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 10)

    def without_accept(url: str) -> AbstractAsyncContextManager[Socket]:
        result: AbstractAsyncContextManager[Socket] = open_websocket_url(url)
        return result

    with trio.fail_after(300):
        async with replayer([source], ServeOptions()) as handle:
            options = RecordOptions(base_url=handle.url, seed=1)
            fixture = FIXTURE_2 if status == 404 else FIXTURE  # FIXTURE_2 is not served
            [result] = await record(
                [fixture],
                Token(TOKEN),
                out=tmp_path / "out",
                options=options,
                connect=without_accept if status == 400 else _real_connect(),
                reporter=PlainReporter(io.StringIO()),
            )
            await trio.sleep(60)
            reports = list(handle.connections)
    assert result.outcome == "failed" and str(status) in result.detail
    assert [r.code for r in reports] == [status]
    _, records = read(result.path)
    [error] = [r for r in records if isinstance(r, Error)]
    assert error.status == status and error.body
    if status == 400:
        assert "Accept" in error.body


def _real_connect() -> Callable[[str], AbstractAsyncContextManager[Socket]]:
    from recorder.connection import websocket_connect

    return websocket_connect


async def test_stop_closes_connections_and_files_cleanly(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a = write_match(tmp_path / "a.jsonl.zst", 50, FIXTURE, step_s=1.0)
    b = write_match(tmp_path / "b.jsonl.zst", 50, FIXTURE_2, step_s=1.0)
    stop = Stop()
    with trio.fail_after(300):
        async with replayer([a, b], ServeOptions(speed=1.0)) as handle, trio.open_nursery() as nursery:
            nursery.start_soon(_request_after, stop, 20.0)
            results = await record(
                [FIXTURE, FIXTURE_2],
                Token(TOKEN),
                out=tmp_path / "out",
                options=RecordOptions(base_url=handle.url, seed=1),
                stop=stop,
                reporter=PlainReporter(io.StringIO()),
            )
    for result in results:
        assert result.outcome == "stopped" and not result.complete
        assert 5 < result.frames < 50
        reader, records = read(result.path)
        assert not reader.torn_tail  # closed, not killed
        last = records[-1]
        assert isinstance(last, Close) and (last.by, last.code) == ("client", 1001)
        assert _seqs(frames_of(records)) == list(range(1, result.frames + 1))


async def _request_after(stop: Stop, seconds: float) -> None:
    await trio.sleep(seconds)
    stop.request()


# --- scripted sockets through the injected `connect` --------------------------------------


class ScriptedSocket:
    """Delivers (delay_s, message) pairs, then hangs, drops, or closes with a code."""

    def __init__(
        self, script: Sequence[tuple[float, str | bytes]], then: str | int | CloseReason = "drop"
    ) -> None:
        self._script = list(script)
        self._then = then
        self.sent: list[str | bytes] = []
        self.closed_with: tuple[int, str | None] | None = None

    async def get_message(self) -> str | bytes:
        if self._script:
            delay, message = self._script.pop(0)
            await trio.sleep(delay)
            return message
        if self._then == "hang":
            await trio.sleep_forever()
        if isinstance(self._then, CloseReason):
            raise ConnectionClosed(self._then)
        code = 1006 if self._then == "drop" else int(self._then)
        raise ConnectionClosed(CloseReason(code, None))

    async def send_message(self, message: str | bytes) -> None:
        self.sent.append(message)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = (code, reason)


class ScriptedServer:
    """`connect` for the recorder: each attempt takes the next socket or exception."""

    def __init__(self, attempts: Sequence[ScriptedSocket | BaseException]) -> None:
        self._attempts = list(attempts)
        self.urls: list[str] = []
        self.times: list[float] = []

    def __call__(self, url: str) -> AbstractAsyncContextManager[Socket]:
        return self._connect(url)

    @asynccontextmanager
    async def _connect(self, url: str) -> AsyncIterator[Socket]:
        self.urls.append(url)
        self.times.append(trio.current_time())
        await trio.sleep(0)
        attempt = self._attempts.pop(0) if self._attempts else HandshakeError("no more scripted attempts")
        if isinstance(attempt, BaseException):
            raise attempt
        yield attempt


async def _record_scripted(
    tmp_path: Path, server: ScriptedServer, *, heartbeat_interval_s: float = 10.0
) -> list[FixtureResult]:
    opts = RecordOptions(base_url="ws://scripted.invalid", seed=1, heartbeat_interval_s=heartbeat_interval_s)
    with trio.fail_after(3600):
        results = await record(
            [FIXTURE],
            Token(TOKEN),
            out=tmp_path / "out",
            options=opts,
            connect=server,
            reporter=PlainReporter(io.StringIO()),
        )
    return list(results)


async def test_watchdog_reconnects_a_silent_connection_and_resumes(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frames = match_frames(6)
    stalled = ScriptedSocket([(1.0, frames[0]), (1.0, frames[1])], then="hang")
    # The reconnect asks for one frame of overlap (startPosition 1): frame 2 comes again.
    rest = ScriptedSocket([(1.0, f) for f in frames[1:]])
    server = ScriptedServer([stalled, rest])
    [result] = await _record_scripted(tmp_path, server, heartbeat_interval_s=10.0)
    assert result.outcome == "finished"
    assert stalled.closed_with is not None and stalled.closed_with[0] == 1000
    assert parse_qs(urlsplit(server.urls[1]).query) == {"startPosition": ["1"]}
    # The watchdog fired 3 heartbeat intervals after the last message, and the reconnect
    # came after one short backoff.
    assert 32.0 <= server.times[1] <= 32.0 + Backoff().initial_s
    _, records = read(result.path)
    assert [f.data for f in frames_of(records)] == frames
    close = next(r for r in records if isinstance(r, Close))
    assert (close.by, close.t // 1_000_000_000) == ("client", 32)


async def test_frames_a_server_sends_again_are_dropped_by_seq_num(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frames = match_frames(8)
    first = ScriptedSocket([(0.5, f) for f in frames[:5]], then=1011)
    # A server that ignores startPosition and starts over: 5 duplicates, then 3 new frames.
    again = ScriptedSocket([(0.5, f) for f in frames])
    server = ScriptedServer([first, again])
    [result] = await _record_scripted(tmp_path, server)
    assert result.duplicates == 5 and result.frames == 8
    _, records = read(result.path)
    assert [f.data for f in frames_of(records)] == frames


async def test_binary_messages_and_heartbeats_are_kept(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frames = match_frames(2)
    hb = '{"message":"Heartbeat sent at 2025-02-20T14:47:00.517484Z","level":"INFO"}'
    server = ScriptedServer(
        [
            ScriptedSocket(
                [(0.1, hb), (0.1, b"\x00\xffbin"), (0.1, "not json"), (0.1, frames[0]), (0.1, frames[1])]
            )
        ]
    )
    [result] = await _record_scripted(tmp_path, server)
    with CaptureReader(result.path) as reader:
        kinds = [type(r).__name__ for r in reader]
    assert kinds == ["Open", "Sent", "Heartbeat", "Binary", "Heartbeat", "Frame", "Frame", "Close"]


async def test_failed_attempts_back_off_exponentially_and_retry_5xx(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frames = match_frames(3)
    failures: list[ScriptedSocket | BaseException] = [
        HandshakeError("refused"),
        ConnectionRejected(503, (), b"busy"),
        HandshakeError("refused"),
        HandshakeError("refused"),
    ]
    server = ScriptedServer([*failures, ScriptedSocket([(0.1, f) for f in frames])])
    [result] = await _record_scripted(tmp_path, server)
    assert result.outcome == "finished" and (result.attempts, result.connections) == (5, 1)
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    for n, gap in enumerate(gaps, start=1):
        ceiling = documented_backoff_ceiling_s(n)
        assert ceiling / 2 <= gap <= ceiling + 1e-6
    _, records = read(result.path)
    errors = [r for r in records if isinstance(r, Error)]
    assert [e.conn for e in errors] == [0, 1, 2, 3]
    assert errors[1].status == 503 and errors[1].body == "busy"
    assert errors[0].message and "refused" in errors[0].message


async def test_all_fixtures_together_make_at_most_5_attempts_per_second(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    fixtures = [f"{i:08x}-86fa-4f0b-abcc-30cbef80dacc" for i in range(12)]
    # Every attempt fails at once: left alone, 12 fixtures would retry in a storm.
    server = ScriptedServer([HandshakeError("refused")] * 120)
    stop = Stop()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_request_after, stop, 30.0)
        with trio.fail_after(3600):
            await record(
                fixtures,
                Token(TOKEN),
                out=tmp_path / "out",
                options=RecordOptions(
                    base_url="ws://scripted.invalid", seed=1, backoff=Backoff(0.01, 2.0, 0.02)
                ),
                connect=server,
                stop=stop,
                reporter=PlainReporter(io.StringIO()),
            )
    times = server.times
    assert len(times) >= 100  # the limiter, not the backoff, was the bottleneck
    for i, start in enumerate(times):
        assert sum(start <= t < start + 1.0 for t in times[i:]) <= 5


async def test_an_oversized_message_refused_locally_is_a_client_close_and_a_reconnect(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frames = match_frames(4)
    too_big = CloseReason(1009, "Exceeded maximum message size: 16777216 bytes")
    server = ScriptedServer(
        [ScriptedSocket([(0.1, frames[0])], then=too_big), ScriptedSocket([(0.1, f) for f in frames[1:]])]
    )
    [result] = await _record_scripted(tmp_path, server)
    assert result.outcome == "finished" and result.connections == 2
    _, records = read(result.path)
    first_close = next(r for r in records if isinstance(r, Close))
    assert (first_close.by, first_close.code) == ("client", 1009)
    assert [f.data for f in frames_of(records)] == frames
