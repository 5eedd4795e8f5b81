"""Step control (replayer.control): hold playback, release frames, run to a seqNum or a match
moment, over the in-process gate and over the control websocket.

Rules: loopback only, port 0, `autojump_clock` for anything timed, a `trio.fail_after`
bound on every network test. A consumer task collects what it receives; after a step,
`wait_all_tasks_blocked` lets it take everything that was sent before asserting.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import pytest
import trio
import trio.testing
from replayer_support import FIXTURE, client, frame_text, frames_every, heartbeat_text, running, write_capture
from trio_websocket import ConnectionClosed, ConnectionRejected, WebSocketConnection, open_websocket_url

import replayer.server
from replayer import ServeOptions, ServerHandle
from replayer.control import CONTROL_PATH, ControlError, FixtureGate, StepControl
from ttrec.bundled import sample_path
from ttrec.capture import CaptureReader
from ttrec.feed import classify, seq_num
from ttrec.match import parse_frame, set_winner
from ttrec.moments import moments_of_texts
from ttrec.records import Frame, Heartbeat
from ttrec.schedule import build_timeline

SAMPLE: Final = sample_path("sample-singles-bo5")
SAMPLE_FIXTURE: Final = "14a03569-d26b-4496-92e5-dfe8cb1855fe"


def sample_frames() -> list[str]:
    with CaptureReader(SAMPLE) as reader:
        return [r.data for r in reader if isinstance(r, Frame)]


class Consumer:
    """Collects every message of one connection, as a consumer's receive loop would."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        self.closed = False

    @property
    def frames(self) -> list[str]:
        return [m for _, m in self.messages if classify(m) == "frame"]

    @property
    def seqs(self) -> list[int | None]:
        return [seq_num(m) for m in self.frames]

    @property
    def heartbeats(self) -> list[float]:
        return [t for t, m in self.messages if classify(m) != "frame"]

    async def run(self, url: str, **query: Any) -> None:
        suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        async with client(url + suffix) as ws:
            await self.receive(ws)

    async def receive(self, ws: WebSocketConnection) -> None:
        try:
            while True:
                message = await ws.get_message()
                assert isinstance(message, str)
                self.messages.append((trio.current_time(), message))
        except ConnectionClosed:
            self.closed = True


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


@asynccontextmanager
async def held(capture: Path) -> AsyncIterator[tuple[ServerHandle, FixtureGate, trio.Nursery]]:
    """A server holding `capture` before its first frame (step control, paused), the gate
    of its fixture, and a nursery for consumers, cancelled when the block ends."""
    control = StepControl(paused=True)
    async with (
        running([capture], ServeOptions(control=control)) as handle,
        trio.open_nursery() as nursery,
    ):
        yield handle, control.gate(), nursery
        nursery.cancel_scope.cancel()


async def test_paused_connection_gets_heartbeats_and_no_frame_until_released(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(10, 1.0))
    consumer = Consumer()
    with trio.fail_after(600):
        async with held(capture) as (handle, gate, nursery):
            nursery.start_soon(consumer.run, handle.fixture_url(FIXTURE))
            await trio.sleep(35)
            assert consumer.frames == []
            assert len(consumer.heartbeats) == 3  # at 10, 20 and 30 s: the line stays alive
            position = await gate.release(3)
            await settle()
            assert consumer.seqs == [1, 2, 3]
            assert (position.frames, position.seq, position.connections) == (3, 3, 1)
            position = await gate.release(2)
            await settle()
            assert consumer.seqs == [1, 2, 3, 4, 5]
            assert position.seq == 5


async def test_a_release_keeps_the_recorded_pace_after_a_long_hold(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(6, 2.0))
    consumer = Consumer()
    with trio.fail_after(600):
        async with held(capture) as (handle, gate, nursery):
            nursery.start_soon(consumer.run, handle.fixture_url(FIXTURE))
            await trio.sleep(1)
            await gate.release(2)
            await trio.sleep(100)  # held before frame 3 meanwhile
            gate.resume()
            await trio.sleep(20)
            times = [t for t, m in consumer.messages if classify(m) == "frame"]
            gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
            # frame 2 -> 3 spans the hold; every other gap is the recorded 2 s
            assert len(times) == 6
            assert gaps[0] == 2.0 and gaps[2:] == [2.0, 2.0, 2.0]
            assert gaps[1] > 100


