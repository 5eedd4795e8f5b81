"""Judge a Python consumer over many scenarios in-process: `check_consumer`.

The consumer is an async callable given the feed URL and the token, that returns its
beliefs (or yields them, as an async generator): mappings in the truth schema, `{"seq": N,
"sets": ..., ...}` (docs/verdict.md). Each example is a `Scenario` drawn by
ttrec.testing.strategies.scenarios(): its match is served on 127.0.0.1 over a real socket,
the consumer follows it, and its beliefs are judged by ttrec.verdict as `ttrec verdict`
and `ttrec fuzz` judge them. A failure is shrunk by hypothesis and raised as
`ConsumerDiverged` (an AssertionError) naming the scenario and the first wrong belief.

Time, per event loop:

- trio: the server and the consumer run in one `trio.run` under
  `trio.testing.MockClock(autojump_threshold=0)`: the clock jumps whenever every task
  waits, so stalls, delays, heartbeat gaps and the consumer's own sleeps and timeouts take
  no real time. By default the match plays at full speed (each frame as soon as the
  consumer reads the one before); `speed=1.0` plays it at its recorded pace, heartbeats
  and pauses included, in virtual time too (about twice the real cost per example).
- asyncio: asyncio has no clock a test can drive from outside the loop, so virtual time
  cannot be offered honestly. The server runs in a thread of its own (as serve_asyncio)
  at `--speed max`: the match's own time is taken out (each frame is sent as soon as the
  consumer reads the one before); what stays real is short (stalls and delays of at most
  1 s drawn by the strategy, the consumer's own sleeps and timeouts).
"""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import trio
import trio.testing

from replayer import ServeOptions, serve_listeners
from replayer.library import Fixture, fixture_from
from replayer.run import LOOPBACK, ServerThread
from replayer.server import open_listeners
from ttrec.errors import TtrecError
from ttrec.faults import parse_fault
from ttrec.feed import Feed, feed_url
from ttrec.simulator import write_capture
from ttrec.testing.fuzz import (
    FUZZ_TOKEN,
    MatchKey,
    Outcome,
    Scenario,
    Verdicts,
    describe,
    hypothesis_search,
    verdict_problem,
)
from ttrec.verdict import BeliefError, parse_beliefs

Belief = Mapping[str, Any]
# What a consumer under test is: given the URL and the token, its beliefs.
Consumer = Callable[[str, str], Awaitable[Iterable[Belief]] | AsyncIterator[Belief]]
Loop = Literal["trio", "asyncio"]

# How long one example may take: virtual seconds under trio (a best of 7 with a suspension
# lasts some two hours of match time at speed 1), real seconds under asyncio (full speed).
TRIO_EXAMPLE_TIMEOUT_S: Final = 6 * 3600.0
ASYNCIO_EXAMPLE_TIMEOUT_S: Final = 30.0


class ConsumerDiverged(AssertionError):
    """The consumer was wrong (or crashed, or gave up) on a scenario."""

    def __init__(self, scenario: Scenario, problem: str, details: Iterable[str] = ()) -> None:
        self.scenario = scenario
        self.problem = problem
        lines = [f"{problem}", f"  scenario: {describe(scenario)[0]}", *details]
        super().__init__("\n".join(lines))


@dataclass
class CheckResult:
    examples: int = 0  # examples the consumer passed
    runs: int = 0  # of them, those the consumer ran (not a repeat of what it was served before)


def check_consumer(
    consumer: Consumer,
    *,
    loop: Loop = "trio",
    examples: int = 50,
    seed: int = 0,
    best_of: int | None = None,
    max_faults: int = 3,
    timeout_s: float | None = None,
    speed: float | None = None,
) -> CheckResult:
    """Run `consumer` against `examples` scenarios drawn from `seed`; raise
    ConsumerDiverged on the smallest failing one. Call it from a synchronous test (it runs
    an event loop per example). An example that serves exactly what an earlier one served
    (ttrec.testing.fuzz.Verdicts) is judged as that one was, without running the consumer."""
    try:
        from ttrec.testing.strategies import scenarios
    except ImportError as exc:
        raise TtrecError(str(exc)) from None
    if loop not in ("trio", "asyncio"):
        raise ValueError(f"loop must be 'trio' or 'asyncio', got {loop!r}")
    limit = timeout_s or (TRIO_EXAMPLE_TIMEOUT_S if loop == "trio" else ASYNCIO_EXAMPLE_TIMEOUT_S)
    result = CheckResult()
    verdicts = Verdicts()

    def example(scenario: Scenario) -> None:
        served = scenario.served()
        outcome = verdicts.get(served)
        if outcome is None:
            result.runs += 1
            outcome = judge_in_process(consumer, scenario, loop=loop, timeout_s=limit, speed=speed)
            verdicts.put(served, outcome)
        _raise_on_failure(scenario, outcome)
        result.examples += 1

    run = hypothesis_search(example, scenarios(best_of=best_of, max_faults=max_faults), examples, seed)
    run()
    return result


