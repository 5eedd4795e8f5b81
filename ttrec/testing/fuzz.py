"""Search for the scenario that breaks a consumer, in any language (`ttrec fuzz`).

Each example is a `Scenario`: a simulated match (with its corrections and how its
collection ends), the faults the mock injects, where the consumer joins. It is served on
loopback at `--speed max` with `--on-end close`; the consumer command runs with the URL
filled in and prints its beliefs (JSON Lines, the truth schema: docs/verdict.md) on
stdout; the beliefs are judged against the truth. A consumer fails an example when a
belief is wrong, when it exits non-zero or does not finish in time, or when it never
reports the final frame (it gave up before the match ended). Hypothesis draws the examples
from the seed and shrinks a failure towards a short match and few faults.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import signal
import string
import subprocess
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import trio

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

from replayer import ServeOptions, serve
from ttrec.errors import TtrecError
from ttrec.faults import WithProbability, parse_fault
from ttrec.feed import feed_url
from ttrec.outputs import write_own_folder
from ttrec.simulated_incidents import DEFAULT_CORRECTION_PPM, Incidents
from ttrec.simulated_incidents import Scenario as Collection
from ttrec.simulator import SimulatedMatch, simulate_match, write_capture
from ttrec.truth import truths
from ttrec.verdict import BeliefError, Divergence, first_divergence, parse_beliefs

FUZZ_TOKEN: Final = "ttrec-fuzz"  # noqa: S105 (not a secret: the mock accepts any token)
PLACEHOLDERS: Final = ("url", "base_url", "fixture", "token", "ca_file")
# What a simulated match depends on: seed, best of, doubles, how its collection ends, the
# corrections per million points (Scenario.match_key).
MatchKey = tuple[int, int, bool, Collection, int]
OUTPUT_TAIL_CHARS: Final = 4000  # of a failing consumer's stderr, kept for the repro


# A CI job cancelled (SIGTERM), a terminal closed (SIGHUP): a consumer under way, in its own
# process group, would be left running; it is ended first (StoppedBySignal).
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)


class StoppedBySignal(BaseException):
    """A stop signal came while a consumer ran: it was ended with every process it started,
    and the caller ends as the signal asks, once its own files are removed. A BaseException,
    as KeyboardInterrupt is, so that a search does not take it for a failing example."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class FuzzConfigError(TtrecError):
    """The consumer command cannot be run as given (a placeholder unknown, no program)."""


class FuzzUnavailable(FuzzConfigError):
    """hypothesis, the `strategies` extra, is not installed: a usage error (exit 2), as a
    missing extra is for `record --live` and `--metrics`."""


@dataclass(frozen=True, slots=True)
class Scenario:
    match_seed: int
    best_of: int
    doubles: bool
    faults: tuple[str, ...]  # `ttrec serve --fault` specs
    fault_seed: int
    join_permille: int  # where the consumer's first connection joins, in permille of the frames
    collection: Collection = "completed"  # how the collection ends: completed, suspended, dropped
    correction_ppm: int = DEFAULT_CORRECTION_PPM  # points corrected, per million (docs/feeds.md)

    def match(self) -> SimulatedMatch:
        """The scenario's match, the same every time."""
        return self.played()[0]

    def played(self) -> tuple[SimulatedMatch, tuple[dict[str, object], ...]]:
        """The scenario's match and its truth, one JSON object a frame (docs/verdict.md)."""
        return _played(*self.match_key())

    def match_key(self) -> MatchKey:
        """What the scenario's match depends on: scenarios with the same key play the same match."""
        return (self.match_seed, self.best_of, self.doubles, self.collection, self.correction_ppm)

    def start_position(self, frames: int) -> int:
        """The startPosition of the first connection: a share of the match, so it is always
        inside the match whatever its length."""
        return frames * self.join_permille // 1000

    def served(self) -> Hashable:
        """What a consumer is served, and nothing else: two scenarios with the same value
        serve the same match, the same faults and the same first startPosition. The fault
        seed feeds only the draws of faults with a probability (`p=`), and the join position
        counts only as the frame it rounds down to: a search's shrinking tries many
        scenarios that differ in nothing else (measured: half the runs of a search)."""
        faults = tuple(parse_fault(spec) for spec in self.faults)
        drawn = any(isinstance(getattr(f, "trigger", None), WithProbability) for f in faults)
        start = self.start_position(len(self.match().frames))
        return (self.match_key(), tuple(str(f) for f in faults), self.fault_seed if drawn else None, start)

    def serve_command(self, capture: str) -> str:
        """The one-line `ttrec serve` that replays this scenario."""
        words = [
            "ttrec",
            "serve",
            capture,
            "--speed",
            "max",
            "--on-end",
            "close",
            "--seed",
            str(self.fault_seed),
        ]
        for spec in self.faults:
            words += ["--fault", spec]
        return shlex.join(words)


