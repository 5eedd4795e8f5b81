"""Running the replayer: as a process until a signal (`ttrec serve`'s protocol for CI), in
a thread of its own (the test harness), or for as long as a consumer runs (`ttrec demo`).

The serve-for-CI protocol, in `run_server`:
- outputs are checked before anything listens: a ready file, report or CA path ttrec must
  not replace (ttrec.outputs), one named twice, or one that cannot be written fails at once;
- once listening (and the REST API too), the ready file is written last, so a script that
  waits for it finds every listener up; it is removed again when the server stops;
- the report is rewritten as each connection ends and once more when the server stops;
- `exit_after` / `exit_when="played"` stop the server by itself; SIGINT and SIGTERM stop it;
- an error from inside trio's nurseries is raised as itself, not as an exception group.

Nothing here knows click: what a person should read goes to `say`, one line per call.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import trio

from replayer.collector import manage_collection
from replayer.control import CONTROL_PATH
from replayer.options import ServeOptions
from replayer.process import log_listener_errors_to, raise_open_files_limit
from replayer.rest import listings_of, serve_api_tcp
from replayer.server import ServerHandle, serve
from replayer.tls import from_files, self_signed
from ttrec.capture import CaptureReader
from ttrec.errors import OutputRefused, OutputWriteError, TtrecError, leaves
from ttrec.fixtures_api import FIXTURES_PATH
from ttrec.outputs import (
    CA_FILE,
    MARKER_KEY,
    READY_FILE,
    READY_WRITTEN_BY,
    REPORT,
    REPORT_WRITTEN_BY,
    check_replaceable,
    remove_own,
    write_replacing,
)
from ttrec.records import NS_PER_S

ExitWhen = Literal["played"]
Say = Callable[[str], None]  # one line for the person running the server
LOOPBACK: Final = "127.0.0.1"
# How long a server in a thread may take to load its captures and listen, or to stop.
THREAD_START_TIMEOUT_S: Final = 30.0
PROGRAM: Final = "ttrec serve"  # the prefix of every line said and logged

T = TypeVar("T")
log = logging.getLogger("replayer")


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class ApiPlan:
    """The fixtures REST API's own port and the server-wide schedule it reports."""

    port: int = 0
    stagger_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TlsPlan:
    """wss://: a throwaway CA (`self_signed`, its CA written to `ca_file` or a temporary
    file) or a certificate of the user's (`certfile`, `keyfile`)."""

    self_signed: bool = False
    certfile: Path | None = None
    keyfile: Path | None = None
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What a served run writes, and when it stops by itself."""

    ready_file: Path | None = None
    report_file: Path | None = None
    exit_after: int | None = None
    exit_when: ExitWhen | None = None
    api: ApiPlan | None = ApiPlan()

    @property
    def watches_connections(self) -> bool:
        return self.report_file is not None or self.exit_after is not None or self.exit_when is not None


# -- before serving --------------------------------------------------------------------


def check_outputs(plan: RunPlan, ca_file: Path | None = None) -> None:
    """Refuse, before serving, a path ttrec must not write (ttrec.outputs) or one named twice."""
    given = ((plan.ready_file, READY_FILE), (plan.report_file, REPORT), (ca_file, CA_FILE))
    named = [(path, purpose) for path, purpose in given if path is not None]
    for path, purpose in named:
        check_replaceable(path, purpose)
    paths = [os.path.abspath(path) for path, _ in named]
    if len(set(paths)) < len(paths):
        raise OutputRefused(paths[0], "--ready-file, --report and --ca-file must name different files")


def check_writable(path: Path, what: str) -> None:
    """Before announcing anything: a file we could not write later fails the run at once."""
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        raise OutputWriteError(path, f"cannot write {what}: {exc.strerror}") from None


def configure_logging() -> None:
    """One line per connection on stderr (the reports never hold a token), unless the
    caller set up the replayer's logging already (the CLI does: -v/-q/--log-format)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {PROGRAM}: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


# -- what a run writes -----------------------------------------------------------------


