"""The synthetic captures benchmarks/replay.py and benchmarks/load.py serve: real frames from
a bundled sample on a made-up rhythm, several times denser than a real match."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import cycle
from pathlib import Path
from typing import Final

from ttrec.bundled import sample_paths
from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.feed import feed_path
from ttrec.records import NS_PER_S, Frame, Header

FIXTURE: Final = "b3c1a2d4-0000-4000-8000-00000000be4c"  # the fixture of every synthetic capture
GAPS_S: Final = (0.3, 2.5, 0.2, 4.0, 0.4, 1.6)  # point started / scored rhythms; mean 1.5 s


def frame_texts(path: Path) -> list[str]:
    """The texts of a capture's frames, in order: what a client of its fixture must get."""
    with CaptureReader(path) as reader:
        return [r.data for r in reader if isinstance(r, Frame)]


def sample_frames() -> list[str]:
    return frame_texts(sample_paths()[0])


def write_capture(path: Path, frames: Sequence[str], span_s: float | None, count: int | None = None) -> int:
    """A capture of `frames` (repeated) on the rhythm for `span_s` seconds, or `count`
    frames 1 ms apart (for speed max only the order matters). Returns the number of frames."""
    header = Header(
        fixture_id=FIXTURE,
        url=f"ws://127.0.0.1:1{feed_path(FIXTURE)}",
        source="derived",
        created="2026-11-24T00:00:00Z",
    )
    n = 0
    with CaptureWriter(path, header) as writer:
        t = 0.0
        for gap, text in zip(cycle(GAPS_S), cycle(frames), strict=False):
            if span_s is not None and t > span_s:
                break
            if count is not None and n >= count:
                break
            writer.write(Frame(int(t * NS_PER_S), "2026-11-24T00:00:00Z", 0, text))
            n += 1
            t += gap if count is None else 0.001
    return n
