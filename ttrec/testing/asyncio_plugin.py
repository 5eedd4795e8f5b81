"""The pytest fixture for asyncio tests (pytest-asyncio), registered by ttrec.testing.plugin
only when pytest-asyncio is loaded:

    @pytest.mark.ttrec(paused=True)
    @pytest.mark.asyncio
    async def test_scoreboard(ttrec_asyncio_server):
        server = ttrec_asyncio_server
        consumer = asyncio.create_task(my_consumer(server.fixture_url(), server.token))
        await server.control.run_to("set-end")

The marker's keywords are those of the trio fixture `ttrec_server`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from ttrec.testing.plugin import _marker, marker_options, resolve_captures

if TYPE_CHECKING:  # imported when used: loading the plugin must not import trio
    from ttrec.testing.asyncio_harness import AsyncioServer


@pytest_asyncio.fixture
async def ttrec_asyncio_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncioServer]:
    """A replayer on 127.0.0.1, port 0, in a thread (ttrec.testing.AsyncioServer), configured
    by the `ttrec` marker; every wait is awaitable and never blocks the event loop."""
    import trio

    from ttrec.testing.asyncio_harness import serve_asyncio

    # Resolving (and, with a record mode, recording) the captures is trio code: in a worker
    # thread of its own, so the loop runs on.
    captures = await asyncio.to_thread(trio.run, resolve_captures, request, tmp_path)
    options, tls, fixture = marker_options(_marker(request))
    async with serve_asyncio(captures, options, tls=tls, fixture=fixture) as server:
        yield server
