"""ttrec.testing.check_consumer: a Python consumer judged in-process over many scenarios,
under trio (virtual time) and asyncio (the server in a thread at full speed).

The consumer is examples/fuzz_consumers/consumer.py's own logic (the `Consumer` class
`ttrec fuzz` runs as a process), followed with trio-websocket (its `beliefs`) or with the
asyncio `websockets` client below; correct, it passes every scenario; with a planted bug,
check_consumer raises on a scenario that shows it. Under trio each match is served from its
records in memory, and that is what loading the capture `ttrec fuzz` writes gives. Loopback
only, port 0.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import pytest
import trio
import websockets
from fuzz_support import CONSUMER, trio_consumer
from websockets.asyncio.client import connect

from replayer.library import load_fixture
from ttrec.feed import ACCEPT_HEADER
from ttrec.simulator import write_capture
from ttrec.testing import check_consumer
from ttrec.testing.check import ConsumerDiverged, simulated_fixtures
from ttrec.testing.fuzz import Scenario
from ttrec.testing.strategies import OFTEN_CORRECTED_PPM

RETRY_S: Final = 0.05


def asyncio_consumer(bug: str | None = None) -> Any:
    """The same consumer on asyncio, yielding each belief as it forms one."""

    async def run(url: str, token: str) -> Any:
        consumer = CONSUMER.Consumer(bug)
        first = int(parse_qs(urlsplit(url).query).get("startPosition", ["0"])[-1])
        while not consumer.finished:
            consumer.new_connection()
            position = first if bug == "forgets-position" else first + len(consumer.seen)
            try:
                async with connect(
                    CONSUMER._with_start(url, position), additional_headers={"Accept": ACCEPT_HEADER}
                ) as ws:
                    await ws.send(json.dumps({"authToken": token}))
                    async for message in ws:
                        belief = consumer.receive(message) if isinstance(message, str) else None
                        if belief is not None:
                            yield belief
                        if consumer.finished:
                            break
            except (websockets.ConnectionClosed, websockets.InvalidHandshake, OSError):
                await asyncio.sleep(RETRY_S)

    return run


def test_the_fixture_served_under_trio_is_what_loading_the_written_capture_gives(tmp_path: Path) -> None:
    # Under trio the match is served from its records in memory, not from a capture file.
    for number, scenario in enumerate(
        [
            Scenario(0, 3, False, (), 0, 0),
            Scenario(7, 5, True, (), 0, 0, "dropped", OFTEN_CORRECTED_PPM),
            Scenario(11, 3, False, (), 0, 0, "suspended"),
        ]
    ):
        loaded = load_fixture(write_capture(scenario.match(), tmp_path / f"{number}.jsonl.zst"))
        (built,) = simulated_fixtures(scenario.match_key()).values()
        assert loaded.problem is None and built.problem is None
        assert (built.fixture_id, built.feed, built.header) == (loaded.fixture_id, loaded.feed, loaded.header)
        assert built.timeline == loaded.timeline and len(built.timeline.frame_positions) > 0


def test_the_correct_consumer_passes_hundreds_of_examples_under_trio() -> None:
    """The example consumer's own logic (examples/fuzz_consumers/consumer.py) over 200
    scenarios, on virtual time: about 20 s on the 2-core machine."""
    result = check_consumer(trio_consumer(), loop="trio", examples=200, seed=3)
    assert result.examples >= 200  # hypothesis may run a few more (none fewer) when it passes


def test_the_correct_consumer_passes_under_trio_at_the_recorded_pace_in_virtual_time() -> None:
    spans: list[float] = []

    async def timed(url: str, token: str) -> list[dict[str, Any]]:
        began = trio.current_time()
        found: list[dict[str, Any]] = await CONSUMER.beliefs(url, token)
        spans.append(trio.current_time() - began)
        return found

    assert check_consumer(timed, examples=3, seed=5, best_of=3, speed=1.0).examples >= 3
    # A best of 3 lasts many minutes of match time; the consumer lived them on the MockClock.
    assert max(spans) > 5 * 60


def test_a_buggy_consumer_fails_under_trio() -> None:
    with pytest.raises(ConsumerDiverged) as caught:
        check_consumer(trio_consumer("no-corrections"), examples=60, seed=3, best_of=3, max_faults=1)
    assert "sets believed" in str(caught.value) and "scenario: match seed" in str(caught.value)
    scenario = caught.value.scenario
    assert scenario.best_of == 3 and len(scenario.faults) <= 1 and scenario.match_seed == 0


def test_the_correct_consumer_passes_under_asyncio() -> None:
    result = check_consumer(asyncio_consumer(), loop="asyncio", examples=10, seed=3, max_faults=1)
    assert result.examples >= 10


def test_a_buggy_consumer_fails_under_asyncio() -> None:
    with pytest.raises(ConsumerDiverged, match="winner believed") as caught:
        check_consumer(asyncio_consumer("winner-on-drop"), loop="asyncio", examples=60, seed=3, best_of=3)
    assert caught.value.scenario.collection == "dropped"


def test_a_consumer_that_raises_or_stops_early_fails() -> None:
    async def raises(url: str, token: str) -> list[dict[str, Any]]:
        raise RuntimeError("lost")

    async def stops(url: str, token: str) -> list[dict[str, Any]]:
        return []

    with pytest.raises(ConsumerDiverged, match=r"raised RuntimeError\('lost'\)"):
        check_consumer(raises, examples=3)
    with pytest.raises(ConsumerDiverged, match="never reported the final frame"):
        check_consumer(stops, examples=3)
    with pytest.raises(ValueError, match="loop must be"):
        check_consumer(stops, loop="curio", examples=1)  # type: ignore[arg-type]
