"""Every fault as a real client over loopback sees it, seeds that reproduce them, --start-at.

Rules: loopback only, port 0, `autojump_clock`, a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from replayer_support import (
    FIXTURE,
    NS,
    WALL,
    client,
    frame_text,
    frames_every,
    receive,
    running,
    write_capture,
)
from trio_websocket import ConnectionClosed, ConnectionRejected

from replayer import ServeOptions, ServerHandle
from ttrec.faults import AfterFrames, CloseFault, DropFault, FaultSpecError, faults_due, parse_fault
from ttrec.moments import moments_of_texts
from ttrec.records import Frame
from ttrec.schedule import StartAtError, parse_start_at
from ttrec.simulator import simulate_match
from ttrec.simulator import write_capture as write_simulated


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
    faults = [
        parse_fault("duplicate:after=2"),
        parse_fault("corrupt:after=2"),
        parse_fault("close:after=2"),
        parse_fault("drop:after=2"),  # after the close: never happens (the close ends the list)
        parse_fault("drop:after=5"),
    ]

    def due(frames: int) -> list[object]:
        return list(faults_due(faults, frames_sent=frames, after_frame=True, moments={}, draw=lambda: 1.0))

    assert due(2) == faults[:3]
    assert due(5) == [faults[4]]
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
    """What a recorder does: reconnect with startPosition = frames received so far (the
    fault without a limit, so it fires on every connection)."""
    options = ServeOptions(speed=None, on_end="close", faults=(parse_fault("drop:after=4,times=always"),))
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


async def close_code_of_a_whole_read(handle: ServerHandle) -> int | None:
    """Connect from 0 and read until the server ends the connection: the code it ended with."""
    async with client(handle.fixture_url(FIXTURE)) as ws:
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            return closed.reason.code


async def test_by_default_a_fault_fires_once_per_fixture_and_times_n_n_times(
    capture: Path, autojump_clock: object
) -> None:
    """A client that resumes from 0 each time meets after=4 on every connection: the fault
    fires on the first (default) or the first two (times=2) only, then playback runs through."""
    for spec, drops in (("drop:after=4", 1), ("drop:after=4,times=2", 2)):
        options = ServeOptions(speed=None, on_end="close", faults=(parse_fault(spec),))
        with trio.fail_after(30):
            async with running([capture], options) as handle:
                codes = [await close_code_of_a_whole_read(handle) for _ in range(drops + 1)]
                reports = await handle.wait_connections(drops + 1)
        assert codes == [1006] * drops + [1000], spec
        assert [r.frames_sent for r in reports] == [4] * drops + [10], spec


async def test_a_fault_after_a_drop_at_the_same_point_keeps_its_times(
    capture: Path, autojump_clock: object
) -> None:
    """The drop ends the first connection, so the close listed after it never happened
    there: it still closes the next two, and the reports list only what happened."""
    faults = (parse_fault("drop:after=5"), parse_fault("close:after=5,code=4001,times=2"))
    options = ServeOptions(speed=None, on_end="close", faults=faults)
    with trio.fail_after(30):
        async with running([capture], options) as handle:
            codes = [await close_code_of_a_whole_read(handle) for _ in range(4)]
            reports = await handle.wait_connections(4)
    assert codes == [1006, 4001, 4001, 1000]
    assert [r.faults for r in reports] == [("drop:after=5",), (str(faults[1]),), (str(faults[1]),), ()]


async def test_after_zero_fires_right_after_auth(capture: Path, autojump_clock: object) -> None:
    options = ServeOptions(faults=(parse_fault("close:after=0,code=1013"),))
    with trio.fail_after(10):
        async with running([capture], options) as handle, client(handle.fixture_url(FIXTURE)) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1013


# --- every fault, as a real client over loopback sees it -----------------------------------
# Helpers: a whole session's messages with their (mock) arrival times, and the close code.

Received = list[tuple[float, str]]


async def session(url: str, *, for_s: float = 600.0) -> tuple[Received, int | None]:
    """Every message until the server closes (or `for_s` passes), each with the time it
    arrived measured from the first one, and the close code (None: still open)."""
    out: list[tuple[float, str]] = []
    code: int | None = None
    async with client(url) as ws:
        with trio.move_on_after(for_s):
            try:
                while True:
                    message = await ws.get_message()
                    assert isinstance(message, str)
                    out.append((trio.current_time(), message))
            except ConnectionClosed as closed:
                code = closed.reason.code
    t0 = out[0][0] if out else 0.0
    return [(round(t - t0, 6), m) for t, m in out], code


def data(received: Received) -> list[str]:
    return [m for _, m in received if '"seqNum"' in m and m.endswith("}")]


def beats(received: Received) -> list[float]:
    return [t for t, m in received if '"Heartbeat' in m]


async def run_once(
    capture: Path, options: ServeOptions, *, for_s: float = 600.0
) -> tuple[Received, int | None]:
    with trio.fail_after(for_s + 60):
        async with running([capture], options) as handle:
            return await session(handle.fixture_url(FIXTURE), for_s=for_s)


def one_a_second(tmp_path: Path, count: int = 10) -> Path:
    return write_capture(tmp_path / "steady.jsonl.zst", frames_every(count, 1.0))


async def test_stall_sends_nothing_then_resumes_where_it_was(tmp_path: Path, autojump_clock: object) -> None:
    options = ServeOptions(
        heartbeat_interval_s=2.0, on_end="close", faults=(parse_fault("stall:after=3,for=20"),)
    )
    received, code = await run_once(one_a_second(tmp_path), options)
    # Frames at 0, 1, 2; then 20 s of nothing at all (a 2 s heartbeat interval would
    # otherwise have sent 9 heartbeats); then frames 4..10 on their schedule moved by 20 s.
    assert received == [
        (float(t), frame_text(i)) for i, t in zip(range(1, 11), [0, 1, 2, *range(23, 30)], strict=True)
    ]
    assert code == 1000


async def test_no_heartbeats_while_data_goes_on(tmp_path: Path, autojump_clock: object) -> None:
    records = [*frames_every(2, 1.0), Frame(41 * NS, WALL, 0, frame_text(3))]  # a 40 s pause
    capture = write_capture(tmp_path / "pause.jsonl.zst", records)
    base = ServeOptions(on_end="close")
    plain, _ = await run_once(capture, base)
    assert beats(plain) == [11.0, 21.0, 31.0]
    silent, _ = await run_once(capture, replace(base, faults=(parse_fault("no-heartbeats:after=2"),)))
    assert silent == [(0.0, frame_text(1)), (1.0, frame_text(2)), (41.0, frame_text(3))]
    # For 15 s only: the first heartbeat waits for the end of the window, then every 10 s.
    brief, _ = await run_once(capture, replace(base, faults=(parse_fault("no-heartbeats:after=2,for=15"),)))
    assert beats(brief) == [16.0, 26.0, 36.0] and data(brief) == data(plain)


async def test_heartbeats_only_withholds_data_for_a_while_or_for_good(
    tmp_path: Path, autojump_clock: object
) -> None:
    capture = one_a_second(tmp_path)
    options = ServeOptions(on_end="close", faults=(parse_fault("heartbeats-only:after=2,for=30"),))
    received, code = await run_once(capture, options)
    # Frames 1, 2 at 0 and 1; then 30 s of heartbeats only (every 10 s of quiet); then
    # frame 3 and the rest, 30 s later than recorded.
    assert beats(received) == [11.0, 21.0, 31.0]
    assert [t for t, m in received if m in data(received)] == [0.0, 1.0, *map(float, range(32, 40))]
    assert data(received) == [frame_text(i) for i in range(1, 11)] and code == 1000

    options = ServeOptions(faults=(parse_fault("heartbeats-only:after=2"),))
    received, code = await run_once(capture, options, for_s=60)
    assert data(received) == [frame_text(1), frame_text(2)] and code is None
    assert beats(received) == [11.0, 21.0, 31.0, 41.0, 51.0]


@pytest.mark.parametrize(
    ("spec", "seqs"),
    [
        ("duplicate:after=3", [1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("reorder:after=3", [1, 2, 3, 5, 4, 6, 7, 8, 9, 10]),
        ("reorder:after=9", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),  # nothing left to swap with
        ("reorder:after=8", [1, 2, 3, 4, 5, 6, 7, 8, 10, 9]),
    ],
)
async def test_duplicate_and_reorder(
    tmp_path: Path, autojump_clock: object, spec: str, seqs: list[int]
) -> None:
    options = ServeOptions(speed=None, on_end="close", faults=(parse_fault(spec),))
    received, code = await run_once(one_a_second(tmp_path), options)
    assert [m for _, m in received] == [frame_text(i) for i in seqs] and code == 1000


async def test_delay_holds_one_frame_and_the_rest_keep_their_schedule(
    tmp_path: Path, autojump_clock: object
) -> None:
    options = ServeOptions(on_end="close", faults=(parse_fault("delay:after=3,by=5"),))
    received, _ = await run_once(one_a_second(tmp_path), options)
    # Frame 4 was due at 3 s and leaves at 8 s; 5..8 (due 4..7) are overdue and follow it at
    # once, never before it; 9 and 10 are on time.
    assert received == [(float(t), frame_text(i)) for i, t in enumerate([0, 1, 2, 8, 8, 8, 8, 8, 8, 9], 1)]


async def test_corrupt_sends_a_torn_frame_that_is_not_json(tmp_path: Path, autojump_clock: object) -> None:
    options = ServeOptions(speed=None, on_end="close", faults=(parse_fault("corrupt:after=2"),))
    received, _ = await run_once(one_a_second(tmp_path), options)
    messages = [m for _, m in received]
    assert messages == [
        frame_text(1),
        frame_text(2),
        frame_text(2)[: len(frame_text(2)) // 2],
        *map(frame_text, range(3, 11)),
    ]
    with pytest.raises(ValueError):
        json.loads(messages[2])


async def test_faults_at_one_point_happen_in_the_order_given(tmp_path: Path, autojump_clock: object) -> None:
    faults = tuple(
        parse_fault(s) for s in ("duplicate:after=2", "corrupt:after=2", "close:after=2,code=4002")
    )
    with trio.fail_after(30):
        async with running([one_a_second(tmp_path)], ServeOptions(speed=None, faults=faults)) as handle:
            received, code = await session(handle.fixture_url(FIXTURE))
            (report,) = await handle.wait_connections(1)
    torn = frame_text(2)[: len(frame_text(2)) // 2]
    assert [m for _, m in received] == [frame_text(1), frame_text(2), frame_text(2), torn] and code == 4002
    assert report.faults == tuple(str(f) for f in faults) and report.fault_frames == (2, 2, 2)
    assert "faults=duplicate:after=2@2;corrupt:after=2@2;close:after=2,code=4002@2" in report.log_line()


async def test_reject_refuses_the_next_attempts_at_the_handshake(
    tmp_path: Path, autojump_clock: object
) -> None:
    options = ServeOptions(speed=None, faults=(parse_fault("reject:next=2,status=503,from=1"),))
    statuses: list[int | None] = []
    with trio.fail_after(30):
        async with running([one_a_second(tmp_path)], options) as handle:
            for attempt in range(4):  # each asks for its own startPosition
                try:
                    async with client(f"{handle.fixture_url(FIXTURE)}?startPosition={attempt}") as ws:
                        await receive(ws, 1)
                        statuses.append(None)
                except ConnectionRejected as rejected:
                    statuses.append(rejected.status_code)
                    body = json.loads(rejected.body or b"")
                    assert body["status"] == 503 and "reject:next=2,status=503,from=1" in body["error"]
            reports = await handle.wait_connections(4)
    assert statuses == [None, 503, 503, None]
    assert [(r.ended, r.faults, r.start_position) for r in reports] == [
        ("client-closed", (), 0),
        ("rejected", ("reject:next=2,status=503,from=1",), 1),  # what it asked for, refused or not
        ("rejected", ("reject:next=2,status=503,from=1",), 2),
        ("client-closed", (), 3),
    ]


# --- match moments, seeds, --start-at, on a simulated match ---------------------------------

SIMULATED = simulate_match(seed=5, best_of=3)  # 3 games and 3 game points: game-point#2 exists
SIM_FIXTURE = SIMULATED.header.fixture_id
SIM_MOMENTS = list(moments_of_texts(SIMULATED.frames))


def _first(moment: str, nth: int = 1) -> int:
    return [i for i, m in enumerate(SIM_MOMENTS) if moment in m][nth - 1]


@pytest.fixture
def simulated(tmp_path: Path) -> Path:
    return write_simulated(SIMULATED, tmp_path / "sim.jsonl.zst")


async def run_sim(capture: Path, options: ServeOptions, url_suffix: str = "") -> tuple[Received, int | None]:
    with trio.fail_after(60):
        async with running([capture], options) as handle:
            return await session(handle.fixture_url(SIM_FIXTURE) + url_suffix)


async def test_drop_at_match_point_comes_right_after_the_match_point_frame(
    simulated: Path, autojump_clock: object
) -> None:
    received, code = await run_sim(
        simulated, ServeOptions(speed=None, faults=(parse_fault("drop:at=match-point"),))
    )
    assert data(received) == list(SIMULATED.frames[: _first("match-point") + 1]) and code == 1006


async def test_duplicate_at_the_second_game_point_only(simulated: Path, autojump_clock: object) -> None:
    options = ServeOptions(speed=None, on_end="close", faults=(parse_fault("duplicate:at=game-point#2"),))
    received, _ = await run_sim(simulated, options)
    k = _first("game-point", 2)
    assert data(received) == [*SIMULATED.frames[: k + 1], SIMULATED.frames[k], *SIMULATED.frames[k + 1 :]]


async def test_the_same_seed_gives_the_same_faults_byte_for_byte(
    simulated: Path, autojump_clock: object
) -> None:
    specs = ("duplicate:p=0.1", "reorder:p=0.05", "corrupt:p=0.05")
    options = ServeOptions(speed=None, on_end="close", seed=42, faults=tuple(parse_fault(s) for s in specs))
    first, _ = await run_sim(simulated, options)
    again, _ = await run_sim(simulated, options)
    other, _ = await run_sim(simulated, replace(options, seed=43))
    assert [m for _, m in first] == [m for _, m in again]
    assert [m for _, m in first] != [m for _, m in other]
    assert len(first) > len(SIMULATED.records)  # duplicates and corrupt frames were added
    assert sorted(set(data(first))) == sorted(SIMULATED.frames)  # nothing lost


async def test_each_connection_has_its_own_generator_and_a_new_server_repeats_them(
    simulated: Path, autojump_clock: object
) -> None:
    options = ServeOptions(speed=None, on_end="close", seed=5, faults=(parse_fault("duplicate:p=0.2"),))

    async def two_connections() -> list[list[str]]:
        with trio.fail_after(60):
            async with running([simulated], options) as handle:
                return [[m for _, m in (await session(handle.fixture_url(SIM_FIXTURE)))[0]] for _ in range(2)]

    first = await two_connections()
    assert first[0] != first[1]
    assert await two_connections() == first


async def test_start_at_joins_mid_match_and_start_position_counts_from_the_start_at_point(
    simulated: Path, autojump_clock: object
) -> None:
    frames = SIMULATED.frames
    set2 = _first("set-end") + 1
    options = ServeOptions(speed=None, on_end="close", start_at=parse_start_at("set=2"))
    received, _ = await run_sim(simulated, options)
    assert data(received) == list(frames[set2:])
    # The start-at point is frame 0 of the served stream: startPosition skips from there.
    received, _ = await run_sim(simulated, options, "?startPosition=3")
    assert data(received) == list(frames[set2 + 3 :])
    received, _ = await run_sim(simulated, options, f"?startPosition={len(frames) - set2}")
    assert data(received) == []
    received, _ = await run_sim(simulated, replace(options, start_at=parse_start_at("game-point#2")))
    assert data(received)[0] == frames[_first("game-point", 2)]
    received, _ = await run_sim(simulated, replace(options, start_at=parse_start_at("seq=20")))
    assert json.loads(data(received)[0])["seqNum"] == 20


async def test_a_start_at_point_the_capture_lacks_stops_the_server_from_starting(
    simulated: Path, autojump_clock: object
) -> None:
    with (
        trio.fail_after(10),
        pytest.RaisesGroup(pytest.RaisesExc(StartAtError, match="sim.jsonl.zst"), flatten_subgroups=True),
    ):
        async with running([simulated], ServeOptions(start_at=parse_start_at("set=9"))):
            pass
