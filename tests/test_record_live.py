"""`ttrec record --live` against the mock over loopback: the real fixtures API of `serve`
(staggered), and a scripted hostile API (500s, 401, malformed JSON, slow answers, pages that
change between calls) in front of the real websocket mock.

Loopback only, port 0, trio's MockClock (`autojump_clock`), every wait under `trio.fail_after`.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Final

import h11
import pytest
import trio
from recorder_support import frames_of, read, replayer, write_match
from replayer_support import FIXTURE, OTHER_FIXTURE
from test_rest import write_actions

from recorder.live import LiveRecorder, LiveSummary, api_client
from recorder.live_options import LiveOptions
from recorder.policy import Backoff
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.stop import Stop
from replayer import ServeOptions, ServerHandle
from replayer.rest import listings_of, serve_api_tcp
from ttrec.capture import CaptureReader
from ttrec.records import Close
from ttrec.shards import Shard

TOKEN: Final = "live-secret-token-1234"
FRAMES: Final = 12
STEP_S: Final = 1.0
THIRD: Final = "6a1b2c3d-0000-4000-8000-00000000ff02"
FAST_BACKOFF: Final = Backoff(initial_s=0.5, factor=2.0, cap_s=4.0)


def capture_set(tmp_path: Path) -> list[Path]:
    src = tmp_path / "served"
    src.mkdir()
    return [
        write_match(src / "a.jsonl.zst", FRAMES, FIXTURE, step_s=STEP_S),
        write_actions(src / "a-actions.jsonl.zst", FIXTURE, 5),
        write_match(src / "b.jsonl.zst", FRAMES, OTHER_FIXTURE, step_s=STEP_S),
        write_match(src / "c.jsonl.zst", FRAMES, THIRD, step_s=STEP_S),
    ]


def captured(out: Path) -> dict[tuple[str, str], list[str]]:
    """(fixture, feed) -> the data frames of its capture; a second capture of one is an error."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(out.iterdir()):
        reader, records = read(path)
        key = (reader.header.fixture_id, reader.header.feed)
        assert key not in found, f"{key} recorded twice"
        found[key] = [f.data for f in frames_of(records)]
    return found


def served_frames(path: Path) -> list[str]:
    with CaptureReader(path) as reader:
        return [f.data for f in frames_of(list(reader))]


def live_options(api_url: str, **kwargs: object) -> LiveOptions:
    defaults: dict[str, object] = {"poll_s": 5.0, "until_idle": True, "backoff": FAST_BACKOFF}
    defaults.update(kwargs)
    return LiveOptions(api_url, **defaults)  # type: ignore[arg-type]


async def run_live(
    handle: ServerHandle, live: LiveOptions, out: Path, log: io.StringIO, stop: Stop | None = None
) -> tuple[LiveSummary, LiveRecorder]:
    options = RecordOptions(base_url=handle.url, seed=1, heartbeat_interval_s=10.0)
    async with api_client(live) as http:
        recorder = LiveRecorder(
            Token(TOKEN), out=out, options=options, live=live, http=http, stop=stop, log=log
        )
        return await recorder.run(), recorder


async def test_records_a_staggered_day_until_idle(tmp_path: Path, autojump_clock: object) -> None:
    captures = capture_set(tmp_path)
    out, log = tmp_path / "out", io.StringIO()
    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, trio.open_nursery() as nursery:
            listings = listings_of(handle.served, stagger_s=60.0, speed=1.0)
            api = await nursery.start(
                lambda task_status: serve_api_tcp(listings, frozenset(), task_status=task_status)
            )
            # The recorder starts late: the first fixture has been live for a while.
            await trio.sleep(4.0)
            live = live_options(api.url, feeds=("statistics", "actions"))
            summary, recorder = await run_live(handle, live, out, log)
            nursery.cancel_scope.cancel()
    assert summary.refused is None, log.getvalue()
    assert (summary.finished, summary.failed, summary.stopped) == (4, 2, 0), log.getvalue()
    got = captured(out)
    expected = {
        (FIXTURE, "statistics"): served_frames(captures[0]),
        (FIXTURE, "actions"): served_frames(captures[1]),
        (OTHER_FIXTURE, "statistics"): served_frames(captures[2]),
        (THIRD, "statistics"): served_frames(captures[3]),
        # No actions are served for these two: refused (404), an empty capture each says so.
        (OTHER_FIXTURE, "actions"): [],
        (THIRD, "actions"): [],
    }
    # Every frame of every fixture, from the start, once (the first from startPosition 0).
    assert got == expected
    assert not any(path.stat().st_mode & 0o222 for path in out.iterdir())  # closed: read-only
    assert recorder._recording == {} and recorder._ended_but_listed == set()
    assert TOKEN not in log.getvalue()
    assert "fixtures 1 live" in log.getvalue()
    # The status line counts fixtures, as /metrics' ttrec_fixtures does, not captures (6 here):
    # FIXTURE has both feeds recorded, the two others each a refused actions feed.
    *_, last = (line for line in log.getvalue().splitlines() if " fixtures " in line)
    assert last.endswith(" fixtures 0 live, 0 scheduled, 0 recording, 1 done, 2 failed"), last
    snap = recorder.snapshot()
    assert (snap.fixtures.done, snap.fixtures.failed) == (1, 2)
    # Six attempts, one per capture; the two refused actions feeds (404) never opened.
    assert (snap.attempts, snap.connections, snap.reconnects) == (6, 4, 0)


