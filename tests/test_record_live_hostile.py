"""`record --live` against more hostile fixtures APIs: slow answers (within the timeout and
beyond it, before the head or in the middle of the body), an API that hangs while fixtures
are being recorded, a page that fails in the middle of a list, and bodies that are JSON of
the wrong shape. The scripted API and the helpers are test_record_live's.

Loopback only, trio's MockClock (`autojump_clock`), every wait under `trio.fail_after`.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from recorder_support import replayer
from replayer_support import FIXTURE, OTHER_FIXTURE
from test_record_live import (
    TOKEN,
    Script,
    capture_set,
    captured,
    entry,
    hostile_api,
    live_options,
    run_live,
    served_frames,
)

from recorder.live import LiveRecorder, api_client
from recorder.live_options import REQUEST_TIMEOUT_S
from recorder.secret import Token
from recorder.session import RecordOptions
from replayer import ServeOptions, ServerHandle


@pytest.mark.parametrize("stall", [False, True])
async def test_slow_answers_within_the_timeout_are_used(
    tmp_path: Path, stall: bool, autojump_clock: object
) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()
    slow = 0.9 * REQUEST_TIMEOUT_S  # slow, but within the timeout: every answer counts

    def script(n: int, query: str) -> Sequence[object]:
        listed = [entry(FIXTURE)] if n < 6 and "status=live" in query else []
        return (200, listed, slow, "stall-body") if stall else (200, listed, slow)

    with trio.fail_after(3600):
        async with replayer_and_api(captures, script) as (handle, url, seen):
            summary, recorder = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1 and summary.failed == 0, text
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert recorder.poll_failures == 0 and "no answer" not in text and "backoff" not in text
    assert len(seen) >= 6


@pytest.mark.parametrize("stall", [False, True])
async def test_answers_beyond_the_timeout_are_failed_polls(
    tmp_path: Path, stall: bool, autojump_clock: object
) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()
    late = 3 * REQUEST_TIMEOUT_S

    def script(n: int, query: str) -> Sequence[object]:
        if n < 3:  # the head, or the head and half the body, arrive; the rest too late
            return (200, [entry(FIXTURE)], late, "stall-body") if stall else (200, [entry(FIXTURE)], late)
        return (200, [entry(FIXTURE)] if n < 8 and "status=live" in query else [])

    with trio.fail_after(3600):
        async with replayer_and_api(captures, script) as (handle, url, seen):
            summary, recorder = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1, text
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert recorder.poll_failures == 3
    assert text.count(f"no answer within {REQUEST_TIMEOUT_S:g} s") == 1, text  # once per state change
    assert text.count("answering again after 3 failed poll(s)") == 1
    # Each timed-out request was given up after the timeout, not after the server's delay.
    times = [t for t, _, _ in seen]
    assert times[1] - times[0] < late and times[2] - times[1] < late


async def test_a_hanging_api_does_not_hold_up_the_recordings(tmp_path: Path, autojump_clock: object) -> None:
    served = capture_set(tmp_path)
    captures = [served[0], served[2]]  # FIXTURE and OTHER_FIXTURE, statistics
    out, log = tmp_path / "out", io.StringIO()

    def script(n: int, query: str) -> Sequence[object]:
        if n == 0:
            return (200, [entry(FIXTURE), entry(OTHER_FIXTURE)])
        return (200, [], 10 * 3600.0)  # from then on the API never answers in time

    with trio.fail_after(3600):
        async with replayer_and_api(captures, script) as (handle, url, _), trio.open_nursery() as nursery:
            live = live_options(url, until_idle=False)
            options = RecordOptions(base_url=handle.url, seed=1, heartbeat_interval_s=10.0)
            async with api_client(live) as http:
                recorder = LiveRecorder(Token(TOKEN), out=out, options=options, live=live, http=http, log=log)

                async def stop_once_both_are_closed() -> None:
                    while recorder.summary.recorded < 2:
                        await trio.sleep(1.0)
                    recorder.stop.request()

                nursery.start_soon(stop_once_both_are_closed)
                summary = await recorder.run()
    text = log.getvalue()
    # Both matches recorded to their end while every poll was timing out.
    assert captured(out) == {
        (FIXTURE, "statistics"): served_frames(captures[0]),
        (OTHER_FIXTURE, "statistics"): served_frames(captures[1]),
    }
    assert summary.finished == 2 and summary.failed == 0, text
    assert recorder.poll_failures >= 1 and text.count("no answer within") == 1, text
    assert TOKEN not in text


async def test_a_page_that_fails_in_the_middle_of_a_list(tmp_path: Path, autojump_clock: object) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()
    others = [f"6a1b2c3d-0000-4000-8000-{n:012x}" for n in range(100)]
    page_ones = 0

    def script(n: int, query: str) -> Sequence[object]:
        nonlocal page_ones
        if "status=live" not in query or n > 20:
            return (200, [])
        if "page=0" in query:  # a full page of fixtures we do not want, FIXTURE on page 1
            return (200, [entry(f, type="Training") for f in others])
        page_ones += 1
        if page_ones <= 2:
            return (500, {"error": "boom", "status": 500})
        return (200, [entry(FIXTURE)])

    with trio.fail_after(3600):
        async with replayer_and_api(captures, script) as (handle, url, _):
            summary, recorder = await run_live(handle, live_options(url, type="official"), out, log)
    text = log.getvalue()
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert summary.finished == 1 and recorder.poll_failures == 2
    assert text.count("HTTP 500") == 1, text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"<html><body>Bad gateway</body></html>", "not JSON"),
        (b'{"content": []}', "a JSON dict, not a list"),
        (b"[1, 2]", "an entry that is not an object"),
        (b'[{"status": "Live"}]', "without a valid fixture id"),  # once a TypeError that ended the run
        (b'[{"id": null, "status": "Live"}]', "without a valid fixture id"),
        (b'[{"id": 42, "status": "Live"}]', "without a valid fixture id"),
        (b'[{"id": "6a1b2c3d-0000-4000-8000-00000000abcd"}]', "without a status"),
        (b"[" * 100_000, "not JSON"),  # nesting deep enough to exhaust a recursive parser
    ],
)
async def test_bodies_of_the_wrong_shape_are_failed_polls(
    tmp_path: Path, body: bytes, words: str, autojump_clock: object
) -> None:
    captures = capture_set(tmp_path)[:1]
    out, log = tmp_path / "out", io.StringIO()

    def script(n: int, query: str) -> Sequence[object]:
        if n < 2:
            return (200, body)
        return (200, [entry(FIXTURE)] if n < 8 and "status=live" in query else [])

    with trio.fail_after(3600):
        async with replayer_and_api(captures, script) as (handle, url, _):
            summary, recorder = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1 and recorder.poll_failures == 2, text
    assert text.count("a bad answer") == 1 and words in text, text
    assert captured(out) == {(FIXTURE, "statistics"): served_frames(captures[0])}


@asynccontextmanager
async def replayer_and_api(
    captures: list[Path], script: Script
) -> AsyncIterator[tuple[ServerHandle, str, list[tuple[float, str, str]]]]:
    """The websocket mock serving `captures` at speed 1, and the scripted API."""
    async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, seen):
        yield handle, url, seen
