"""`ttrec record`: record live fixtures into captures (the work is done by `recorder`)."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Final, TextIO

import click
import trio
from click.core import ParameterSource

from recorder.connection import Connect, client_tls_context
from recorder.live_options import DEFAULT_POLL_S, LiveOptions
from recorder.run import OutputError, record
from recorder.secret import TOKEN_ENV, Token
from recorder.session import UNTIL, FixtureResult, RecordOptions
from ttrec.cli import UsageProblem, command
from ttrec.cli.logs import current_style, say
from ttrec.cli.params import seconds
from ttrec.cli.token import ca_file_option, resolve_connect, resolve_token, token_options
from ttrec.errors import CaptureWriteError, InvalidFixtureId
from ttrec.feed import DEFAULT_BASE_URL, FEEDS, HEARTBEAT_INTERVAL_S, Feed, feed_url, validate_fixture_id
from ttrec.fixtures_api import COVERAGE_VALUES, DEFAULT_API_URL, TYPE_VALUES, camel
from ttrec.fixtures_list import fixtures_url
from ttrec.logstyle import LogStyle
from ttrec.shards import ALL, Shard, parse_shard

_PROBE_FIXTURE: Final = "00000000-0000-0000-0000-000000000000"  # only to validate --base-url
# The options that only `--live` reads (by parameter name): given without it, a usage error
# rather than silently ignored (`--feed` names the one feed of `record FIXTURE_ID...`).
LIVE_ONLY: Final = ("api_url", "poll", "feeds", "fixture_type", "coverage", "shard", "replicas", "metrics")


RECORD_HELP: Final = """Record live fixtures, each into its own new capture file.

Reconnects after network trouble (resuming with startPosition, never duplicating a
frame), stops at once when the server refuses the token or the fixture, and closes
every file cleanly on Ctrl-C or SIGTERM. Exit status 0 when every fixture was recorded
up to its finished frame, 1 otherwise.

\b
Example:
  export TTREC_TOKEN=...
  ttrec record 1bd00469-86fa-4f0b-abcc-30cbef80dacc --out captures/
  ttrec record --base-url ws://127.0.0.1:8765 --fixtures-file today.txt
  ttrec record --live --feeds statistics,actions --out captures/   # everything, as a service
