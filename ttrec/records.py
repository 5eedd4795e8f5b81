"""The records of capture format ttrec/1 (SPEC §2) and their one-line JSON encoding
(the header line's in `ttrec.header`, imported here too).

Pure values and pure functions: the writer and reader in `ttrec.capture` do the file work.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

# The header lives in ttrec.header (a reader checks it without loading the classes below).
from ttrec.header import FORMAT as FORMAT
from ttrec.header import SOURCES as SOURCES
from ttrec.header import Header as Header
from ttrec.header import RecordError as RecordError
from ttrec.header import Source as Source
from ttrec.header import decode_header as decode_header
from ttrec.header import dumps_line as _dumps
from ttrec.header import encode_header as encode_header
from ttrec.header import field_of as _get

# The quick reading of text records lives in ttrec.text_lines (`cat --frames` reads frames
# without loading the record classes below).
from ttrec.text_lines import REDACTED_KEY as REDACTED_KEY
from ttrec.text_lines import Line as Line
from ttrec.text_lines import frame_text as frame_text
from ttrec.text_lines import frame_text_by_stdlib as frame_text_by_stdlib
from ttrec.text_lines import quick_text_lines

NS_PER_S: Final = 1_000_000_000  # record times (`t`) are nanoseconds
ClosedBy = Literal["server", "client", "network"]
CLOSED_BY: Final = ("server", "client", "network")


@dataclass(frozen=True, slots=True)
class Frame:
    """A data frame: `data` is the exact text received."""

    t: int
    wall: str
    conn: int
    data: str
    redacted: bool = False  # the token was cut out of `data` (see REDACTED_KEY)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Any other text frame from the server, exact."""

    t: int
    wall: str
    conn: int
    data: str
    redacted: bool = False  # the token was cut out of `data` (see REDACTED_KEY)


@dataclass(frozen=True, slots=True)
class Binary:
    t: int
    wall: str
    conn: int
    data: bytes
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class Sent:
    """A message the client sent; the auth message is stored with its token redacted."""

    t: int
    wall: str
    conn: int
    data: str


@dataclass(frozen=True, slots=True)
class Open:
    t: int
    wall: str
    conn: int
    url: str
    start_position: int = 0


@dataclass(frozen=True, slots=True)
class Close:
    t: int
    wall: str
    conn: int
    code: int | None
    reason: str
    by: ClosedBy
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class Error:
    """A failed attempt: a rejected handshake (`status`, `body`) or any other `message`."""

    t: int
    wall: str
    conn: int
    status: int | None = None
    body: str | None = None
    message: str | None = None
    redacted: bool = False


Record = Frame | Heartbeat | Binary | Sent | Open | Close | Error


def _dumps_record(obj: dict[str, Any]) -> bytes:
    """`_dumps(obj)` for a record's keys (str, int, bool, None values only), 3x quicker.

    orjson writes these exactly as `_dumps` does: keys in order, no spaces, every code
    point but `"`, `\\` and the C0 controls as itself, those escaped alike
    (tests/test_records_fast.py compares them over every code point). What it refuses
    (an int beyond 64 bits, a lone surrogate) goes the stdlib's way, with its outcome."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return _dumps(obj)


def encode_record(record: Record) -> bytes:
    obj: dict[str, Any] = {
        "type": _TYPE_NAMES[type(record)],
        "t": record.t,
        "wall": record.wall,
        "conn": record.conn,
    }
    match record:
        case Frame(data=data) | Heartbeat(data=data) | Sent(data=data):
            obj["data"] = data
        case Binary(data=raw):
            obj["data_b64"] = base64.b64encode(raw).decode("ascii")
        case Open(url=url, start_position=start):
            obj["url"] = url
            obj["start_position"] = start
        case Close(code=code, reason=reason, by=by):
            obj.update(code=code, reason=reason, by=by)
        case Error(status=status, body=body, message=message):
            for key, value in (("status", status), ("body", body), ("message", message)):
                if value is not None:
                    obj[key] = value
    if getattr(record, "redacted", False):
        obj[REDACTED_KEY] = True
    return _dumps_record(obj)


def decode_record(obj: Any) -> Record | None:
    """The record a parsed line holds; None for a record type this version does not know."""
    if not isinstance(obj, dict):
        raise RecordError("a record must be a JSON object")
    kind = obj.get("type")
    cls = _CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        if isinstance(kind, str) and kind != "header":
            return None  # forward compatibility: unknown record types are skipped
        raise RecordError(f"bad record type {kind!r}")
    t = _get(obj, "t", int)
    if t < 0:
        raise RecordError("'t' must not be negative")
    wall = _get(obj, "wall", str)
    conn = _get(obj, "conn", int)
    redacted = _get(obj, REDACTED_KEY, bool, optional=True) is True
    if cls is Sent:
        return Sent(t, wall, conn, _get(obj, "data", str))
    if cls is Frame or cls is Heartbeat:
        return cls(t, wall, conn, _get(obj, "data", str), redacted)
    if cls is Binary:
        try:
            raw = base64.b64decode(_get(obj, "data_b64", str), validate=True)
        except binascii.Error as exc:
            raise RecordError(f"'data_b64' is not base64: {exc}") from None
        return Binary(t, wall, conn, raw, redacted)
    if cls is Open:
        return Open(t, wall, conn, _get(obj, "url", str), _get(obj, "start_position", int))
    if cls is Close:
        by = _get(obj, "by", str)
        if by not in CLOSED_BY:
            raise RecordError(f"'by' must be one of {', '.join(CLOSED_BY)}, got {by!r}")
        code = _get(obj, "code", int, optional=True)
        return Close(t, wall, conn, code, _get(obj, "reason", str), by, redacted)
    return Error(
        t,
        wall,
        conn,
        status=_get(obj, "status", int, optional=True),
        body=_get(obj, "body", str, optional=True),
        message=_get(obj, "message", str, optional=True),
        redacted=redacted,
    )


def decode_line(line: Line) -> Record | None:
    """`decode_record(json.loads(line))`, with the same outcome for every line, quicker.

    Raises what that raises (ValueError, RecordError, RecursionError): a line that
    `quick_text_record` does not vouch for goes the stdlib's way, its errors included."""
    record = quick_text_record(line)
    if record is not None:
        return record
    return decode_record(json.loads(str(line, "utf-8")))


def quick_text_record(line: Line) -> Frame | Heartbeat | None:
    """The Frame or Heartbeat on a line holding exactly the keys the writer writes for
    one, each value of exactly its type (see `ttrec.text_lines`); None when the
    line is anything else: then decode it the stdlib's way (`decode_line`)."""
    records: list[Record] = []
    quick_records((line,), 0, 1, records)
    return records[0] if records else None  # type: ignore[return-value]


def quick_records(lines: Sequence[Line], start: int, stop: int, out: list[Any]) -> int:
    """Append to `out` the record on each line of `lines[start:stop]` up to the first line
    the quick way does not vouch for, and return its index (`stop` when it vouched for
    them all): `ttrec.text_lines.quick_text_lines` building Frames and Heartbeats."""
    return quick_text_lines(lines, start, stop, out, _TEXT_CLASSES)


_CLASSES: Final[dict[str, type]] = {
    "frame": Frame,
    "heartbeat": Heartbeat,
    "binary": Binary,
    "sent": Sent,
    "open": Open,
    "close": Close,
    "error": Error,
}
_TYPE_NAMES: Final[dict[type, str]] = {cls: name for name, cls in _CLASSES.items()}
_TEXT_CLASSES: Final = (Frame, Heartbeat)  # the classes of TextShell's layout (see it)
