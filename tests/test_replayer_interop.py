"""Clients nobody here wrote: Python `websockets` (asyncio) and Node's `ws` package.

The server runs on the real clock at speed max; each client connects with the Accept
header, authenticates with its first message and must receive exactly the capture's frames.
The Node client needs `npm ci --prefix tests/interop/node` (done by .ci/run).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest
import trio
import websockets
from replayer_support import FIXTURE, frames_every, heartbeat_text, running, texts, write_capture
from websockets.asyncio.client import connect

from replayer import ServeOptions
from replayer.tls import self_signed
from ttrec.feed import ACCEPT_HEADER, AUTH_INVALID_FRAME, MISSING_ACCEPT_BODY, auth_message
from ttrec.records import Heartbeat, Record

NODE_DIR = Path(__file__).parent / "interop" / "node"
COUNT = 200


@pytest.fixture
def records() -> list[Record]:
    out = frames_every(COUNT, 0.1, pad="é½🏓" * 50)  # non-ASCII: UTF-8 must survive byte for byte
    out.insert(50, Heartbeat(out[49].t, out[49].wall, 0, heartbeat_text(7)))
    return out


async def websockets_client(url: str, token: str, count: int, headers: dict[str, str]) -> dict[str, Any]:
    try:
        async with connect(url, additional_headers=headers, max_size=None) as ws:
            await ws.send(auth_message(token))
            messages = [await ws.recv() for _ in range(count)]
            return {"messages": messages}
    except websockets.InvalidStatus as exc:
        return {"status": exc.response.status_code, "body": exc.response.body}
    except websockets.ConnectionClosed as exc:
        return {"closed": exc.rcvd.code if exc.rcvd else None}


def in_thread(url: str, token: str, count: int, headers: dict[str, str]) -> dict[str, Any]:
    return asyncio.run(websockets_client(url, token, count, headers))


async def test_python_websockets_client(tmp_path: Path, records: list[Record]) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    accept = {"Accept": ACCEPT_HEADER}
    with trio.fail_after(20):
        async with running([capture], ServeOptions(speed=None, tokens=frozenset({"good"}))) as handle:
            url = handle.fixture_url(FIXTURE)
            got = await trio.to_thread.run_sync(in_thread, url, "good", len(records), accept)
            assert got["messages"] == texts(records)
            got = await trio.to_thread.run_sync(in_thread, url, "good", 1, {})
            assert got == {"status": 400, "body": MISSING_ACCEPT_BODY.encode()}


async def test_python_websockets_client_after_an_auth_failure_sees_the_frame_then_1008(
    tmp_path: Path, records: list[Record]
) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", records)

    async def refused(url: str) -> tuple[str, int | None]:
        async with connect(url, additional_headers={"Accept": ACCEPT_HEADER}) as ws:
            await ws.send(auth_message("bad"))
            frame = await ws.recv()
            assert isinstance(frame, str)
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
            return frame, info.value.rcvd.code if info.value.rcvd else None

    with trio.fail_after(20):
        async with running([capture], ServeOptions(tokens=frozenset({"good"}))) as handle:
            url = handle.fixture_url(FIXTURE)
            result = await trio.to_thread.run_sync(lambda: asyncio.run(refused(url)))
    assert result == (AUTH_INVALID_FRAME, 1008)


async def node_client(url: str, token: str, count: int, ca_file: Path | None = None) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed for this interoperability test"
    assert (NODE_DIR / "node_modules" / "ws").is_dir(), "run: npm ci --prefix tests/interop/node"
    args = [node, str(NODE_DIR / "client.js"), url, token, str(count)]
    if ca_file is not None:
        args.append(str(ca_file))
    result = await trio.run_process(args, capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


# Node on TLS 1.2 without the CA: the handshake completes on the server's side, then Node
# checks the certificate, refuses it and hangs up before sending a byte of HTTP.
NODE_TLS12_CLIENT = """
const tls = require("tls");
const socket = tls.connect({ port: Number(process.argv[1]), host: "127.0.0.1", maxVersion: "TLSv1.2" });
socket.on("secureConnect", () => console.log("trusted"));
socket.on("error", (error) => console.log(error.code));
"""


async def node_tls12_client(port: int) -> None:
    """Node's TLS 1.2 client without the CA: it must refuse the certificate after the
    handshake (real clock only: a subprocess)."""
    node = shutil.which("node")
    assert node is not None, "node is needed for this interoperability test"
    result = await trio.run_process([node, "-e", NODE_TLS12_CLIENT, str(port)], capture_stdout=True)
    assert result.stdout == b"UNABLE_TO_VERIFY_LEAF_SIGNATURE\n"


async def test_node_ws_client(tmp_path: Path, records: list[Record]) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    with trio.fail_after(30):
        async with running([capture], ServeOptions(speed=None, tokens=frozenset({"good"}))) as handle:
            url = handle.fixture_url(FIXTURE)
            got = await node_client(url, "good", len(records))
            assert got == {"messages": texts(records), "code": 1000}
            got = await node_client(url, "bad", 5)
            assert got == {"messages": [AUTH_INVALID_FRAME], "code": 1008}
            got = await node_client(handle.fixture_url("6a1b2c3d-0000-4000-8000-000000000404"), "good", 1)
            assert got["status"] == 404 and json.loads(got["body"])["status"] == 404


async def test_node_ws_client_over_tls(tmp_path: Path, records: list[Record]) -> None:
    capture = write_capture(tmp_path / "a.jsonl.zst", records)
    made = self_signed()
    ca_file = made.write_ca(tmp_path / "ca.pem")
    context: ssl.SSLContext = made.context
    with trio.fail_after(30):
        async with running([capture], ServeOptions(speed=None), ssl_context=context) as handle:
            got = await node_client(handle.fixture_url(FIXTURE), "any", len(records), ca_file)
    assert got == {"messages": texts(records), "code": 1000}