def _raise_on_failure(scenario: Scenario, outcome: Outcome) -> None:
    if outcome.problem is not None:
        divergence = outcome.divergence
        raise ConsumerDiverged(scenario, outcome.problem, divergence.describe()[1:] if divergence else ())


def judge_in_process(
    consumer: Consumer, scenario: Scenario, *, loop: Loop, timeout_s: float, speed: float | None = None
) -> Outcome:
    """One scenario served on loopback, the consumer run in this process, its beliefs
    judged as `ttrec fuzz` judges a process's (a consumer that raises has crashed)."""
    match, truth = scenario.played()
    start = scenario.start_position(len(match.frames))
    if loop == "trio":
        clock = trio.testing.MockClock(autojump_threshold=0)
        fixtures = simulated_fixtures(scenario.match_key())
        options = _options(scenario, speed)
        beliefs = trio.run(_in_trio, consumer, fixtures, options, start, timeout_s, clock=clock)
    else:
        with tempfile.TemporaryDirectory(prefix="ttrec-check-") as folder:
            capture = write_capture(match, Path(folder) / "match.jsonl.zst")
            beliefs = _in_asyncio(consumer, capture, scenario, start, timeout_s)
    if isinstance(beliefs, Outcome):
        return beliefs
    try:
        parsed = parse_beliefs(json.dumps(dict(b), separators=(",", ":")) for b in beliefs)
    except (BeliefError, TypeError, ValueError) as exc:
        return Outcome(f"the consumer's beliefs are not beliefs: {exc}", "not-beliefs")
    problem, kind, divergence = verdict_problem(truth, parsed)
    return Outcome(problem, kind, divergence)


# A search plays the same match again and again (ttrec.testing.fuzz._played). Its fixture is
# built once, from the match's records in memory: what loading the capture `ttrec fuzz`
# writes gives (tests/test_check_consumer.py), without compressing, syncing and reading a
# file per example (a fifth of an example's time).
@functools.lru_cache(maxsize=16)
def simulated_fixtures(match_key: MatchKey) -> Mapping[tuple[str, Feed], Fixture]:
    """The server's fixtures for the match of the scenarios with this `Scenario.match_key`."""
    seed, best_of, doubles, collection, correction_ppm = match_key
    match = Scenario(seed, best_of, doubles, (), 0, 0, collection, correction_ppm).match()
    fixture = fixture_from(match.header, match.records, Path("match.jsonl.zst"))
    return {(fixture.fixture_id, fixture.feed): fixture}


def _options(scenario: Scenario, speed: float | None) -> ServeOptions:
    faults = tuple(parse_fault(spec) for spec in scenario.faults)
    return ServeOptions(speed=speed, on_end="close", faults=faults, seed=scenario.fault_seed)


async def _in_trio(
    consumer: Consumer,
    fixtures: Mapping[tuple[str, Feed], Fixture],
    options: ServeOptions,
    start: int,
    timeout_s: float,
) -> list[Belief] | Outcome:
    """The server and the consumer in this trio run (under the MockClock): the beliefs, or
    what went wrong."""
    listeners = await open_listeners(LOOPBACK, 0, None)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(functools.partial(serve_listeners, listeners, fixtures, options))
        url = feed_url(handle.url, handle.fixtures[0], start_position=start)
        collected: list[Belief] = []
        with trio.move_on_after(timeout_s) as scope:
            failure = await _collect(consumer(url, FUZZ_TOKEN), collected)
        nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        return Outcome(f"the consumer did not finish within {timeout_s:g} s of virtual time", "timed-out")
    return failure or collected


def _in_asyncio(
    consumer: Consumer, capture: Path, scenario: Scenario, start: int, timeout_s: float
) -> list[Belief] | Outcome:
    """The server in its own thread at full speed, the consumer in asyncio.run."""
    runner = ServerThread([capture], _options(scenario, None))
    handle = runner.start()
    try:
        url = feed_url(handle.url, handle.fixtures[0], start_position=start)
        collected: list[Belief] = []

        async def bounded() -> Outcome | None:
            return await asyncio.wait_for(_collect(consumer(url, FUZZ_TOKEN), collected), timeout_s)

        try:
            failure = asyncio.run(bounded())
        except TimeoutError:
            return Outcome(f"the consumer did not finish within {timeout_s:g} s", "timed-out")
    finally:
        runner.stop()
    return failure or collected


async def _collect(
    running: Awaitable[Iterable[Belief]] | AsyncIterator[Belief], into: list[Belief]
) -> Outcome | None:
    """Gather the consumer's beliefs into `into`; what it raised, as a crash, or None."""
    try:
        if isinstance(running, AsyncIterator):
            async for belief in running:
                into.append(belief)
        else:
            into.extend(await running)
    except Exception as exc:  # the consumer's own failure is a verdict, not an error of ttrec
        return Outcome(f"the consumer raised {exc!r}", "crashed")
    return None
