"""One connection attempt: handshake with the Accept header, the auth message, then every
message stamped on arrival and recorded, until the connection ends; the `Ending` says how.

The network is injected: `connect(url)` is an async context manager yielding something
with trio-websocket's `get_message` / `send_message` / `aclose`, so tests can substitute
a fake; `websocket_connect` opens the real thing.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

import h11
import trio
import wsproto.utilities
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    open_websocket_url,
)

from recorder.policy import Verdict, classify_close, classify_error_frame, classify_status
from recorder.recording import Arrival, Recording
from recorder.secret import Token
from recorder.stop import Stop
from ttrec.feed import ACCEPT_HEADER, REDACTED_AUTH_MESSAGE, auth_message
from ttrec.records import ClosedBy
from ttrec.wire import (
    ABNORMAL_CLOSURE,
    CLOSE_TIMEOUT_S,
    GOING_AWAY,
    HANDSHAKE_TIMEOUT_S,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
)

# After the finished frame, wait at most this long for a frame sent out of order (or until
# the first heartbeat or the server's close) before closing.
FINISHED_LINGER_S: Final = 2.0
# trio-websocket's default is 1 MiB; the final frame of a long doubles match is ~30 KB, but
# a frame we refuse is a frame lost, so allow far more than the feed will ever send.
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
_TOO_BIG_REASON: Final = "Exceeded maximum message size"  # trio-websocket's own close reason
Close = tuple[int, str]  # the code and reason of the close frame we send
CLOSE_FINISHED: Final = (NORMAL_CLOSURE, "match finished")
CLOSE_STOPPING: Final = (GOING_AWAY, "recorder stopping")
CLOSE_WATCHDOG: Final = (NORMAL_CLOSURE, "no message within the watchdog interval")
CLOSE_REFUSED: Final = (NORMAL_CLOSURE, "refused by the server")
CLOSE_RESYNC: Final = (NORMAL_CLOSURE, "resuming from the start")


class Socket(Protocol):
    async def get_message(self) -> str | bytes: ...

    async def send_message(self, message: str | bytes) -> None: ...

    async def aclose(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None: ...


Connect = Callable[[str], AbstractAsyncContextManager[Socket]]


# After trio-websocket's own close timeout, how long its leftover reader task may run
# before the guard below cancels it.
GUARD_GRACE_S: Final = 1.0


class UntrustedCertificate(HandshakeError):
    """The server's TLS certificate failed verification: another attempt cannot help."""

    def __init__(self, host: str, problem: str) -> None:
        super().__init__(f"the TLS certificate of {host} is not trusted: {problem} (see --ca-file)")


def client_tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """The system's trusted CAs, or only those in `ca_file` (PEM) when given."""
    return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))


