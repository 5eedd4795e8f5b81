"""wss://: a trustme CA the client trusts, a client that does not, and certificate files."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme
from hostile_support import reset
from replayer_support import FIXTURE, client, frame_text, frames_every, receive, running, write_capture
from trio_websocket import HandshakeError, open_websocket_url

from replayer import ServeOptions
from replayer.tls import TlsSetupError, ended_after_handshake, from_files, handshake_failure, self_signed
from ttrec.wire import HANDSHAKE_TIMEOUT_S


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "a.jsonl.zst", frames_every(3, 1.0))


async def test_wss_with_a_throwaway_ca(capture: Path, tmp_path: Path, autojump_clock: object) -> None:
    made = self_signed()
    ca_file = made.write_ca(tmp_path / "ca.pem")
    trusting = ssl.create_default_context(cafile=str(ca_file))
    with trio.fail_after(10):
        async with running([capture], ServeOptions(speed=None), ssl_context=made.context) as handle:
            assert handle.url.startswith("wss://127.0.0.1:")
            async with client(handle.fixture_url(FIXTURE), ssl_context=trusting) as ws:
                assert await receive(ws, 3) == [frame_text(i) for i in (1, 2, 3)]
            async with client(handle.fixture_url(FIXTURE), ssl_context=made.client_context()) as ws:
                assert await receive(ws, 1) == [frame_text(1)]


async def test_a_client_that_does_not_trust_the_ca_is_refused(capture: Path, autojump_clock: object) -> None:
    made = self_signed()
    with trio.fail_after(30):
        async with running([capture], ssl_context=made.context) as handle:
            with pytest.raises((trio.BrokenResourceError, HandshakeError, ssl.SSLError, OSError)):
                # (trio-websocket's client only notices a failed TLS handshake at its timeout)
                untrusting = ssl.create_default_context()
                async with client(handle.fixture_url(FIXTURE), ssl_context=untrusting, connect_timeout=5):
                    pass
            # the server is still fine afterwards
            async with client(handle.fixture_url(FIXTURE), ssl_context=made.client_context()) as ws:
                assert await receive(ws, 1) == [frame_text(1)]


async def test_certificate_files(capture: Path, tmp_path: Path, autojump_clock: object) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    with trio.fail_after(10):
        async with (
            running([capture], ssl_context=from_files(certfile, keyfile)) as handle,
            client(handle.fixture_url(FIXTURE), ssl_context=trusting) as ws,
        ):
            assert await receive(ws, 1) == [frame_text(1)]
    with pytest.raises(TlsSetupError, match="no such file"):
        from_files(tmp_path / "missing.pem", None)
    with pytest.raises(TlsSetupError, match="cannot load"):
        from_files(keyfile, None)  # a key is not a certificate


PATH = f"/v2/tabletennis/fixtures/{FIXTURE}/statistics"


async def untrusting_client(port: int) -> None:
    """A client without the server's CA: it refuses the certificate with an alert, as
    OpenSSL's clients do (Python's blocking ones, curl; trio's own sends no alert)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    async with await trio.open_tcp_stream("127.0.0.1", port) as tcp:
        with pytest.raises(ssl.SSLCertVerificationError):
            while True:
                with contextlib.suppress(ssl.SSLWantReadError):
                    tls.do_handshake()
                    break
                await tcp.send_all(outgoing.read())
                incoming.write(await tcp.receive_some())
        await tcp.send_all(outgoing.read())  # the alert


async def plain_client(port: int) -> None:
    """A ws:// client on the wss:// port: its HTTP request is no TLS."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as tcp:
        await tcp.send_all(f"GET {PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".encode())
        with contextlib.suppress(trio.BrokenResourceError):
            while await tcp.receive_some():  # until the server hangs up
                pass


async def hanging_up_client(port: int) -> None:
    """A client that sends its hello, then hangs up without an alert (Node does that when it
    does not trust the certificate)."""
    hello = ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), hello, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    async with await trio.open_tcp_stream("127.0.0.1", port) as tcp:
        await tcp.send_all(hello.read())
        assert await tcp.receive_some()  # the server's hello and certificate


async def trio_websocket_client(port: int) -> None:
    """trio-websocket without the CA: trio's TLS stream sends no alert and does not hang up;
    the client gives up at its own timeout, after the server's handshake timeout."""
    url = f"wss://127.0.0.1:{port}{PATH}"
    with pytest.raises(HandshakeError):
        async with open_websocket_url(url, ssl_context=ssl.create_default_context(), connect_timeout=20):
            pass