# A search draws the same match again and again (while shrinking, and as hypothesis mutates
# earlier examples: half of 200 examples in a check_consumer run): simulating it and
# working out its truth were a third of an example's time. Both are immutable; 16 of them
# (up to 2 MB each) keep nearly every repeat of a 200-example run.
@functools.lru_cache(maxsize=16)
def _played(
    seed: int, best_of: int, doubles: bool, collection: Collection, correction_ppm: int
) -> tuple[SimulatedMatch, tuple[dict[str, object], ...]]:
    incidents = Incidents(correction_ppm=correction_ppm, scenario=collection)
    match = simulate_match(seed, best_of=best_of, doubles=doubles, incidents=incidents)
    return match, tuple(t.to_json() for t in truths(match.frames))


FailureKind = Literal["diverged", "crashed", "timed-out", "gave-up", "not-beliefs"]


@dataclass(frozen=True, slots=True)
class Outcome:
    problem: str | None  # None: the consumer passed this example
    kind: FailureKind | None = None
    divergence: Divergence | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""


@dataclass
class FuzzResult:
    examples_run: int = 0  # examples judged, the shrinking steps included
    consumer_runs: int = 0  # of them, those the consumer ran (not a repeat of one it ran)
    failure: tuple[Scenario, Outcome] | None = None
    failing_runs: int = 0  # every failing example, the shrinking steps (and their repeats) included
    stopped_by_budget: bool = False
    first_failure_at: int | None = None  # the example number that first failed
    timings: list[float] = field(default_factory=list)  # of each consumer run


class Verdicts:
    """The outcomes of the scenarios a search has judged, by what each served
    (`Scenario.served`): an example that serves exactly what an earlier one served is
    judged as that one was, without running the consumer again. The most recent `size` are
    kept (a repeat comes from shrinking or mutating a recent example); a passing outcome
    is kept without the consumer's output."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._known: OrderedDict[Hashable, Outcome] = OrderedDict()

    def get(self, served: Hashable) -> Outcome | None:
        outcome = self._known.get(served)
        if outcome is not None:
            self._known.move_to_end(served)
        return outcome

    def put(self, served: Hashable, outcome: Outcome) -> None:
        self._known[served] = outcome if outcome.problem is not None else Outcome(None)
        if len(self._known) > self.size:
            self._known.popitem(last=False)


def consumer_argv(template: str, values: dict[str, str]) -> list[str]:
    """Split the command like a shell would, then fill placeholders word by word (so a URL's
    `&` or `?` needs no quoting). A placeholder is a bare name of PLACEHOLDERS: `{url.x}`,
    `{0}`, `{}` or `{url!r}` would reach into Python's formatting, and are refused."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise FuzzConfigError(f"--consumer: {exc}") from None
    if not words:
        raise FuzzConfigError("--consumer: empty command")
    return [_filled(word, values) for word in words]


def _filled(word: str, values: dict[str, str]) -> str:
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    out = []
    try:
        parts = list(string.Formatter().parse(word))
    except ValueError as exc:  # str.format's syntax: `{url`, `}`
        braces = "{{ and }} for braces"
        raise FuzzConfigError(f"--consumer: {exc} (placeholders: {known}; {braces})") from None
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in PLACEHOLDERS or spec or conversion:
            raise FuzzConfigError(f"--consumer: unknown placeholder {field} (known: {known})")
        out.append(values[name])
    return "".join(out)


