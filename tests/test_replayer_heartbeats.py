"""Heartbeats: synthetic ones on quiet gaps, recorded ones replayed exactly, their shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
from replayer_support import (
    FIXTURE,
    NS,
    WALL,
    client,
    frame_text,
    heartbeat_text,
    running,
    texts,
    timed,
    write_capture,
)

from replayer import ServeOptions
from ttrec.records import Frame, Heartbeat, Record


def stamp(message: str) -> datetime:
    text = json.loads(message)["message"].removeprefix("Heartbeat sent at ")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_quiet_gaps_get_default_heartbeats_every_interval(
    tmp_path: Path, autojump_clock: object
) -> None:
    records: list[Record] = [Frame(0, WALL, 0, frame_text(1)), Frame(25 * NS, WALL, 0, frame_text(2))]
    capture = write_capture(tmp_path / "c.jsonl.zst", records)
    with trio.fail_after(100):
        async with running([capture]) as handle, client(handle.fixture_url(FIXTURE)) as ws:
            start = trio.current_time()
            before = datetime.now(UTC)
            arrivals = await timed(ws, 5)
    moments = [round(t - start, 3) for t, _ in arrivals]
    assert moments == [0, 10, 20, 25, 35]
    messages = [m for _, m in arrivals]
    assert messages[0] == frame_text(1) and messages[3] == frame_text(2)
    for beat in (messages[1], messages[2], messages[4]):
        assert json.loads(beat)["level"] == "INFO"
        # a fresh wall-clock stamp (mock time runs ahead of the wall clock here)
        assert before - timedelta(seconds=5) <= stamp(beat) <= datetime.now(UTC) + timedelta(seconds=5)


async def test_the_interval_is_configurable(tmp_path: Path, autojump_clock: object) -> None:
    capture = write_capture(tmp_path / "c.jsonl.zst", [Frame(0, WALL, 0, frame_text(1))])
    with trio.fail_after(100):
        async with (
            running([capture], ServeOptions(heartbeat_interval_s=2.5)) as handle,
            client(handle.fixture_url(FIXTURE)) as ws,
        ):
            start = trio.current_time()
            arrivals = await timed(ws, 4)
    assert [round(t - start, 3) for t, _ in arrivals] == [0, 2.5, 5.0, 7.5]


def recorded_match() -> list[Record]:
    """Frames with the provider's own heartbeats between them, a little late each time."""
    records: list[Record] = []
    t = 0.0
    for i in range(12):
        records.append(Frame(int(t * NS), WALL, 0, frame_text(i + 1)))
        if i % 3 == 2:  # a quiet spell: the provider sends heartbeats 10.02 s apart
            for n in range(2):
                t += 10.02
                records.append(Heartbeat(int(t * NS), WALL, 0, heartbeat_text(i + n)))
        t += 1.7
    return records


async def test_at_speed_1_recorded_heartbeats_give_exactly_the_recorded_text_sequence(
    tmp_path: Path, autojump_clock: object
) -> None:
    records = recorded_match()
    capture = write_capture(tmp_path / "r.jsonl.zst", records)
    with trio.fail_after(300):
        async with running([capture]) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                start = trio.current_time()
                arrivals = await timed(ws, len(records))
            (report,) = await handle.wait_connections(1)
    assert [m for _, m in arrivals] == texts(records)
    expected = [(r.t - records[0].t) / NS for r in records]
    assert [t - start for t, _ in arrivals] == pytest.approx(expected, abs=0.002)
    assert report.synthetic_heartbeats == 0 and report.heartbeats_sent == 8


async def test_recorded_heartbeats_shape_the_synthetic_ones(tmp_path: Path, autojump_clock: object) -> None:
    records = recorded_match()
    capture = write_capture(tmp_path / "r.jsonl.zst", records)
    with trio.fail_after(300):
        async with (
            running([capture], ServeOptions(speed=None)) as handle,
            client(handle.fixture_url(FIXTURE)) as ws,
        ):
            got = [m for _, m in await timed(ws, len(records))]
            assert got == texts(records)  # recorded heartbeats are sent at every speed
            start = trio.current_time()
            (t, synthetic), *_ = await timed(ws, 1)
    assert t - start == pytest.approx(10.0, abs=0.01)
    template = json.loads(heartbeat_text(0))
    assert json.loads(synthetic).keys() == template.keys() and json.loads(synthetic)["level"] == "INFO"
    assert synthetic != records[-2].data  # type: ignore[union-attr]
    assert abs(stamp(synthetic) - datetime.now(UTC)) < timedelta(seconds=10)


async def test_slowed_playback_fills_long_recorded_gaps(tmp_path: Path, autojump_clock: object) -> None:
    """At speed 0.25 a 10 s recorded gap lasts 40 s: synthetic heartbeats keep the line alive."""
    records: list[Record] = [
        Frame(0, WALL, 0, frame_text(1)),
        Heartbeat(10 * NS, WALL, 0, heartbeat_text(1)),
        Frame(12 * NS, WALL, 0, frame_text(2)),
    ]
    capture = write_capture(tmp_path / "s.jsonl.zst", records)
    with trio.fail_after(300):
        async with (
            running([capture], ServeOptions(speed=0.25)) as handle,
            client(handle.fixture_url(FIXTURE)) as ws,
        ):
            start = trio.current_time()
            arrivals = await timed(ws, 7)
    moments = [round(t - start, 3) for t, _ in arrivals]
    assert moments == [0, 10, 20, 30, 40, 48, 58]
    assert arrivals[4][1] == heartbeat_text(1) and arrivals[5][1] == frame_text(2)