def _reporting_failures(
    context: ssl.SSLContext, failed: Callable[[ssl.SSLCertVerificationError], None]
) -> None:
    """Make `context` call `failed` the moment a certificate check fails.

    trio-websocket meets the failed TLS handshake in its reader task, drops the error and
    waits for the upgrade answer until its connect timeout: "TooSlowError" after 10 s,
    then a retry. Seeing the failure where the handshake runs lets us stop at once.
    """

    class Watched(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except ssl.SSLCertVerificationError as exc:
                failed(exc)
                raise

    context.sslobject_class = Watched


def _watched_context(
    url: str, ca_file: Path | None, guard: trio.CancelScope, untrusted: list[ssl.SSLCertVerificationError]
) -> ssl.SSLContext | None:
    """For wss://, the TLS context: a certificate failure is noted in `untrusted` and
    cancels `guard` (stop waiting for the upgrade answer now). None for ws://."""
    if not url.startswith("wss://"):
        return None
    context = client_tls_context(ca_file)

    def failed(exc: ssl.SSLCertVerificationError) -> None:
        untrusted.append(exc)
        guard.cancel()

    _reporting_failures(context, failed)
    return context


@asynccontextmanager
async def websocket_connect(url: str, *, ca_file: Path | None = None) -> AsyncIterator[Socket]:
    """trio-websocket's `open_websocket_url`, with its timeouts made to hold and a TLS
    certificate failure reported at once (`UntrustedCertificate`); `ca_file` replaces the
    system's trusted CAs for wss://.

    Its connect and disconnect timeouts stop waiting, but leave its reader task running in
    its nursery, and the nursery then waits for it: a server that reads the upgrade
    request and never answers, or never closes the TCP connection after a close
    handshake, would hang the recorder forever. A cancel scope around it all ends that
    reader task too (tests/test_hostile_upstreams.py).
    """
    opened = False
    garbled = False
    untrusted: list[ssl.SSLCertVerificationError] = []
    try:
        with trio.CancelScope(deadline=trio.current_time() + HANDSHAKE_TIMEOUT_S + GUARD_GRACE_S) as guard:
            context = _watched_context(url, ca_file, guard, untrusted)
            async with open_websocket_url(
                url,
                ssl_context=context,
                extra_headers=[(b"Accept", ACCEPT_HEADER.encode())],
                max_message_size=MAX_MESSAGE_BYTES,
                connect_timeout=HANDSHAKE_TIMEOUT_S,
                disconnect_timeout=CLOSE_TIMEOUT_S,
            ) as ws:
                opened = True
                guard.deadline = math.inf
                try:
                    yield ws
                finally:
                    guard.deadline = trio.current_time() + CLOSE_TIMEOUT_S + GUARD_GRACE_S
    except (h11.ProtocolError, wsproto.utilities.ProtocolError):
        # Before the handshake: an answer to the upgrade that is not HTTP, and
        # trio-websocket's reader tries to send the client a 400 (an event only a server
        # may send). After it: its reader sending a 1009 close while our own close frame
        # (the watchdog's) is already out. Either way the connection is over, not the recorder.
        garbled = True
    # Raised here, outside the handlers, so that no h11 or ssl internals become their context.
    if untrusted and not opened:
        raise UntrustedCertificate(urlsplit(url).hostname or url, untrusted[0].verify_message)
    if garbled and not opened:
        raise HandshakeError("the server's answer is not a websocket handshake")
    if garbled:
        raise trio.BrokenResourceError("websocket protocol error")
    if guard.cancelled_caught and not opened:
        raise ConnectionTimeout


EndKind = Literal[
    "finished",  # the finished:true frame arrived and we closed (--until finished)
    "stopped",  # Stop.request(): we closed
    "closed",  # the server closed or the network dropped
    "watchdog",  # nothing arrived for too long: we closed
    "rejected",  # a handshake refusal or an error frame
    "failed",  # could not connect at all
    "resync",  # the server resumed past our position: we closed, to start over from 0
]


@dataclass(frozen=True, slots=True)
class Ending:
    kind: EndKind
    verdict: Verdict | None  # for the kinds the policy must judge; None: nothing to retry
    detail: str  # one line for humans, token scrubbed
    new_frames: int = 0  # data frames this connection added to the capture
    status: int | None = None


_FINISHED: Final = Ending("finished", None, "finished: true received")


@dataclass(frozen=True, slots=True)
class Attempt:
    url: str  # never carries the token
    start_position: int
    token: Token
    watchdog_s: float
    stop_at_finished: bool
    on_open: Callable[[], None] = lambda: None  # told once the handshake is through


async def run_connection(attempt: Attempt, recording: Recording, connect: Connect, stop: Stop) -> Ending:
    conn = recording.new_connection()
    frames_before = recording.frames
    ending: Ending | None = None
    try:
        # A stop does not wait for the handshake (up to HANDSHAKE_TIMEOUT_S): the attempt is
        # abandoned where it is. Once it is open, the stop is the conversation's to answer
        # (with a close frame), so the handshake's scope is let go of at once.
        with stop.interruptible() as handshake:
            async with connect(attempt.url) as ws:
                stop.release(handshake)
                if not handshake.cancel_called:  # else stopped as it opened: not ours to record
                    recording.opened(recording.stamp(), conn, attempt.url, attempt.start_position)
                    attempt.on_open()
                    ending = await _converse(ws, conn, attempt, recording, stop)
        if ending is None:
            return Ending("stopped", None, "stopped while connecting")
    except ConnectionRejected as exc:
        body = _text(exc.body)
        recording.error(recording.stamp(), conn, status=exc.status_code, body=body)  # scrubs it
        detail = _one_line(f"HTTP {exc.status_code} {attempt.token.scrub(body)}")
        return Ending("rejected", classify_status(exc.status_code), detail, status=exc.status_code)
    except (HandshakeError, OSError, trio.BrokenResourceError) as exc:
        if ending is not None:
            # The conversation ended and was recorded; only the closing handshake failed
            # (DisconnectionTimeout). Nothing was lost.
            return _with_frames(ending, recording.frames - frames_before)
        message = _describe(exc)
        recording.error(recording.stamp(), conn, message=message)
        return Ending("failed", _failure_verdict(exc), attempt.token.scrub(message))
    assert ending is not None
    return _with_frames(ending, recording.frames - frames_before)


async def _converse(ws: Socket, conn: int, attempt: Attempt, recording: Recording, stop: Stop) -> Ending:
    try:
        await ws.send_message(auth_message(attempt.token.reveal()))
    except ConnectionClosed as exc:
        return _server_closed(exc, conn, attempt, recording)
    recording.sent(recording.stamp(), conn, REDACTED_AUTH_MESSAGE)

    ended: tuple[Ending, Close] | None = None
    finishing = False  # the finished frame is in: lingering for a frame sent out of order
    with stop.interruptible() as interrupt, trio.CancelScope() as watchdog:
        watchdog.deadline = trio.current_time() + attempt.watchdog_s
        while True:
            try:
                message = await ws.get_message()
            except ConnectionClosed as exc:
                closed = _server_closed(exc, conn, attempt, recording)
                return _FINISHED if finishing else closed
            # Stamp first: everything after this line is our own processing time.
            stamp = recording.stamp()
            if not finishing:
                watchdog.deadline = trio.current_time() + attempt.watchdog_s
            if isinstance(message, bytes):
                recording.binary(stamp, conn, message)
                continue
            arrival = recording.text(stamp, conn, message)
            ended = _refused(arrival, message, attempt)
            if ended is not None:
                break
            if finishing and arrival.kind != "frame":
                break  # the server has moved on to heartbeats: nothing more is coming
            if arrival.finished and attempt.stop_at_finished and not arrival.duplicate:
                # A frame the server sent out of order (a reordered match point) may still
                # follow the finished frame: linger a moment for it before closing.
                finishing = True
                watchdog.deadline = trio.current_time() + FINISHED_LINGER_S
    ending, (code, reason) = ended or _quiet_ending(finishing, interrupt.cancelled_caught, attempt)
    # Close politely but never wait long: a stalled server may not answer the close frame.
    with trio.move_on_after(CLOSE_TIMEOUT_S):
        await ws.aclose(code, reason)
    recording.closed(recording.stamp(), conn, code, reason, "client")
    return ending


def _refused(arrival: Arrival, message: str, attempt: Attempt) -> tuple[Ending, Close] | None:
    """An error frame (the auth refused, ...) or a resume past our position: end the connection."""
    if arrival.error_status is not None:
        detail = f"{arrival.error_status} {attempt.token.scrub(message)}"
        verdict = classify_error_frame(arrival.error_status)
        return Ending("rejected", verdict, _one_line(detail), status=arrival.error_status), CLOSE_REFUSED
    if arrival.resync:
        return Ending("resync", "transient", "resumed past our position"), CLOSE_RESYNC
    return None


def _quiet_ending(finishing: bool, stopped: bool, attempt: Attempt) -> tuple[Ending, Close]:
    """How a connection ended that the server neither closed nor refused: the match
    finished (lingered long enough), we were stopped, or the watchdog found it silent."""
    if finishing and not stopped:
        return _FINISHED, CLOSE_FINISHED
    if stopped:
        return Ending("stopped", None, "stopped"), CLOSE_STOPPING
    return Ending("watchdog", "transient", f"no message for {attempt.watchdog_s:g} s"), CLOSE_WATCHDOG


def _server_closed(exc: ConnectionClosed, conn: int, attempt: Attempt, recording: Recording) -> Ending:
    reason_obj = exc.reason
    code = reason_obj.code if reason_obj is not None else None
    raw_reason = (reason_obj.reason if reason_obj is not None else None) or ""
    reason = attempt.token.scrub(raw_reason)
    by: ClosedBy = "network" if code in (None, ABNORMAL_CLOSURE) else "server"
    if code == MESSAGE_TOO_BIG and reason.startswith(_TOO_BIG_REASON):
        by = "client"  # trio-websocket refused an oversized message and closed for us
    recording.closed(recording.stamp(), conn, code, raw_reason, by)  # scrubs it
    if by == "network":
        return Ending("closed", "transient", "connection lost (no close frame)")
    if by == "client":
        return Ending("closed", "transient", _one_line(f"closed with {code}: {reason}"))
    detail = f"closed by the server with {code}" + (f" {reason}" if reason else "")
    return Ending("closed", classify_close(code), _one_line(detail))


def _with_frames(ending: Ending, new_frames: int) -> Ending:
    return Ending(ending.kind, ending.verdict, ending.detail, new_frames, ending.status)


def _text(body: bytes | None) -> str:
    return (body or b"").decode("utf-8", "replace")


def _failure_verdict(exc: BaseException) -> Verdict:
    return "permanent" if isinstance(exc, UntrustedCertificate) else "transient"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UntrustedCertificate):
        return str(exc)
    if isinstance(exc, ConnectionTimeout):
        return f"no handshake within {HANDSHAKE_TIMEOUT_S:g} s"
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, HandshakeError) and cause is not None:
        exc = cause
    text = str(exc) or type(exc).__name__
    return _one_line(f"cannot connect: {text}")


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
