"""wss://: a trustme CA the client trusts, a client that does not, and certificate files."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
import trustme
from replayer_support import FIXTURE, client, frame_text, frames_every, receive, running, write_capture
from trio_websocket import HandshakeError

from replayer import ServeOptions
from replayer.tls import TlsSetupError, from_files, self_signed


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
