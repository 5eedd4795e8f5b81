"""TLS for `record` and `watch`: a certificate the client does not trust is reported at
once as a certificate failure naming the host, never retried; `--ca-file` trusts a CA.

Against the replayer with a throwaway CA (`ttrec serve --tls` style, trustme) on loopback.
Real clock: the point is that the failure comes at once, not after the 10 s handshake
timeout, so each wait is bounded well below it.
"""

from __future__ import annotations

import io
import sys
from functools import partial
from pathlib import Path
from typing import Final

import trio
from recorder_support import TOKEN

from recorder.connection import websocket_connect
from recorder.run import record
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.status import PlainReporter
from ttrec.capture import CaptureReader
from ttrec.records import Error
from ttrec.testing import open_server, serve_options
from ttrec.wire import HANDSHAKE_TIMEOUT_S

AT_ONCE_S: Final = HANDSHAKE_TIMEOUT_S / 2  # far more than a loopback TLS handshake needs
# The bundled sample as fast as read, a heartbeat after 0.1 s of quiet: the one after the
# finished frame ends a recording at once (else the recorder lingers FINISHED_LINGER_S, 2 s).
QUICK_END: Final = serve_options(heartbeat_interval_s=0.1)


async def test_record_stops_at_once_on_an_untrusted_certificate_and_records_with_ca_file(
    tmp_path: Path,
) -> None:
    async with open_server(options=QUICK_END, tls=True, ca_dir=tmp_path) as server:
        options = RecordOptions(base_url=server.url, seed=1)
        log = io.StringIO()
        with trio.fail_after(AT_ONCE_S):
            [failed] = await record(
                [server.fixture_id],
                Token(TOKEN),
                out=tmp_path / "a",
                options=options,
                reporter=PlainReporter(log),
            )
        assert failed.outcome == "failed" and failed.attempts == 1  # permanent: no retry
        assert failed.connections == 0
        assert "TLS certificate of 127.0.0.1 is not trusted" in failed.detail
        assert "certificate verify failed" in failed.detail or "issuer" in failed.detail
        with CaptureReader(Path(failed.path)) as reader:
            errors = [r for r in reader if isinstance(r, Error)]
        assert len(errors) == 1 and errors[0].message is not None and "not trusted" in errors[0].message

        assert server.ca_file is not None
        connect = partial(websocket_connect, ca_file=server.ca_file)
        with trio.fail_after(60):
            [ok] = await record(
                [server.fixture_id],
                Token(TOKEN),
                out=tmp_path / "b",
                options=options,
                connect=connect,
                reporter=PlainReporter(io.StringIO()),
            )
        assert ok.complete and ok.frames > 0


async def _ttrec(*args: str) -> trio.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "ttrec", *args], capture_stdout=True, capture_stderr=True, check=False
    )


async def test_watch_and_record_commands_name_the_certificate_failure_and_take_ca_file(
    tmp_path: Path,
) -> None:
    async with open_server(options=QUICK_END, tls=True, ca_dir=tmp_path) as server:
        url = server.fixture_url()
        with trio.fail_after(AT_ONCE_S):
            watched = await _ttrec("watch", "--plain", url)
        err = watched.stderr.decode()
        assert watched.returncode == 1 and err.count("\n") == 1, err
        assert "TLS certificate of 127.0.0.1 is not trusted" in err and "TooSlow" not in err

        with trio.fail_after(AT_ONCE_S):
            recorded = await _ttrec(
                "record",
                server.fixture_id,
                "--base-url",
                server.url,
                "--out",
                str(tmp_path / "x.jsonl.zst"),
                "--token",
                TOKEN,
            )
        assert recorded.returncode == 1
        assert "not trusted" in recorded.stdout.decode() and "reconnecting" not in recorded.stderr.decode()

        assert server.ca_file is not None
        with trio.fail_after(60):
            watched = await _ttrec("watch", "--plain", url, "--ca-file", str(server.ca_file))
            recorded = await _ttrec(
                "record",
                server.fixture_id,
                "--base-url",
                server.url,
                "--out",
                str(tmp_path / "y.jsonl.zst"),
                "--token",
                TOKEN,
                "--ca-file",
                str(server.ca_file),
            )
        assert watched.returncode == 0, watched.stderr
        assert recorded.returncode == 0, recorded.stderr

        not_pem = tmp_path / "not.pem"
        not_pem.write_text("hello\n")
        with trio.fail_after(AT_ONCE_S):
            refused = await _ttrec("watch", "--plain", url, "--ca-file", str(not_pem))
        assert refused.returncode == 2
        usage = "(try 'ttrec watch --help')"
        assert refused.stderr.decode() == f"ttrec watch: --ca-file {not_pem}: not a PEM certificate {usage}\n"