async def test_type_and_coverage_filters(tmp_path: Path, autojump_clock: object) -> None:
    captures = capture_set(tmp_path)
    out, log = tmp_path / "out", io.StringIO()
    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, trio.open_nursery() as nursery:
            listings = listings_of(handle.served, stagger_s=0.0, speed=1.0)
            api = await nursery.start(
                lambda task_status: serve_api_tcp(listings, frozenset(), task_status=task_status)
            )
            simulated = live_options(api.url, type="simulation")
            none, _ = await run_live(handle, simulated, out, log)
            streamed = live_options(api.url, coverage="standardStream")
            also_none, _ = await run_live(handle, streamed, out, log)
            nursery.cancel_scope.cancel()
    assert none.recorded == 0 and also_none.recorded == 0  # the captures are official, in venue
    assert not out.exists() or not any(out.iterdir())


# -- a scripted, hostile API in front of the real websocket mock

# (request number, query) -> (status, body[, delay[, "stall-body"]]): the delay comes before the
# answer, or with "stall-body" after its head and the first half of its body.
Script = Callable[[int, str], Sequence[object]]


@asynccontextmanager
async def hostile_api(script: Script) -> AsyncIterator[tuple[str, list[tuple[float, str, str]]]]:
    """An HTTP server answering as `script` says; yields its URL and a log of
    (time, query, authorization header) per request."""
    seen: list[tuple[float, str, str]] = []

    async def handler(stream: trio.abc.Stream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some())
                    continue
                if not isinstance(event, h11.Request):
                    if isinstance(event, h11.ConnectionClosed):
                        return
                    continue
                while not isinstance(conn.next_event(), h11.EndOfMessage):
                    conn.receive_data(await stream.receive_some())
                query = event.target.decode().partition("?")[2]
                auth = dict(event.headers).get(b"authorization", b"").decode()
                seen.append((trio.current_time(), query, auth))
                status, body, *slow = script(len(seen) - 1, query)
                delay = float(slow[0]) if slow else 0.0  # type: ignore[arg-type]
                stall = slow[1:] == ["stall-body"]  # the head and half the body, then the delay
                if delay and not stall:
                    await trio.sleep(delay)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers = [
                    (b"Content-Type", b"application/json"),
                    (b"Content-Length", str(len(data)).encode()),
                ]
                head = conn.send(h11.Response(status_code=int(status), headers=headers))  # type: ignore[call-overload]
                if stall:
                    await stream.send_all(head + conn.send(h11.Data(data=data[: len(data) // 2])))
                    await trio.sleep(delay)
                    await stream.send_all(
                        conn.send(h11.Data(data=data[len(data) // 2 :])) + conn.send(h11.EndOfMessage())
                    )
                else:
                    await stream.send_all(
                        head + conn.send(h11.Data(data=data)) + conn.send(h11.EndOfMessage())
                    )
                conn.start_next_cycle()
        except (trio.BrokenResourceError, h11.ProtocolError):
            return

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}", seen
        nursery.cancel_scope.cancel()


def entry(fixture: str, status: str = "Live", type: str = "Official") -> dict[str, object]:
    return {"id": fixture, "status": status, "type": type, "coverageLevel": "In Venue", "name": "A v B"}


async def test_outages_are_retried_and_logged_once_per_state_change(
    tmp_path: Path, autojump_clock: object
) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()

    def script(n: int, query: str) -> Sequence[object]:
        if n < 3:
            return (500, {"error": "boom", "status": 500})
        if n < 5:
            return (200, b"[{not json")
        if n == 5:
            return (200, [], 60.0)  # slower than the request timeout
        if n == 6:
            return (503, b"")
        live = n < 12 and "status=live" in query
        return (200, [entry(FIXTURE)] if live else [])

    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, seen):
            summary, _ = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1 and summary.failed == 0, text
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert text.count("HTTP 500") == 1, text  # three failures in a row, one line
    assert text.count("a bad answer") == 1
    assert text.count("no answer within") == 1, text
    assert text.count("HTTP 503") == 1
    assert text.count("answering again") == 1
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in seen)
    assert TOKEN not in text
    times = [t for t, _, _ in seen]
    assert all(later - earlier > 1.0 for earlier, later in zip(times, times[5:], strict=False))


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_stops_everything_cleanly(
    tmp_path: Path, status: int, autojump_clock: object
) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()

    def script(n: int, query: str) -> Sequence[object]:
        if n < 3:  # a fixture is being recorded when the token is withdrawn
            return (200, [entry(FIXTURE)] if "status=live" in query else [])
        return (status, {"error": f"The supplied authentication is invalid {TOKEN}", "status": status})

    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, _):
            summary, _ = await run_live(handle, live_options(url, poll_s=3.0), out, log)
    assert summary.refused is not None and summary.refused.status == status
    assert TOKEN not in summary.refused.detail and TOKEN not in log.getvalue()
    assert summary.stopped == 1 and summary.finished == 0
    (path,) = out.iterdir()
    reader, records = read(path)
    assert not reader.torn_tail and reader.damage is None
    assert isinstance(records[-1], Close)  # the connection was closed and recorded as such
    assert 0 < len(frames_of(records)) < FRAMES  # closed cleanly part way


async def test_pages_that_change_between_calls(tmp_path: Path, autojump_clock: object) -> None:
    captures = capture_set(tmp_path)
    out, log = tmp_path / "out", io.StringIO()
    others = [f"6a1b2c3d-0000-4000-8000-{n:012x}" for n in range(99)]

    def script(n: int, query: str) -> Sequence[object]:
        if "status=live" not in query or n > 8:
            return (200, [])
        if "page=0" in query:  # a full page, then the list shifts by one before page 1
            return (200, [entry(f, type="Training") for f in others] + [entry(FIXTURE)])
        return (200, [entry(FIXTURE), entry(OTHER_FIXTURE), {"id": THIRD, "status": "Scheduled"}])

    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, _):
            summary, _ = await run_live(handle, live_options(url, type="official"), out, log)
    # FIXTURE once although listed twice; the training fixtures filtered here though the
    # server ignored the filter; THIRD was never live.
    assert sorted(captured(out)) == [(FIXTURE, "statistics"), (OTHER_FIXTURE, "statistics")]
    assert summary.finished == 2


async def test_sigterm_like_stop_closes_every_capture(tmp_path: Path, autojump_clock: object) -> None:
    captures = capture_set(tmp_path)
    out, log = tmp_path / "out", io.StringIO()
    stop = Stop()

    def script(n: int, query: str) -> Sequence[object]:
        return (200, [entry(FIXTURE), entry(OTHER_FIXTURE)] if "status=live" in query else [])

    async def stop_later() -> None:
        await trio.sleep(5.0)
        stop.request()

    with trio.fail_after(3600):
        async with (
            replayer(captures, ServeOptions(speed=1.0)) as handle,
            hostile_api(script) as (url, _),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(stop_later)
            summary, recorder = await run_live(handle, live_options(url, until_idle=False), out, log, stop)
    assert summary.stopped == 2 and summary.failed == 0
    assert recorder._recording == {}
    for frames in captured(out).values():
        assert 0 < len(frames) < FRAMES
    for path in out.iterdir():
        reader, records = read(path)
        assert not reader.torn_tail and isinstance(records[-1], Close)


async def test_three_shards_two_replicas_record_every_fixture_twice(
    tmp_path: Path, autojump_clock: object
) -> None:
    captures = [c for c in capture_set(tmp_path) if "actions" not in c.name]
    outs = [tmp_path / f"shard{i}" for i in range(3)]
    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, trio.open_nursery() as nursery:
            listings = listings_of(handle.served, stagger_s=30.0, speed=1.0)
            api = await nursery.start(
                lambda task_status: serve_api_tcp(listings, frozenset(), task_status=task_status)
            )
            summaries: list[LiveSummary] = []

            async def shard(i: int) -> None:
                live = live_options(api.url, shard=Shard(i, 3, replicas=2))
                summaries.append((await run_live(handle, live, outs[i], io.StringIO()))[0])

            async with trio.open_nursery() as recorders:
                for i in range(3):
                    recorders.start_soon(shard, i)
            nursery.cancel_scope.cancel()
    copies: dict[str, int] = {}
    for out in outs:
        for (fixture, _), frames in (captured(out) if out.exists() else {}).items():
            assert frames == served_frames(captures[[FIXTURE, OTHER_FIXTURE, THIRD].index(fixture)])
            copies[fixture] = copies.get(fixture, 0) + 1
    assert copies == {FIXTURE: 2, OTHER_FIXTURE: 2, THIRD: 2}, (copies, summaries)
    assert sum(s.finished for s in summaries) == 6 and all(s.failed == 0 for s in summaries)
