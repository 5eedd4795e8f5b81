"""The fixtures a server offers: captures (files or directories) loaded into timelines."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ttrec.capture import CAPTURE_SUFFIX, CaptureReader
from ttrec.errors import CaptureFormatError, TtrecError
from ttrec.feed import Feed, feed_named, feed_path, parse_feed_path, validate_fixture_id
from ttrec.records import Header, Record
from ttrec.schedule import Timeline, build_timeline


class FixtureConflict(TtrecError):
    """Two captures offer the same fixture and feed: a client could not say which it gets."""

    def __init__(self, fixture_id: str, feed: str, first: Path, second: Path, hint: str = "") -> None:
        self.fixture_id = fixture_id
        self.feed = feed
        self.paths = (first, second)
        hint = f" ({hint})" if hint else ""
        super().__init__(f"{second}: fixture {fixture_id} ({feed}) is already served from {first}{hint}")


def _conflict_hint(first: Header, second: Header) -> str:
    """What usually makes two captures one fixture, and the way out."""
    if first.source == second.source == "simulated":
        return "simulated from the same seed? `ttrec simulate --fixture-id` gives each its own"
    if first.source == second.source == "recorded":
        return "two recordings of one match? `ttrec merge` makes them one capture"
    return ""


class NoCaptures(TtrecError):
    def __init__(self, where: str) -> None:
        super().__init__(f"no captures (*{CAPTURE_SUFFIX}) to serve in {where}")


@dataclass(frozen=True, slots=True)
class Fixture:
    fixture_id: str
    feed: Feed
    path: Path
    header: Header
    timeline: Timeline
    problem: str | None = None  # a damaged or torn capture: served up to where it breaks

    @property
    def url_path(self) -> str:
        return feed_path(self.fixture_id, self.feed)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given, directories as their captures in name order (not recursive)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(CAPTURE_SUFFIX) and p.is_file())
            if not found:
                raise NoCaptures(str(path))
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise CaptureFormatError(path, None, os.strerror(errno.ENOENT))  # as every command says it
    return out


def _route(header: Header) -> tuple[str, Feed]:
    """Where the capture is served: the path of its header URL, else its fixture and feed."""
    routed = parse_feed_path(urlsplit(header.url).path)
    if routed is not None:
        return routed
    return validate_fixture_id(header.fixture_id), feed_named(header.feed)


# Captures loaded in this process, by path and content: a test session that starts a server
# per test on the same captures (the pytest plugin's ttrec_server, a harness per test) reads
# each once, and its timeline keeps what is found on first use (the match moments of
# `--fault ...:at=`, the `--start-at` points, the truths of the control API), which cost
# more than the read (a bundled sample: 12 ms to read, 30 ms more for its moments). Keyed by
# content, not by the file's times: a capture rewritten in place within one tick of the file
# system's clock is read again. The digest is taken before and after the read, so a file that
# changed meanwhile is not kept.
_KEPT: Final = 16
_loaded: OrderedDict[tuple[str, bytes | None], Fixture] = OrderedDict()
_loaded_lock: Final = threading.Lock()


def load_fixture(path: Path) -> Fixture:
    """The fixture of the capture at `path` (CaptureFormatError if it is none), shared with
    every earlier load of the same path and content in this process (see _loaded)."""
    digest = _digest(path)
    key = (str(path), digest)
    with _loaded_lock:
        kept = _loaded.get(key) if digest is not None else None
        if kept is not None:
            _loaded.move_to_end(key)
            return kept
    with CaptureReader(path) as reader:
        fixture = fixture_from(reader.header, reader, path)
    problem = _problem(reader)
    fixture = fixture if problem is None else replace(fixture, problem=problem)
    if digest is not None and _digest(path) == digest:
        with _loaded_lock:
            _loaded[key] = fixture
            while len(_loaded) > _KEPT:
                _loaded.popitem(last=False)
    return fixture


def _digest(path: Path) -> bytes | None:
    """The content digest of a regular file; None for anything else (a pipe is read once,
    by CaptureReader) or a file that cannot be read (CaptureReader says why)."""
    try:
        with path.open("rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            return hashlib.file_digest(file, "blake2b").digest()
    except OSError:
        return None


def fixture_from(header: Header, records: Iterable[Record], path: Path) -> Fixture:
    """The fixture a capture's header and records make (`path`: the capture they are, or
    would be, read from); `load_fixture` reads them from the file."""
    fixture_id, feed = _route(header)
    return Fixture(fixture_id, feed, path, header, build_timeline(records, feed_named(header.feed)))


def _problem(reader: CaptureReader) -> str | None:
    if reader.damage:
        return f"damaged: {reader.damage}; serving the {reader.lines} lines before it"
    if reader.torn_tail:
        return f"torn tail after line {reader.lines} (cut mid-write); serving the lines before it"
    return None


def load_fixtures(paths: Sequence[Path]) -> dict[tuple[str, Feed], Fixture]:
    """Every capture under `paths`, keyed by (fixture id, feed); a duplicate is an error."""
    fixtures: dict[tuple[str, Feed], Fixture] = {}
    for path in expand(paths):
        fixture = load_fixture(path)
        key = (fixture.fixture_id, fixture.feed)
        if key in fixtures:
            first = fixtures[key]
            hint = _conflict_hint(first.header, fixture.header)
            raise FixtureConflict(fixture.fixture_id, fixture.feed, first.path, path, hint)
        fixtures[key] = fixture
    return fixtures
