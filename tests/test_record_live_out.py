"""`ttrec record --live` and its `--out`: refused at start-up when it cannot hold the
captures (one file for many fixtures, a directory that refuses files), and a capture that
cannot be created mid-run costs that capture only, never the recordings under way.

Loopback only, port 0, real files, trio's MockClock, every wait bounded.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import pytest
import trio
from cli_support import invoke_on_mock_clock
from recorder_support import replayer
from replayer_support import FIXTURE, OTHER_FIXTURE
from test_record_live import (
    capture_set,
    captured,
    entry,
    hostile_api,
    live_options,
    run_live,
    served_frames,
)

from replayer import ServeOptions

TOKEN: Final = "live-out-token-8765"


@pytest.fixture
def refused_url() -> Iterator[str]:
    """An http:// URL on loopback where nothing listens (a bound socket, never listening):
    a recorder that got as far as asking would be refused and poll again, for ever."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_live_refuses_an_out_file_at_start_up(tmp_path: Path, refused_url: str) -> None:
    out = tmp_path / "one.jsonl.zst"
    args = ["record", "--live", "--api-url", refused_url, "--base-url", "ws://127.0.0.1:9"]
    result, _ = invoke_on_mock_clock([*args, "--out", str(out), "--token", TOKEN], bound_s=60)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "one.jsonl.zst" in line and "directory" in line, line
    assert not out.exists() and list(tmp_path.iterdir()) == []


async def test_an_out_refused_mid_run_fails_one_capture_only(tmp_path: Path, autojump_clock: object) -> None:
    """The first fixture is being recorded when `--out` turns into a file (its folder moved
    away, a file put in its place): the second fixture's capture is refused, the first is
    recorded to its end in the moved folder, and the file is left as it was."""
    captures = capture_set(tmp_path)
    out, moved, log = tmp_path / "out", tmp_path / "moved", io.StringIO()
    live_polls = 0

    def script(n: int, query: str) -> Sequence[object]:
        nonlocal live_polls
        if "status=live" not in query:
            return (200, [])
        live_polls += 1
        if live_polls == 2:  # FIXTURE has been recording for a poll interval
            out.rename(moved)
            out.write_bytes(b"not a directory")
        listed = [FIXTURE] if live_polls < 6 else []
        listed += [OTHER_FIXTURE] if live_polls == 2 else []
        return (200, [entry(fixture) for fixture in listed])

    with trio.fail_after(3600):
        async with replayer(captures, ServeOptions(speed=1.0)) as handle, hostile_api(script) as (url, _):
            summary, recorder = await run_live(handle, live_options(url), out, log)
    text = log.getvalue()
    assert summary.finished == 1, text
    assert captured(moved) == {(FIXTURE, "statistics"): served_frames(captures[0])}
    assert out.read_bytes() == b"not a directory"
    (refusal,) = [line for line in text.splitlines() if "cannot create the capture" in line]
    assert OTHER_FIXTURE in refusal and "not a directory" in refusal
    assert recorder._recording == {}
