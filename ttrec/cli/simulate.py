"""`ttrec simulate`: write a simulated match as a capture."""

from __future__ import annotations

import contextlib
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ttrec.capture import CAPTURE_SUFFIX
from ttrec.cli import command
from ttrec.cli.logs import say
from ttrec.cli.params import MAX_SECONDS, Finite, checked_fixture_id
from ttrec.feed import DEFAULT_BASE_URL, Feed, parse_feeds, rfc3339
from ttrec.outputs import check_capture_output, feed_file, is_stdout, new_capture, out_label
from ttrec.simulated_incidents import (
    CORRECTION_MOMENTS,
    DEFAULT_CORRECTION_PPM,
    SCENARIOS,
    CorrectionAt,
    Incidents,
    Scenario,
)
from ttrec.simulated_points import (
    DEFAULT_DOUBLES_SERVE_ADVANTAGE_PPM,
    DEFAULT_SERVE_ADVANTAGE_PPM,
    DEFAULT_STRENGTH_SPREAD_PPM,
    MAX_SERVE_ADVANTAGE_PPM,
    MAX_STRENGTH_SPREAD_PPM,
    PPM,
    PointModel,
    to_ppm,
)
from ttrec.simulator import (
    BEST_OF_CHOICES,
    DEFAULT_START,
    MAX_SEED,
    SimulatedMatch,
    simulate_match,
    write_capture,
)


def _start(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return DEFAULT_START
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an RFC 3339 time: {value!r}") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"give a time zone, e.g. {value}Z")
    try:  # every time in the match is the start plus an offset (a match lasts hours, not a week)
        moment.astimezone(UTC) + timedelta(seconds=MAX_SECONDS)
    except OverflowError:
        raise click.BadParameter(
            f"{value!r} is out of range: the match must start and end within the years 1 to 9999 (UTC)"
        ) from None
    return moment


def _feeds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[Feed, ...]:
    try:
        return parse_feeds(value.split(","))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.startswith(("ws://", "wss://")):
        raise click.BadParameter(f"must start with ws:// or wss://, got {value!r}")
    return value


def _model(
    point_prob: float | None, strength_spread: float | None, serve_advantage: float | None, *, doubles: bool
) -> PointModel:
    if point_prob is not None:
        if strength_spread is not None or serve_advantage is not None:
            raise click.UsageError(
                "--point-prob fixes every point's chance; it cannot be combined with"
                " --strength-spread or --serve-advantage"
            )
        return PointModel.fixed(to_ppm(point_prob))
    default = PointModel.default(doubles=doubles)
    return PointModel(
        strength_spread_ppm=default.strength_spread_ppm
        if strength_spread is None
        else to_ppm(strength_spread),
        serve_advantage_ppm=default.serve_advantage_ppm
        if serve_advantage is None
        else to_ppm(serve_advantage),
    )


@command("simulate")
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    help="Seed of the match; the same seed and options give the same file. Default: random.",
)
@click.option(
    "--best-of",
    type=click.Choice([str(n) for n in BEST_OF_CHOICES]),
    default="5",
    show_default=True,
    help="Number of games (sets) the match is played over.",
)
@click.option("--singles/--doubles", default=True, show_default=True, help="One or two players a side.")
@click.option("--fixture-id", callback=checked_fixture_id, help="Fixture UUID. Default: drawn from the seed.")
@click.option(
    "--start",
    callback=_start,
    metavar="TIME",
    help=f"When the recording starts (RFC 3339). Default: {rfc3339(DEFAULT_START, 0)}.",
)
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    callback=_base_url,
    help="Feed host written into the header URL.",
)
@click.option(
    "--point-prob",
    type=Finite(0, 1),
    metavar="P",
    help="The home side wins every point with chance P, independently: no strength draw, no"
    " serve advantage (the model ttrec.theory computes exactly). Kept to 6 decimals.",
)
@click.option(
    "--strength-spread",
    type=Finite(0, MAX_STRENGTH_SPREAD_PPM / PPM),
    metavar="SD",
    help="Standard deviation of the home side's point-win chance across matches (around 0.5)."
    f" Default: {DEFAULT_STRENGTH_SPREAD_PPM / PPM}.",
)
@click.option(
    "--serve-advantage",
    type=Finite(0, MAX_SERVE_ADVANTAGE_PPM / PPM),
    metavar="A",
    help="How much more often the server wins a point (0.03: 53 % against an equal opponent)."
    f" Default: {DEFAULT_SERVE_ADVANTAGE_PPM / PPM} singles,"
    f" {DEFAULT_DOUBLES_SERVE_ADVANTAGE_PPM / PPM} doubles.",
)
@click.option(
    "--feeds",
    default="statistics",
    show_default=True,
    callback=_feeds,
    metavar="LIST",
    help="Which feeds of the match to write, comma-separated: statistics, actions. With both,"
    " the actions capture is the -o name with .actions before .jsonl.zst.",
)
@click.option(
    "--corrections",
    type=Finite(0, 1),
    metavar="RATE",
    help="Chance that a point is corrected after a video check (cancelled or given to the other"
    f" side). Default: {DEFAULT_CORRECTION_PPM / PPM} (about one match in four).",
)
@click.option(
    "--correction-at",
    type=click.Choice(CORRECTION_MOMENTS),
    help="Correct the point at this moment only: match-point = the deciding point is first"
    " given to the other side, then to its winner after a video check.",
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIOS),
    default="completed",
    show_default=True,
    help="suspended: the collection stops in game 2 (heartbeats only) and resumes;"
    " dropped: it stops in game 2 and the match ends without a result.",
)
@click.option(
    "--advanced-statistics",
    is_flag=True,
    help="Add the documented advancedSportStatistics field (an empty array: its content is not"
    " published, and the provider's sample has no such field) to every statistics frame.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Capture file to write (never overwritten; - for stdout). Default: sim-SEED-boN-singles.jsonl.zst.",
)
def simulate(
    seed: int | None,
    best_of: str,
    singles: bool,
    fixture_id: str | None,
    start: datetime,
    base_url: str,
    point_prob: float | None,
    strength_spread: float | None,
    serve_advantage: float | None,
    feeds: tuple[Feed, ...],
    corrections: float | None,
    correction_at: CorrectionAt | None,
    scenario: Scenario,
    advanced_statistics: bool,
    out: Path | None,
) -> None:
    """Simulate a table-tennis match and write it as a capture.

    The match is played point by point under ITTF rules and recorded as the statistics
    feed would have sent it: one data frame per action, heartbeats in the pauses.

    \b
    Example:
      ttrec simulate --seed 7 --best-of 7 --doubles -o match.jsonl.zst
      ttrec serve match.jsonl.zst
      ttrec simulate --seed 7 --point-prob 0.55 -o even.jsonl.zst
    """
    model = _model(point_prob, strength_spread, serve_advantage, doubles=not singles)
    incidents = _incidents(corrections, correction_at, scenario)
    if seed is None:
        seed = secrets.randbelow(2**32)  # short enough to retype; printed below
    games, kind = int(best_of), "singles" if singles else "doubles"
    if out is None:
        out = Path(f"sim-{seed}-bo{games}-{kind}{CAPTURE_SUFFIX}")
    if len(feeds) > 1 and is_stdout(out):
        raise click.UsageError("-o - writes one capture; give a file name to write several feeds")
    match = simulate_match(
        seed,
        best_of=games,
        doubles=not singles,
        fixture_id=fixture_id,
        start=start,
        base_url=base_url,
        model=model,
        incidents=incidents,
        advanced_statistics=advanced_statistics,
    )
    _write_and_report(match, f"seed {seed}, best of {games} {kind}", feeds, out, incidents)