def write_report(path: Path, handle: ServerHandle, *, running: bool) -> None:
    """The report file: every ended connection so far (`running` until the server stopped)."""
    report = {
        MARKER_KEY: REPORT_WRITTEN_BY,
        "url": handle.url,
        "fixtures": handle.fixtures,
        "running": running,
        "connections_ended": handle.ended,  # `connections` keeps the latest 10,000
        "connections": [c.to_json() for c in handle.connections],
    }
    write_replacing(path, (json.dumps(report, indent=1) + "\n").encode(), REPORT)


def remove_stale_ready_file(path: Path) -> None:
    """Remove a ready file ttrec wrote whose server is gone (a killed run leaves it), so
    that it never tells a waiting script a new run is ready; one whose server still runs
    (its "pid" alive) is left to that server. Anything ttrec did not write is left alone."""
    try:
        pid = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        pid = None
    if isinstance(pid, int) and not isinstance(pid, bool) and _running(pid):
        return
    remove_own(path, READY_FILE)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's, or not a pid we can ask about: not ours to judge
    return True


def ready_content(
    handle: ServerHandle, *, api_url: str | None, ca_file: Path | None, control: bool
) -> dict[str, Any]:
    """The ready file: where to connect, and (when there is one) the REST API, CA and control."""
    ready: dict[str, Any] = {
        MARKER_KEY: READY_WRITTEN_BY,
        "url": handle.url,
        "port": handle.port,
        "fixtures": handle.fixtures,
        "pid": os.getpid(),  # whose it is: a later run removes it early only once we are gone
    }
    if api_url is not None:
        ready["api_url"] = api_url
    if ca_file is not None:
        ready["ca_file"] = str(ca_file)
    if control:
        ready["control_url"] = handle.url + CONTROL_PATH
    return ready


def announce(
    handle: ServerHandle, say: Say, *, api_url: str | None, ca_file: Path | None, control: bool
) -> None:
    """Where everything listens, for the person who started the server."""
    say(f"{PROGRAM}: listening on {handle.url}")
    for fixture_id, feed in handle.feeds:
        say(f"  {handle.fixture_url(fixture_id, feed)}")
    if api_url is not None:
        say(f"{PROGRAM}: fixtures REST API at {api_url}{FIXTURES_PATH}")
    if ca_file is not None:
        say(f"{PROGRAM}: clients must trust the CA in {ca_file}")
    if control:
        say(f"{PROGRAM}: step control at {handle.url}{CONTROL_PATH}")


# -- while serving ---------------------------------------------------------------------


async def watch_connections(handle: ServerHandle, plan: RunPlan, stop: trio.CancelScope, say: Say) -> None:
    """Rewrite the report as each connection ends; stop once `exit_after` have ended, or
    (`exit_when="played"`) once every fixture served was played to its end on a connection
    that has ended."""
    ended = 0
    played: set[tuple[str | None, str | None]] = set()
    while True:
        await handle.wait_connections(ended + 1)
        ended = handle.ended
        if plan.report_file is not None:
            write_report(plan.report_file, handle, running=True)
        if plan.exit_after is not None and ended >= plan.exit_after:
            log.info("%d connection(s) ended (--exit-after %d), stopping", ended, plan.exit_after)
            stop.cancel()
            return
        played.update((c.fixture, c.feed) for c in handle.connections if c.played_to_end)
        if plan.exit_when == "played" and played >= set(handle.feeds):
            say(
                f"{PROGRAM}: every fixture was played to its end (--exit-when played), "
                f"stopping after {ended} connection(s)"
            )
            stop.cancel()
            return


async def _start_api(
    nursery: trio.Nursery,
    handle: ServerHandle,
    options: ServeOptions,
    api: ApiPlan,
    host: str,
    ssl_context: ssl.SSLContext | None,
) -> str:
    listings = listings_of(handle.served, stagger_s=api.stagger_s, speed=options.speed)
    start = partial(
        serve_api_tcp, listings, options.tokens, host=host, port=api.port, ssl_context=ssl_context
    )
    listening = await nursery.start(start)
    url: str = listening.url
    return url


