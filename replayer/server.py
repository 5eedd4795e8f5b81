"""Listening: accept TCP (or TLS) connections, answer the HTTP handshake, run a session.

`serve` is started with `await nursery.start(serve, captures, options)` and hands back a
`ServerHandle` once it listens. The per-connection work is in `replayer.session`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NoReturn

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, wrap_server_stream

from replayer.control import CONTROL_PATH, serve_control
from replayer.faults import prepare, rejected
from replayer.handshake import Accept, Reject, asked_start_position, decide
from replayer.library import Fixture, NoCaptures, load_fixtures
from replayer.options import ServeOptions
from replayer.pacer import Pacer
from replayer.plain_http import PLAIN_HTTP_STATUS, answer_plain, read_head
from replayer.report import ConnectionReport, LatenessHistogram, Positions
from replayer.session import Session
from replayer.sockets import sends_anything
from replayer.tls import (
    HANDSHAKE_STALLED,
    NO_REQUEST_AFTER_HANDSHAKE,
    ended_after_handshake,
    handshake_failure,
)
from replayer.wire import ServerStream, frames_of
from ttrec.errors import ListenError
from ttrec.faults import FiringBudget, RejectFault
from ttrec.feed import Feed, feed_path, parse_feed_path, validate_fixture_id
from ttrec.truth import Truth
from ttrec.wire import CLOSE_TIMEOUT_S, GOING_AWAY, HANDSHAKE_TIMEOUT_S

logger = logging.getLogger("replayer")

OPENING_AT_ONCE: Final = 4  # see _Server.opening
_STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
SHUTDOWN_CLOSE_TIMEOUT_S: Final = 0.5  # per connection, all in parallel, when the server stops
DEFAULT_OPTIONS: Final = ServeOptions()
SEND_CHECK_PERIOD_S: Final = 1.0  # how often stuck clients are looked for
# Client messages are ignored, so one queued message is enough; more would only hold memory.
CLIENT_MESSAGE_QUEUE: Final = 1
CLIENT_MAX_MESSAGE_BYTES: Final = 64 * 1024  # an auth message is tiny; bigger is abuse
# Reports of ended connections kept in memory (~0.8 KiB each): a server left running
# through millions of reconnects keeps the latest ones and counts the rest.
MAX_KEPT_REPORTS: Final = 10_000


class ServerHandle:
    """A running server: where it listens, what it serves, and what each connection got."""

    def __init__(
        self,
        url: str,
        port: int,
        fixtures: Mapping[tuple[str, Feed], Fixture],
        *,
        max_reports: int = MAX_KEPT_REPORTS,
    ) -> None:
        self.url = url
        self.port = port
        self.fixtures: list[str] = sorted({fixture_id for fixture_id, _ in fixtures})
        self.feeds: list[tuple[str, Feed]] = sorted(fixtures)  # (fixture id, feed) served
        self.served = fixtures  # what each feed plays (the fixtures REST API lists them)
        self.connections: list[ConnectionReport] = []  # the latest `max_reports`, oldest first
        self.ended = 0  # connections ended so far, including reports no longer kept
        self.accepted = 0  # websocket handshakes accepted so far
        self._max_reports = max_reports
        self.lateness = LatenessHistogram()
        self.positions = Positions()  # the truth at each fixture's latest connection
        self._changed = trio.Event()

    def fixture_url(self, fixture_id: str, feed: Feed = "statistics") -> str:
        return self.url + feed_path(validate_fixture_id(fixture_id), feed)

    def record(self, report: ConnectionReport) -> None:
        """Keep an ended connection's report (the latest `max_reports`) and wake waiters."""
        self.connections.append(report)
        self.ended += 1
        if len(self.connections) > self._max_reports:
            # Forget the oldest tenth in one go, so trimming costs O(1) a connection.
            del self.connections[: max(1, self._max_reports // 10)]
        logger.info("%s", report.log_line())
        self._changed.set()
        self._changed = trio.Event()

    def truth(self, fixture_id: str, feed: Feed = "statistics") -> Truth | None:
        """The true match state at the last data frame sent to the fixture's latest
        connection (playing or ended); None before one was sent."""
        return self.positions.truth(fixture_id, feed)

    async def wait_connections(self, count: int) -> list[ConnectionReport]:
        """Wait until `count` connections have ended (their reports are in `connections`)."""
        while self.ended < count:
            await self._changed.wait()
        return self.connections

    def __repr__(self) -> str:
        return f"ServerHandle(url={self.url!r}, fixtures={self.fixtures!r})"


def _peer(stream: trio.abc.Stream) -> str:
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if isinstance(raw, trio.SocketStream):
        host, port, *_ = raw.socket.getpeername()
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return type(raw).__name__


def _url(listener: trio.abc.Listener[trio.abc.Stream], scheme: str) -> tuple[str, int]:
    raw = listener.transport_listener if isinstance(listener, trio.SSLListener) else listener
    if not isinstance(raw, trio.SocketListener):
        return f"{scheme}://{type(raw).__name__}", 0
    host, port, *_ = raw.socket.getsockname()
    address = ipaddress.ip_address(host)
    if address.is_unspecified:  # bound to every interface: loopback reaches it from here
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{scheme}://{shown}:{port}", port


listener_url = _url  # the REST API's listener is named the same way (replayer.rest)


class _Server:
    def __init__(
        self, fixtures: Mapping[tuple[str, Feed], Fixture], options: ServeOptions, handle: ServerHandle
    ) -> None:
        self.fixtures = fixtures
        self.options = options
        self.handle = handle
        self.pacer = Pacer()
        self.sessions: set[Session] = set()
        # Handshakes worked on at once. Connected clients' frames come first: a storm of
        # handshakes, each runnable at once, made one pass of trio's loop tens of
        # milliseconds long and every frame due meanwhile that late (docs/replay.md).
        self.opening = trio.CapacityLimiter(OPENING_AT_ONCE)
        # Connection attempts per fixture and feed: numbers each connection for its fault
        # generator and for `reject` faults.
        self.attempts: dict[tuple[str, Feed], int] = {}
        # How many more times each fault may fire, per fixture and feed (ttrec.faults.FiringBudget).
        self.budgets = {key: FiringBudget(options.faults) for key in fixtures}
        prepare(fixtures, options)
        # Each capture's messages framed once, shared by every connection to it.
        self.frames = {key: frames_of(m.payload for m in f.timeline.messages) for key, f in fixtures.items()}
        if options.control is not None:
            options.control.attach({key: fixture.timeline for key, fixture in fixtures.items()})

    async def watch_sends(self) -> NoReturn:
        """Drop the clients that stopped reading: their sends have lasted the send timeout."""
        period = min(SEND_CHECK_PERIOD_S, self.options.send_timeout_s / 4)
        while True:
            await trio.sleep(period)
            now = trio.current_time()
            for session in self.sessions:
                since = session.sending_since
                if since is not None and now - since >= self.options.send_timeout_s:
                    session.give_up()

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        client = _peer_or_unknown(stream)
        try:
            await self._serve_stream(stream, client)
        except Exception as exc:
            # One broken connection must never take the server down with it.
            logger.warning("connection from %s failed: %r", client, exc)
            logger.debug("details", exc_info=True)
        finally:
            await trio.aclose_forcefully(stream)

    async def _serve_stream(self, stream: trio.abc.Stream, client: str) -> None:
        """Handshake, then refuse the connection, serve step control, or play a fixture."""
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            request = await self._handshake(nursery, stream, client, started)
            if request is not None:
                await self._route(request, stream, client, started)
            nursery.cancel_scope.cancel()

    async def _handshake(
        self, nursery: trio.Nursery, stream: trio.abc.Stream, client: str, started: float
    ) -> WebSocketRequest | None:
        """The websocket request, or None when there is none to serve: a plain HTTP request
        or a websocket request trio-websocket refused (answered and reported here), a failed
        TLS handshake (reported here), or nothing in time."""
        first = b""
        if isinstance(stream, trio.SSLStream):
            opened = await self._tls_opening(stream, client, started)
            if opened is None:
                return None
            first = opened
        with trio.move_on_at(started + HANDSHAKE_TIMEOUT_S):
            head = await read_head(stream, first)
            if head.reset:  # no request, as when a client closes before it is whole
                logger.debug("%s reset the connection before its request was whole", client)
                return None
            if head.plain_target is not None and head.conn is not None:
                await answer_plain(stream, head.conn)
                self._record_refusal(client, head.plain_target, PLAIN_HTTP_STATUS, started, routed=False)
                return None
            wrapped = ServerStream(stream, head.received)
            if head.upgrade_target is None:  # trio-websocket answers whatever this is
                return await self._request_or_refusal(nursery, wrapped)
            # A whole request head is in: from here on the handshake is the server's work
            # alone, so it takes one of the places (see `opening`).
            async with self.opening:
                request = await self._request_or_refusal(nursery, wrapped)
            if request is None:
                status = _status_of(wrapped.answer_head)
                self._record_refusal(client, head.upgrade_target, status, started)
            return request
        logger.debug("%s sent no websocket handshake in time", client)
        return None

    async def _tls_opening(
        self, stream: trio.SSLStream[trio.abc.Stream], client: str, started: float
    ) -> bytes | None:
        """The TLS handshake, then the first bytes of the HTTP request, within the handshake
        timeout. None when there is nothing to serve: the handshake failed or stalled, or the
        client sent no HTTP byte after it (reported `tls-failed`, with why in words), or the
        client sent not a byte at all (a port probe or a stalled client, not a connection:
        as without TLS)."""
        deadline = started + HANDSHAKE_TIMEOUT_S
        began = False
        with trio.move_on_at(deadline):
            began = await sends_anything(stream)
        if not began:
            logger.debug("%s sent nothing", client)
            return None
        first, reason = b"", await _tls_handshake_failure(stream, deadline)
        if reason is None:
            first, reason = await _first_bytes_after_tls(stream, deadline)
        if reason is None:
            return first
        self.handle.record(
            ConnectionReport(
                client=client,
                path="",  # no HTTP request came
                fixture=None,
                feed=None,
                ended="tls-failed",
                reason=reason,
                duration_s=trio.current_time() - started,
            )
        )
        return None

    @staticmethod
    async def _request_or_refusal(nursery: trio.Nursery, stream: ServerStream) -> WebSocketRequest | None:
        """trio-websocket's request, or None once it has refused the handshake: it answers
        (400, 426) and closes the stream, but its `wrap_server_stream` waits on for a request
        until the handshake timeout."""
        request: WebSocketRequest | None = None
        async with trio.open_nursery() as race:

            async def handshake() -> None:
                nonlocal request
                request = await wrap_server_stream(
                    nursery,
                    stream,
                    message_queue_size=CLIENT_MESSAGE_QUEUE,
                    max_message_size=CLIENT_MAX_MESSAGE_BYTES,
                )
                race.cancel_scope.cancel()

            async def refused() -> None:
                await stream.closed.wait()
                race.cancel_scope.cancel()

            race.start_soon(handshake)
            race.start_soon(refused)
        return request

    async def _route(
        self, request: WebSocketRequest, stream: trio.abc.Stream, client: str, started: float
    ) -> None:
        path = request.path
        if self.options.control is not None and path.partition("?")[0] == CONTROL_PATH:
            await self._serve_control(request)
            return
        decision = decide(path, request.headers, self.fixtures, self.options.speed)
        attempt, refusal = self._attempt(decision)
        asked = asked_start_position(path) or 0  # reported for a refusal too
        if refusal is not None:
            decision = Reject.json(refusal.status, f"Refused by fault {refusal} (attempt {attempt})")
        if isinstance(decision, Reject):
            # A client that leaves while the answer goes out (ConnectionClosed 1006) was
            # refused all the same, and is reported so.
            with trio.move_on_after(CLOSE_TIMEOUT_S), contextlib.suppress(ConnectionClosed):
                await request.reject(decision.status, extra_headers=decision.headers, body=decision.body)
            faults = () if refusal is None else (str(refusal),)
            self._record_refusal(client, path, decision.status, started, faults, start_position=asked)
            return
        try:
            async with self.opening:
                ws = await request.accept()
        except ConnectionClosed:
            return
        await self._play(ws, stream, decision, attempt, client, path, started)

    def _record_refusal(
        self,
        client: str,
        path: str,
        code: int,
        started: float,
        faults: tuple[str, ...] = (),
        *,
        routed: bool = True,
        start_position: int = 0,
    ) -> None:
        """Report a connection refused before its websocket opened (a plain HTTP request
        names no fixture: `routed` False)."""
        fixture_feed = parse_feed_path(path) if routed else None
        self.handle.record(
            ConnectionReport(
                client=client,
                path=path,
                fixture=fixture_feed[0] if fixture_feed else None,
                feed=fixture_feed[1] if fixture_feed else None,
                ended="rejected",
                code=code,
                start_position=start_position,
                faults=faults,
                duration_s=trio.current_time() - started,
            )
        )

    async def _play(
        self,
        ws: WebSocketConnection,
        stream: trio.abc.Stream,
        decision: Accept,
        attempt: int,
        client: str,
        path: str,
        started: float,
    ) -> None:
        """Run the connection's session; report it however it ends."""
        key = (decision.fixture.fixture_id, decision.fixture.feed)
        session = Session(
            ws,
            stream,
            decision.fixture,
            self.options,
            start_position=decision.start_position,
            speed=decision.speed,
            lateness=self.handle.lateness,
            pacer=self.pacer,
            connection_index=attempt,
            fault_budget=self.budgets[key],
            frames=self.frames[key],
        )
        self.sessions.add(session)
        self.handle.accepted += 1
        self.handle.positions.accepted(*key, session.engine)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if session.ended is None:  # the server is stopping
                await _close_going_away(ws)
                session.shut_down(GOING_AWAY)
            self.handle.record(
                session.report(client=client, path=path, duration_s=trio.current_time() - started)
            )

    def _attempt(self, decision: Accept | Reject) -> tuple[int, RejectFault | None]:
        """Number an accepted handshake (per fixture and feed) and say if a fault refuses it."""
        if not isinstance(decision, Accept):
            return 0, None
        key = (decision.fixture.fixture_id, decision.fixture.feed)
        attempt = self.attempts.get(key, 0)
        self.attempts[key] = attempt + 1
        return attempt, rejected(self.options, attempt)

    async def _serve_control(self, request: WebSocketRequest) -> None:
        """The step-control interface (replayer.control), only with `ServeOptions.control`."""
        assert self.options.control is not None
        try:
            ws = await request.accept()
        except ConnectionClosed:
            return
        try:
            await serve_control(ws, self.options.control, self.handle.positions)
        except ConnectionClosed:
            pass
        except trio.Cancelled:  # the server is stopping (a command may be waiting): only then 1001
            await _close_going_away(ws)
            raise


async def _close_going_away(ws: WebSocketConnection) -> None:
    """The server is stopping: say so to the client (close 1001), briefly, then go."""
    with trio.CancelScope(shield=True), trio.move_on_after(SHUTDOWN_CLOSE_TIMEOUT_S):
        await ws.aclose(GOING_AWAY, "server shutting down")


async def _tls_handshake_failure(stream: trio.SSLStream[trio.abc.Stream], deadline: float) -> str | None:
    """Why the TLS handshake failed or stalled (in words); None once it succeeded."""
    with trio.move_on_at(deadline):
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as exc:
            return handshake_failure(exc.__cause__)
        return None
    return HANDSHAKE_STALLED


async def _first_bytes_after_tls(
    stream: trio.SSLStream[trio.abc.Stream], deadline: float
) -> tuple[bytes, str | None]:
    """The first bytes of the HTTP request after a successful TLS handshake, or why none
    came (in words): a client that checks the certificate only after the handshake (Node
    on TLS 1.2) and refuses it leaves here (an EOF, a reset or an alert)."""
    with trio.move_on_at(deadline):
        try:
            data = await stream.receive_some()
        except trio.BrokenResourceError as exc:
            return b"", ended_after_handshake(exc.__cause__)
        return bytes(data), None if data else ended_after_handshake(None)
    return b"", NO_REQUEST_AFTER_HANDSHAKE


def _status_of(answer_head: bytes) -> int:
    """The status of the HTTP answer that begins with `answer_head`; 400 if none was sent
    (the client left first)."""
    match = _STATUS_LINE.match(answer_head)
    return int(match.group(1)) if match else 400


def _peer_or_unknown(stream: trio.abc.Stream) -> str:
    try:
        return _peer(stream)
    except OSError:  # the client already left
        return "unknown"


async def serve_listeners(
    listeners: Sequence[trio.abc.Listener[trio.abc.Stream]],
    fixtures: Mapping[tuple[str, Feed], Fixture],
    options: ServeOptions = DEFAULT_OPTIONS,
    *,
    scheme: str = "ws",
    task_status: trio.TaskStatus[ServerHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `fixtures` on listeners the caller opened (any trio listener, e.g. for tests)."""
    url, port = _url(listeners[0], scheme)
    handle = ServerHandle(url, port, fixtures)
    server = _Server(fixtures, options, handle)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.pacer.run)
        nursery.start_soon(server.watch_sends)
        await nursery.start(trio.serve_listeners, server.handle_stream, list(listeners))
        task_status.started(handle)


async def open_listeners(
    host: str, port: int, ssl_context: ssl.SSLContext | None
) -> list[trio.abc.Listener[trio.abc.Stream]]:
    """TCP (or TLS) listeners on host:port; a ListenError when the port cannot be bound."""
    listeners: list[trio.abc.Listener[trio.abc.Stream]]
    try:
        if ssl_context is None:
            listeners = list(await trio.open_tcp_listeners(port, host=host))
        else:
            listeners = list(
                await trio.open_ssl_over_tcp_listeners(port, ssl_context, host=host, https_compatible=True)
            )
    except OSError as exc:
        raise ListenError(host, port, exc.strerror or str(exc)) from None
    if port == 0 and len(listeners) > 1:
        # A name like "localhost" can bind IPv4 and IPv6, each on its own free port: keep
        # one, so that the server has one URL.
        for extra in listeners[1:]:
            await extra.aclose()
        listeners = listeners[:1]
    return listeners


async def serve(
    captures: Sequence[Path],
    options: ServeOptions = DEFAULT_OPTIONS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[ServerHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve each capture's fixture until cancelled; `nursery.start` returns the handle."""
    # Loaded in this thread on purpose: a worker thread would let trio's MockClock (the
    # pytest `autojump_clock`) jump while it reads, and captures load in milliseconds.
    fixtures = load_fixtures([Path(p) for p in captures])
    if not fixtures:
        raise NoCaptures("the paths given")
    for fixture in fixtures.values():
        if fixture.problem is not None:  # served anyway (a torn tail is what a live recording has)
            logger.warning("warning: %s: %s", fixture.path, fixture.problem)
    listeners = await open_listeners(host, port, ssl_context)
    await serve_listeners(
        listeners, fixtures, options, scheme="ws" if ssl_context is None else "wss", task_status=task_status
    )
