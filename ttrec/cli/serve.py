"""`ttrec serve`: the mock server over captures, until Ctrl-C or SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from replayer import ServeOptions
from replayer.control import CONTROL_PATH, StepControl
from replayer.faults import FaultNeverFires
from replayer.options import AUTH_TIMEOUT_S, SEND_TIMEOUT_S, OnEnd, parse_speed
from replayer.run import ApiPlan, ExitWhen, RunPlan, TlsPlan, remove_stale_ready_file, run_server
from ttrec.cli import command
from ttrec.cli.logs import say, show_library_logs
from ttrec.cli.params import is_loopback, seconds
from ttrec.faults import Fault, FaultSpecError, parse_fault
from ttrec.feed import HEARTBEAT_INTERVAL_S
from ttrec.schedule import StartAt, StartAtError, parse_start_at

_positive = seconds(0, min_open=True)
_FILE = click.Path(dir_okay=False, path_type=Path)


def _speed(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    try:
        return parse_speed(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _faults(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[Fault, ...]:
    try:
        return tuple(parse_fault(spec) for spec in value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None


def _tokens(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from recorder.secret import hide_from_process_title  # the one way tokens leave `ps`

    for token in value:
        hide_from_process_title(token)  # a token is a token, even one a mock accepts
    if any(not token.strip() for token in value):
        # A client never sends an empty token (it is refused before the list is consulted),
        # so such a server would turn everyone away.
        raise click.BadParameter("a token must not be empty")
    return value


def _start_at(ctx: click.Context, param: click.Parameter, value: str | None) -> StartAt | None:
    try:
        return None if value is None else parse_start_at(value)
    except StartAtError as exc:
        raise click.BadParameter(exc.problem) from None


SERVE_HELP: Final = """Serve captures (files or directories) as the provider's websocket, locally.

Each capture's fixture is served at its feed path; every connection gets its own
playback. With no capture named, the bundled samples are served; a sample's name
serves that one (a pair: both its feeds):

\b
  sample-singles-bo5, sample-doubles-bo5-decider, sample-bo7-long-deuce,
  sample-pair-messy (statistics and actions)

\b
Example:
  ttrec serve captures/ --speed 10 --ready-file ready.json &
  # then connect to the "url" in ready.json + /v2/tabletennis/fixtures/ID/statistics,
  # with header Accept: application/vnd.imggaming.dde.api+json;version=1,
  # and send {"authToken": "anything"} first

