"""`ttrec fuzz`: search the matches x faults space for the scenario that breaks a consumer."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import click

from ttrec.cli import UsageProblem, command, mark_failed, reader_may_leave
from ttrec.cli.logs import say
from ttrec.cli.params import seconds
from ttrec.outputs import check_own_folder
from ttrec.simulator import BEST_OF_CHOICES, MAX_SEED
from ttrec.testing.fuzz import (
    PLACEHOLDERS,
    FuzzConfigError,
    FuzzResult,
    FuzzUnavailable,
    Outcome,
    Scenario,
    StoppedBySignal,
    consumer_argv,
    describe,
    fuzz,
    write_repro,
)


def _checked_consumer(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A --consumer that cannot be made into a command line is a usage error (exit 2), found
    before any example runs."""
    try:
        consumer_argv(value, dict.fromkeys(PLACEHOLDERS, ""))
    except FuzzConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--consumer: ")) from None
    return value


@command("fuzz")
@click.option(
    "--consumer",
    required=True,
    callback=_checked_consumer,
    metavar="'CMD {url}'",
    help="The consumer's command line; {url}, {base_url}, {fixture}, {token}, {ca_file} are filled in. "
    "It prints its beliefs as JSON Lines on stdout (docs/verdict.md).",
)
@click.option("--examples", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option(
    "--best-of",
    type=click.Choice([str(n) for n in BEST_OF_CHOICES]),
    help="Only matches of this length (default: any).",
)
@click.option(
    "--max-faults",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Faults per scenario, at most.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ttrec-repro"),
    show_default=True,
    help="Where the smallest failing scenario is written: a new or empty directory, or a repro "
    "folder an earlier run wrote (docs/outputs.md).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=seconds(0.1, max=3600),
    default=30.0,
    show_default=True,
    help="Seconds one example may take (a whole match plays in about one at full speed).",
)
@click.option(
    "--budget",
    "budget_s",
    type=seconds(1),
    default=900.0,
    show_default=True,
    help="Seconds for the whole run, shrinking included.",
)
def fuzz_command(
    consumer: str,
    examples: int,
    seed: int,
    best_of: str | None,
    max_faults: int,
    out: Path,
    timeout_s: float,
    budget_s: float,
) -> None:
    """Run a consumer against simulated matches with faults; shrink the first failure.

    Each example serves one scenario (a simulated match, with corrections and collections
    completed, suspended or dropped; up to 3 faults; a join position) on loopback at full
    speed and runs the consumer; its beliefs are judged against the truth
    (`ttrec verdict`). The same seed gives the same scenarios (docs/fuzz.md). On a failure the smallest
    scenario found is written to --out (capture, faults, the `ttrec serve` command that
    replays it, the verdict), exit 1; exit 0 when every example passed. --out is checked
    first: a new or empty directory, or a repro folder ttrec wrote and nobody changed since.

    \b
    Example:
      ttrec fuzz --consumer 'python my_consumer.py {url} {token}' --examples 200 --seed 1
      ttrec fuzz --consumer 'node consumer.js {url} {token}' --out repro/
    """
    check_own_folder(out)  # before the search: a refused --out must not cost a whole run
    try:
        result = _search(consumer, examples, seed, best_of, max_faults, timeout_s, budget_s)
    except FuzzUnavailable as exc:
        raise UsageProblem(str(exc)) from None
    except StoppedBySignal as stop:
        # The consumer's processes are ended and the scratch directory removed: end now as
        # the signal asks (its default action), as any process stopped by it does.
        signal.signal(stop.signum, signal.SIG_DFL)
        signal.raise_signal(stop.signum)
        raise
    if result.stopped_by_budget:
        say(f"note: the {budget_s:g} s budget ran out after {result.examples_run} runs", "warning")
    if result.failure is None:
        say(f"{result.examples_run} examples, every belief held")
        return
    _report_failure(result.failure, result, out, consumer)
    raise SystemExit(1)


def _search(
    consumer: str,
    examples: int,
    seed: int,
    best_of: str | None,
    max_faults: int,
    timeout_s: float,
    budget_s: float,
) -> FuzzResult:
    with tempfile.TemporaryDirectory(prefix="ttrec-fuzz-") as workdir:
        return fuzz(
            consumer,
            examples=examples,
            seed=seed,
            workdir=Path(workdir),
            timeout_s=timeout_s,
            budget_s=budget_s,
            best_of=int(best_of) if best_of else None,
            max_faults=max_faults,
            progress=say,
        )


def _report_failure(failure: tuple[Scenario, Outcome], result: FuzzResult, out: Path, consumer: str) -> None:
    """Say what the smallest failing scenario is, write it to `out` and say how to replay it
    (what it is is shown first: should `out` be refused by now, the search is not lost)."""
    scenario, outcome = failure
    mark_failed()  # exit 1 even if the reader leaves (`| head -1`): the repro is still written
    with reader_may_leave():
        click.echo(
            f"FAILED after {result.first_failure_at} examples; "
            f"smallest scenario ({result.failing_runs} failing runs):"
        )
        for line in describe(scenario):
            click.echo(f"  {line}")
        click.echo(f"  {outcome.problem}")
    write_repro(out, scenario, outcome, consumer)
    click.echo(f"  replay: cd {out} && {scenario.serve_command('match.jsonl.zst')}")
