"""Security: request paths reach nothing but the served fixtures, fixture ids are
validated wherever they enter, tokens are compared in constant time against every
configured token and never appear in logs (at DEBUG, every logger), reprs, reports,
captures or tracebacks with locals; `serve` binds loopback unless told otherwise.

Rules: loopback only, port 0, `autojump_clock` for anything timed, a `trio.fail_after`
bound on every network test.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Final

import pytest
import trio
from click.testing import CliRunner
from hostile_support import RawClient, read_until_closed
from hypothesis import given, settings
from hypothesis import strategies as st
from recorder_support import FIXTURE as RECORDED_FIXTURE
from recorder_support import TOKEN, frames_of, read, write_match
from replayer_support import FIXTURE, frames_every, running, write_capture
from wsproto.events import AcceptConnection, RejectConnection

import replayer.session
from recorder.connection import Socket
from recorder.run import record
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.status import PlainReporter
from replayer import ServeOptions
from replayer.handshake import Accept, decide
from replayer.library import Fixture, load_fixtures
from replayer.run import ServerThread
from replayer.session import token_accepted
from ttrec.cli import cli
from ttrec.errors import InvalidFixtureId
from ttrec.feed import AUTH_INVALID_FRAME, Feed, feed_path, parse_feed_path, validate_fixture_id

SERVER_SECRET: Final = "srv-secret-7c1f0e9a2b"
OTHER_SECRET: Final = "srv-secret-other-44d1"
CLIENT_WRONG: Final = "client-wrong-secret-93ab"
ACCEPT: Final = ((b"accept", b"application/vnd.imggaming.dde.api+json;version=1"),)


# --- request paths ---------------------------------------------------------------------

HOSTILE_PATHS: Final = [
    "/../../../../etc/passwd",
    "/v2/tabletennis/fixtures/../../../etc/passwd",
    f"/v2/tabletennis/fixtures/{FIXTURE}/../../../../etc/passwd",
    f"/v2/tabletennis/fixtures/{FIXTURE}/statistics/../../../etc/passwd",
    "/v2/tabletennis/fixtures/%2e%2e/%2e%2e/statistics",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    f"/v2/tabletennis/fixtures/{FIXTURE}%2f..%2f..%2fetc/statistics",
    "/etc/passwd",
    "//etc/passwd",
    "//[",  # urlsplit raises on this one: the connection was dropped, with no 404
    f"//[::1/v2/tabletennis/fixtures/{FIXTURE}/statistics",
    "file:///etc/passwd",
    "http://127.0.0.1/etc/passwd",
    f"/v2/tabletennis/fixtures/{FIXTURE}/statistics%00.jsonl.zst",
    f"/v2/tabletennis/fixtures/{FIXTURE}/..%5c..%5cstatistics",
    "/v2/tabletennis/fixtures/" + "a" * 6000 + "/statistics",
    "/" + "../" * 2000,
    f"/v2/tabletennis/fixtures/{FIXTURE.upper()}/../{FIXTURE}/captures",
]


def _fixtures(tmp_path: Path) -> dict[tuple[str, Feed], Fixture]:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(3, 1.0))
    return dict(load_fixtures([capture]))


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_refused_by_the_pure_decision(tmp_path: Path, path: str) -> None:
    decision = decide(path, ACCEPT, _fixtures(tmp_path), 1.0)
    assert not isinstance(decision, Accept), path
    assert decision.status == 404
    assert len(decision.body) < 400  # a long path is not echoed in full


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=300))
def test_any_path_is_accepted_only_when_it_names_a_served_feed(path: str) -> None:
    fixtures = _SERVED
    decision = decide("/" + path, ACCEPT, fixtures, 1.0)  # type: ignore[arg-type]
    if isinstance(decision, Accept):
        assert parse_feed_path("/" + path) in fixtures


_SERVED: Final = {(FIXTURE, "statistics"): object()}


async def test_hostile_paths_over_the_wire_get_404_and_never_a_file(
    tmp_path: Path, autojump_clock: object
) -> None:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(3, 1.0))
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOP-SECRET-FILE-CONTENT")
    answers: list[tuple[str, int | None, bytes]] = []
    with trio.fail_after(60):
        async with running([capture]) as handle:
            for path in [*HOSTILE_PATHS, str(secret_file), "/" + str(secret_file), str(capture)]:
                raw = await RawClient.connect(handle.port)
                try:
                    event = await raw.handshake(path)
                except Exception as exc:  # a path h11 itself refuses to send
                    answers.append((path, None, repr(exc).encode()))
                    await raw.aclose()
                    continue
                body = b""
                if isinstance(event, RejectConnection) and event.has_body:
                    while True:
                        data = await raw.next_event()
                        body += getattr(data, "data", b"")
                        if getattr(data, "body_finished", True):
                            break
                status: int | None = None  # the server hung up without an answer
                if isinstance(event, RejectConnection):
                    status = event.status_code
                elif isinstance(event, AcceptConnection):
                    status = 101
                answers.append((path, status, body))
                await raw.aclose()
    assert [status for _, status, _ in answers] == [404] * len(answers)  # none dropped unanswered
    for path, status, body in answers:
        assert status != 101, path
        assert b"TOP-SECRET" not in body and b"root:" not in body
        assert status is None or status in (400, 404), (path, status)


@pytest.mark.parametrize(
    "raw_target", [b"/v2/tabletennis/fixtures/x\x00/statistics", b"/\x00", b"/a\x00b\x00c"]
)
async def test_nul_bytes_in_the_request_line_are_refused(
    tmp_path: Path, autojump_clock: object, raw_target: bytes
) -> None:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(3, 1.0))
    request = (
        b"GET " + raw_target + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAccept: a\r\n\r\n"
    )
    with trio.fail_after(60):
        async with running([capture]) as handle:
            stream = await trio.open_tcp_stream("127.0.0.1", handle.port)
            await stream.send_all(request)
            answer = await read_until_closed(stream)
            await stream.aclose()
    assert not answer.startswith(b"HTTP/1.1 101")
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 404"))


# --- fixture ids ----------------------------------------------------------------------


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=80))
def test_a_fixture_id_is_a_canonical_uuid_or_refused(value: str) -> None:
    try:
        canonical = validate_fixture_id(value)
    except InvalidFixtureId as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000  # one line, bounded
        return
    assert len(canonical) == 36 and set(canonical) <= set("0123456789abcdef-")
    assert feed_path(canonical) == f"/v2/tabletennis/fixtures/{canonical}/statistics"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/tmp/x", "a" * 5000, "1bd00469\x00", ""])
def test_record_refuses_a_bad_fixture_id_before_touching_the_disk(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["record", bad, "--out", str(tmp_path / "out")],
        env={"TTREC_TOKEN": TOKEN},
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert TOKEN not in result.stderr + result.stdout


# --- tokens: constant time, every one compared ------------------------------------------


def test_token_comparison_uses_compare_digest_against_every_configured_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    # The very module object replayer.session compares with.
    assert replayer.session.hmac is hmac  # type: ignore[attr-defined]
    monkeypatch.setattr(hmac, "compare_digest", counting)
    tokens = frozenset({"alpha-token", "bravo-token", "charlie-token"})
    for given_token, expected in [
        ("alpha-token", True),
        ("charlie-token", True),
        ("nope", False),
        ("alpha-token-but-longer", False),
    ]:
        calls.clear()
        assert token_accepted(given_token, tokens) is expected
        # Every configured token is compared, whether or not an earlier one matched.
        assert sorted(b for _, b in calls) == sorted(t.encode() for t in tokens)
        assert all(a == given_token.encode() for a, _ in calls)
    calls.clear()
    assert token_accepted("", tokens) is False and token_accepted(None, tokens) is False
    assert token_accepted("anything", frozenset()) is True


# --- tokens: never in logs, reprs, reports, tracebacks ----------------------------------


@contextmanager
def every_log_at_debug() -> Iterator[io.StringIO]:
    """Every logger, DEBUG and up, with tracebacks, into one buffer: at least what a
    --verbose flag would show."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_serve_never_logs_or_reports_a_token(tmp_path: Path, autojump_clock: object) -> None:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(5, 1.0))
    options = ServeOptions(tokens=frozenset({SERVER_SECRET, OTHER_SECRET}))
    with every_log_at_debug() as logs, trio.fail_after(60):
        async with running([capture], options) as handle:
            path = feed_path(FIXTURE)
            for token in (SERVER_SECRET, CLIENT_WRONG, OTHER_SECRET):
                raw = await RawClient.connect(handle.port)
                await raw.authenticate(path, token)
                await raw.next_message()
                await raw.aclose()
            raw = await RawClient.connect(handle.port)
            await raw.handshake(path)
            await raw.send_text(json.dumps({"authToken": SERVER_SECRET, "junk": "[" * 70_000}))
            await raw.until_closed()
            await handle.wait_connections(4)
            reports = list(handle.connections)
            shown = repr(handle) + repr(options) + "".join(repr(r) + r.log_line() for r in reports)
    text = logs.getvalue() + shown
    assert "DEBUG" in logs.getvalue()  # the debug logs were on
    assert [r.ended for r in reports].count("auth-invalid") == 1
    for secret in (SERVER_SECRET, OTHER_SECRET, CLIENT_WRONG):
        assert secret not in text


