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

NS_PER_S: Final = 1_000_000_000  # record times (`t`) are nanoseconds
ClosedBy = Literal["server", "client", "network"]
CLOSED_BY: Final = ("server", "client", "network")
# A record marked `"redacted": true` held the access token (a server echoed it) and had it
# replaced by "<redacted>": its text is no longer exactly what arrived. Written only when
# true; readers that do not know the key ignore it, so this stays within ttrec/1.
REDACTED_KEY: Final = "redacted"
# A line as the reader hands it out: a view of the decompressed text, not a copy of it.
Line = bytes | memoryview


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


def _parsed(line: Line) -> Any:
    """orjson's reading of `line`, or None where it refuses it. Where orjson accepts a line
    holding a flat object (scalar values only) the stdlib reads the same values: both are
    strict RFC 8259 parsers that check UTF-8, keep the last of duplicate keys and refuse
    lone surrogates; orjson refuses what the stdlib alone accepts (NaN, 1e400), reads an
    int past 64 bits as a float (which no caller takes for an int), and a flat object is
    never too deep for either. So callers vouch only for flat objects."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def quick_text_record(line: Line) -> Frame | Heartbeat | None:
    """The Frame or Heartbeat on a line holding exactly the keys the writer writes for
    one, each value of exactly its type (so a flat object, see `_parsed`); None when the
    line is anything else: then decode it the stdlib's way (`decode_line`)."""
    records: list[Record] = []
    quick_records((line,), 0, 1, records)
    return records[0] if records else None  # type: ignore[return-value]


def quick_records(
    lines: Sequence[Line], start: int, stop: int, out: list[Any], *, texts: bool = False
) -> int:
    """Append to `out` the record on each line of `lines[start:stop]` up to the first line
    this quick way does not vouch for, and return its index (`stop` when it vouched for
    them all); with `texts`, only each frame's `data` (`ttrec cat --frames`).

    It vouches for a frame or a heartbeat as the writer writes it: exactly its keys, each
    value of exactly its type (so a flat object, see `_parsed`). Per line, a call costs as
    much as these checks: a run of lines is read in this one loop, records built inline."""
    loads, refused = orjson.loads, orjson.JSONDecodeError
    shell, frame, heartbeat = _Shell, Frame, Heartbeat
    append = out.append
    for index in range(start, stop):
        try:
            obj = loads(lines[index])
            kind, t, data = obj["type"], obj["t"], obj["data"]
            wall, conn = obj["wall"], obj["conn"]
        except (refused, KeyError, TypeError):  # not JSON, a key missing, not an object
            return index
        if type(t) is not int or type(wall) is not str or type(conn) is not int or type(data) is not str:
            return index
        redacted = False
        if len(obj) != 5:  # only "redacted" may be added (the writer writes it when true)
            redacted = obj.get(REDACTED_KEY)
            if len(obj) != 6 or type(redacted) is not bool:
                return index
        if t < 0:
            return index
        if kind == "frame":
            if texts:
                append(data)
                continue
            cls: type[Frame] | type[Heartbeat] = frame
        elif kind == "heartbeat":
            if texts:
                continue
            cls = heartbeat
        else:
            return index
        record = shell()  # see _Shell
        record.t = t
        record.wall = wall
        record.conn = conn
        record.data = data
        record.redacted = redacted
        record.__class__ = cls  # type: ignore[assignment]
        append(record)
    return stop


class _Shell:
    """A Frame or a Heartbeat being built: the same slots, not frozen. A frozen
    dataclass's fields are set through object.__setattr__ (its __init__) or through its
    slots' descriptors, a call each; a shell's are set as any attribute, and assigning
    its `__class__` makes it the record (Python allows that between classes of one
    layout). The reader builds one per line, in a quarter of the instructions of the
    dataclass's __init__ and half those of setting the descriptors (valgrind);
    tests/test_records_fast.py compares what it builds with what the dataclass builds."""

    __slots__ = Frame.__slots__  # Heartbeat's are the same
    t: int
    wall: str
    conn: int
    data: str
    redacted: bool


def frame_text(line: Line) -> str | None:
    """The `data` of a frame line, with no other check (`ttrec cat --frames`); None for a
    line holding any other record; raises as `decode_line` for a line holding none."""
    obj = _parsed(line)
    if type(obj) is dict:
        data = obj.get("data")
        if obj.get("type") == "frame" and type(data) is str and _flat(obj):
            return data
    return frame_text_by_stdlib(line)


def frame_text_by_stdlib(line: Line) -> str | None:
    """`frame_text` the stdlib's way: what the quick path must agree with, and where it
    hands every line it does not vouch for (tests/test_records_fast.py compares them)."""
    obj = json.loads(str(line, "utf-8"))
    if type(obj) is dict and obj.get("type") == "frame":
        data = obj.get("data")
        if type(data) is str:
            return data
    decode_record(obj)
    return None


def _flat(obj: dict[str, Any]) -> bool:
    """No value is an array or an object (see `_parsed`)."""
    for value in obj.values():  # noqa: SIM110 (a loop: quicker than all() over a generator)
        if type(value) is dict or type(value) is list:
            return False
    return True


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
