"""Capture file names: sorting the names sorts by fixture, then by time.

`{fixture}_{YYYYmmddTHHMMSSZ}.jsonl.zst` for the statistics feed and
`{fixture}_{YYYYmmddTHHMMSSZ}.actions.jsonl.zst` for the actions feed. Fixture ids are
canonical UUIDs (all the same length) and the time is fixed-width UTC, so plain string
order is fixture-then-time order. Two sessions started in the same second get `_01`,
`_02`, ... which sort after the unsuffixed name ("." < "_").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ttrec.capture import CAPTURE_SUFFIX
from ttrec.feed import Feed, validate_fixture_id

MAX_SAME_SECOND: Final = 99  # suffixes are two digits so that _10 sorts after _09


def capture_name(fixture_id: str, feed: Feed, started: datetime, n: int = 0) -> str:
    if started.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    if not 0 <= n <= MAX_SAME_SECOND:
        raise ValueError(f"n must be within 0..{MAX_SAME_SECOND}")
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    feed_part = "" if feed == "statistics" else f".{feed}"
    same_second = f"_{n:02d}" if n else ""
    return f"{validate_fixture_id(fixture_id)}_{stamp}{same_second}{feed_part}{CAPTURE_SUFFIX}"


def candidate_paths(directory: Path, fixture_id: str, feed: Feed, started: datetime) -> list[Path]:
    """Names to try in order; the writer opens with O_EXCL, so the first free one wins
    even against another process choosing at the same moment."""
    return [directory / capture_name(fixture_id, feed, started, n) for n in range(MAX_SAME_SECOND + 1)]