async def test_a_release_returns_when_its_last_frame_is_sent_not_at_the_next_heartbeat(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A data frame every 10 s, a recorded heartbeat 5 s after each, as the provider sends them.
    records: list[Frame | Heartbeat] = []
    for i, frame in enumerate(frames_every(4, 10.0)):
        records += [frame, Heartbeat(frame.t + 5 * 10**9, frame.wall, 0, heartbeat_text(i))]
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    consumer = Consumer()
    with trio.fail_after(600):
        async with held(capture) as (handle, gate, nursery):
            nursery.start_soon(consumer.run, handle.fixture_url(FIXTURE))
            await trio.sleep(1)
            for count, seqs in ((1, [1]), (2, [1, 2, 3])):
                await gate.release(count)
                returned = trio.current_time()
                await settle()
                assert consumer.seqs == seqs
                last_frame_at = [t for t, m in consumer.messages if classify(m) == "frame"][-1]
                # Returned once the last released frame was out: not 5 s later, when the
                # connection reached the next frame's hold after the recorded heartbeat.
                assert returned - last_frame_at < 0.5, (count, returned, last_frame_at)


async def test_run_to_seq_and_moments_on_a_real_match(autojump_clock: trio.testing.MockClock) -> None:
    texts = sample_frames()
    moments = list(moments_of_texts(texts))
    first_set_end = next(i for i, m in enumerate(moments) if "set-end" in m)
    first_match_point = next(i for i, m in enumerate(moments) if "match-point" in m)
    control = StepControl(paused=True)
    consumer = Consumer()
    with trio.fail_after(10_000):  # virtual: a match of 25 minutes at speed 1
        async with (
            running([SAMPLE], ServeOptions(speed=1.0, control=control)) as handle,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(consumer.run, handle.fixture_url(SAMPLE_FIXTURE))
            gate = control.gate(SAMPLE_FIXTURE)

            # seqNums have gaps (SPEC §6): the 120th frame's is the sample's own
            seqs = [seq_num(text) for text in texts]
            position = await gate.run_to(seq=seqs[119])
            await settle()
            assert consumer.seqs == seqs[:120] and position.seq == seqs[119]

            position = await gate.run_to(seq=seqs[49])  # already released: nothing changes
            assert position.frames == 120

            # back to the start with a second consumer is not possible; a fresh gate is
            # exercised below. Here: the next set end after frame 120.
            next_set_end = next(i for i, m in enumerate(moments) if i >= 120 and "set-end" in m)
            position = await gate.run_to("set-end")
            await settle()
            assert position.frames == next_set_end + 1 and "set-end" in position.moments
            last = parse_frame(consumer.frames[-1])
            before = parse_frame(consumer.frames[-2])
            decided = [set_winner(s) is not None for s in last.sets]
            assert sum(decided) == sum(set_winner(s) is not None for s in before.sets) + 1

            position = await gate.run_to("match-point")
            await settle()
            assert "match-point" in position.moments and consumer.seqs[-1] == position.seq
            position = await gate.run_to("final")
            await settle()
            assert parse_frame(consumer.frames[-1]).finished
            assert len(consumer.frames) == len(texts)
            with pytest.raises(ControlError, match="no game-point after frame"):
                await gate.run_to("game-point")
            nursery.cancel_scope.cancel()

        # From the start: the first set end and the first match point of the match.
        control = StepControl(paused=True)
        consumer = Consumer()
        async with (
            running([SAMPLE], ServeOptions(speed=None, control=control)) as handle,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(consumer.run, handle.fixture_url(SAMPLE_FIXTURE))
            position = await control.gate().run_to("set-end")
            await settle()
            assert len(consumer.frames) == first_set_end + 1 == position.frames
            assert set_winner(parse_frame(consumer.frames[-1]).sets[0]) is not None
            await control.gate().run_to("match-point")
            await settle()
            assert len(consumer.frames) == first_match_point + 1
            nursery.cancel_scope.cancel()


async def test_a_reconnecting_consumer_is_held_at_the_same_point(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(20, 1.0))
    control = StepControl()
    with trio.fail_after(600):
        async with running([capture], ServeOptions(control=control)) as handle:
            gate = control.gate()
            assert not gate.paused
            gate.pause()  # nobody connected yet: held before the first frame
            first, second = Consumer(), Consumer()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(first.run, handle.fixture_url(FIXTURE))
                await gate.release(8)
                await settle()
                nursery.cancel_scope.cancel()
            assert first.seqs == list(range(1, 9))
            await handle.wait_connections(1)  # gone from the gate: `sent` waits for the next
            async with trio.open_nursery() as nursery:
                # resumes where it stopped, and is held at the same point of the match
                nursery.start_soon(lambda: second.run(handle.fixture_url(FIXTURE), startPosition=5))
                position = await gate.sent()
                await settle()
                assert second.seqs == [6, 7, 8] and position.frames == 8
                await gate.release(1)
                await settle()
                assert second.seqs == [6, 7, 8, 9]
                nursery.cancel_scope.cancel()


async def test_sent_waits_for_a_consumer_that_connects_later(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(5, 1.0))
    consumer = Consumer()
    with trio.fail_after(600):
        async with held(capture) as (handle, gate, nursery):

            async def later() -> None:
                await trio.sleep(30)
                await consumer.run(handle.fixture_url(FIXTURE))

            nursery.start_soon(later)
            before = trio.current_time()
            await gate.release(2)
            assert trio.current_time() - before >= 30
            await settle()
            assert consumer.seqs == [1, 2]


async def test_release_to_the_end_and_past_it(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    records = [*frames_every(3, 1.0), Heartbeat(3_500_000_000, "2026-11-24T07:00:00Z", 0, heartbeat_text(1))]
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    control = StepControl(paused=True)
    consumer = Consumer()
    with trio.fail_after(600):
        async with running([capture], ServeOptions(control=control, on_end="close")) as handle:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consumer.run, handle.fixture_url(FIXTURE))
                position = await control.gate().release(10)  # clamped to the 3 there are
                assert position.frames == 3
            reports = await handle.wait_connections(1)
    assert consumer.seqs == [1, 2, 3] and consumer.messages[-1][1] == heartbeat_text(1)
    assert consumer.closed and reports[0].ended == "end-of-capture"


async def test_step_arguments_are_checked(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", [Frame(0, "2026-11-24T07:00:00Z", 0, frame_text(7))])
    control = StepControl()
    with trio.fail_after(10):
        async with running([capture], ServeOptions(control=control)):
            gate = control.gate()
            with pytest.raises(ControlError, match="unknown moment"):
                await gate.run_to("deuce")  # type: ignore[arg-type]
            with pytest.raises(ControlError, match="not both"):
                await gate.run_to("final", seq=3)
            with pytest.raises(ControlError, match="no seqNum 8"):
                await gate.run_to(seq=8)
            with pytest.raises(ControlError, match="negative"):
                await gate.release(-1)
            with pytest.raises(ControlError, match="not served"):
                control.gate("6a1b2c3d-0000-4000-8000-000000000404")
            with pytest.raises(ControlError, match=r"^no fixture of the actions feed is served here$"):
                control.gate(feed="actions")  # the only fixture served is a statistics one
            assert (await gate.run_to(seq=7, wait=False)).seq == 7


async def command(ws: WebSocketConnection, **fields: Any) -> dict[str, Any]:
    await ws.send_message(json.dumps(fields))
    answer = json.loads(await ws.get_message())
    assert isinstance(answer, dict)
    return answer


async def test_the_control_websocket(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(10, 1.0))
    consumer = Consumer()
    options = ServeOptions(control=StepControl(paused=True))
    with trio.fail_after(600):
        async with running([capture], options) as handle, trio.open_nursery() as nursery:
            nursery.start_soon(consumer.run, handle.fixture_url(FIXTURE))
            async with open_websocket_url(handle.url + CONTROL_PATH) as ws:
                answer = await command(ws, op="release", frames=4)
                assert answer == {
                    "ok": True,
                    "fixture": FIXTURE,
                    "paused": True,
                    "frames": 4,
                    "seq": 4,
                    "moments": [],
                    "connections": 1,
                }
                await settle()
                assert consumer.seqs == [1, 2, 3, 4]
                assert (await command(ws, op="run_to", seq=6, fixture=FIXTURE))["seq"] == 6
                assert (await command(ws, op="status"))["frames"] == 6
                assert (await command(ws, op="run_to", seq=99))["error"].startswith("no seqNum 99")
                assert (await command(ws, op="jump"))["error"].startswith("unknown op 'jump'")
                missing = await command(ws, op="status", feed="actions")
                assert missing["error"] == "no fixture of the actions feed is served here"
                assert (await command(ws, op="release", frames="x"))["ok"] is False
                for bad, error in (
                    ({"frames": 2.5}, "frames must be a non-negative integer"),
                    ({"frames": True}, "frames must be a non-negative integer"),
                    ({"wait": "no"}, "wait must be true or false"),
                    ({"timeout": -1}, "timeout must be a non-negative number"),
                ):
                    assert await command(ws, op="release", **bad) == {"ok": False, "error": error}
                await ws.send_message('{"op": "release", "timeout": NaN}')  # json.loads takes it
                assert json.loads(await ws.get_message())["error"] == "timeout must be a non-negative number"
                assert (await command(ws, op="status"))["frames"] == 6  # none of them released a frame
                assert (await command(ws, op="release", frames=1.0))["frames"] == 7  # 1.0 is 1
                await ws.send_message("not json")
                assert json.loads(await ws.get_message())["ok"] is False
                answer = await command(ws, op="resume")
                assert answer["paused"] is False and answer["frames"] is None
                await trio.sleep(10)  # the rest, at the recorded pace
                assert consumer.seqs == list(range(1, 11))
            nursery.cancel_scope.cancel()
    assert all(report.fixture == FIXTURE for report in handle.connections)


async def test_the_control_path_is_a_404_without_control(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    with trio.fail_after(10):
        async with running([capture], ServeOptions()) as handle:
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(handle.url + CONTROL_PATH):
                    pass
    assert info.value.status_code == 404


async def test_a_control_wait_times_out_with_an_answer(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    with trio.fail_after(600):
        async with (
            running([capture], ServeOptions(control=StepControl(paused=True))) as handle,
            open_websocket_url(handle.url + CONTROL_PATH) as ws,
        ):
            answer = await command(ws, op="release", frames=1, timeout=5)
    assert answer == {"ok": False, "error": "timed out waiting for the released frames to be sent"}


async def raw_command(ws: WebSocketConnection, text: str) -> dict[str, Any]:
    await ws.send_message(text)
    answer = json.loads(await ws.get_message())
    assert isinstance(answer, dict)
    return answer


async def test_numbers_no_float_holds_are_answered_and_the_connection_goes_on(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """An integer of 400 digits as a timeout is refused like any other bad timeout (it
    passed the finite check, then float() overflowed and the client got a close 1001, as
    if the server were stopping); as a count of frames it is a count past the end."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))
    huge = "1" + "0" * 400
    with trio.fail_after(60):
        async with (
            running([capture], ServeOptions(control=StepControl(paused=True))) as handle,
            open_websocket_url(handle.url + CONTROL_PATH) as ws,
        ):
            refused = {"ok": False, "error": "timeout must be a non-negative number"}
            assert await raw_command(ws, f'{{"op": "release", "timeout": {huge}}}') == refused
            assert await raw_command(ws, f'{{"op": "status", "timeout": -{huge}}}') == refused
            # Nested deeper than json's recursion limit: not a command either.
            not_json = {"ok": False, "error": "a command is a JSON object"}
            assert await raw_command(ws, "[" * 50_000) == not_json
            assert (await raw_command(ws, f'{{"op": "run_to", "seq": {huge}, "wait": false}}'))["error"] == (
                f"no seqNum {huge} after frame 0 of fixture {FIXTURE}"
            )
            assert (await command(ws, op="status"))["frames"] == 0  # nothing released so far
            released = await raw_command(ws, f'{{"op": "release", "frames": {huge}, "wait": false}}')
            assert (released["ok"], released["frames"]) == (True, 3)  # the capture's 3 frames
            await ws.aclose()
            assert ws.closed is not None and ws.closed.code == 1000  # closed by us, not 1001


async def test_an_internal_error_in_one_command_is_its_answer_not_a_shutdown(
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug met by one command: that command answers `internal error: ...` (logged), and
    the connection goes on; close 1001 is only for a server that is stopping."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))

    def broken(self: FixtureGate) -> None:
        raise RuntimeError("the gate is broken")

    with trio.fail_after(60):
        async with (
            running([capture], ServeOptions(control=StepControl(paused=True))) as handle,
            open_websocket_url(handle.url + CONTROL_PATH) as ws,
        ):
            with monkeypatch.context() as patched:
                patched.setattr(FixtureGate, "pause", broken)
                answer = await command(ws, op="pause")
            assert answer == {"ok": False, "error": "internal error: RuntimeError: the gate is broken"}
            assert (await command(ws, op="release", frames=2, wait=False))["frames"] == 2
            await ws.aclose()
            assert ws.closed is not None and ws.closed.code == 1000
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["control command failed: internal error: RuntimeError: the gate is broken"]


async def test_a_control_connection_that_fails_is_not_told_the_server_is_stopping(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever ends a control connection but the server stopping, its client never reads
    close 1001 "server shutting down" while the server goes on serving."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))

    async def failing(*args: object) -> None:
        raise RuntimeError("the control loop is broken")

    with trio.fail_after(60):
        async with running([capture], ServeOptions(control=StepControl(paused=True))) as handle:
            with monkeypatch.context() as patched:
                patched.setattr(replayer.server, "serve_control", failing)
                async with open_websocket_url(handle.url + CONTROL_PATH) as ws:
                    assert await close_code(ws) == 1006  # dropped: no close frame at all
            async with open_websocket_url(handle.url + CONTROL_PATH) as ws:
                assert (await command(ws, op="status"))["ok"] is True  # still serving


async def close_code(ws: WebSocketConnection) -> int:
    """Read until the connection closes; the close code the client saw."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.get_message()
    return int(info.value.reason.code)


@pytest.mark.parametrize("pending", [False, True], ids=["idle", "command-pending"])
async def test_a_stopping_server_closes_control_connections_with_1001(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, pending: bool
) -> None:
    """Ctrl-C or SIGTERM (the server cancelled): a control connection gets the close 1001 a
    feed connection gets, idle or while a `release` waits for frames still to come."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1000.0))
    stop = trio.CancelScope()
    handles: list[ServerHandle] = []

    async def run_server(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with stop:
            async with running([capture], ServeOptions(control=StepControl(paused=True))) as handle:
                handles.append(handle)
                task_status.started()
                await trio.sleep_forever()

    with trio.fail_after(60):
        async with trio.open_nursery() as outer:
            await outer.start(run_server)
            async with (
                client(handles[0].fixture_url(FIXTURE)) as feed,
                open_websocket_url(handles[0].url + CONTROL_PATH) as control,
            ):
                if pending:  # frames 1000 s apart: the third is far away
                    await control.send_message(json.dumps({"op": "release", "frames": 3}))
                await settle()
                stop.cancel()
                assert (await close_code(feed), await close_code(control)) == (1001, 1001)
                assert control.closed is not None and control.closed.reason == "server shutting down"
    assert [r.ended for r in handles[0].connections] == ["shutdown"]


async def test_a_consumer_that_leaves_while_held(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(5, 1.0))
    control = StepControl(paused=True)
    with trio.fail_after(600):
        async with running([capture], ServeOptions(control=control, heartbeat_interval_s=1.0)) as handle:
            async with client(handle.fixture_url(FIXTURE)) as ws:
                await ws.get_message()  # a heartbeat while held
            (report,) = await handle.wait_connections(1)
            assert control.gate().position().connections == 0  # forgotten by the gate
            assert control.gate().paused
    assert report.ended == "client-closed" and report.frames_sent == 0 and report.heartbeats_sent >= 1
    assert "failed" not in caplog.text


async def test_hold_raises_what_the_quiet_line_raises_unwrapped() -> None:
    timeline = build_timeline(frames_every(2, 1.0))
    gate = FixtureGate(FIXTURE, "statistics", timeline, paused=True)

    class Gone(Exception):
        pass

    class Session:
        sending_since: float | None = None

    async def quiet(due: float) -> None:
        await trio.lowlevel.checkpoint()
        raise Gone

    with pytest.raises(Gone):
        await gate.hold(Session(), timeline.messages[0], quiet)