def test_serve_cli_output_never_shows_a_token(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(5, 0.01))
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "ttrec", "serve", str(capture), "--token", SERVER_SECRET]
    command += ["--ready-file", str(ready), "--speed", "max"]
    with _process(command) as process:
        url = _wait_ready(ready)["url"]
        assert url.startswith("ws://127.0.0.1:")  # loopback by default

        async def clients() -> list[str]:
            port = int(url.rsplit(":", 1)[1])
            got = []
            for token in (SERVER_SECRET, CLIENT_WRONG):
                raw = await RawClient.connect(port)
                await raw.authenticate(feed_path(FIXTURE), token)
                message = await raw.next_message()
                assert isinstance(message, str), message
                got.append(message)
                await raw.aclose()
            return got

        got = trio.run(clients)
        assert got[1] == AUTH_INVALID_FRAME
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "ended=auth-invalid" in stderr  # the log lines were there to look at
    assert SERVER_SECRET not in stderr and CLIENT_WRONG not in stderr
    assert "Traceback" not in stderr


class ExplodingSocket:
    """Takes the auth message, then fails with an unexpected error: a bug's traceback."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def get_message(self) -> str | bytes:
        raise RuntimeError("an unexpected bug deep in the receive loop")

    async def send_message(self, message: str | bytes) -> None:
        self.sent.append(message)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        return


async def test_a_recorder_traceback_with_locals_never_shows_the_token(
    tmp_path: Path, autojump_clock: object
) -> None:
    sock = ExplodingSocket()

    @asynccontextmanager
    async def connect(url: str) -> AsyncIterator[Socket]:
        yield sock

    def connect_fn(url: str) -> AbstractAsyncContextManager[Socket]:
        return connect(url)

    log = io.StringIO()
    with every_log_at_debug() as logs, pytest.raises(BaseException) as caught, trio.fail_after(60):
        await record(
            [FIXTURE],
            Token(TOKEN),
            out=tmp_path / "out",
            options=RecordOptions(base_url="ws://127.0.0.1:9", seed=1),
            connect=connect_fn,
            reporter=PlainReporter(log),
        )
    assert TOKEN in str(sock.sent[0])  # it was sent, in the one place it belongs
    rendered = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format(chain=True)
    )
    assert "RuntimeError" in rendered and "unexpected bug" in rendered
    assert TOKEN not in rendered
    assert TOKEN not in log.getvalue() + logs.getvalue()
    [capture] = (tmp_path / "out").iterdir()
    assert TOKEN.encode() not in capture.read_bytes()
    _, records = read(capture)
    assert not frames_of(records)


def test_record_cli_never_shows_the_token(tmp_path: Path) -> None:
    source = write_match(tmp_path / "a.jsonl.zst", 5)
    with ServerThread([source], ServeOptions(speed=None, tokens=frozenset({"other-token-x"}))) as handle:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ttrec",
                "record",
                RECORDED_FIXTURE,
                "--base-url",
                handle.url,
                "--out",
                str(tmp_path / "o"),
            ],
            env={**os.environ, "TTREC_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1 and "401" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    for path in (tmp_path / "o").iterdir():
        assert TOKEN.encode() not in path.read_bytes()


# --- binding ----------------------------------------------------------------------------


def test_serve_binds_loopback_by_default_and_warns_otherwise(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(3, 1.0))
    ready = tmp_path / "ready.json"
    with _process(
        [sys.executable, "-m", "ttrec", "serve", str(capture), "--ready-file", str(ready)]
    ) as process:
        info = _wait_ready(ready)
        url = info["url"]
        port = int(url.rsplit(":", 1)[1])
        api_port = int(info["api_url"].rsplit(":", 1)[1])  # the fixtures REST API's own listener
        listening = _listening_addresses(process.pid)
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert url == f"ws://127.0.0.1:{port}" and info["api_url"] == f"http://127.0.0.1:{api_port}"
    assert listening == {("127.0.0.1", port), ("127.0.0.1", api_port)}
    assert "warning" not in stderr
    ready.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "ttrec",
        "serve",
        str(capture),
        "--host",
        "0.0.0.0",
        "--ready-file",
        str(ready),
    ]
    with _process(command) as process:
        _wait_ready(ready)
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "warning: binding 0.0.0.0 exposes the mock server beyond this machine" in stderr


@contextmanager
def _process(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _wait_ready(ready: Path, timeout_s: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        assert time.monotonic() < deadline, "serve never became ready"
        time.sleep(0.05)
    loaded: dict[str, str] = json.loads(ready.read_text())
    return loaded


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs of listening TCP sockets that process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            if width == 8:
                host = ".".join(str(b) for b in reversed(bytes.fromhex(address)))
            else:
                host = "ipv6:" + address
            found.add((host, int(port, 16)))
    return found


def test_accept_header_alone_does_not_open_anything(tmp_path: Path) -> None:
    # An Accept decision names a fixture from the in-memory map, never a file path.
    capture = write_capture(tmp_path / "match.jsonl.zst", frames_every(3, 1.0))
    fixtures = dict(load_fixtures([capture]))
    decision = decide(feed_path(FIXTURE), ACCEPT, fixtures, 1.0)
    assert isinstance(decision, Accept)
    assert decision.fixture is fixtures[(FIXTURE, "statistics")]
