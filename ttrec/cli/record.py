"""`ttrec record`: record live fixtures into captures (the work is done by `recorder`)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Final, TextIO

import click
import trio

from recorder.run import OutputError, record
from recorder.secret import TOKEN_ENV
from recorder.session import UNTIL, FixtureResult, RecordOptions
from ttrec.cli import UsageProblem, command
from ttrec.cli.params import seconds
from ttrec.cli.token import ca_file_option, resolve_connect, resolve_token, token_options
from ttrec.errors import InvalidFixtureId
from ttrec.feed import DEFAULT_BASE_URL, FEEDS, HEARTBEAT_INTERVAL_S, feed_url, validate_fixture_id

_PROBE_FIXTURE: Final = "00000000-0000-0000-0000-000000000000"  # only to validate --base-url


@command("record")
@click.argument("fixture_ids", nargs=-1, metavar="FIXTURE_ID...")
@click.option(
    "--fixtures-file",
    type=click.File("r"),
    help="Read more fixture ids from this file, one per line (# starts a comment).",
)
@token_options
@ca_file_option
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="ws:// or wss:// server.")
@click.option("--feed", type=click.Choice(FEEDS), default="statistics", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("captures"),
    show_default=True,
    help="A directory (one new file per fixture) or a *.jsonl.zst file (one fixture).",
)
@click.option(
    "--until",
    type=click.Choice(UNTIL),
    default="finished",
    show_default=True,
    help="Stop a fixture after its finished:true frame, or keep recording until Ctrl-C.",
)
@click.option(
    "--heartbeat-interval",
    type=seconds(0.1),
    default=float(HEARTBEAT_INTERVAL_S),
    show_default=True,
    metavar="SECONDS",
    help="The server's heartbeat interval; 3 of them without any message means a dead link.",
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
    heartbeat_interval: float,
) -> None:
    """Record live fixtures, each into its own new capture file.

    Reconnects after network trouble (resuming with startPosition, never duplicating a
    frame), stops at once when the server refuses the token or the fixture, and closes
    every file cleanly on Ctrl-C or SIGTERM. Exit status 0 when every fixture was recorded
    up to its finished frame, 1 otherwise.

    \b
    Example:
      export TTREC_TOKEN=...
      ttrec record 1bd00469-86fa-4f0b-abcc-30cbef80dacc --out captures/
      ttrec record --base-url ws://127.0.0.1:8765 --fixtures-file today.txt
    """
    ids = _fixture_ids(fixture_ids, fixtures_file)
    secret = resolve_token(token, token_file)
    if secret is None:
        raise UsageProblem(f"no token: pass --token, set {TOKEN_ENV} or use --token-file")
    try:
        feed_url(base_url, _PROBE_FIXTURE)
    except ValueError as exc:
        raise UsageProblem(f"--base-url: {exc}") from None
    connect = resolve_connect(ca_file)
    options = RecordOptions(
        base_url=base_url,
        feed="actions" if feed == "actions" else "statistics",
        until="forever" if until == "forever" else "finished",
        heartbeat_interval_s=heartbeat_interval,
    )
    try:
        run = partial(record, ids, secret, out=out, options=options, connect=connect, handle_signals=True)
        results = trio.run(run)
    except OutputError as exc:
        raise UsageProblem(str(exc)) from None
    for result in results:
        click.echo(_summary(result))
        for gap in result.possible_gaps:
            click.echo(f"{result.fixture_id}: frames may be missing: {gap}", err=True)
    if not all(result.complete for result in results):
        sys.exit(1)


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
    return (
        f"{result.fixture_id} {result.outcome}: {result.frames} frames, {result.heartbeats} heartbeats, "
        f"{result.connections} connection{'s' if result.connections != 1 else ''} -> {result.path}"
        + ("" if result.outcome == "finished" else f" ({result.detail})")
    )
