"""The header line of capture format ttrec/1 (SPEC §2): its value, encoding and checks.

Apart from `ttrec.records` so that a reader can check a capture's header without loading
the record classes: `ttrec cat` needs nothing else, and on a large capture its start-up
(dataclasses and orjson come to ~25 ms) was a third of its time (benchmarks/capture_io.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from ttrec import TOOL

FORMAT: Final = "ttrec/1"
Source = Literal["recorded", "simulated", "derived"]
SOURCES: Final = ("recorded", "simulated", "derived")
_HEADER_KEYS: Final = ("type", "format", "fixture_id", "feed", "url", "source", "created", "tool")


class RecordError(ValueError):
    """A line that is JSON but not a valid record; the reader adds the path and line."""


class Header(NamedTuple):
    """A capture's first line. A NamedTuple, not a dataclass: immutable all the same, and
    defined without importing `dataclasses` (see the module's docstring)."""

    fixture_id: str
    url: str
    source: Source
    created: str
    feed: str = "statistics"
    tool: str = TOOL
    # Keys beyond the required ones (simulator seed, teams, derivation...), kept as read.
    extra: Mapping[str, Any] = MappingProxyType({})


def dumps_line(obj: dict[str, Any]) -> bytes:
    """One JSON line as the writer writes it: no spaces, non-ASCII text as itself."""
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def encode_header(header: Header) -> bytes:
    obj: dict[str, Any] = {
        "type": "header",
        "format": FORMAT,
        "fixture_id": header.fixture_id,
        "feed": header.feed,
        "url": header.url,
        "source": header.source,
        "created": header.created,
        "tool": header.tool,
    }
    for key, value in header.extra.items():
        if key not in obj:
            obj[key] = value
    return dumps_line(obj)


def field_of(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """`obj[key]`, checked to be of `kind` (None allowed when `optional`); RecordError if not."""
    value = obj.get(key)
    if value is None and optional:
        return None
    # bool is an int subclass; a boolean where a number belongs is a malformed record.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        expected = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise RecordError(f"{key!r} must be {expected}, got {type(value).__name__}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def decode_header(obj: Any) -> Header:
    if not isinstance(obj, dict) or obj.get("type") != "header":
        raise RecordError("the first line is not a ttrec header")
    if obj.get("format") != FORMAT:
        raise RecordError(f"unknown capture format {obj.get('format')!r} (this ttrec reads {FORMAT})")
    source = field_of(obj, "source", str)
    if source not in SOURCES:
        raise RecordError(f"unknown source {source!r}")
    return Header(
        fixture_id=field_of(obj, "fixture_id", str),
        url=field_of(obj, "url", str),
        source=source,
        created=field_of(obj, "created", str),
        feed=field_of(obj, "feed", str),
        tool=field_of(obj, "tool", str),
        extra={k: v for k, v in obj.items() if k not in _HEADER_KEYS},
    )
