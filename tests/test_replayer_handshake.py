"""Every handshake outcome: 404, 400, auth accepted, refused, malformed, late; loading captures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import trio
from replayer_support import (
    ACCEPT,
    FIXTURE,
    OTHER_FIXTURE,
    client,
    frame_text,
    frames_every,
    receive,
    running,
    write_capture,
)
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from replayer import ServeOptions, serve
from replayer.library import FixtureConflict, NoCaptures, load_fixtures
from replayer.session import token_accepted
from ttrec.errors import CaptureFormatError
from ttrec.feed import AUTH_INVALID_FRAME, MISSING_ACCEPT_BODY, auth_message

SECRET = "s3cret-token-value"


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "a.jsonl.zst", frames_every(5, 1.0))


async def rejected(url: str, headers: list[tuple[str, str]] = ACCEPT) -> ConnectionRejected:
    with pytest.raises(ConnectionRejected) as info:
        async with open_websocket_url(url, extra_headers=headers):
            pass
    return info.value


async def test_unknown_fixture_is_404_with_a_json_body(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with running([capture]) as handle:
            exc = await rejected(handle.fixture_url(OTHER_FIXTURE))
            assert exc.status_code == 404
            body = json.loads(exc.body)
            assert body["status"] == 404 and OTHER_FIXTURE in body["error"]
            assert (b"content-type", b"application/json") in [(k.lower(), v) for k, v in exc.headers]
            # the other feed of a served fixture is not served either
            exc = await rejected(handle.fixture_url(FIXTURE, "actions"))
            assert exc.status_code == 404
            exc = await rejected(handle.url + "/v2/tabletennis/nothing-here")
            assert exc.status_code == 404 and json.loads(exc.body)["status"] == 404
            reports = await handle.wait_connections(3)
            assert [(r.ended, r.code) for r in reports] == [("rejected", 404)] * 3
            assert reports[0].fixture == OTHER_FIXTURE and reports[2].fixture is None


async def test_missing_accept_is_400_with_the_providers_message(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(10):
        async with running([capture]) as handle:
            exc = await rejected(handle.fixture_url(FIXTURE), headers=[])
            assert exc.status_code == 400
            assert exc.body == MISSING_ACCEPT_BODY.encode()
            # presence is what the provider checks: another value is let through
            async with client(handle.fixture_url(FIXTURE), headers=[("Accept", "*/*")]) as ws:
                assert await receive(ws, 1) == [frame_text(1)]


async def test_bad_start_position_is_400(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with running([capture]) as handle:
            for bad in ("-1", "x", "1.5", "%D9%A3", ""):  # an empty value is no integer either
                exc = await rejected(handle.fixture_url(FIXTURE) + f"?startPosition={bad}")
                assert exc.status_code == 400 and "startPosition" in json.loads(exc.body)["error"]


async def test_a_refused_request_reports_the_start_position_it_asked_for(
    capture: Path, autojump_clock: object
) -> None:
    with trio.fail_after(10):
        async with running([capture]) as handle:
            await rejected(handle.fixture_url(OTHER_FIXTURE) + "?startPosition=5")  # 404
            await rejected(handle.fixture_url(FIXTURE) + "?startPosition=7", headers=[])  # 400, no Accept
            await rejected(handle.fixture_url(FIXTURE) + "?startPosition=x")  # 400: none it could ask for
            reports = await handle.wait_connections(3)
    assert [(r.code, r.start_position) for r in reports] == [(404, 5), (400, 7), (400, 0)]


async def test_configured_token_is_accepted(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with (
            running([capture], ServeOptions(tokens=frozenset({"other", SECRET}))) as handle,
            client(handle.fixture_url(FIXTURE), token=SECRET) as ws,
        ):
            assert await receive(ws, 2) == [frame_text(1), frame_text(2)]


@pytest.mark.parametrize(
    "message",
    [
        auth_message("wrong-token"),
        auth_message(""),
        "not json",
        json.dumps(["authToken", SECRET]),
        json.dumps({"authToken": 12345}),
        json.dumps({"token": SECRET}),
        b'{"authToken": "s3cret-token-value"}',  # binary, not a text message
    ],
)
async def test_bad_or_malformed_auth_gets_401_frame_and_close_1008(
    capture: Path, autojump_clock: object, message: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="replayer")
    with trio.fail_after(10):
        async with running([capture], ServeOptions(tokens=frozenset({SECRET}))) as handle:
            async with client(handle.fixture_url(FIXTURE), token=None) as ws:
                await ws.send_message(message)
                assert await ws.get_message() == AUTH_INVALID_FRAME
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason.code == 1008
            (report,) = await handle.wait_connections(1)
            assert report.ended == "auth-invalid" and report.code == 1008 and report.frames_sent == 0
    assert "ended=auth-invalid(1008)" in caplog.text
    assert SECRET not in caplog.text and "wrong-token" not in caplog.text


async def test_any_non_empty_token_when_none_is_configured(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(10):
        async with (
            running([capture]) as handle,
            client(handle.fixture_url(FIXTURE), token="anything at all") as ws,
        ):
            assert await receive(ws, 1) == [frame_text(1)]


async def test_no_auth_message_in_time_closes_1008(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with running([capture], ServeOptions(auth_timeout_s=3.0)) as handle:
            async with client(handle.fixture_url(FIXTURE), token=None) as ws:
                start = trio.current_time()
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()  # no 401 frame: just the close
                assert info.value.reason.code == 1008
                assert trio.current_time() - start == pytest.approx(3.0, abs=0.01)
            (report,) = await handle.wait_connections(1)
            assert report.ended == "auth-timeout"


async def test_later_client_messages_are_ignored(capture: Path, autojump_clock: object) -> None:
    with trio.fail_after(30):
        async with running([capture]) as handle, client(handle.fixture_url(FIXTURE)) as ws:
            got = []
            for i in range(5):
                await ws.send_message(f"noise {i}")
                await ws.send_message(auth_message("again"))
                await ws.send_message(b"\x00" * 100)
                got += await receive(ws, 1)
            assert got == [frame_text(i + 1) for i in range(5)]


def test_token_comparison() -> None:
    assert token_accepted("a", frozenset())
    assert not token_accepted("", frozenset())
    assert not token_accepted(None, frozenset())
    assert token_accepted("b", frozenset({"a", "b"}))
    assert not token_accepted("c", frozenset({"a", "b"}))
    assert not token_accepted("ab", frozenset({"a"}))
    assert token_accepted("é", frozenset({"é"}))


def test_loading_files_and_directories(tmp_path: Path) -> None:
    one = write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0))
    folder = tmp_path / "more"
    folder.mkdir()
    write_capture(folder / "b.jsonl.zst", frames_every(3, 1.0, OTHER_FIXTURE), OTHER_FIXTURE)
    (folder / "notes.txt").write_text("not a capture")
    fixtures = load_fixtures([one, folder])
    assert sorted(fixtures) == [(FIXTURE, "statistics"), (OTHER_FIXTURE, "statistics")]
    assert fixtures[(OTHER_FIXTURE, "statistics")].timeline.frames == 3
    with pytest.raises(FixtureConflict, match="already served"):
        load_fixtures([one, one])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoCaptures):
        load_fixtures([empty])
    with pytest.raises(CaptureFormatError, match="No such file or directory"):
        load_fixtures([tmp_path / "missing.jsonl.zst"])
    (tmp_path / "junk.jsonl.zst").write_bytes(b"junk")
    with pytest.raises(CaptureFormatError, match="not a zstd file"):
        load_fixtures([tmp_path / "junk.jsonl.zst"])


async def test_serve_with_no_capture_is_an_error() -> None:
    with pytest.raises(NoCaptures):
        await serve([])


def test_a_conflict_says_what_usually_makes_two_captures_one_fixture(tmp_path: Path) -> None:
    from ttrec.simulator import simulate_match
    from ttrec.simulator import write_capture as write_simulated

    singles = write_simulated(simulate_match(7), tmp_path / "match.jsonl.zst")
    doubles = write_simulated(simulate_match(7, best_of=7, doubles=True), tmp_path / "doubles.jsonl.zst")
    with pytest.raises(FixtureConflict, match=r"same seed\? `ttrec simulate --fixture-id`"):
        load_fixtures([singles, doubles])
    one = write_capture(tmp_path / "a.jsonl.zst", frames_every(2, 1.0))  # recorded, as the helper writes
    two = write_capture(tmp_path / "b.jsonl.zst", frames_every(3, 1.0))
    with pytest.raises(FixtureConflict, match=r"two recordings of one match\? `ttrec merge`"):
        load_fixtures([one, two])
    sim = simulate_match(7).fixture_id
    mixed = write_capture(tmp_path / "c.jsonl.zst", frames_every(2, 1.0, sim), sim)
    with pytest.raises(FixtureConflict) as conflict:  # one of each: no guess
        load_fixtures([singles, mixed])
    assert str(conflict.value).endswith(f"is already served from {singles}")
