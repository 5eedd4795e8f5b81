"""Running the replayer inside a test: in the test's own trio run, or in a thread of its own.

- `open_server(...)`: an async context manager for trio tests (what the pytest plugin's
  `ttrec_server` fixture uses); the server runs in the caller's trio run, so under
  pytest-trio's `autojump_clock` a whole match replays in virtual time.
- `serve_in_thread(...)`: a context manager for asyncio and synchronous tests; the server
  runs on the real clock in a background thread with its own `trio.run`, and stops cleanly
  (open connections get a close 1001) when the block ends.

Both hand back a handle with the URL of a fixture, the token to send, the CA for `wss://`,
the per-connection reports and the step control.
"""

from __future__ import annotations

import ssl
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from replayer import ConnectionReport, ServeOptions, ServerHandle, serve
from replayer.control import FixtureGate, Position, StepControl
from replayer.options import OnEnd, parse_speed
from replayer.run import ServerThread
from replayer.tls import self_signed
from ttrec.faults import Fault, parse_fault
from ttrec.feed import ACCEPT_HEADER, HEARTBEAT_INTERVAL_S, Feed, auth_message, feed_url, validate_fixture_id
from ttrec.moments import Moment
from ttrec.schedule import StartAt, parse_start_at
from ttrec.truth import Truth

# Sent by the helpers when the server accepts any token; never a real one.
DEFAULT_TOKEN: Final = "ttrec-test-token"  # noqa: S105 (a placeholder, not a secret)
# Default bound on a blocking call into the thread server (a wait for reports or frames).
WAIT_TIMEOUT_S: Final = 30.0
ACCEPT: Final = (("Accept", ACCEPT_HEADER),)

T = TypeVar("T")
R = TypeVar("R")


def default_captures() -> list[Path]:
    """One bundled sample (a best-of-5 singles match), the default when none is named."""
    from ttrec.bundled import sample_path

    return [sample_path("sample-singles-bo5")]


def serve_options(
    *,
    speed: float | str | None = None,
    tokens: Iterable[str] = (),
    faults: Iterable[Fault | str] | Fault | str = (),
    seed: int = 0,
    on_end: OnEnd = "stay",
    heartbeat_interval_s: float = float(HEARTBEAT_INTERVAL_S),
    paused: bool = False,
    start_at: StartAt | str | None = None,
) -> ServeOptions:
    """ServeOptions for a test server, always with step control (idle until used).

    `speed=None` (or "max") plays as fast as the client reads; faults may be Fault values
    or `--fault` specs (parsed by ttrec.faults.parse_fault, so every kind the CLI knows works
    here), one or a list; `start_at` a StartAt or a `--start-at` spec such as "set=3" or
    "match-point". ValueError or FaultSpecError names a value that cannot be used."""
    if isinstance(faults, str | Fault):  # one spec, not its characters
        faults = (faults,)
    return ServeOptions(
        speed=parse_speed(speed),
        tokens=frozenset(tokens),
        faults=tuple(parse_fault(f) if isinstance(f, str) else f for f in faults),
        seed=seed,
        on_end=on_end,
        heartbeat_interval_s=heartbeat_interval_s,
        control=StepControl(paused=paused),
        start_at=parse_start_at(start_at) if isinstance(start_at, str) else start_at,
    )


@dataclass
class _Common:
    """What both handles share: where the server is and what a client needs."""

    server: ServerHandle
    options: ServeOptions
    token: str  # what a client sends as authToken
    ca_file: Path | None = None  # with tls: the CA a client must trust (PEM)
    ssl_context: ssl.SSLContext | None = None  # with tls: a client context trusting it
    # What a client must send, as (name, value) pairs in a list: the form trio-websocket's
    # `extra_headers` needs (a tuple broke it), and `websockets` and `dict(...)` take.
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(ACCEPT))
    default_fixture: str | None = None  # the fixture `fixture_url()` and `control` mean

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def fixtures(self) -> list[str]:
        return self.server.fixtures

    @property
    def fixture_id(self) -> str:
        """The fixture a test is about: the one named, else the first served."""
        return self.default_fixture or self.server.fixtures[0]

    def fixture_url(
        self,
        fixture_id: str | None = None,
        feed: Feed = "statistics",
        *,
        start_position: int | None = None,
        speed: str | None = None,
    ) -> str:
        """The feed URL of a fixture (default: `fixture_id`), with the provider's query
        parameters `startPosition` and `speed=fast|normal` when given, built as the
        recorder builds it (ttrec.feed.feed_url: startPosition 0, the start, is left out)."""
        fixture = validate_fixture_id(fixture_id or self.fixture_id)
        return feed_url(self.url, fixture, feed, start_position=start_position, speed=speed)

    @property
    def control_url(self) -> str:
        """The out-of-process control interface (docs/harness.md)."""
        from replayer.control import CONTROL_PATH

        return self.server.url + CONTROL_PATH

    @property
    def step_control(self) -> StepControl:
        assert self.options.control is not None
        return self.options.control


