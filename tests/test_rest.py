"""The fixtures REST API of `ttrec serve`, over loopback, with httpx as an independent client.

Loopback only, port 0, trio's MockClock (`autojump_clock`) for the schedule, every wait
bounded by `trio.fail_after`.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import trio
from replayer_support import (
    FIXTURE,
    NS,
    OTHER_FIXTURE,
    WALL,
    frames_every,
    running,
    wait_ready,
    write_capture,
)

from replayer import ServeOptions
from replayer.rest import ApiHandle, listings_of, serve_api_tcp
from ttrec.capture import CaptureWriter
from ttrec.feed import ACCEPT_HEADER, AUTH_INVALID_MESSAGE, MISSING_ACCEPT_BODY
from ttrec.records import Frame, Header

GOOD: Final = {"Accept": ACCEPT_HEADER, "Authorization": "Bearer secret"}
LIST: Final = "/v2/tabletennis/fixtures"
STEP_S: Final = 1.0
FRAMES: Final = 10  # the last frame is at (FRAMES - 1) * STEP_S
STAGGER_S: Final = 100.0


def action_text(seq: int, fixture: str, *, finished: bool = False) -> str:
    # Both data-frame rules' keys: the statistics one (seqNum, fixtureId) and the action packet's.
    action = {"fixtureId": fixture, "fixtureSeqNum": seq}
    return json.dumps({"seqNum": seq, "fixtureId": fixture, "finished": finished, "fixtureAction": action})


def write_actions(path: Path, fixture: str, count: int) -> Path:
    head = Header(
        fixture_id=fixture,
        url=f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{fixture}/actions",
        source="recorded",
        created=WALL,
        feed="actions",
    )
    with CaptureWriter(path, head) as writer:
        for i in range(count):
            writer.write(
                Frame(int(i * STEP_S * NS), WALL, 0, action_text(i + 1, fixture, finished=i == count - 1))
            )
    return path


@pytest.fixture
def captures(tmp_path: Path) -> list[Path]:
    """Two fixtures in this order: FIXTURE (statistics and actions), then OTHER_FIXTURE."""
    return [
        write_capture(tmp_path / "a.jsonl.zst", frames_every(FRAMES, STEP_S)),
        write_actions(tmp_path / "a-actions.jsonl.zst", FIXTURE, 4),
        write_capture(tmp_path / "b.jsonl.zst", frames_every(FRAMES, STEP_S, OTHER_FIXTURE), OTHER_FIXTURE),
    ]


@asynccontextmanager
async def api(
    captures: Sequence[Path], tokens: frozenset[str] = frozenset(), speed: float | None = 1.0
) -> AsyncIterator[tuple[ApiHandle, httpx.AsyncClient]]:
    async with (
        running(captures, ServeOptions(speed=speed, tokens=tokens)) as server,
        trio.open_nursery() as nursery,
    ):
        listings = listings_of(server.served, stagger_s=STAGGER_S, speed=speed)
        handle: ApiHandle = await nursery.start(
            lambda task_status: serve_api_tcp(listings, tokens, task_status=task_status)
        )
        async with httpx.AsyncClient(base_url=handle.url) as http:
            yield handle, http
        nursery.cancel_scope.cancel()


def statuses(body: Any) -> dict[str, str]:
    return {f["id"]: f["status"] for f in body}


async def test_status_follows_the_server_schedule(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(600):
        async with api(captures) as (handle, http):
            assert handle.url.startswith("http://127.0.0.1:")
            first = (await http.get(LIST, headers=GOOD)).json()
            assert statuses(first) == {FIXTURE: "Live", OTHER_FIXTURE: "Scheduled"}
            await trio.sleep((FRAMES - 1) * STEP_S + 0.5)  # past FIXTURE's last frame
            assert statuses((await http.get(LIST, headers=GOOD)).json()) == {
                FIXTURE: "Completed",
                OTHER_FIXTURE: "Scheduled",
            }
            await trio.sleep(STAGGER_S - (FRAMES - 1) * STEP_S)  # OTHER_FIXTURE has started
            live = (await http.get(LIST, params={"live": "true"}, headers=GOOD)).json()
            assert [f["id"] for f in live] == [OTHER_FIXTURE]
            assert live[0]["collectionStatus"] == "CollectingLive"
            await trio.sleep(FRAMES * STEP_S)
            done = (await http.get(LIST, params={"status": "completed"}, headers=GOOD)).json()
            assert sorted(f["id"] for f in done) == sorted([FIXTURE, OTHER_FIXTURE])


async def test_fixture_object_shape(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures) as (handle, http):
            reply = await http.get(LIST, headers=GOOD)
            assert reply.status_code == 200
            assert reply.headers["content-type"] == "application/json"
            first = reply.json()[0]
    assert first["id"] == FIXTURE
    assert first["type"] == "Official"  # a recorded capture
    assert first["fixtureDeleted"] is False and first["updateCount"] == 0
    assert first["coverageLevel"] == "In Venue"
    assert len(first["teams"]) == 2 and first["name"] == "HOME v AWAY"  # its frames name no team
    started = handle.started.strftime("%Y-%m-%dT%H:%M:%S")
    assert first["startDateUTC"] == started


async def test_sort_and_paging(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures) as (_, http):
            newest = (await http.get(LIST, params={"sort": "startTime,desc"}, headers=GOOD)).json()
            pages = [
                (await http.get(LIST, params={"size": "1", "page": str(page)}, headers=GOOD)).json()
                for page in range(3)
            ]
    assert [f["id"] for f in newest] == [OTHER_FIXTURE, FIXTURE]
    assert [[f["id"] for f in page] for page in pages] == [[FIXTURE], [OTHER_FIXTURE], []]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"live": "yes"},
        {"size": "0"},
        {"size": "-1"},
        {"page": "x"},
        {"dateFrom": "yesterday"},
        {"type": "friendly"},
        {"coverageLevel": "tv"},
        {"sort": "score,asc"},
        {"sort": "name,up"},
    ],
)
async def test_unknown_values_get_400_with_the_error_body(
    captures: list[Path], params: dict[str, str], autojump_clock: object
) -> None:
    with trio.fail_after(60):
        async with api(captures) as (_, http):
            reply = await http.get(LIST, params=params, headers=GOOD)
    assert reply.status_code == 400
    body = reply.json()
    assert body["status"] == 400 and next(iter(params)) in body["error"]


async def test_filters(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures) as (handle, http):
            today = handle.started.date().isoformat()
            official = (await http.get(LIST, params={"type": "official"}, headers=GOOD)).json()
            simulated = (await http.get(LIST, params={"type": "simulation"}, headers=GOOD)).json()
            covered = (await http.get(LIST, params={"coverageLevel": "inVenue"}, headers=GOOD)).json()
            streamed = (await http.get(LIST, params={"coverageLevel": "standardStream"}, headers=GOOD)).json()
            dated = (await http.get(LIST, params={"dateFrom": today, "dateTo": today}, headers=GOOD)).json()
            before = (await http.get(LIST, params={"dateTo": "2000-01-01"}, headers=GOOD)).json()
    assert len(official) == 2 and simulated == []
    assert len(covered) == 2 and streamed == []
    assert len(dated) == 2 and before == []


async def test_accept_and_token_rules(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures, tokens=frozenset({"secret"})) as (_, http):
            no_accept = await http.get(LIST, headers={"Authorization": "Bearer secret", "Accept": ""})
            missing = await http.get(LIST, headers={"Accept": ACCEPT_HEADER})
            wrong = await http.get(LIST, headers={"Accept": ACCEPT_HEADER, "Authorization": "Bearer other"})
            no_space = await http.get(
                LIST, headers={"Accept": ACCEPT_HEADER, "Authorization": "Bearersecret"}
            )
            good = await http.get(LIST, headers=GOOD)
    assert no_accept.status_code == 400 and no_accept.json()["error"] == MISSING_ACCEPT_BODY
    for refused in (missing, wrong, no_space):
        assert refused.status_code == 401 and refused.json() == {"error": AUTH_INVALID_MESSAGE, "status": 401}
    assert good.status_code == 200
    assert "secret" not in wrong.text


async def test_any_non_empty_token_without_configured_tokens(
    captures: list[Path], autojump_clock: object
) -> None:
    with trio.fail_after(60):
        async with api(captures) as (_, http):
            anything = await http.get(LIST, headers={"Accept": ACCEPT_HEADER, "Authorization": "Bearer x"})
            empty = await http.get(LIST, headers={"Accept": ACCEPT_HEADER, "Authorization": "Bearer"})
    assert anything.status_code == 200 and empty.status_code == 401


async def test_post_match_actions(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures) as (_, http):
            early = await http.get(f"{LIST}/{FIXTURE}/actions", headers=GOOD)
            none = await http.get(f"{LIST}/{OTHER_FIXTURE}/actions", headers=GOOD)
            unknown = await http.get(f"{LIST}/00000000-0000-4000-8000-000000000000/actions", headers=GOOD)
            await trio.sleep(FRAMES * STEP_S)
            late = await http.get(f"{LIST}/{FIXTURE.upper()}/actions", headers=GOOD)
    assert early.status_code == 404 and early.json()["status"] == 404
    assert none.status_code == 404 and unknown.status_code == 404
    assert late.status_code == 200
    assert late.json() == [json.loads(action_text(seq, FIXTURE, finished=seq == 4)) for seq in (1, 2, 3, 4)]


async def test_speed_shortens_the_live_window(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures, speed=10.0) as (_, http):
            await trio.sleep((FRAMES - 1) * STEP_S / 10 + 0.1)
            body = (await http.get(LIST, headers=GOOD)).json()
    assert statuses(body)[FIXTURE] == "Completed"


async def test_keep_alive_and_garbage(captures: list[Path], autojump_clock: object) -> None:
    with trio.fail_after(60):
        async with api(captures) as (handle, http):
            for _ in range(3):  # one connection, three requests
                assert (await http.get(LIST, headers=GOOD)).status_code == 200
            host, port = handle.url.removeprefix("http://").split(":")
            stream = await trio.open_tcp_stream(host, int(port))
            await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
            answer = b""
            while chunk := await stream.receive_some():
                answer += chunk
            await stream.aclose()
            # The server survived it.
            assert (await http.get(LIST, headers=GOOD)).status_code == 200
            missing = await http.get("/v2/tabletennis/other", headers=GOOD)
            posted = await http.post(LIST, headers=GOOD)
    assert answer.startswith(b"HTTP/1.1 400")
    assert missing.status_code == 404 and posted.status_code == 405


async def test_serve_process_writes_api_url_and_staggers(tmp_path: Path, captures: list[Path]) -> None:
    ready = tmp_path / "ready.json"
    args = [sys.executable, "-m", "ttrec", "serve", *map(str, captures), "--ready-file", str(ready)]
    args += ["--stagger", "3600", "--token", "secret"]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(args, check=False, task_status=task_status)
            )
            info = await wait_ready(process, ready)
            async with httpx.AsyncClient(base_url=info["api_url"]) as http:
                body = (await http.get(LIST, headers=GOOD)).json()
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    assert next(iter(info)) == "written_by"  # the marker stays first
    assert info["api_url"] != info["url"] and info["api_url"].startswith("http://127.0.0.1:")
    assert statuses(body) == {FIXTURE: "Live", OTHER_FIXTURE: "Scheduled"}
