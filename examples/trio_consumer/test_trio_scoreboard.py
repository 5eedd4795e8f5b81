"""Testing the trio consumer with ttrec's pytest plugin.

`ttrec_server` starts the replayer inside the test (port 0); `autojump_clock` makes a whole
match play in virtual time; `ttrec_server.control` steps through it. Run with
`python -m pytest examples/trio_consumer` (pytest-trio, trio_mode = true).
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from trio_scoreboard import Scoreboard, follow, follow_resuming

from ttrec.bundled import SAMPLES
from ttrec.simulator import simulate_match
from ttrec.testing import TrioServer

# The bundled sample is `ttrec simulate` output: its match, as the simulator played it.
SAMPLE = SAMPLES["sample-singles-bo5"]
TRUTH = simulate_match(SAMPLE.seed, best_of=SAMPLE.best_of, doubles=SAMPLE.doubles)
# seqNums skip the actions no statistic counts (timeouts, video checks...): never 1..N.
SEQS = [action.seq_num for action in TRUTH.actions]


@pytest.mark.ttrec(speed=1.0)  # the bundled best-of-5 sample, at its recorded pace
async def test_the_whole_match(ttrec_server: TrioServer, autojump_clock: trio.testing.MockClock) -> None:
    board = Scoreboard()
    with trio.fail_after(3600):  # virtual seconds
        await follow(ttrec_server.fixture_url(), ttrec_server.token, board)
    assert board.finished and board.last_seq == SEQS[-1] and board.frames == len(SEQS)
    assert board.sets == list(TRUTH.sets)
    assert board.sets_won == TRUTH.sets_won
    assert trio.current_time() > 24 * 60  # half an hour of match, in a blink of real time


@pytest.mark.ttrec(paused=True)
async def test_step_by_step(ttrec_server: TrioServer) -> None:
    board = Scoreboard()
    control = ttrec_server.control
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow, ttrec_server.fixture_url(), ttrec_server.token, board)

            await control.release(3)  # returns once the 3 frames were sent
            await trio.testing.wait_all_tasks_blocked()  # and the consumer took them
            assert board.last_seq == SEQS[2] and board.frames == 3

            position = await control.run_to("set-end")
            await trio.testing.wait_all_tasks_blocked()
            assert board.last_seq == position.seq
            first_home, first_away = TRUTH.sets[0]
            assert board.sets[0] == TRUTH.sets[0] and board.sets_won == (
                first_home > first_away,
                first_home < first_away,
            )

            await control.run_to("match-point")
            await trio.testing.wait_all_tasks_blocked()
            # the match point comes in the last game: every game but that one is over
            home_won, away_won = TRUTH.sets_won
            last_home, last_away = TRUTH.sets[-1]
            assert board.sets_won == (home_won - (last_home > last_away), away_won - (last_away > last_home))
            assert not board.finished

            await control.run_to("final")
            await trio.testing.wait_all_tasks_blocked()
            assert board.finished and board.sets_won == TRUTH.sets_won


@pytest.mark.ttrec(faults=["drop:after=50"])
async def test_a_dropped_connection_ends_the_follow(ttrec_server: TrioServer) -> None:
    board = Scoreboard()
    with trio.fail_after(20):
        await follow(ttrec_server.fixture_url(), ttrec_server.token, board)
        (report,) = await ttrec_server.wait_connections(1)
    assert board.last_seq == SEQS[49] and not board.finished
    assert report.ended == "fault" and report.faults == ("drop:after=50",)


@pytest.mark.ttrec(faults=["drop:at=match-point"], start_at="set=3", speed=1.0)
async def test_reconnect_after_a_fault_resumes_by_frames_received(
    ttrec_server: TrioServer, autojump_clock: trio.testing.MockClock
) -> None:
    """The main use case: the socket goes at match point, the consumer reconnects with
    startPosition = the data frames it received and gets the rest, nothing twice."""
    board = Scoreboard()
    with trio.fail_after(3600):  # virtual seconds
        await follow_resuming(ttrec_server.fixture_url(), ttrec_server.token, board)
        first, second = await ttrec_server.wait_connections(2)
    assert board.finished and board.sets_won == TRUTH.sets_won and board.connections == 2
    assert first.ended == "fault" and first.faults == ("drop:at=match-point",)
    assert second.start_position == first.frames_sent  # resumed where it was, by frames
    assert first.frames_sent + second.frames_sent == len(board.seen)  # nothing sent twice


@pytest.mark.ttrec(tls=True)
async def test_over_wss(ttrec_server: TrioServer) -> None:
    board = Scoreboard()
    with trio.fail_after(20):
        await follow(
            ttrec_server.fixture_url(), ttrec_server.token, board, ssl_context=ttrec_server.ssl_context
        )
    assert board.finished and ttrec_server.url.startswith("wss://")
