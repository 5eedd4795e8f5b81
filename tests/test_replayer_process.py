"""`ttrec serve` raises its own limit on open files, and says in one line each, never with
a traceback, when it runs out of them anyway (replayer.process)."""

from __future__ import annotations

import resource
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
from replayer_support import FIXTURE, client, frames_every, receive, wait_ready, write_capture

SAMPLE_FRAMES = 3


def _limited(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _soft_limit_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line")


async def _serving(
    tmp_path: Path, soft: int, hard: int, body: Callable[[trio.Process, str], Awaitable[None]]
) -> str:
    """Run `ttrec serve` with these limits, await body(process, url), SIGTERM it; its stderr."""
    capture = write_capture(tmp_path / "a.jsonl.zst", frames_every(SAMPLE_FRAMES, 0.01))
    ready, stderr = tmp_path / "ready.json", tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--ready-file", str(ready)]
    args += ["--speed", "max"]
    with stderr.open("wb") as err, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    args,
                    stderr=err,
                    check=False,
                    preexec_fn=lambda: _limited(soft, hard),
                    task_status=task_status,
                )
            )
            info = await wait_ready(process, ready)
            await body(process, info["url"] + f"/v2/tabletennis/fixtures/{FIXTURE}/statistics")
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    return stderr.read_text()


async def test_serve_raises_its_soft_limit_on_open_files_to_the_hard_one(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = min(hard, 4096)
    seen: list[int] = []

    async def look(process: trio.Process, url: str) -> None:
        seen.append(_soft_limit_of(process.pid))

    await _serving(tmp_path, 64, hard, look)
    assert seen == [hard]


async def test_out_of_file_descriptors_it_says_so_in_one_line_and_serves_on(tmp_path: Path) -> None:
    """Hard limit 48: more connections than that are held open while it accepts; once
    they go, a client is served again."""

    async def flood(process: trio.Process, url: str) -> None:
        port = int(url.split(":")[2].split("/")[0])
        held = []
        for _ in range(80):
            held.append(await trio.open_tcp_stream("127.0.0.1", port))
        await trio.sleep(0.5)  # trio retries its accept every 0.1 s meanwhile
        for stream in held:
            await stream.aclose()
        async with client(url) as ws:
            assert len(await receive(ws, SAMPLE_FRAMES)) == SAMPLE_FRAMES

    stderr = await _serving(tmp_path, 48, 48, flood)
    assert "accept returned EMFILE" in stderr, stderr[-2000:]
    assert "Traceback" not in stderr
    emfile = [line for line in stderr.splitlines() if "EMFILE" in line]
    assert all(line.endswith("retrying in 0.1 seconds") for line in emfile), emfile[:3]
