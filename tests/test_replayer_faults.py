"""Fault specs (parsing) and the drop / close faults as a real client sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from replayer_support import FIXTURE, client, frame_text, frames_every, receive, running, write_capture
from trio_websocket import ConnectionClosed

from replayer import ServeOptions
from ttrec.faults import AfterFrames, CloseFault, DropFault, FaultSpecError, faults_due, parse_fault


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("drop:after=40", DropFault(AfterFrames(40))),
        ("drop:after=0", DropFault(AfterFrames(0))),
        ("close:after=3", CloseFault(AfterFrames(3), 1011, "")),
        ("close:after=3,code=4000,reason=bye now", CloseFault(AfterFrames(3), 4000, "bye now")),
        (" close:code=1001,after=7 ", CloseFault(AfterFrames(7), 1001, "")),
    ],
)
def test_specs_parse_and_print_back(spec: str, fault: DropFault | CloseFault) -> None:
    assert parse_fault(spec) == fault
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("explode:after=1", "unknown kind"),
        ("drop", "after=N"),
        ("drop:after=x", "integer"),
        ("drop:after=-1", "negative"),
        ("drop:after=1,after=2", "twice"),
        ("drop:after", "KEY=VALUE"),
        ("drop:after=1,code=1000", "unknown key"),
        ("close:after=1,code=1006", "not a close code"),
        ("close:after=1,code=99999", "not a close code"),
        ("close:after=1,reason=" + "x" * 124, "longer"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, problem: str) -> None:
    with pytest.raises(FaultSpecError, match=problem) as info:
        parse_fault(spec)
    assert "\n" not in str(info.value) and repr(spec) in str(info.value)


def test_faults_that_fire_together_come_in_the_order_given() -> None:
    faults = [parse_fault("close:after=2"), parse_fault("drop:after=2"), parse_fault("drop:after=5")]

    def due(frames: int) -> list[object]:
        return list(faults_due(faults, frames_sent=frames, after_frame=True, moments={}, draw=lambda: 1.0))

    assert due(2) == faults[:2]
    assert due(5) == [faults[2]]
    assert due(3) == []


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "a.jsonl.zst", frames_every(10, 1.0))


async def test_drop_ends_tcp_without_a_close_frame(capture: Path, autojump_clock: object) -> None:
    options = ServeOptions(speed=None, faults=(parse_fault("drop:after=3"),))
    with trio.fail_after(10):
        async with running([capture], options) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                assert await receive(ws, 3) == [frame_text(i) for i in (1, 2, 3)]
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason.code == 1006  # abnormal: no close frame came
            (report,) = await handle.wait_connections(1)
    assert report.ended == "fault" and report.faults == ("drop:after=3",) and report.frames_sent == 3


async def test_close_fault_sends_the_chosen_code_and_reason(capture: Path, autojump_clock: object) -> None:
    options = ServeOptions(speed=None, faults=(parse_fault("close:after=2,code=4000,reason=going down"),))
    with trio.fail_after(10):
        async with running([capture], options) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                assert await receive(ws, 2) == [frame_text(1), frame_text(2)]
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert (info.value.reason.code, info.value.reason.reason) == (4000, "going down")
            (report,) = await handle.wait_connections(1)
    assert report.ended == "fault" and report.code == 4000


async def test_each_connection_counts_again_so_a_resuming_client_gets_everything(
    capture: Path, autojump_clock: object
) -> None:
    """What a recorder does: reconnect with startPosition = frames received so far."""
    options = ServeOptions(speed=None, on_end="close", faults=(parse_fault("drop:after=4"),))
    received: list[str] = []
    with trio.fail_after(30):
        async with running([capture], options) as handle:
            for _ in range(10):
                url = handle.fixture_url(FIXTURE) + f"?startPosition={len(received)}"
                async with client(url) as ws:
                    try:
                        while True:
                            received += await receive(ws, 1)
                    except ConnectionClosed as closed:
                        if closed.reason.code == 1000:
                            break
            reports = await handle.wait_connections(3)
    assert received == [frame_text(i) for i in range(1, 11)]
    assert [(r.start_position, r.frames_sent, r.ended) for r in reports] == [
        (0, 4, "fault"),
        (4, 4, "fault"),
        (8, 2, "end-of-capture"),
    ]


async def test_after_zero_fires_right_after_auth(capture: Path, autojump_clock: object) -> None:
    options = ServeOptions(faults=(parse_fault("close:after=0,code=1013"),))
    with trio.fail_after(10):
        async with running([capture], options) as handle, client(handle.fixture_url(FIXTURE)) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1013