async def run_scenario(scenario: Scenario, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
    """Serve the scenario, run the consumer against it, judge its beliefs."""
    match, truth = scenario.played()
    with tempfile.TemporaryDirectory(dir=workdir, prefix="example-") as folder:
        capture = write_capture(match, Path(folder) / "match.jsonl.zst")
        return await _serve_and_judge(match, truth, capture, scenario, consumer, timeout_s)


async def _serve_and_judge(
    match: SimulatedMatch,
    truth: Sequence[Mapping[str, object]],
    capture: Path,
    scenario: Scenario,
    consumer: str,
    timeout_s: float,
) -> Outcome:
    options = ServeOptions(
        speed=None,
        on_end="close",
        faults=tuple(parse_fault(spec) for spec in scenario.faults),
        seed=scenario.fault_seed,
    )
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(serve, [capture], options)
        base_url = handle.url
        start = scenario.start_position(len(match.frames))
        url = feed_url(base_url, match.fixture_id, start_position=start)
        values = {
            "url": url,
            "base_url": base_url,
            "fixture": match.fixture_id,
            "token": FUZZ_TOKEN,
            "ca_file": "",
        }
        argv = consumer_argv(consumer, values)
        ran = await _run_consumer(argv, timeout_s)
        nursery.cancel_scope.cancel()
    if isinstance(ran, StoppedBySignal):
        raise ran  # out here, where no nursery wraps it in a group
    if isinstance(ran, Outcome):
        return ran
    stdout = ran.stdout.decode("utf-8", "replace")
    stderr = ran.stderr.decode("utf-8", "replace")[-OUTPUT_TAIL_CHARS:]
    return _judge(truth, stdout, stderr, ran.returncode)


async def _run_consumer(
    argv: list[str], timeout_s: float
) -> subprocess.CompletedProcess[bytes] | Outcome | StoppedBySignal:
    """The consumer's run, or the Outcome of one out of time, or the stop signal that ended
    it (returned, for the caller to raise where no nursery wraps it in a group)."""
    received: list[int] = []
    ran: subprocess.CompletedProcess[bytes] | Outcome | FuzzConfigError | None = None
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
            consumer_scope = trio.CancelScope()
            nursery.start_soon(_cancel_on_signal, signals, consumer_scope, received)
            try:
                with consumer_scope, trio.fail_after(timeout_s):
                    ran = await trio.run_process(
                        argv,
                        capture_stdout=True,
                        capture_stderr=True,
                        check=False,
                        start_new_session=True,  # its own process group: see _end_consumer
                        deliver_cancel=_end_consumer,
                    )
            except trio.TooSlowError:
                ran = Outcome(f"the consumer did not finish within {timeout_s:g} s", "timed-out")
            except OSError as exc:
                ran = FuzzConfigError(f"--consumer: cannot run {argv[0]!r}: {exc.strerror or exc}")
        nursery.cancel_scope.cancel()
    if received:
        return StoppedBySignal(received[0])
    if isinstance(ran, FuzzConfigError):
        raise ran
    assert ran is not None  # run, timed out or stopped: each one leaves
    return ran


async def _cancel_on_signal(
    signals: AsyncIterator[int], scope: trio.CancelScope, received: list[int]
) -> None:
    async for signum in signals:
        received.append(signum)
        scope.cancel()  # the consumer's whole group is ended (_end_consumer)
        return


async def _end_consumer(process: trio.Process) -> None:
    """A consumer cut off (its time is up, or ttrec fuzz is stopped) is ended with everything
    it started: one run through `sh -c` or `npm run` is a tree of processes, and ending only
    the first (trio's default) left the others running."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _judge(truth: Sequence[Mapping[str, object]], stdout: str, stderr: str, returncode: int) -> Outcome:
    problem, kind, divergence = _problem(truth, stdout, returncode)
    return Outcome(problem, kind, divergence, returncode, stdout, stderr)


def _problem(
    truth: Sequence[Mapping[str, object]], stdout: str, returncode: int
) -> tuple[str | None, FailureKind | None, Divergence | None]:
    if returncode != 0:
        return f"the consumer exited with status {returncode}", "crashed", None
    try:
        beliefs = parse_beliefs(stdout.splitlines())
    except BeliefError as exc:
        return f"the consumer's stdout is not beliefs: {exc}", "not-beliefs", None
    return verdict_problem(truth, beliefs)


def verdict_problem(
    truth: Sequence[Mapping[str, object]], beliefs: Sequence[tuple[int, Mapping[str, Any]]]
) -> tuple[str | None, FailureKind | None, Divergence | None]:
    """What is wrong with a whole run's beliefs (ttrec fuzz, check_consumer): the first
    wrong belief, or no belief about the final frame (the consumer gave up before the end)."""
    divergence = first_divergence(truth, beliefs)
    if divergence is not None:
        return divergence.describe()[0], "diverged", divergence
    final = truth[-1]["seq"] if truth else None
    if final is not None and all(belief["seq"] != final for _, belief in beliefs):
        return f"the consumer never reported the final frame (seq {final})", "gave-up", None
    return None, None, None


def fuzz(
    consumer: str,
    *,
    examples: int,
    seed: int,
    workdir: Path,
    timeout_s: float = 30.0,
    budget_s: float = 600.0,
    progress: Callable[[str], None] = lambda _line: None,
    best_of: int | None = None,
    max_faults: int = 3,
    judge: Callable[[Scenario], Outcome] | None = None,
) -> FuzzResult:
    """Run up to `examples` scenarios drawn from `seed`; shrink the first failure. Each
    example is served over loopback and `consumer` run against it, unless `judge` is given:
    then `judge` gives each example's outcome (a consumer judged in-process, as
    ttrec.testing.check judges one)."""
    try:
        from hypothesis.errors import Flaky
    except ImportError:
        raise FuzzUnavailable("fuzzing needs hypothesis: pip install 'ttrec[strategies]'") from None
    from ttrec.testing.strategies import scenarios

    if judge is None:
        judge = functools.partial(_run_command, consumer=consumer, workdir=workdir, timeout_s=timeout_s)
    search = _Search(judge, budget_s, progress)
    run = hypothesis_search(search.attempt, scenarios(best_of=best_of, max_faults=max_faults), examples, seed)
    # The failure itself is in `result`. A network fault at full speed can make a failure
    # depend on timing: when its final replay passes, hypothesis calls it flaky, and the
    # last failing run recorded is still a real failure.
    with contextlib.suppress(_Failed, Flaky):
        run()
    return search.result


def hypothesis_search(
    test: Callable[[Scenario], None], strategy: SearchStrategy[Scenario], examples: int, seed: int
) -> Callable[[], None]:
    """`test` as a hypothesis search over `strategy`: generate, then shrink a failure; no
    example database, no deadline, the same scenarios for the same seed (and the same
    hypothesis version) whatever else the process has imported or run."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    search = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        backend="hypothesis",  # not whatever a settings profile of the caller's chose
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )(hypothesis_seed(seed)(given(strategy)(test)))

    def run() -> None:
        with _without_local_constants():
            search()

    return run


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis (6.131 on) now and then draws, instead of a random value, a literal found in
    the source of any module imported from outside site-packages and the standard library
    (ttrec itself in an editable install, the caller's own modules). Which modules those are
    depends on what the process did before: pytest's earlier tests in the same worker, the
    CLI's imports, the consumer's modules. The same seed then drew other scenarios from the
    first such draw on (measured: from example 7 of seed 1, docs/fuzz.md). For the search,
    that pool is empty; hypothesis's own fixed constants stay. Private to hypothesis, so
    looked up softly: a version without the pool has nothing to empty."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover (a hypothesis laid out otherwise)
        yield
        return
    pooled = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if pooled is None or cache is None:
        yield
        return
    empty = Constants()
    name = "_get_local_constants"
    setattr(providers, name, lambda: empty)
    cache.clear()  # what was worked out from the pool before
    try:
        yield
    finally:
        setattr(providers, name, pooled)
        cache.clear()  # what was worked out without it, for the caller's own tests


def _run_command(scenario: Scenario, *, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
    return trio.run(run_scenario, scenario, consumer, workdir, timeout_s)


class _Search:
    """One `fuzz` run: each example judged, the failures kept."""

    def __init__(
        self, judge: Callable[[Scenario], Outcome], budget_s: float, progress: Callable[[str], None]
    ) -> None:
        self.judge = judge
        self.budget_s = budget_s
        self.progress = progress
        self.result = FuzzResult()
        self.verdicts = Verdicts()
        self.started = time.monotonic()

    def attempt(self, scenario: Scenario) -> None:
        result = self.result
        if time.monotonic() - self.started > self.budget_s:
            result.stopped_by_budget = True
            return  # out of time: every further example (and shrink step) passes untried
        result.examples_run += 1
        served = scenario.served()
        outcome = self.verdicts.get(served)
        if outcome is None:
            result.consumer_runs += 1
            began = time.monotonic()
            outcome = self.judge(scenario)
            result.timings.append(time.monotonic() - began)
            self.verdicts.put(served, outcome)
        if outcome.problem is None:
            if result.first_failure_at is None:
                self.progress(f"example {result.examples_run}: ok: {describe(scenario)[0]}")
            return
        if result.failure is not None and result.failure[1].kind != outcome.kind:
            return  # while shrinking, another kind of failure is not the one being shrunk
        result.failing_runs += 1
        if result.first_failure_at is None:
            result.first_failure_at = result.examples_run
            self.progress(f"example {result.examples_run}: FAILED: {outcome.problem}; shrinking")
        result.failure = (scenario, outcome)  # hypothesis replays the smallest failure last
        raise _Failed(outcome.problem)


class _Failed(Exception):
    pass


def write_repro(out: Path, scenario: Scenario, outcome: Outcome, consumer: str) -> list[Path]:
    """A folder that replays the failure: the capture, the faults, the serve command, the
    verdict. It replaces only a repro folder ttrec wrote itself (ttrec.outputs.write_own_folder)."""
    match = scenario.match()
    start = scenario.start_position(len(match.frames))
    verdict = outcome.divergence.describe() if outcome.divergence is not None else [outcome.problem or ""]
    with tempfile.TemporaryDirectory(prefix="ttrec-repro-") as scratch:
        capture = write_capture(match, Path(scratch) / "match.jsonl.zst").read_bytes()
    texts = {
        "scenario.json": json.dumps(asdict(scenario), indent=2) + "\n",
        "faults.txt": "".join(f"{spec}\n" for spec in scenario.faults),
        "serve.sh": scenario.serve_command("match.jsonl.zst") + "\n",
        "consumer.txt": f"{consumer}\n# its first connection: ?startPosition={start}\n",
        "verdict.txt": "\n".join(verdict) + "\n",
        "consumer-stdout.jsonl": outcome.stdout,
        "consumer-stderr.txt": outcome.stderr,
    }
    files = {"match.jsonl.zst": capture, **{name: text.encode("utf-8") for name, text in texts.items()}}
    return write_own_folder(out, files)


def describe(scenario: Scenario) -> Sequence[str]:
    faults = ", ".join(scenario.faults) or "no faults"
    joined = f", joining {scenario.join_permille / 10:g} % into the match" if scenario.join_permille else ""
    kind = "doubles" if scenario.doubles else "singles"
    collection = "" if scenario.collection == "completed" else f", collection {scenario.collection}"
    corrections = (
        ""
        if scenario.correction_ppm == DEFAULT_CORRECTION_PPM
        else f", {scenario.correction_ppm / 10_000:g} % of points corrected"
    )
    match = f"match seed {scenario.match_seed}, best of {scenario.best_of} {kind}{collection}{corrections}"
    return [f"{match}{joined}; {faults}"]
