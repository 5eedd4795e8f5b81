"""The replayer for asyncio tests: `async with serve_asyncio(...) as server:`.

The server runs in a thread of its own (its own `trio.run`, on the real clock), as with
`serve_in_thread`; what differs is the test's side. Every call that waits is a coroutine
that never blocks the event loop: the work is started in the server's thread without
waiting (`TrioToken.run_sync_soon`), and its result comes back as an asyncio future
(`loop.call_soon_threadsafe`). So a test can `await server.control.release(3)` while its
consumer runs in the same loop, and no thread of the test's own is needed.

    async with serve_asyncio(paused=True) as server:
        consumer = asyncio.create_task(my_consumer(server.fixture_url(), server.token))
        await server.control.run_to("set-end")      # sent: written to the client's socket
        await server.control.delivered()           # in the client's receive buffer
        await wait_until(lambda: board.sets_won == (1, 0))   # applied: only the consumer knows

Virtual time: there is none for asyncio (trio's MockClock drives only the trio run of a
trio test). What an asyncio test has instead: `speed=None` (frames as fast as the consumer
reads), a short `heartbeat_interval_s` with the consumer's timeouts scaled to it, and step
control, which makes "when" a matter of frames rather than seconds (docs/harness.md).
"""

# ruff: noqa: ASYNC109
# (The waits take a `timeout` on purpose: it bounds the work in the server's thread too, and
# its TimeoutError says what the server saw; asyncio.timeout around them works as well.)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Final, TypeVar

import trio

from replayer import ConnectionReport, ServeOptions
from replayer.control import FixtureGate, Position
from replayer.run import ServerThread
from ttrec.feed import Feed
from ttrec.testing.harness import (
    WAIT_TIMEOUT_S,
    GateCalls,
    _Common,
    describe_timeout,
    thread_setup,
)
from ttrec.truth import Truth

T = TypeVar("T")
# How often `wait_until` asks its predicate again.
POLL_S: Final = 0.005


class AsyncioControl(GateCalls[Coroutine[Any, Any, Position]]):
    """The step control of one fixture (replayer.control.FixtureGate), awaitable from asyncio:
    `await server.control.release(3)`. Waits are bounded by `timeout`; a TimeoutError says
    what the server saw."""

    def __init__(self, owner: AsyncioServer, gate: FixtureGate) -> None:
        super().__init__(gate)
        self._owner = owner

    def _now(self, fn: Callable[[], Position]) -> Coroutine[Any, Any, Position]:
        return self._owner._call(_now(fn), WAIT_TIMEOUT_S)

    def _wait(self, fn: Callable[[], Awaitable[Position]], timeout: float) -> Coroutine[Any, Any, Position]:
        return self._owner._call(fn, timeout)


