"""The fixtures REST API's HTTP shell: h11 over trio streams, on a listener of its own.

Routing and JSON are in ttrec.fixtures_api; this module parses requests, asks it, and frames
the answer. The server's clock for fixture statuses is trio's: under a MockClock, tests move
a whole day of fixtures through Scheduled, Live and Completed in no time.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Final

import h11
import trio

from replayer.library import Fixture
from replayer.server import listener_url, open_listeners
from replayer.session import token_accepted
from ttrec.feed import Feed
from ttrec.fixtures_api import Answer, Listing, Request, answer, coverage_level, fixture_type, teams_of

logger = logging.getLogger("replayer")

REQUEST_TIMEOUT_S: Final = 10.0  # a connection that sends no complete request head in time
IDLE_TIMEOUT_S: Final = 60.0  # a kept-alive connection with no next request is closed
HEAD_LIMIT_BYTES: Final = 16 * 1024
NS_PER_S: Final = 1_000_000_000


def listings_of(
    fixtures: Mapping[tuple[str, Feed], Fixture], *, stagger_s: float, speed: float | None
) -> dict[str, Listing]:
    """One listing per fixture id, in the order the captures were given: fixture i starts
    `i * stagger_s` after the server and plays as long as its longest feed takes to reach
    its last data frame at `speed` (None, as fast as read: no time at all)."""
    by_id: dict[str, dict[Feed, Fixture]] = {}
    for (fixture_id, feed), fixture in fixtures.items():
        by_id.setdefault(fixture_id, {})[feed] = fixture
    listings: dict[str, Listing] = {}
    for index, (fixture_id, feeds) in enumerate(by_id.items()):
        main = feeds.get("statistics") or feeds["actions"]
        texts = [_frame_texts(f) for f in feeds.values()]
        home, away = teams_of(main.header, (t for frames in texts for t in frames[:50]))
        last_s = max((_last_frame_s(f) for f in feeds.values()), default=0.0)
        actions = feeds.get("actions")
        listings[fixture_id] = Listing(
            fixture_id=fixture_id,
            home=home,
            away=away,
            type=fixture_type(main.header),
            coverage_level=coverage_level(main.header),
            starts_s=index * stagger_s,
            plays_s=0.0 if speed is None else last_s / speed,
            actions=None if actions is None else tuple(_frame_texts(actions)),
        )
    return listings


def _frame_texts(fixture: Fixture) -> list[str]:
    messages = fixture.timeline.messages
    payloads = (messages[i].payload for i in fixture.timeline.frame_positions)
    return [p for p in payloads if isinstance(p, str)]


def _last_frame_s(fixture: Fixture) -> float:
    positions = fixture.timeline.frame_positions
    return fixture.timeline.messages[positions[-1]].t / NS_PER_S if positions else 0.0


class ApiHandle:
    """The running API: where it listens and when its clock started."""

    def __init__(self, url: str, listings: Mapping[str, Listing]) -> None:
        self.url = url
        self.listings = listings
        self.started_at = trio.current_time()
        self.started = datetime.now(UTC)
        self.requests = 0

    def elapsed_s(self) -> float:
        return trio.current_time() - self.started_at


async def serve_api_tcp(
    listings: Mapping[str, Listing],
    tokens: frozenset[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[ApiHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The API on its own TCP port (the provider serves it from another host than the
    websockets): http://, or https:// with the websocket server's TLS context."""
    listeners = await open_listeners(host, port, ssl_context)
    url, _ = listener_url(listeners[0], "http" if ssl_context is None else "https")
    await serve_api(listeners, listings, tokens, url=url, task_status=task_status)


async def serve_api(
    listeners: Sequence[trio.abc.Listener[trio.abc.Stream]],
    listings: Mapping[str, Listing],
    tokens: frozenset[str],
    *,
    url: str,
    task_status: trio.TaskStatus[ApiHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    handle = ApiHandle(url, listings)
    token_ok = partial(token_accepted, tokens=tokens)
    handler = partial(_serve_connection, handle, token_ok)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, list(listeners))
        task_status.started(handle)


async def _serve_connection(handle: ApiHandle, token_ok: partial[bool], stream: trio.abc.Stream) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT_BYTES)
    try:
        while True:
            timeout = REQUEST_TIMEOUT_S if handle.requests == 0 else IDLE_TIMEOUT_S
            with trio.move_on_after(timeout):
                request = await _next_request(conn, stream)
            if request is None:
                return
            handle.requests += 1
            reply = answer(
                request,
                handle.listings,
                elapsed_s=handle.elapsed_s(),
                started=handle.started,
                token_ok=token_ok,
            )
            # One debug line per request (`serve -v`): benchmarks/live.py counts them per second
            # on this side. The path only: a client may put anything in a query, a token too.
            logger.debug("api %s %s %d", request.method, request.target.split("?")[0][:200], reply.status)
            await _send(conn, stream, reply, head_only=request.method == "HEAD")
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        logger.debug("API connection ended: %r", exc)
    finally:
        await trio.aclose_forcefully(stream)


async def _next_request(conn: h11.Connection, stream: trio.abc.Stream) -> Request | None:
    """The next request with its body read and ignored (every route is a GET), or None when
    the client left or sent no valid HTTP (answered 400 first when it can be)."""
    request: h11.Request | None = None
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await _send(conn, stream, Answer(exc.error_status_hint, b"", "text/plain"), head_only=False)
            return None
        if event is h11.NEED_DATA:
            data = await stream.receive_some()
            conn.receive_data(bytes(data))  # b"": the client closed (h11 reports it next)
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
            return Request(
                request.method.decode("ascii", "replace"), request.target.decode("ascii", "replace"), headers
            )
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def _send(conn: h11.Connection, stream: trio.abc.Stream, reply: Answer, *, head_only: bool) -> None:
    headers = [
        (b"Content-Type", reply.content_type.encode()),
        (b"Content-Length", str(len(reply.body)).encode()),
    ]
    out = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
    if not head_only:
        out += conn.send(h11.Data(data=reply.body)) or b""
    out += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(out)