async def serve_until_stopped(
    captures: Sequence[Path],
    options: ServeOptions,
    plan: RunPlan,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    ca_file: Path | None = None,
    say: Say = say_on_stderr,
) -> ServerHandle:
    """Serve until SIGINT or SIGTERM, or until the plan says the run is over."""
    # Opened first: a SIGTERM that arrives while loading must still end cleanly.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            start = partial(serve, captures, options, host=host, port=port, ssl_context=ssl_context)
            handle: ServerHandle = await nursery.start(start)
            await nursery.start(manage_collection, handle)  # process-wide: a whole process's choice
            api_url = None
            if plan.api is not None:
                api_url = await _start_api(nursery, handle, options, plan.api, host, ssl_context)
            control = options.control is not None
            announce(handle, say, api_url=api_url, ca_file=ca_file, control=control)
            if plan.report_file is not None:
                write_report(plan.report_file, handle, running=True)
            if plan.watches_connections:
                nursery.start_soon(watch_connections, handle, plan, nursery.cancel_scope, say)
            if plan.ready_file is not None:
                ready = ready_content(handle, api_url=api_url, ca_file=ca_file, control=control)
                write_replacing(plan.ready_file, (json.dumps(ready) + "\n").encode(), READY_FILE)
            async for signum in signals:
                log.info("%s, stopping", signal.Signals(signum).name)
                break
            nursery.cancel_scope.cancel()
    return handle


def _server_context(
    tls: TlsPlan | None, host: str, scratch: Path
) -> tuple[ssl.SSLContext | None, Path | None]:
    """The server's TLS context, and the CA file clients must trust when we made the CA."""
    if tls is None:
        return None, None
    if tls.self_signed:
        made = self_signed([host])
        # Absolute: a script reading the ready file may run in another directory.
        return made.context, made.write_ca(tls.ca_file or scratch / "ca.pem").absolute()
    assert tls.certfile is not None, "TlsPlan: self_signed or a certfile"
    return from_files(tls.certfile, tls.keyfile), None


def run_server(
    captures: Sequence[Path],
    options: ServeOptions,
    plan: RunPlan,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    tls: TlsPlan | None = None,
    say: Say = say_on_stderr,
) -> ServerHandle:
    """The whole serve-for-CI run in this process: check the outputs, serve until stopped,
    write the final report. Raises the first TtrecError met (never an exception group).
    Process-wide: it listens for SIGINT/SIGTERM (so only in the main thread), configures the
    "replayer" logger (and trio's listener logger, replayer.process), raises the limit on
    open files and manages garbage collection (replayer.collector); a test wants
    ServerThread or ttrec.testing instead."""
    check_outputs(plan, tls.ca_file if tls is not None else None)
    configure_logging()
    log_listener_errors_to(log)
    raise_open_files_limit()
    if plan.report_file is not None:
        check_writable(plan.report_file, "the report")
    if plan.ready_file is not None:
        check_writable(plan.ready_file, "the ready file")
    with tempfile.TemporaryDirectory(prefix="ttrec-serve-") as scratch:
        ssl_context, ca_file = _server_context(tls, host, Path(scratch))
        if plan.ready_file is not None:
            # A file left by an earlier run would tell a waiting script we are ready too soon.
            remove_own(plan.ready_file, READY_FILE)
        serving = partial(
            serve_until_stopped, list(captures), options, plan, host=host, port=port, ssl_context=ssl_context
        )
        try:
            handle = run_unwrapped(partial(serving, ca_file=ca_file, say=say))
        finally:
            if plan.ready_file is not None:
                remove_own(plan.ready_file, READY_FILE)
    if plan.report_file is not None:
        write_report(plan.report_file, handle, running=False)
    say(f"{PROGRAM}: stopped after {handle.ended} connection(s)")
    return handle