def _now(fn: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def call() -> T:
        return fn()

    return call


class AsyncioServer(_Common):
    """A server in a background thread, for asyncio tests (`serve_asyncio`)."""

    def __init__(self, runner: ServerThread, options: ServeOptions, token: str) -> None:
        super().__init__(runner.handle, options, token)
        self._runner = runner

    @property
    def connections(self) -> list[ConnectionReport]:
        """A snapshot: one report per ended connection, in the order they ended. (Copying
        the server's list is one step under the GIL, so it is safe from this thread.)"""
        return list(self.server.connections)

    async def wait_connections(
        self, count: int, *, timeout: float = WAIT_TIMEOUT_S
    ) -> list[ConnectionReport]:
        """Wait until `count` connections have ended."""

        async def wait() -> list[ConnectionReport]:
            return list(await self.server.wait_connections(count))

        return await self._call(wait, timeout)

    async def truth(
        self, fixture_id: str | None = None, feed: Feed = "statistics", *, timeout: float = WAIT_TIMEOUT_S
    ) -> Truth | None:
        """TrioServer.truth (read in the server's thread, hence awaited)."""
        fixture = fixture_id or self.fixture_id
        return await self._call(_now(lambda: self.server.truth(fixture, feed)), timeout)

    @property
    def control(self) -> AsyncioControl:
        """Step control of the fixture served (the only one, or the one named)."""
        return AsyncioControl(self, self.step_control.gate(self.fixture_id))

    def control_of(self, fixture_id: str, feed: Feed = "statistics") -> AsyncioControl:
        return AsyncioControl(self, self.step_control.gate(fixture_id, feed))

    async def _call(self, fn: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run `fn` in the server's trio run, bounded by `timeout`; await its result here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        scopes: list[trio.CancelScope] = []

        def settle(value: T | None, error: BaseException | None) -> None:  # in the event loop
            if future.done():
                return
            if error is None:
                future.set_result(value)  # type: ignore[arg-type]
            else:
                future.set_exception(error)

        def answer(value: T | None, error: BaseException | None) -> None:  # in the server thread
            with suppress(RuntimeError):  # the event loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(settle, value, error)

        async def task() -> None:
            answered = False
            try:
                with trio.CancelScope() as scope:
                    scopes.append(scope)
                    try:
                        with trio.fail_after(timeout):
                            value = await fn()
                    except trio.TooSlowError:
                        error: BaseException = TimeoutError(
                            describe_timeout(self.server, self.step_control, timeout)
                        )
                        answer(None, error)
                    except Exception as exc:  # a ControlError and the like: the test's to see
                        answer(None, exc)
                    else:
                        answer(value, None)
                    answered = True
            finally:
                if not answered:
                    answer(None, RuntimeError("the test server stopped before it answered"))

        self._runner.spawn(task, refused=lambda: answer(None, RuntimeError("the test server is stopping")))
        try:
            return await future
        except asyncio.CancelledError:
            # The test gave up (asyncio.timeout, a cancelled task): stop the work there too.
            for scope in scopes:
                with suppress(trio.RunFinishedError):
                    self._runner.trio_token.run_sync_soon(scope.cancel)
            raise


@asynccontextmanager
async def serve_asyncio(
    captures: Sequence[Path | str] | None = None,
    options: ServeOptions | None = None,
    *,
    tls: bool = False,
    fixture: str | None = None,
    **option_kwargs: Any,
) -> AsyncIterator[AsyncioServer]:
    """The replayer on 127.0.0.1, port 0, in a background thread, for an asyncio test:

        async with serve_asyncio(speed=None, on_end="close") as server:   # the bundled sample
            board = await my_consumer(server.fixture_url(), server.token)
        assert server.connections[0].frames_sent == 220

    Keyword options are those of `serve_options` (speed, tokens, faults, seed, on_end,
    heartbeat_interval_s, paused, start_at) unless `options` is given; with no captures,
    the bundled sample `sample-singles-bo5`. `fixture` names the fixture `fixture_url()`
    and `control` mean (default: the first served). Starting and stopping wait in a worker thread
    (`asyncio.to_thread`), so the loop runs on meanwhile; the block's end closes open
    connections with 1001 and joins the server's thread."""
    with thread_setup(captures, options, option_kwargs, tls=tls, prefix="ttrec-asyncio-") as setup:
        runner = setup.runner
        await asyncio.to_thread(runner.start)
        server = AsyncioServer(runner, setup.options, setup.token)
        server.ca_file, server.ssl_context = setup.ca_file, setup.client_context
        try:
            if fixture is not None and fixture not in server.fixtures:
                raise ValueError(f"fixture {fixture} is not in the captures served ({server.fixtures})")
            server.default_fixture = fixture
            yield server
        finally:
            await asyncio.to_thread(runner.stop)


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float = WAIT_TIMEOUT_S, what: str = "the condition"
) -> None:
    """Wait until `predicate()` is true, asking every few milliseconds (the way to wait for
    a consumer to have applied what the server sent: only the consumer knows); TimeoutError
    naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(POLL_S)
