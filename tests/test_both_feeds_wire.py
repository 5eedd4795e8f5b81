"""Both feeds of one fixture over real loopback sockets (issue 14 §4): the recorder on the
actions feed, `ttrec serve DIR` serving both, faults and --start-at keyed to match moments
hitting the same action on either feed, serve_in_thread and the plugin's server with both.

Loopback only, port 0, the mock clock for anything timed, every wait bounded.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing
from action_factory import FIXTURE, ActionMatch, straight_match
from recorder_support import TOKEN, frames_of, read, record_from, replayer
from replayer_support import client, wait_ready
from trio_websocket import ConnectionClosed, open_websocket_url

from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.watch import watch
from replayer import ServeOptions
from ttrec.capture import CaptureReader
from ttrec.faults import parse_fault
from ttrec.feed import ACCEPT_HEADER, FEEDS, Feed, auth_message, classify, feed_of_url, seq_num
from ttrec.records import Frame
from ttrec.schedule import parse_start_at
from ttrec.scoreboard import Scoreboard
from ttrec.testing import TrioServer, serve_asyncio, serve_in_thread

pytest_plugins = ["pytester"]
MATCH = straight_match()


def _seq_of_type(type_id: int, match: ActionMatch = MATCH) -> int:
    """The fixtureSeqNum of the builder's first packet of an action type (read from its JSON)."""
    return next(
        json.loads(t)["fixtureAction"]["fixtureSeqNum"]
        for t in match.packets
        if json.loads(t)["fixtureAction"]["fixtureActionTypeId"] == type_id
    )


def _first_finished(match: ActionMatch = MATCH) -> int:
    return next(i for i, t in enumerate(match.packets) if json.loads(t)["finished"])


@pytest.fixture
def both(tmp_path: Path) -> list[Path]:
    directory = tmp_path / "served"
    directory.mkdir()
    return [MATCH.write(directory / f"m.{feed}.jsonl.zst", feed) for feed in FEEDS]


async def _frames(url: str, *, limit: int) -> list[str]:
    """The data frames a client reads from `url` until the server drops it or `limit`."""
    got: list[str] = []
    feed = feed_of_url(url)
    try:
        async with client(url, token="token") as ws:
            while len(got) < limit:
                message = await ws.get_message()
                if isinstance(message, str) and classify(message, feed) == "frame":
                    got.append(message)
    except ConnectionClosed:
        pass
    return got


