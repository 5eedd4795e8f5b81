"""replayer.collector: the GC policy `ttrec serve` runs. Process-wide, so it is exercised
in a child process of its own; the library's `serve` must leave the caller's GC alone.

Loopback only, port 0, every wait bounded.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import trio
from replayer_support import client, frames_every, receive, running, write_capture

from replayer import ServeOptions
from replayer.engine import PlaybackEngine
from replayer.session import Session

CHILD = textwrap.dedent(
    """
    import gc, json, sys
    import trio
    sys.path.insert(0, sys.argv[2])
    from replayer_support import client, receive
    from replayer import ServeOptions, serve
    import replayer.collector as collector

    collector.FREEZE_PERIOD_S = 0.05
    collector.THAW_AFTER_ENDED = 3
    collector.THAW_MIN_PERIOD_S = 0.0
    full = []
    def observe(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full.append(phase)
    gc.callbacks.append(observe)

    async def main():
        seen = {}
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                handle = await nursery.start(serve, [sys.argv[1]], ServeOptions(speed=None))
                seen["frozen_before"] = gc.get_freeze_count()
                await nursery.start(collector.manage_collection, handle)
                seen["frozen_at_start"] = gc.get_freeze_count()
                async with trio.open_nursery() as clients:
                    held = trio.Event()
                    async def one():
                        async with client(handle.fixture_url(handle.fixtures[0])) as ws:
                            await receive(ws, 2)
                            await held.wait()
                    for _ in range(4):
                        clients.start_soon(one)
                    while handle.accepted < 4:
                        await trio.sleep(0.01)
                    await trio.sleep(0.3)
                    seen["frozen_with_clients"] = gc.get_freeze_count()
                    full.clear()
                    held.set()
                while handle.ended < 4:
                    await trio.sleep(0.01)
                await trio.sleep(0.3)
                seen["full_after_ended"] = len(full)
                nursery.cancel_scope.cancel()
        print(json.dumps(seen))

    trio.run(main)
    """
)


def test_the_policy_freezes_settled_connections_and_thaws_after_enough_ended(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "c.jsonl.zst", frames_every(5, 0.01))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(capture), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["frozen_before"] == 0  # serve() itself freezes nothing
    assert seen["frozen_at_start"] > 0  # the imports and the loaded capture
    assert seen["frozen_with_clients"] > seen["frozen_at_start"]  # the connections' state
    assert seen["full_after_ended"] >= 1  # 4 ended >= 3: one full collection reclaims them


async def test_the_library_leaves_the_callers_collector_alone(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "c.jsonl.zst", frames_every(3, 0.01))
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())
    with trio.fail_after(20):
        async with running([capture], ServeOptions(speed=None)) as handle:
            async with client(handle.fixture_url(handle.fixtures[0])) as ws:
                assert len(await receive(ws, 3)) == 3
            assert handle.accepted == 1
            assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


async def test_an_ended_connection_leaves_no_reference_cycle_behind(tmp_path: Path) -> None:
    """What a connection leaves when it ends must go by reference counting: the collector
    policy freezes live state, and a cycle frozen with it waits for the next thaw (found
    in benchmarks/load.py: ~4.6 KB per ended connection until then). With the collector
    off, only what is still referenced may be left: the latest connection's engine, which
    `Positions` keeps to tell the truth after it ended."""
    capture = write_capture(tmp_path / "c.jsonl.zst", frames_every(50, 0.01))
    gc.collect()  # earlier tests' garbage out of the count
    enabled = gc.isenabled()
    gc.disable()
    try:
        with trio.fail_after(20):
            async with running([capture], ServeOptions(speed=None)) as handle:
                for _ in range(5):  # each leaves mid-capture, its playback suspended
                    async with client(handle.fixture_url(handle.fixtures[0])) as ws:
                        assert len(await receive(ws, 3)) == 3
                await handle.wait_connections(5)
                alive = Counter(type(o) for o in gc.get_objects())
                assert (alive[PlaybackEngine], alive[Session]) == (1, 0)
    finally:
        if enabled:
            gc.enable()