@dataclass
class TrioServer(_Common):
    """A server in the test's trio run (`open_server`, the `ttrec_server` fixture)."""

    @property
    def connections(self) -> list[ConnectionReport]:
        """One report per ended connection, in the order they ended."""
        return self.server.connections

    async def wait_connections(self, count: int) -> list[ConnectionReport]:
        """Wait until `count` connections have ended."""
        return await self.server.wait_connections(count)

    def truth(self, fixture_id: str | None = None, feed: Feed = "statistics") -> Truth | None:
        """The true match state (ttrec.truth) at the current position of the fixture's
        latest connection: after the last data frame the server sent it, while it plays
        and once it ended. None before a data frame was sent."""
        return self.server.truth(fixture_id or self.fixture_id, feed)

    @property
    def control(self) -> FixtureGate:
        """Step control of the fixture served (see replayer.control)."""
        return self.step_control.gate(self.fixture_id)

    def control_of(self, fixture_id: str, feed: Feed = "statistics") -> FixtureGate:
        return self.step_control.gate(fixture_id, feed)

    @asynccontextmanager
    async def connect(
        self, fixture_id: str | None = None, *, token: str | None = None, **query: Any
    ) -> AsyncIterator[WebSocketConnection]:
        """A trio-websocket client as a consumer would connect: Accept header, auth first."""
        url = self.fixture_url(fixture_id, **query)
        async with open_websocket_url(
            url,
            extra_headers=[(k.encode(), v.encode()) for k, v in self.headers],
            ssl_context=self.ssl_context,
        ) as ws:
            await ws.send_message(auth_message(token or self.token))
            yield ws


def tls_contexts(
    tls: bool, ca_dir: Path | None
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None, Path | None]:
    """With `tls`, a throwaway CA written to `ca_dir` (a new temporary directory if None):
    the server's context, a client context trusting it and the CA file; else three Nones."""
    if not tls:
        return None, None, None
    made = self_signed()
    directory = Path(tempfile.mkdtemp(prefix="ttrec-ca-")) if ca_dir is None else ca_dir
    return made.context, made.client_context(), made.write_ca(directory / "ttrec-ca.pem")


@asynccontextmanager
async def open_server(
    captures: Sequence[Path] | None = None,
    options: ServeOptions | None = None,
    *,
    tls: bool = False,
    ca_dir: Path | None = None,
    fixture: str | None = None,
) -> AsyncIterator[TrioServer]:
    """A replayer on loopback, port 0, in the caller's trio run, until the block ends.

    With `tls`, `wss://` with a throwaway CA written to `ca_dir` (the handle's `ca_file`);
    `fixture` names the fixture the handle's `fixture_url()` and `control` default to."""
    options = options or serve_options()
    if options.control is None:
        # Step control is what tests want from this handle; an idle gate costs nothing.
        options = _with_control(options)
    server_context, client_context, ca_file = tls_contexts(tls, ca_dir)
    paths = list(captures) if captures else default_captures()
    async with trio.open_nursery() as nursery:
        handle: ServerHandle = await nursery.start(_serve, paths, options, server_context)
        if fixture is not None and fixture not in handle.fixtures:
            raise ValueError(f"fixture {fixture} is not in the captures served ({handle.fixtures})")
        yield TrioServer(
            handle, options, token_for(options), ca_file, client_context, default_fixture=fixture
        )
        nursery.cancel_scope.cancel()