def _write_and_report(
    match: SimulatedMatch, how: str, feeds: tuple[Feed, ...], out: Path, incidents: Incidents
) -> None:
    targets = _write(match, feeds, out)
    _report(match, how, feeds, targets, to_stderr=is_stdout(out))
    # The option asked for a correction the match never reached: say so, not silently.
    if incidents.correction_at == "match-point" and match.winner is None:
        say(
            "ttrec simulate: warning: --correction-at match-point corrected nothing: the collection"
            " was dropped before the deciding point (try another --seed, or --scenario suspended)",
            "warning",
        )


def _incidents(
    corrections: float | None, correction_at: CorrectionAt | None, scenario: Scenario
) -> Incidents:
    if corrections is not None and correction_at is not None:
        raise click.UsageError("--corrections and --correction-at cannot be combined")
    return Incidents(
        correction_ppm=DEFAULT_CORRECTION_PPM if corrections is None else to_ppm(corrections),
        correction_at=correction_at,
        scenario=scenario,
    )


def _write(match: SimulatedMatch, feeds: tuple[Feed, ...], out: Path) -> list[Path]:
    """Write one capture per feed (or the one to stdout); the paths written."""
    targets = [out] if is_stdout(out) else [feed_file(out, feed) if len(feeds) > 1 else out for feed in feeds]
    for target in targets:  # all refused before any is written
        check_capture_output(target, sys.stdout.buffer)
    # Nested: a capture is published only when every one was written (inner ones first).
    with contextlib.ExitStack() as stack:
        for feed, target in zip(feeds, targets, strict=True):
            write_capture(match, stack.enter_context(new_capture(target, sys.stdout.buffer)), feed)
    return targets


def _report(
    match: SimulatedMatch, how: str, feeds: tuple[Feed, ...], targets: list[Path], *, to_stderr: bool
) -> None:
    """One line per capture written: the match and how it was made, then the other feeds."""
    home_sets, away_sets = match.sets_won
    scores = " ".join(f"{home}-{away}" for home, away in match.sets)
    ended = "" if match.winner else ", dropped without a result"
    played = f"{match.home.name} {home_sets}-{away_sets} {match.away.name} ({scores}){ended}"
    show = say if to_stderr else click.echo  # the capture on stdout: the summary is a log line
    for feed, target in zip(feeds, targets, strict=True):
        sent = f"{len(match.actions)} frames" if feed == "statistics" else f"{len(match.events)} packets"
        if feed == feeds[0]:
            show(f"{out_label(target)}: {how}, {played}, {sent}")
        else:
            show(f"{out_label(target)}: the {feed} feed of the same match, {sent}")