"""


@command("record", help=RECORD_HELP)
@click.argument("fixture_ids", nargs=-1, metavar="FIXTURE_ID...")
@click.option(
    "--fixtures-file",
    type=click.File("r"),
    help="Read more fixture ids from this file, one per line (# starts a comment).",
)
@token_options
@ca_file_option
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="ws:// or wss:// server.")
@click.option(
    "--feed",
    type=click.Choice(FEEDS),
    default="statistics",
    show_default=True,
    help="The feed to record of FIXTURE_ID... (--live records those of --feeds).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("captures"),
    show_default=True,
    help="A directory (one new file per fixture) or a *.jsonl.zst file (one fixture).",
)
@click.option(
    "--until",
    type=click.Choice((*UNTIL, "idle")),
    default="finished",
    show_default=True,
    help="Stop a fixture after its finished:true frame, or keep recording until Ctrl-C; "
    "with --live, idle: exit once no fixture is scheduled or live and every capture is closed.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Poll the fixtures REST API and record every fixture that goes live (docs/record.md).",
)
@click.option(
    "--api-url",
    default=DEFAULT_API_URL,
    show_default=True,
    help="With --live: the fixtures REST API's base URL (http:// or https://).",
)
@click.option(
    "--poll",
    type=seconds(0.1),
    default=DEFAULT_POLL_S,
    show_default=True,
    metavar="SECONDS",
    help="With --live: how often the fixtures API is asked what is live.",
)
@click.option(
    "--feeds",
    default="statistics",
    show_default=True,
    help="With --live: the feeds to record of each live fixture, comma-separated (statistics,actions).",
)
@click.option(
    "--type",
    "fixture_type",
    type=click.Choice(list(map(camel, TYPE_VALUES.values())), case_sensitive=False),
    help="With --live: only fixtures of this type.",
)
@click.option(
    "--coverage",
    type=click.Choice(list(map(camel, COVERAGE_VALUES.values())), case_sensitive=False),
    help="With --live: only fixtures with this coverage level.",
)
@click.option(
    "--heartbeat-interval",
    type=seconds(0.1),
    default=float(HEARTBEAT_INTERVAL_S),
    show_default=True,
    metavar="SECONDS",
    help="The server's heartbeat interval; 3 of them without any message means a dead link.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="With --live: record only the fixtures of shard I (from 0) of N, by a stable hash of the id.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --shard: record each fixture on this many shards, so that losing R-1 machines loses nothing.",
)
@click.option(
    "--metrics",
    metavar="ADDR:PORT",
    help="With --live: serve Prometheus metrics here (needs the metrics extra; docs/record.md).",
)
def record_command(
    fixture_ids: tuple[str, ...],
    fixtures_file: TextIO | None,
    token: str | None,
    token_file: Path | None,
    ca_file: Path | None,
    base_url: str,
    feed: str,
    out: Path,
    until: str,
    live: bool,
    api_url: str,
    poll: float,
    feeds: str,
    fixture_type: str | None,
    coverage: str | None,
    heartbeat_interval: float,
    shard: str | None,
    replicas: int,
    metrics: str | None,
) -> None:
    style = current_style()
    if live:
        if _given(("feed",)):
            raise UsageProblem("--feed is for FIXTURE_ID...: --live records the feeds that --feeds names")
        secret, connect = resolve_token(token, token_file), resolve_connect(ca_file)
        options = RecordOptions(base_url=base_url, heartbeat_interval_s=heartbeat_interval)
        live_options = _live_options(api_url, feeds, poll, fixture_type, coverage, until, shard, replicas)
        named = fixture_ids or fixtures_file
        _record_live(named, secret, connect, ca_file, out, options, live_options, until, metrics, style)
        return
    live_only = _given(LIVE_ONLY)
    if live_only:
        raise UsageProblem(f"{', '.join(live_only)} {'is' if len(live_only) == 1 else 'are'} for --live")
    if until == "idle":
        raise UsageProblem("--until idle is for --live")
    ids = _fixture_ids(fixture_ids, fixtures_file)
    secret = resolve_token(token, token_file)
    if secret is None:
        raise UsageProblem(f"no token: pass --token, set {TOKEN_ENV} or use --token-file")
    _check_url("--base-url", _probe(base_url))
    options = RecordOptions(
        base_url=base_url,
        feed="actions" if feed == "actions" else "statistics",
        until="forever" if until == "forever" else "finished",
        heartbeat_interval_s=heartbeat_interval,
    )
    _record_named(ids, secret, resolve_connect(ca_file), out, options, style)


def _record_named(
    ids: list[str], secret: Token, connect: Connect, out: Path, options: RecordOptions, style: LogStyle
) -> None:
    """Record the fixtures named; one summary line each; exit 1 unless every one finished."""
    run = partial(
        record, ids, secret, out=out, options=options, connect=connect, handle_signals=True, style=style
    )
    try:
        results = trio.run(run)
    except OutputError as exc:
        raise UsageProblem(str(exc)) from None
    for result in results:
        click.echo(_summary(result))
        for gap in result.possible_gaps:
            say(f"{result.fixture_id}: frames may be missing: {gap}", "warning")
    if not all(result.complete for result in results):
        sys.exit(1)


def _live_options(
    api_url: str,
    feeds: str,
    poll: float,
    fixture_type: str | None,
    coverage: str | None,
    until: str,
    shard: str | None,
    replicas: int,
) -> LiveOptions:
    return LiveOptions(
        api_url=api_url,
        feeds=_feeds(feeds),
        poll_s=poll,
        type=fixture_type,
        coverage=coverage,
        until_idle=until == "idle",
        shard=_shard(shard, replicas),
    )


def _given(names: tuple[str, ...]) -> list[str]:
    """Those of the options `names` that the user gave (on the command line or from the
    environment, not their defaults), as spelled on the command line."""
    ctx = click.get_current_context()
    return [
        param.opts[0]
        for param in ctx.command.params
        if param.name in names and ctx.get_parameter_source(param.name) not in (None, ParameterSource.DEFAULT)
    ]


def _check_url(flag: str, check: Callable[[], object]) -> None:
    try:
        check()
    except ValueError as exc:
        raise UsageProblem(f"{flag}: {exc}") from None


def _feeds(value: str) -> tuple[Feed, ...]:
    named = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [name for name in named if name not in FEEDS]
    if unknown or not named:
        raise UsageProblem(f"--feeds: {value!r} is not a comma-separated list of {', '.join(FEEDS)}")
    return tuple(feed for feed in FEEDS if feed in named)


def _record_live(
    named: object,
    secret: Token | None,
    connect: Connect,
    ca_file: Path | None,
    out: Path,
    options: RecordOptions,
    live: LiveOptions,
    until: str,
    metrics: str | None,
    style: LogStyle,
) -> None:
    """`--live`: record what the fixtures API says is live; exit 1 when the API refused us,
    a capture failed or could not be created, or (`--until idle`) a recording was stopped before its end."""
    address = _metrics_address(metrics)
    token = _check_live_usage(named, until, secret, live, options)
    try:
        from recorder.live import describe, record_live  # the HTTP client: an optional extra
    except ImportError:
        raise UsageProblem("--live needs httpx: pip install 'ttrec[live]'") from None
    verify: ssl.SSLContext | bool = True if ca_file is None else client_tls_context(ca_file)
    run = partial(
        record_live,
        token,
        out=out,
        options=options,
        live=live,
        connect=connect,
        verify=verify,
        handle_signals=True,
        metrics=address,
        style=style,
    )
    try:
        summary = trio.run(run)
    except OutputError as exc:
        raise UsageProblem(str(exc)) from None
    except CaptureWriteError as exc:
        raise click.ClickException(str(exc)) from None
    for line in describe(summary):
        click.echo(line)
    if summary.refused is not None:
        say(f"ttrec record: {summary.refused.detail}", "error")
        sys.exit(1)
    if summary.failed or summary.not_created or (summary.stopped if live.until_idle else 0):
        sys.exit(1)


def _check_live_usage(
    named: object, until: str, secret: Token | None, live: LiveOptions, options: RecordOptions
) -> Token:
    """The token, once the options make sense for --live."""
    if named:
        raise UsageProblem("--live finds its fixtures itself: name no FIXTURE_ID or --fixtures-file")
    if until == "forever":
        raise UsageProblem("--live records each fixture until its end: --until is finished or idle")
    if secret is None:
        raise UsageProblem(f"no token: pass --token, set {TOKEN_ENV} or use --token-file")
    _check_url("--api-url", partial(fixtures_url, live.api_url))
    _check_url("--base-url", _probe(options.base_url))
    return secret


def _shard(value: str | None, replicas: int) -> Shard:
    if value is None:
        if replicas != 1:
            raise UsageProblem("--replicas needs --shard")
        return ALL
    try:
        return parse_shard(value, replicas)
    except ValueError as exc:
        raise UsageProblem(f"--shard: {exc}") from None


def _metrics_address(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    from recorder.metrics import AVAILABLE, INSTALL_HINT, parse_address

    if not AVAILABLE:
        raise UsageProblem(INSTALL_HINT)
    try:
        return parse_address(value)
    except ValueError as exc:
        raise UsageProblem(f"--metrics: {exc}") from None


def _probe(base_url: str) -> Callable[[], object]:
    """A check that `base_url` makes feed URLs (ws:// or wss://)."""
    return partial(feed_url, base_url, _PROBE_FIXTURE)


def _fixture_ids(args: tuple[str, ...], fixtures_file: TextIO | None) -> list[str]:
    raw = list(args)
    if fixtures_file is not None:
        for line in fixtures_file:
            text = line.split("#", 1)[0].strip()
            if text:
                raw.append(text)
    if not raw:
        raise UsageProblem("no fixture id given (pass FIXTURE_ID... or --fixtures-file)")
    try:
        return list(dict.fromkeys(validate_fixture_id(value) for value in raw))
    except InvalidFixtureId as exc:
        raise UsageProblem(str(exc)) from None


def _summary(result: FixtureResult) -> str:
    made, attempts = result.connections, result.attempts
    return (
        f"{result.fixture_id} {result.outcome}: {result.frames} frames, {result.heartbeats} heartbeats, "
        f"{made} connection{'s' if made != 1 else ''}"
        + (f" ({attempts} attempt{'s' if attempts != 1 else ''})" if attempts != made else "")
        + f" -> {result.path}"
        + ("" if result.outcome == "finished" else f" ({result.detail})")
    )