def tls12_without_verification() -> ssl.SSLContext:
    """A client context on TLS 1.2 that checks nothing during the handshake: as Node on TLS
    1.2, which checks the certificate only once the handshake is done."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


@asynccontextmanager
async def after_tls_handshake(port: int) -> AsyncIterator[trio.SocketStream]:
    """A TLS 1.2 connection whose handshake is done, as its TCP stream (closed on leaving)."""
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    async with tcp:
        tls = trio.SSLStream(tcp, tls12_without_verification(), server_hostname="localhost")
        await tls.do_handshake()
        yield tcp


async def leaving_after_the_handshake(port: int) -> None:
    """The handshake done, it hangs up without a byte of HTTP (nor a close_notify): what
    Node on TLS 1.2 does when it then finds it does not trust the certificate."""
    async with after_tls_handshake(port):
        pass


async def resetting_after_the_handshake(port: int) -> None:
    async with after_tls_handshake(port) as tcp:
        reset(tcp)


async def stalling_after_the_handshake(port: int) -> None:
    """The handshake done, it never sends its HTTP request (the server gives up first)."""
    async with after_tls_handshake(port):
        await trio.sleep(HANDSHAKE_TIMEOUT_S * 2)


@pytest.mark.parametrize(
    ("connect", "why"),
    [
        (untrusting_client, "does not trust the CA"),
        (plain_client, "plain HTTP request"),
        (hanging_up_client, "hung up during the handshake"),
        (trio_websocket_client, "stopped answering"),
        (leaving_after_the_handshake, "the client hung up right after the TLS handshake (does it trust"),
        (resetting_after_the_handshake, "connection reset by peer right after the TLS handshake"),
        (
            stalling_after_the_handshake,
            f"sent no HTTP request in the {HANDSHAKE_TIMEOUT_S:g} s after the TLS",
        ),
    ],
)
async def test_a_failed_tls_handshake_is_one_connection_with_its_ending(
    capture: Path,
    autojump_clock: object,
    caplog: pytest.LogCaptureFixture,
    connect: Callable[[int], Awaitable[None]],
    why: str,
) -> None:
    """Reported and logged like any connection (so --exit-after counts it), with why in
    words; a port probe that sends nothing is no connection, as without TLS."""
    caplog.set_level(logging.INFO, logger="replayer")
    made = self_signed()
    with trio.fail_after(60):
        async with running([capture], ssl_context=made.context) as handle:
            await connect(handle.port)
            (failed,) = await handle.wait_connections(1)
            await (await trio.open_tcp_stream("127.0.0.1", handle.port)).aclose()  # the probe
            async with client(handle.fixture_url(FIXTURE), ssl_context=made.client_context()) as ws:
                assert await receive(ws, 1) == [frame_text(1)]
            await handle.wait_connections(2)
            await trio.testing.wait_all_tasks_blocked()
    assert [r.ended for r in handle.connections] == ["tls-failed", "client-closed"]
    assert failed.reason is not None and why in failed.reason
    assert (failed.fixture, failed.code, failed.frames_sent, failed.path) == (None, None, 0, "")
    assert failed.client.startswith("127.0.0.1:")
    line = failed.log_line()
    assert " speed=- ended=tls-failed after=" in line and line.endswith(f' reason="{failed.reason}"')
    logged = [r.getMessage() for r in caplog.records]
    assert logged.count(line) == 1
    assert not any("failed:" in m or "Error" in m or "Exception" in m for m in logged), logged


def test_a_handshake_failure_in_words() -> None:
    """Reasons without a sentence of their own are OpenSSL's in words; an OSError its own."""
    no_cipher = ssl.SSLError(1, "[SSL: NO_SHARED_CIPHER] no shared cipher (_ssl.c:1006)")
    no_cipher.reason = "NO_SHARED_CIPHER"  # as OpenSSL sets it
    assert handshake_failure(no_cipher) == "no shared cipher"
    assert "hung up" in handshake_failure(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    reset = handshake_failure(ConnectionResetError(104, "Connection reset by peer"))
    assert reset.startswith("connection reset by peer")
    assert handshake_failure(None) == "the TLS handshake failed"


def test_why_a_client_left_right_after_the_handshake_in_words() -> None:
    """An EOF, a reset or an alert after a TLS handshake that succeeded (a client that checks
    the certificate only then), said as such."""
    assert ended_after_handshake(None).startswith("the client hung up right after the TLS handshake")
    assert ended_after_handshake(ssl.SSLEOFError(8, "EOF")) == ended_after_handshake(None)
    reset_after = ended_after_handshake(ConnectionResetError(104, "Connection reset by peer"))
    assert reset_after.startswith("connection reset by peer right after the TLS handshake")
    alert = ssl.SSLError(1, "[SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert certificate unknown")
    alert.reason = "SSLV3_ALERT_CERTIFICATE_UNKNOWN"
    assert ended_after_handshake(alert) == "the client refused the certificate (alert certificate unknown)"
