"""The recorder against the replayer over loopback: what one session writes.

Rules: loopback only, port 0, `autojump_clock` for anything timed, `trio.fail_after` on every
network test.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import trio
import trio.testing
from recorder_support import (
    FIXTURE,
    FIXTURE_2,
    NS,
    TOKEN,
    frames_of,
    read,
    record_from,
    replayer,
    write_match,
)
from terminal_emulator import cursor_shown_at_end
from terminal_emulator import screen as terminal_screen

from recorder.connection import FINISHED_LINGER_S
from recorder.run import record
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.status import STATUS_COLUMNS, PlainReporter
from recorder.stop import Stop
from replayer import ServeOptions
from ttrec.capture import CaptureReader
from ttrec.feed import REDACTED_AUTH_MESSAGE
from ttrec.records import Close, Frame, Heartbeat, Open, Sent


async def test_recorded_frames_equal_the_source_byte_for_byte_with_the_same_spacing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 40)
    _, source_records = read(source)
    with trio.fail_after(600):
        async with replayer([source], ServeOptions(speed=1.0)) as handle:
            results = await record_from(handle, [FIXTURE], tmp_path / "out")
    [result] = results
    assert result.outcome == "finished" and result.complete
    assert (result.frames, result.connections, result.duplicates) == (40, 1, 0)

    reader, records = read(result.path)
    assert not reader.torn_tail
    assert reader.header.fixture_id == FIXTURE and reader.header.source == "recorded"
    assert reader.header.url == f"{handle.url}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
    got, want = frames_of(records), frames_of(source_records)
    assert [f.data for f in got] == [f.data for f in want]  # exact text, in order
    # Same spacing: on the MockClock the only difference is rounding to whole nanoseconds.
    got_gaps = [b.t - a.t for a, b in itertools.pairwise(got)]
    want_gaps = [b.t - a.t for a, b in itertools.pairwise(want)]
    assert all(abs(g - w) <= 1_000 for g, w in zip(got_gaps, want_gaps, strict=True))
    # At speed 1 with recorded heartbeats, the recorded heartbeats come through as sent, up
    # to the finished frame and the first heartbeat after it, if that comes while the recorder
    # lingers for a frame sent out of order (FINISHED_LINGER_S); then it leaves.
    end = want[-1].t
    source_hbs = [r.data for r in source_records if isinstance(r, Heartbeat) and r.t < end]
    after = [r for r in source_records if isinstance(r, Heartbeat) and r.t > end]
    if after and after[0].t - end <= FINISHED_LINGER_S * 1_000_000_000:
        source_hbs.append(after[0].data)
    assert source_hbs
    assert [r.data for r in records if isinstance(r, Heartbeat)] == source_hbs

    # The session's own records: open, redacted auth, data, our close after finished.
    assert isinstance(records[0], Open) and records[0].start_position == 0 and records[0].conn == 0
    assert records[0].url == reader.header.url
    assert isinstance(records[1], Sent) and records[1].data == REDACTED_AUTH_MESSAGE
    last = records[-1]
    assert isinstance(last, Close) and (last.by, last.code) == ("client", 1000)
    assert all(r.conn == 0 for r in records)
    ts = [r.t for r in records]
    assert ts == sorted(ts)


async def test_on_the_real_clock_the_recorded_spacing_matches_within_milliseconds(tmp_path: Path) -> None:
    # The same as above through real sockets, a real event loop and the real clock: the
    # recorder stamps each message on arrival, the replayer sends each on schedule.
    # Gaps of 20-50 ms; each recorded heartbeat 20 ms after its frame (the one after the
    # finished frame ends the recorder's linger), so the match takes 1.2 s of the real clock.
    # The bounds below are on each gap's error, which is the lateness of the replayer's
    # wake-up plus the recorder's (each frame is scheduled from the playback's start, not
    # from the frame before): it does not grow or shrink with the gaps, so 29 gaps of 20-50
    # ms judge it as well as 29 of 50-125 ms did, in 40 % of the time.
    source = write_match(tmp_path / "source.jsonl.zst", 30, step_s=0.02, heartbeat_s=0.02)
    _, source_records = read(source)
    with trio.fail_after(30):
        async with replayer([source], ServeOptions(speed=1.0)) as handle:
            [result] = await record_from(handle, [FIXTURE], tmp_path / "out")
    _, records = read(result.path)
    got, want = frames_of(records), frames_of(source_records)
    assert [f.data for f in got] == [f.data for f in want]
    errors_ms = sorted(
        abs((b.t - a.t) - (d.t - c.t)) / 1e6
        for (a, b), (c, d) in zip(itertools.pairwise(got), itertools.pairwise(want), strict=True)
    )
    # A few ms is the contract, judged on the median gap: a recorder that stamped anything
    # but the arrival would be off on most gaps. A single gap's error is also how late this
    # machine woke either process, which is no property of ttrec: on the 2-core CI machine
    # the OS has woken the server up to 30 ms late (benchmarks/replay.py, late wakes), and a
    # bound on the worst gap (25 ms) failed a clean CI run on 2026-11-30 at 27.0 ms.
    assert errors_ms[len(errors_ms) // 2] <= 3.0, errors_ms


async def test_many_fixtures_each_get_their_own_file(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a = write_match(tmp_path / "a.jsonl.zst", 12, FIXTURE, step_s=1.0)
    b = write_match(tmp_path / "b.jsonl.zst", 20, FIXTURE_2, step_s=0.5)
    log = io.StringIO()
    with trio.fail_after(300):
        async with replayer([a, b], ServeOptions(speed=1.0)) as handle:
            results = await record_from(handle, [FIXTURE_2, FIXTURE], tmp_path / "out", log=log)
    assert [r.fixture_id for r in results] == [FIXTURE_2, FIXTURE]
    assert [r.frames for r in results] == [20, 12]
    assert all(r.complete for r in results)
    assert len({r.path for r in results}) == 2
    for result in results:
        assert Path(result.path).name.startswith(result.fixture_id + "_")
        with CaptureReader(result.path) as reader:
            assert reader.header.fixture_id == result.fixture_id
            assert {f.data.count(result.fixture_id) for f in reader if isinstance(f, Frame)} == {1}
    lines = log.getvalue().splitlines()
    assert any(FIXTURE in line and "connected" in line for line in lines)
    assert any(FIXTURE_2 in line and "finished: 20 frames" in line for line in lines)
    assert TOKEN not in log.getvalue()


async def test_until_forever_keeps_the_connection_after_finished_until_stopped(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 5, step_s=1.0)
    stop = Stop()
    with trio.fail_after(300):
        async with replayer([source], ServeOptions(speed=1.0, heartbeat_interval_s=10.0)) as handle:
            options = RecordOptions(base_url=handle.url, until="forever", seed=1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_after, stop, 100.0)
                results = await record(
                    [FIXTURE],
                    Token(TOKEN),
                    out=tmp_path / "out",
                    options=options,
                    stop=stop,
                    reporter=PlainReporter(io.StringIO()),
                )
    [result] = results
    assert result.outcome == "stopped" and result.finished_seen and result.complete
    _, records = read(result.path)
    assert len(frames_of(records)) == 5
    # The replayer kept the connection alive with heartbeats after the last frame.
    last_frame_t = frames_of(records)[-1].t
    assert sum(isinstance(r, Heartbeat) and r.t > last_frame_t for r in records) >= 8
    close = records[-1]
    assert isinstance(close, Close) and (close.by, close.code) == ("client", 1001)
    assert close.t >= 100 * NS


async def _stop_after(stop: Stop, seconds: float) -> None:
    await trio.sleep(seconds)
    stop.request()


async def test_live_status_lines_on_a_terminal(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    source = write_match(tmp_path / "source.jsonl.zst", 12, step_s=1.0)
    screen = io.StringIO()
    with trio.fail_after(300):
        async with replayer([source], ServeOptions(speed=1.0)) as handle:
            options = RecordOptions(base_url=handle.url, seed=1)
            await record(
                [FIXTURE], Token(TOKEN), out=tmp_path / "out", options=options, log=screen, live=True
            )
    text = screen.getvalue()
    shown = terminal_screen(text)  # what a person sees at the end
    assert text.count("\x1b[2K") > 0  # the block was redrawn in place, not appended
    header = next(i for i, line in enumerate(shown) if line.split() == list(STATUS_COLUMNS))
    events, table = shown[:header], shown[header + 1 :]
    assert len(table) == 1, "one fixture: one row, every earlier drawing erased"
    row = dict(zip(STATUS_COLUMNS[:5], table[0].split()[:5], strict=True))
    assert row == {"fixture": FIXTURE[:8], "state": "finished", "frames": "12", "hb": row["hb"], "seq": "12"}
    # write_match: of 12 points, every third goes away (4), the rest home (8), all in set 1.
    assert "0-0 (8-4)" in table[0]
    assert events and all(FIXTURE in line for line in events)  # events stay above, in the scroll-back
    assert cursor_shown_at_end(text)
    assert TOKEN not in text