async def test_the_recorder_records_the_actions_feed_through_drops_and_resends(
    both: list[Path], tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    options = ServeOptions(
        seed=3, faults=(parse_fault("drop:at=match-point"), parse_fault("duplicate:p=0.2"))
    )
    with trio.fail_after(3600):
        async with replayer(both, options) as handle:
            record_options = RecordOptions(base_url=handle.url, seed=1, feed="actions")
            [result] = await record_from(handle, [FIXTURE], tmp_path / "out", options=record_options)
    assert result.outcome == "finished" and result.complete, result.detail
    assert result.connections == 2 and result.duplicates > 0
    reader, records = read(result.path)
    assert reader.header.feed == "actions" and reader.header.url.endswith("/actions")
    # every packet once, in order, up to the first that says finished (the recorder's end)
    assert [f.data for f in frames_of(records)] == MATCH.packets[: _first_finished() + 1]


def test_a_corrected_packet_under_a_known_fixture_seq_num_is_kept(tmp_path: Path) -> None:
    """Only an identical text is a resend: a different packet under one fixtureSeqNum stays."""
    from recorder.recording import Recording
    from ttrec.capture import CaptureWriter
    from ttrec.records import Header

    header = Header(
        fixture_id=FIXTURE, url="ws://127.0.0.1/x", source="recorded", created="x", feed="actions"
    )
    path = tmp_path / "r.jsonl.zst"
    with CaptureWriter(path, header) as writer:
        clock = iter(float(i) for i in range(100))
        recording = Recording(writer, feed="actions", clock=lambda: next(clock))
        conn = recording.new_connection()
        stamp = recording.stamp()
        first = MATCH.packets[5]
        changed = first.replace('"sendType":"Confirmed"', '"sendType":"Updated"')
        assert changed != first
        arrivals = [recording.text(stamp, conn, text) for text in (first, first, changed)]
    assert [a.duplicate for a in arrivals] == [False, True, False]
    assert recording.frames == 2 and recording.position == 1


async def test_serve_dir_serves_both_feeds_of_a_fixture(both: list[Path], tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    stderr = tmp_path / "stderr.txt"
    directory = both[0].parent
    args = [sys.executable, "-m", "ttrec", "serve", str(directory), "--ready-file", str(ready)]
    args += ["--speed", "max", "--token", TOKEN]
    got: dict[str, list[str]] = {}
    with stderr.open("wb") as err, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(args, stderr=err, check=False, task_status=task_status)
            )
            info = await wait_ready(process, ready)
            assert info["fixtures"] == [FIXTURE]
            for feed in FEEDS:
                url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/{feed}"
                async with client(url, token=TOKEN) as ws:
                    expected = len(MATCH.packets) if feed == "actions" else len(MATCH.frames)
                    got[feed] = []
                    while len(got[feed]) < expected:
                        message = await ws.get_message()
                        if isinstance(message, str) and classify(message, feed) == "frame":
                            got[feed].append(message)
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    assert got["actions"] == MATCH.packets
    assert got["statistics"] == [text for _, text in MATCH.frames]


@pytest.mark.parametrize("moment", ["match-point", "game-point", "set-end#2", "final"])
async def test_a_fault_at_a_moment_hits_the_same_action_on_either_feed(
    both: list[Path], autojump_clock: trio.testing.MockClock, moment: str
) -> None:
    options = ServeOptions(speed=None, faults=(parse_fault(f"drop:at={moment}"),))
    last: dict[str, int | None] = {}
    with trio.fail_after(600):
        async with replayer(both, options) as handle:
            for feed in FEEDS:
                got = await _frames(handle.fixture_url(FIXTURE, feed), limit=len(MATCH.packets))
                last[feed] = seq_num(got[-1], feed)
    # The builder's own record of where each moment is: the packet it sent it with.
    expected = {
        "match-point": _seq_of_type(1108),
        "game-point": _seq_of_type(1105),
        "set-end#2": _first_finished() + 1,  # the last point decides set 2 and the match
        "final": _first_finished() + 1,
    }[moment]
    assert last == {"statistics": expected, "actions": expected}


async def test_start_at_a_moment_starts_both_feeds_at_the_same_action(
    both: list[Path], autojump_clock: trio.testing.MockClock
) -> None:
    options = ServeOptions(speed=None, start_at=parse_start_at("match-point"))
    first: dict[str, int | None] = {}
    with trio.fail_after(600):
        async with replayer(both, options) as handle:
            for feed in FEEDS:
                got = await _frames(handle.fixture_url(FIXTURE, feed), limit=1)
                first[feed] = seq_num(got[0], feed)
    assert first == {"statistics": _seq_of_type(1108), "actions": _seq_of_type(1108)}


@pytest.fixture
def ttrec_capture(both: list[Path]) -> list[Path]:
    """The plugin's server, given both captures of the fixture (as `capture=[...]` would)."""
    return both


async def test_the_plugin_server_serves_both_feeds(ttrec_server: TrioServer) -> None:
    assert ttrec_server.fixture_id == FIXTURE
    url = ttrec_server.fixture_url(feed="actions")
    assert url.endswith(f"/{FIXTURE}/actions")
    with trio.fail_after(60):
        async with ttrec_server.connect(feed="actions") as ws:
            message = await ws.get_message()
            while not (isinstance(message, str) and classify(message, "actions") == "frame"):
                message = await ws.get_message()
    assert message == MATCH.packets[0]


def _read_in_trio(url: str, token: str, count: int, feed: Feed) -> Iterator[str]:
    async def main() -> list[str]:
        got: list[str] = []
        with trio.fail_after(60):
            async with open_websocket_url(url, extra_headers=[("Accept", ACCEPT_HEADER)]) as ws:
                await ws.send_message(auth_message(token))
                while len(got) < count:
                    message = await ws.get_message()
                    if isinstance(message, str) and classify(message, feed) == "frame":
                        got.append(message)
        return got

    return iter(trio.run(main))


def test_serve_in_thread_gives_the_url_of_either_feed(both: list[Path]) -> None:
    with serve_in_thread(both, speed=None) as server:
        actions = list(_read_in_trio(server.fixture_url(feed="actions"), server.token, 5, "actions"))
        stats = list(_read_in_trio(server.fixture_url(), server.token, 5, "statistics"))
    assert actions == MATCH.packets[:5]
    assert stats == [text for _, text in MATCH.frames[:5]]


async def test_watch_on_the_actions_feed_keeps_the_board_from_the_summary(
    both: list[Path], autojump_clock: trio.testing.MockClock
) -> None:
    boards: list[str] = []

    def show(board: Scoreboard, new_frame: bool) -> None:
        if new_frame:
            boards.append(board.line())

    with trio.fail_after(600):
        async with replayer(both, ServeOptions(speed=None)) as handle:
            result = await watch(handle.fixture_url(FIXTURE, "actions"), Token("t"), show, refresh_s=None)
    assert result.ended == "finished"
    board = result.board
    assert board.frames == _first_finished() + 1  # it stops at the first finished packet
    frame = board.frame
    assert frame is not None and frame.winner == "home"
    assert [list(s) for s in frame.sets] == [[11, 5], [11, 5]]
    assert board.team_names == {"home": "Home", "away": "Away"}
    assert "MATCH POINT home" in boards[_seq_of_type(1108) - 1]
    assert "FINISHED winner home" in boards[-1]


async def test_watch_says_a_dropped_collection_has_no_result(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    match = ActionMatch()
    match.point("home")
    match.collection = "CollectionDropped"
    match.action(22, finished=True)
    path = match.write(tmp_path / "d.jsonl.zst", "actions")
    with trio.fail_after(600):
        async with replayer([path], ServeOptions(speed=None)) as handle:
            result = await watch(
                handle.fixture_url(FIXTURE, "actions"), Token("t"), lambda b, n: None, refresh_s=None
            )
    assert result.board.dropped and "ENDED dropped, no result" in result.board.line()
    assert "ended: dropped, no result" in result.board.render(0.0)[3]


def test_serve_asyncio_gives_the_url_of_either_feed(both: list[Path]) -> None:
    import asyncio

    import websockets

    async def read(url: str, token: str, count: int, feed: Feed) -> list[str]:
        got: list[str] = []
        # max_queue=None: at speed max the frames keep coming after our close; a bounded queue
        # would stop websockets reading before the server's close frame (1006 after 1 s).
        headers = {"Accept": ACCEPT_HEADER}
        async with websockets.connect(url, additional_headers=headers, close_timeout=1, max_queue=None) as ws:
            await ws.send(auth_message(token))
            while len(got) < count:
                message = await ws.recv()
                if isinstance(message, str) and classify(message, feed) == "frame":
                    got.append(message)
        return got

    async def main() -> tuple[list[str], list[str]]:
        async with serve_asyncio(both, speed=None) as server:
            actions = await asyncio.wait_for(
                read(server.fixture_url(feed="actions"), server.token, 4, "actions"), 60
            )
            stats = await asyncio.wait_for(read(server.fixture_url(), server.token, 4, "statistics"), 60)
        return actions, stats

    actions, stats = asyncio.run(main())
    assert actions == MATCH.packets[:4]
    assert stats == [text for _, text in MATCH.frames[:4]]


BOTH_RECORDED = """
import pytest
from ttrec.feed import classify


@pytest.mark.ttrec(
    fixture="{fixture}",
    capture={{"statistics": "captures/s.jsonl.zst", "actions": "captures/a.jsonl.zst"}},
    on_end="close",
)
async def test_consumer(ttrec_server):
    packets = 0
    async with ttrec_server.connect(feed="actions") as ws:
        while packets < {packets}:
            if classify(await ws.get_message(), "actions") == "frame":
                packets += 1
"""


def test_the_marker_records_each_feed_into_its_capture(
    both: list[Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        "[pytest]\ntrio_mode = true\naddopts = -p no:cacheprovider\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_both=BOTH_RECORDED.format(fixture=FIXTURE, packets=_first_finished() + 1))
    monkeypatch.setenv("TTREC_TOKEN", "provider-token")
    # A heartbeat after 0.1 s of quiet ends each recorder's linger after the finished frame
    # (else FINISHED_LINGER_S, 2 s of the real clock, per feed).
    with serve_in_thread(both, tokens=["provider-token"], heartbeat_interval_s=0.1) as provider:
        result = pytester.runpytest("--ttrec-record-mode=once", f"--ttrec-base-url={provider.url}")
        result.assert_outcomes(passed=1)
    recorded = {}
    for name in ("s", "a"):
        with CaptureReader(pytester.path / "captures" / f"{name}.jsonl.zst") as reader:
            recorded[name] = (reader.header.feed, [r.data for r in reader if isinstance(r, Frame)])
    # Up to the first finished packet at least; the recorder then lingers a moment for a
    # packet sent out of order (FINISHED_LINGER_S), keeping what the server still sends.
    feed, packets = recorded["a"]
    assert feed == "actions" and len(packets) > _first_finished()
    assert packets == MATCH.packets[: len(packets)]
    assert recorded["s"] == ("statistics", [text for _, text in MATCH.frames])
