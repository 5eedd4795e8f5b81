"""`ttrec watch` (a live scoreboard of any feed URL) and `ttrec demo` (a sample, served and
watched in one process)."""

from __future__ import annotations

import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO
from urllib.parse import urlsplit

import click
import trio

from recorder.secret import TOKEN_ENV, Token
from recorder.watch import REFRESH_S, WatchResult, watch
from ttrec.cli import UsageProblem, command, plural
from ttrec.cli.logs import say
from ttrec.cli.params import is_loopback, seconds
from ttrec.cli.token import ca_file_option, resolve_connect, resolve_token, token_options
from ttrec.errors import InvalidFixtureId
from ttrec.feed import DEFAULT_BASE_URL, feed_url, validate_fixture_id
from ttrec.scoreboard import Scoreboard

if TYPE_CHECKING:
    from replayer import ServerHandle
    from ttrec.terminal import LiveBlock

LOCAL_TOKEN: Final = "ttrec-local"  # noqa: S105 (what we send to a local `ttrec serve`, which takes any)
DEMO_SECONDS: Final = 20.0  # a whole sample match goes by in this long
DEMO_SAMPLE: Final = "sample-singles-bo5"


class Screen:
    """Draws the board in place on a terminal (ttrec.terminal), or prints one line per
    frame otherwise; `with Screen(...)` puts the terminal back at the end."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out = out
        self.live = live
        self._block: LiveBlock | None = None

    def show(self, board: Scoreboard, new_frame: bool) -> None:
        if not self.live:
            if new_frame:
                self.out.write(board.line() + "\n")
                self.out.flush()
            return
        from ttrec.terminal import LiveBlock, board_view  # rich: only for a terminal

        if self._block is None:
            self._block = LiveBlock(self.out)
        self._block.draw(board_view(board, trio.current_time()))

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._block is not None:
            self._block.close()


def _resolve_url(target: str, base_url: str) -> str:
    if target.startswith(("ws://", "wss://")):
        return target
    try:
        return feed_url(base_url, validate_fixture_id(target))
    except InvalidFixtureId:
        raise click.BadParameter(
            f"{target!r} is not a fixture id, nor a URL starting with ws:// or wss://"
        ) from None


async def _interruptible(run: Callable[[], Awaitable[WatchResult]]) -> WatchResult:
    """`run`, which Ctrl-C ends at once wherever it waits, as click's "Aborted!" (trio's own
    KeyboardInterrupt waited out a pending handshake's 10 s timeout)."""
    interrupted = False
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT) as signals:

            async def on_interrupt() -> None:
                nonlocal interrupted
                async for _ in signals:
                    interrupted = True
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(on_interrupt)
            result = await run()
            nursery.cancel_scope.cancel()
    if interrupted:
        raise KeyboardInterrupt
    return result


def _finish(result: WatchResult) -> None:
    """One closing line; exit status 1 when the connection ended before the match did."""
    board = result.board
    counts = f"{plural(board.frames, 'frame')}, {plural(board.heartbeats, 'heartbeat')}"
    say(f"{result.ended}: {counts}")
    if result.ended != "finished":
        sys.exit(1)


@command("watch")
@click.argument("target", metavar="URL_OR_FIXTURE")
@token_options
@ca_file_option
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Server for a fixture id.")
@click.option(
    "--plain/--live",
    default=None,
    help="One line per frame, or a board redrawn in place (default: live on a terminal).",
)
def watch_command(
    target: str,
    token: str | None,
    token_file: Path | None,
    ca_file: Path | None,
    base_url: str,
    plain: bool | None,
) -> None:
    """Connect as a consumer and show a live scoreboard: sets, points, who serves, game
    and match points, and the time since the last frame and heartbeat.

    A local `ttrec serve` takes any token, so none is needed for a loopback URL. Exits 0
    once the match finishes, 1 when the connection ends before it does.

    \b
    Example:
      ttrec serve --ready-file ready.json &
      ttrec watch ws://127.0.0.1:PORT/v2/tabletennis/fixtures/FIXTURE_ID/statistics
      TTREC_TOKEN=... ttrec watch FIXTURE_ID
    """
    secret = resolve_token(token, token_file)
    url = _resolve_url(target, base_url)
    connect = resolve_connect(ca_file)
    if secret is None:
        if not is_loopback(urlsplit(url).hostname or ""):
            raise UsageProblem(f"the provider needs a token: --token, --token-file or {TOKEN_ENV}")
        secret = Token(LOCAL_TOKEN)
    with Screen(sys.stdout, sys.stdout.isatty() if plain is None else not plain) as screen:
        refresh = REFRESH_S if screen.live else None
        result = trio.run(
            _interruptible, partial(watch, url, secret, screen.show, connect=connect, refresh_s=refresh)
        )
    _finish(result)


@command("demo")
@click.option(
    "--seconds",
    type=seconds(0.1),
    default=DEMO_SECONDS,
    show_default=True,
    help="How long the whole match should take.",
)
@click.option("--plain/--live", default=None, help="One line per frame, or a board redrawn in place.")
def demo(seconds: float, plain: bool | None) -> None:
    """Serve a bundled sample match at high speed and watch it: a whole match in seconds.

    \b
    Example:
      ttrec demo
    """
    from replayer import ServeOptions
    from replayer.run import serve_while, speed_to_last
    from ttrec.bundled import sample_path

    capture = sample_path(DEMO_SAMPLE)
    speed = speed_to_last(capture, seconds, at_least=1.0)
    token = secrets.token_urlsafe(16)
    screen = Screen(sys.stdout, sys.stdout.isatty() if plain is None else not plain)

    async def watch_it(handle: ServerHandle) -> WatchResult:
        say(f"serving {capture.name} at {speed:.0f}x on {handle.url}")
        url = handle.fixture_url(handle.fixtures[0])
        return await watch(url, Token(token), screen.show, refresh_s=REFRESH_S if screen.live else None)

    options = ServeOptions(speed=speed, tokens=frozenset({token}), on_end="close")
    with screen:
        result = trio.run(serve_while, [capture], options, watch_it)
    _finish(result)