\b
Faults (a trigger: after=N data frames, p=PROBABILITY per frame, at=MOMENT[#K];
after= and at= fire once per fixture unless times=N or times=always):
  --fault drop:at=match-point            TCP gone, no close frame, at match point
  --fault close:after=40,code=1011,reason=overloaded
  --fault drop:after=40,times=always     every connection dropped after 40 frames
  --fault stall:after=10,for=25          nothing at all for 25 s
  --fault no-heartbeats:after=0          data only   (for=S: for a while)
  --fault heartbeats-only:at=set-end#1,for=60   data held back for 60 s
  --fault duplicate:p=0.05 --seed 7      each frame repeated with probability 5%
  --fault reorder:at=game-point          the two frames after a game point swapped
  --fault delay:after=5,by=3             frame 6 leaves 3 s late
  --fault corrupt:after=20               a torn, non-JSON frame
  --fault reject:next=2,status=503       the first 2 attempts refused at the handshake

\b
Joining mid-match: --start-at seq=120 | set=3 | game-point#2 | match-point
  (the start-at point is frame 0 of the served stream: startPosition counts from there)
"""


@command("serve", help=SERVE_HELP)
@click.argument("captures", nargs=-1, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option(
    "--token",
    "tokens",
    multiple=True,
    callback=_tokens,
    help="A token clients may send (repeatable); none given: any non-empty token is accepted.",
)
@click.option(
    "--speed",
    default="1",
    show_default=True,
    callback=_speed,
    help="Playback speed (2 = twice as fast) or max.",
)
@click.option(
    "--heartbeat-interval",
    type=_positive,
    default=float(HEARTBEAT_INTERVAL_S),
    show_default=True,
    help="Seconds of quiet after which a heartbeat is sent.",
)
@click.option(
    "--auth-timeout",
    type=_positive,
    default=AUTH_TIMEOUT_S,
    show_default=True,
    help="Seconds a client has to send its auth message.",
)
@click.option(
    "--send-timeout",
    type=_positive,
    default=SEND_TIMEOUT_S,
    show_default=True,
    help="A client that reads nothing for this long is dropped.",
)
@click.option(
    "--on-end",
    type=click.Choice(["stay", "close"]),
    default="stay",
    show_default=True,
    help="After the last frame: keep sending heartbeats, or close with 1000.",
)
@click.option("--tls", is_flag=True, help="Serve wss:// with a throwaway CA and certificate.")
@click.option("--certfile", type=_FILE, help="Serve wss:// with this certificate.")
@click.option("--keyfile", type=_FILE, help="Its key (if not in --certfile).")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --tls: where to write the CA clients must trust (default: a temporary file).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_faults,
    help="Inject a fault (repeatable): KIND:TRIGGER[,KEY=VALUE]; examples above, docs/faults.md.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for p= faults: the same seed gives the same faults on the same connections.",
)
@click.option(
    "--start-at",
    callback=_start_at,
    help="Every playback begins here: seq=N, set=N, or game-point|match-point|set-end|final[#K].",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    is_eager=True,
    callback=lambda ctx, _param, path: _remove_stale_ready_file(ctx, path),
    help='Once listening, write {"url", "port", "fixtures", "pid", "api_url"} (and "ca_file", '
    '"control_url") here as JSON.',
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every ended connection (frames, heartbeats, last seqNum, faults, ending) here as JSON, "
    "updated as connections end and when the server stops.",
)
@click.option(
    "--exit-after",
    type=click.IntRange(min=1),
    help="Stop by itself (exit 0) once this many connections have ended.",
)
@click.option(
    "--exit-when",
    type=click.Choice(["played"]),
    help="played: stop by itself (exit 0) once every fixture served was played to its last data "
    "frame on some connection and that connection has ended (however many reconnects it took).",
)
@click.option(
    "--api-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the fixtures REST API (its own listener, as the provider's own host); 0: any free port.",
)
@click.option(
    "--no-api",
    is_flag=True,
    help="Serve the websockets only, without the fixtures REST API.",
)
@click.option(
    "--stagger",
    type=seconds(0),
    default=0.0,
    show_default=True,
    help="The REST API's schedule: fixture i (in the order the captures are given) starts i*SECONDS "
    "after the server, is Live while it plays at --speed, then Completed (docs/fixtures-api.md).",
)
@click.option(
    "--control",
    "control",
    is_flag=True,
    help=f"Accept step-control commands on a websocket at {CONTROL_PATH} (docs/harness.md).",
)
@click.option(
    "--paused",
    is_flag=True,
    help="Hold every fixture before its first data frame until released (implies --control).",
)
def serve_command(
    captures: tuple[Path, ...],
    host: str,
    port: int,
    tokens: tuple[str, ...],
    speed: float | None,
    heartbeat_interval: float,
    auth_timeout: float,
    send_timeout: float,
    on_end: OnEnd,
    tls: bool,
    certfile: Path | None,
    keyfile: Path | None,
    ca_file: Path | None,
    faults: tuple[Fault, ...],
    seed: int,
    start_at: StartAt | None,
    ready_file: Path | None,
    report_file: Path | None,
    exit_after: int | None,
    exit_when: ExitWhen | None,
    api_port: int,
    no_api: bool,
    stagger: float,
    control: bool,
    paused: bool,
) -> None:
    tls_plan = _tls_plan(tls, certfile, keyfile, ca_file)
    plan = RunPlan(
        ready_file, report_file, exit_after, exit_when, None if no_api else ApiPlan(api_port, stagger)
    )
    _warn_if_exposed(host)
    options = ServeOptions(
        speed=speed,
        heartbeat_interval_s=heartbeat_interval,
        tokens=frozenset(tokens),
        auth_timeout_s=auth_timeout,
        on_end=on_end,
        faults=faults,
        seed=seed,
        start_at=start_at,
        send_timeout_s=send_timeout,
        control=StepControl(paused=paused) if control or paused else None,
    )
    show_library_logs()  # the replayer's line per connection, in the -v/-q/--log-format style
    try:
        run_server(_resolve(captures), options, plan, host=host, port=port, tls=tls_plan, say=say)
    except FaultNeverFires as exc:  # the option asks the impossible
        raise click.BadParameter(str(exc), param_hint="--fault") from None


def _remove_stale_ready_file(ctx: click.Context, path: Path | None) -> Path | None:
    """A ready file a run that has gone left behind goes first of all (an eager option): a
    script waiting for it must not take it for this run's when another option then fails.
    Not while the shell completes a word, and never a running server's (remove_stale_ready_file)."""
    if path is not None and not ctx.resilient_parsing:
        remove_stale_ready_file(path)
    return path


def _tls_plan(tls: bool, certfile: Path | None, keyfile: Path | None, ca_file: Path | None) -> TlsPlan | None:
    if tls and certfile is not None:
        raise click.UsageError("use either --tls or --certfile, not both")
    if keyfile is not None and certfile is None:
        raise click.UsageError("--keyfile needs --certfile")
    if ca_file is not None and not tls:
        raise click.UsageError("--ca-file is only for --tls")
    return TlsPlan(tls, certfile, keyfile, ca_file) if tls or certfile is not None else None


def _warn_if_exposed(host: str) -> None:
    if not is_loopback(host):
        say(f"ttrec serve: warning: binding {host} exposes the mock server beyond this machine", "warning")


def _resolve(captures: tuple[Path, ...]) -> list[Path]:
    """No capture named: every bundled sample (both feeds of a pair); a sample's name: that
    sample (both feeds of a pair)."""
    from ttrec.bundled import every_sample_file, resolve_served

    if not captures:
        return every_sample_file()
    return [path for capture in captures for path in resolve_served(capture)]