def run_unwrapped(main: Callable[[], Awaitable[T]]) -> T:
    """`trio.run(main)`, raising the first TtrecError inside a nursery's exception group as
    itself (what a caller can turn into one line); any other group as it is."""
    try:
        return trio.run(main)
    except BaseExceptionGroup as group:
        errors = [e for e in leaves(group) if isinstance(e, TtrecError)]
        if errors:
            raise errors[0] from None
        raise


# -- while a consumer runs (`ttrec demo`) ------------------------------------------------


def speed_to_last(capture: Path, seconds: float, *, at_least: float = 1.0) -> float:
    """The playback speed at which the capture's last record is sent `seconds` after a
    connection starts (never below `at_least`)."""
    with CaptureReader(capture) as reader:
        duration_s = max((record.t for record in reader), default=0) / NS_PER_S
    return max(duration_s / seconds, at_least)


async def serve_while(
    captures: Sequence[Path],
    options: ServeOptions,
    consume: Callable[[ServerHandle], Awaitable[T]],
    *,
    host: str = LOOPBACK,
) -> T:
    """Serve the captures on `host`, any free port, for as long as `consume(handle)` runs;
    its result is the result. The server stops when it returns (or raises)."""
    async with trio.open_nursery() as nursery:
        handle: ServerHandle = await nursery.start(partial(serve, list(captures), options, host=host, port=0))
        result = await consume(handle)
        nursery.cancel_scope.cancel()
    return result


# -- in a thread of its own (the harness, the tests) -------------------------------------


class ServerThread:
    """The replayer in a thread of its own with its own `trio.run`, on the real clock, for
    code that is not in a trio run (a synchronous test, an asyncio test, a CliRunner).
    `start()` and `stop()` block; `with ServerThread(...) as handle:` does both."""

    def __init__(
        self,
        captures: Sequence[Path],
        options: ServeOptions,
        ssl_context: ssl.SSLContext | None = None,
        *,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        self._serve = partial(serve, list(captures), options, host=host, port=port, ssl_context=ssl_context)
        self._ready = threading.Event()
        self._handle: ServerHandle | None = None
        self._scope: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ttrec-serve", daemon=True)

    @property
    def trio_token(self) -> trio.lowlevel.TrioToken:
        assert self._token is not None
        return self._token

    @property
    def handle(self) -> ServerHandle:
        assert self._handle is not None, "start() first"
        return self._handle

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # handed to the caller's thread in start() / stop()
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as self._scope:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._handle = await nursery.start(self._serve)
                self._ready.set()
                await trio.sleep_forever()

    def spawn(self, task: Callable[[], Awaitable[None]], refused: Callable[[], None]) -> None:
        """Start `task` in the server's trio run without waiting for it (thread-safe, never
        blocks); `refused()` is called instead when the server is stopping, and
        RuntimeError raised when it has stopped."""

        def start() -> None:  # in the server's thread; must not raise (it would end the run)
            try:
                assert self._nursery is not None  # the token exists only once it does
                self._nursery.start_soon(task)
            except RuntimeError:  # the nursery closed: the server is stopping
                refused()

        try:
            self.trio_token.run_sync_soon(start)
        except trio.RunFinishedError:
            raise RuntimeError("the test server has stopped") from None

    def start(self) -> ServerHandle:
        self._thread.start()
        if not self._ready.wait(THREAD_START_TIMEOUT_S):
            raise TimeoutError(f"the test server did not start within {THREAD_START_TIMEOUT_S} s")
        if self._handle is None:
            found = list(leaves(self._error)) if self._error is not None else []
            if len(found) == 1 and isinstance(found[0], Exception):
                raise found[0]  # the real error (a bad capture, a port in use), not trio's group
            raise RuntimeError(f"the test server failed to start: {self._error!r}") from self._error
        return self._handle

    def stop(self) -> None:
        if self._thread.is_alive() and self._scope is not None and self._token is not None:
            with suppress(trio.RunFinishedError):  # it stopped by itself meanwhile
                trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(THREAD_START_TIMEOUT_S)
        if self._error is not None:
            raise RuntimeError(f"the test server failed: {self._error!r}") from self._error

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