async def _serve(
    paths: list[Path],
    options: ServeOptions,
    context: ssl.SSLContext | None,
    *,
    task_status: trio.TaskStatus[ServerHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    await serve(paths, options, host="127.0.0.1", port=0, ssl_context=context, task_status=task_status)


def _with_control(options: ServeOptions) -> ServeOptions:
    from dataclasses import replace

    return replace(options, control=StepControl())


def token_for(options: ServeOptions) -> str:
    """The token the handles send: the first configured, else DEFAULT_TOKEN."""
    return min(options.tokens) if options.tokens else DEFAULT_TOKEN


# -- in a thread -----------------------------------------------------------------------


class GateCalls(ABC, Generic[R]):
    """The step control of one fixture (replayer.control.FixtureGate) called from outside
    the server's trio run: what each call returns is `R`, made by `_now` (a call that
    answers at once) and `_wait` (one that waits, bounded by `timeout`; a TimeoutError says
    what the server saw). ThreadControl blocks and returns a Position, AsyncioControl
    returns a coroutine of one."""

    def __init__(self, gate: FixtureGate) -> None:
        self._gate = gate

    @abstractmethod
    def _now(self, fn: Callable[[], Position]) -> R: ...

    @abstractmethod
    def _wait(self, fn: Callable[[], Awaitable[Position]], timeout: float) -> R: ...

    def position(self) -> R:
        return self._now(self._gate.position)

    def pause(self) -> R:
        return self._now(self._gate.pause)

    def resume(self) -> R:
        return self._now(self._gate.resume)

    def release(self, frames: int = 1, *, wait: bool = True, timeout: float = WAIT_TIMEOUT_S) -> R:
        """Let `frames` more data frames go; with `wait`, return once they were sent."""
        return self._wait(lambda: self._gate.release(frames, wait=wait), timeout)

    def run_to(
        self,
        moment: Moment | None = None,
        *,
        seq: int | None = None,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT_S,
    ) -> R:
        """Release up to the next frame showing `moment`, or with seqNum `seq` (or past it)."""
        return self._wait(lambda: self._gate.run_to(moment, seq=seq, wait=wait), timeout)

    def sent(self, *, timeout: float = WAIT_TIMEOUT_S) -> R:
        """Wait until the released frames were written to the consumer's socket."""
        return self._wait(self._gate.sent, timeout)

    def delivered(self, *, timeout: float = WAIT_TIMEOUT_S) -> R:
        """Wait until they are in the consumer's receive buffer (acknowledged by its TCP stack;
        Linux only, elsewhere the same as `sent`). Not that the consumer has read them: for
        that, wait for the consumer's own state."""
        return self._wait(self._gate.delivered, timeout)


class ThreadControl(GateCalls[Position]):
    """The step control of one fixture, called from another thread (blocking, bounded)."""

    def __init__(self, owner: ThreadServer, gate: FixtureGate) -> None:
        super().__init__(gate)
        self._owner = owner

    def _now(self, fn: Callable[[], Position]) -> Position:
        return self._owner._call_sync(fn)

    def _wait(self, fn: Callable[[], Awaitable[Position]], timeout: float) -> Position:
        return self._owner._call(fn, timeout)


class ThreadServer(_Common):
    """A server in a background thread (`serve_in_thread`); every method is thread-safe."""

    def __init__(
        self, server: ServerHandle, options: ServeOptions, token: str, trio_token: trio.lowlevel.TrioToken
    ) -> None:
        super().__init__(server, options, token)
        self._trio_token = trio_token

    @property
    def connections(self) -> list[ConnectionReport]:
        """A snapshot: one report per ended connection, in the order they ended."""
        return self._call_sync(lambda: list(self.server.connections))

    def wait_connections(self, count: int, *, timeout: float = WAIT_TIMEOUT_S) -> list[ConnectionReport]:
        """Block until `count` connections have ended (TimeoutError after `timeout` s)."""
        return self._call(lambda: self.server.wait_connections(count), timeout)[:]

    def truth(self, fixture_id: str | None = None, feed: Feed = "statistics") -> Truth | None:
        """TrioServer.truth, from another thread (read in the server's thread)."""
        fixture = fixture_id or self.fixture_id
        return self._call_sync(lambda: self.server.truth(fixture, feed))

    @property
    def control(self) -> ThreadControl:
        return ThreadControl(self, self.step_control.gate(self.fixture_id))

    def control_of(self, fixture_id: str, feed: Feed = "statistics") -> ThreadControl:
        return ThreadControl(self, self.step_control.gate(fixture_id, feed))

    def _call_sync(self, fn: Callable[[], T]) -> T:
        try:
            return trio.from_thread.run_sync(fn, trio_token=self._trio_token)
        except trio.RunFinishedError:
            # Stopped: its thread is gone, so reading its state from here races with nothing.
            return fn()

    def _call(self, fn: Callable[[], Awaitable[T]], timeout: float) -> T:
        refuse_in_event_loop()
        outcome: list[str] = []

        async def bounded() -> T:
            try:
                with trio.fail_after(timeout):
                    return await fn()
            except trio.TooSlowError:
                outcome.append(self.describe_wait(timeout))
                raise

        try:
            return trio.from_thread.run(bounded, trio_token=self._trio_token)
        except trio.RunFinishedError:
            raise RuntimeError("the test server has stopped") from None
        except trio.TooSlowError:
            raise TimeoutError(outcome[0] if outcome else f"timed out after {timeout} s") from None

    def describe_wait(self, timeout: float) -> str:
        """What a wait that timed out was waiting for (called in the server's thread)."""
        return describe_timeout(self.server, self.step_control, timeout)


def refuse_in_event_loop() -> None:
    """A blocking call made from a thread that runs an asyncio event loop stops the loop,
    and with it the consumer the server is waiting for: say so at once, not after a timeout."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "this call blocks until the server has sent frames, but it was made inside a running "
        "asyncio event loop, which it would stop (and the consumer in it could not read): "
        "use `async with ttrec.testing.serve_asyncio(...)` and `await server.control.release(...)`"
    )


def describe_timeout(server: ServerHandle, control: StepControl, timeout: float) -> str:
    """One line on why a wait for the server timed out, from what the server knows."""
    gates = []
    for gate in control.gates:
        position = gate.position()
        released = "all" if position.frames is None else f"{position.frames} of {gate.total_frames}"
        gates.append(
            f"fixture {gate.fixture_id}: {released} frames released, {position.connections} connected"
        )
    return (
        f"the test server is running but what was asked did not happen within {timeout} s "
        f"({'; '.join(gates) or 'no fixture'}; {server.ended} connection(s) ended): is the consumer "
        "connected, past authentication and reading?"
    )


@contextmanager
def serve_in_thread(
    captures: Sequence[Path | str] | None = None,
    options: ServeOptions | None = None,
    *,
    tls: bool = False,
    **option_kwargs: Any,
) -> Iterator[ThreadServer]:
    """Run the replayer in a background thread for non-trio tests:

        with serve_in_thread([capture], speed=None) as server:
            asyncio.run(my_consumer(server.fixture_url(), server.token))
        assert server.connections[0].frames_sent == 220

    Keyword options are those of `serve_options` (speed, tokens, faults, seed, on_end,
    heartbeat_interval_s, paused, start_at) unless `options` is given. The server listens on
    127.0.0.1, port 0, on the real clock; the block's end stops it and joins the thread.
    """
    with thread_setup(captures, options, option_kwargs, tls=tls, prefix="ttrec-thread-") as setup:
        runner = setup.runner
        server = ThreadServer(runner.start(), setup.options, setup.token, runner.trio_token)
        server.ca_file, server.ssl_context = setup.ca_file, setup.client_context
        try:
            yield server
        finally:
            runner.stop()


@dataclass(frozen=True)
class ThreadSetup:
    """A server in a thread, not started yet (serve_in_thread, serve_asyncio): its runner,
    its options, the token a client sends, and with TLS the CA and a client context."""

    runner: ServerThread
    options: ServeOptions
    token: str
    ca_file: Path | None
    client_context: ssl.SSLContext | None


@contextmanager
def thread_setup(
    captures: Sequence[Path | str] | None,
    options: ServeOptions | None,
    option_kwargs: dict[str, Any],
    *,
    tls: bool,
    prefix: str,
) -> Iterator[ThreadSetup]:
    """The server in a thread of serve_in_thread and serve_asyncio, its CA (with `tls`) in a
    temporary directory named `prefix`..., removed when the block ends."""
    if options is not None and option_kwargs:
        raise TypeError("give either options or keyword options, not both")
    options = options or serve_options(**option_kwargs)
    if options.control is None:
        options = _with_control(options)
    paths = [Path(p) for p in captures] if captures else default_captures()
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        server_context, client_context, ca_file = tls_contexts(tls, Path(scratch))
        runner = ServerThread(paths, options, server_context)
        yield ThreadSetup(runner, options, token_for(options), ca_file, client_context)
