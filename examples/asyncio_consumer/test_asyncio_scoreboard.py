"""Testing the asyncio consumer: ttrec's replayer runs in a background thread
(`serve_in_thread`), the consumer runs in `asyncio.run` in the test's thread.

Plain synchronous pytest tests: no pytest-trio needed. The server plays at speed max on
the real clock, so a whole match takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
import threading

from asyncio_scoreboard import Board, follow

from ttrec.bundled import SAMPLES
from ttrec.simulator import simulate_match
from ttrec.testing import serve_in_thread

# The bundled sample is `ttrec simulate` output: its match, as the simulator played it.
SAMPLE = SAMPLES["sample-singles-bo5"]
TRUTH = simulate_match(SAMPLE.seed, best_of=SAMPLE.best_of, doubles=SAMPLE.doubles)
FRAMES = len(TRUTH.frames)

BOUND_S = 20.0  # every wait is bounded: a broken consumer fails, it never hangs CI


def test_the_whole_match() -> None:
    with serve_in_thread(on_end="close") as server:  # the bundled best-of-5 sample
        board = asyncio.run(asyncio.wait_for(follow(server.fixture_url(), server.token), BOUND_S))
        (report,) = server.wait_connections(1, timeout=BOUND_S)
    assert board.finished and board.last_seq == FRAMES and board.close_code == 1000
    assert board.sets == list(TRUTH.sets)
    assert report.frames_sent == FRAMES and report.last_seq == FRAMES


def test_resuming_with_start_position() -> None:
    with serve_in_thread() as server:
        first = asyncio.run(
            asyncio.wait_for(follow(server.fixture_url(), server.token, stop_after=100), BOUND_S)
        )
        url = server.fixture_url(start_position=first.last_seq)
        rest = asyncio.run(asyncio.wait_for(follow(url, server.token), BOUND_S))
    assert first.last_seq == 100 and rest.frames == FRAMES - 100 and rest.finished


def test_step_control_from_a_synchronous_test() -> None:
    with serve_in_thread(paused=True) as server:
        boards: list[Board] = []
        consumer = threading.Thread(
            target=lambda: boards.append(
                asyncio.run(asyncio.wait_for(follow(server.fixture_url(), server.token), BOUND_S))
            )
        )
        consumer.start()
        position = server.control.run_to("set-end", timeout=BOUND_S)  # blocks until sent
        assert position.frames is not None and "set-end" in position.moments
        server.control.resume()
        consumer.join(BOUND_S)
    assert boards and boards[0].finished


def test_a_token_the_server_refuses() -> None:
    with serve_in_thread(tokens=["right"]) as server:
        board = asyncio.run(asyncio.wait_for(follow(server.fixture_url(), "wrong"), BOUND_S))
        (report,) = server.wait_connections(1, timeout=BOUND_S)
    assert board.frames == 0 and board.close_code == 1008
    assert report.ended == "auth-invalid"


def test_over_wss() -> None:
    with serve_in_thread(tls=True, on_end="close") as server:
        board = asyncio.run(
            asyncio.wait_for(
                follow(server.fixture_url(), server.token, ssl_context=server.ssl_context), BOUND_S
            )
        )
    assert board.finished and server.url.startswith("wss://")
