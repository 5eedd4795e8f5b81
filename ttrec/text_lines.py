"""The lines of a capture's text records (frames and heartbeats) read the quick way (orjson),
and a data frame's text found on a line (`ttrec cat --frames`).

Apart from `ttrec.records` so that `cat --frames` starts without the record classes:
`dataclasses` and defining the classes were ~20 ms of its ~70 ms start-up (`python -X
importtime`), on a large capture a tenth of its time (benchmarks/capture_io.py). A line the
quick way does not vouch for goes the careful way, which loads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import orjson

# A record marked `"redacted": true` held the access token (a server echoed it) and had it
# replaced by "<redacted>": its text is no longer exactly what arrived. Written only when
# true; readers that do not know the key ignore it, so this stays within ttrec/1.
REDACTED_KEY: Final = "redacted"
# A line as the reader hands it out: a view of the decompressed text, not a copy of it.
Line = bytes | memoryview


class TextShell:
    """A Frame or a Heartbeat being built: the same slots, not frozen. A frozen
    dataclass's fields are set through object.__setattr__ (its __init__) or through its
    slots' descriptors, a call each; a shell's are set as any attribute, and assigning
    its `__class__` makes it the record (Python allows that between classes of one
    layout). The reader builds one per line, in a quarter of the instructions of the
    dataclass's __init__ and half those of setting the descriptors (valgrind);
    tests/test_records_fast.py compares what it builds with what the dataclass builds."""

    __slots__ = ("conn", "data", "redacted", "t", "wall")  # the dataclasses' (Python sorts them)
    t: int
    wall: str
    conn: int
    data: str
    redacted: bool


def quick_text_lines(
    lines: Sequence[Line], start: int, stop: int, out: list[Any], classes: tuple[type, type] | None
) -> int:
    """Append to `out` the record on each line of `lines[start:stop]` up to the first line
    this quick way does not vouch for, and return its index (`stop` when it vouched for
    them all). `classes` are Frame and Heartbeat (`ttrec.records.quick_records`); without
    them, only each frame's `data` is appended (`cat --frames`).
    It vouches for a frame or a heartbeat as the writer writes it: exactly its keys, each
    value of exactly its type (so a flat object, see `_parsed`). Per line, a call costs as
    much as these checks: a run of lines is read in this one loop, records built inline."""
    loads, refused, shell = orjson.loads, orjson.JSONDecodeError, TextShell
    frame, heartbeat = classes if classes is not None else (None, None)
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
            if frame is None:
                append(data)
                continue
            cls = frame
        elif kind == "heartbeat":
            if heartbeat is None:
                continue
            cls = heartbeat
        else:
            return index
        record = shell()  # see TextShell
        record.t = t
        record.wall = wall
        record.conn = conn
        record.data = data
        record.redacted = redacted
        record.__class__ = cls
        append(record)
    return stop


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


def frame_text(line: Line) -> str | None:
    """The `data` of a frame line, with no other check (`ttrec cat --frames`); None for a
    line holding any other record; raises as `ttrec.records.decode_line` for a line
    holding none."""
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
    from ttrec.records import decode_record  # the careful way (see the module's docstring)

    decode_record(obj)
    return None


def _flat(obj: dict[str, Any]) -> bool:
    """No value is an array or an object (see `_parsed`)."""
    for value in obj.values():  # noqa: SIM110 (a loop: quicker than all() over a generator)
        if type(value) is dict or type(value) is list:
            return False
    return True
