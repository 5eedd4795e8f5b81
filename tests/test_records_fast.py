"""The quick paths for capture lines (orjson) against the stdlib's, which they replace.

Each quick path must give exactly what the stdlib path gives: the same bytes written for
a record, the same record (or the same error, message and line) read from any line, the
same `cat --frames` output, on whole, torn and damaged captures. The references below are
the stdlib code the quick paths replaced, written out here so that they cannot drift.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from record_strategies import FIXTURE, one_record, record_lists

from ttrec.capture import FRAME_BATCH_LINES, CaptureReader, _describe
from ttrec.cat import cat_to
from ttrec.errors import CaptureFormatError
from ttrec.records import (
    Frame,
    Header,
    Heartbeat,
    Record,
    RecordError,
    _dumps,
    _dumps_record,
    decode_line,
    decode_record,
    encode_header,
    encode_record,
    frame_text,
    frame_text_by_stdlib,
    quick_records,
)

HEADER = Header(FIXTURE, "ws://127.0.0.1:1/x", "recorded", "2026-11-24T07:00:00Z")
KEYS = ("type", "t", "wall", "conn", "data", "redacted", "data_b64", "url", "code", "reason", "by")
TYPES = ("frame", "heartbeat", "sent", "binary", "open", "close", "error", "header", "later-kind")
DEEP = b'{"type":"frame","t":1,"wall":"w","conn":0,"data":"x","deep":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
# deeper than the stdlib parses (RecursionError), within what orjson parses
DEEPISH = b'{"type":"frame","t":1,"wall":"w","conn":0,"data":"x","deep":' + b"[" * 1020 + b"]" * 1020 + b"}"


def legacy_decode(line: bytes) -> Record | None:
    return decode_record(json.loads(line.decode()))


def outcome(func: Any, line: Any) -> tuple[str, Any]:
    try:
        return ("value", func(line))
    except (ValueError, RecursionError, TypeError) as exc:
        return ("error", (type(exc), str(exc)))


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
any_text = st.text(st.characters(exclude_categories=()) | surrogates, max_size=20)  # lone surrogates too
scalars_but_floats = st.none() | st.booleans() | st.integers() | any_text
scalars = scalars_but_floats | st.floats()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


def _plain_or_any(values: st.SearchStrategy[Any]) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """A key's values of the right type, and the same or any JSON value."""
    return values, values | json_values


# The strategies the line composites draw from, built once: building them anew for every
# line drawn took most of these tests' time.
_key = st.sampled_from(KEYS) | any_text
_object_keys = st.lists(_key, max_size=8)
_any_text_or_any = _plain_or_any(any_text)
_object_values = {
    "type": _plain_or_any(st.sampled_from(TYPES)),
    "t": _plain_or_any(st.integers(min_value=-5)),
    "conn": _plain_or_any(st.integers(min_value=-5)),
    "redacted": _plain_or_any(st.booleans() | st.none()),
}
_writer_values = {
    "type": _plain_or_any(st.sampled_from(TYPES)),
    "t": _plain_or_any(st.integers(min_value=-3, max_value=3) | st.integers()),
    "wall": _any_text_or_any,
    "conn": _plain_or_any(st.integers()),
    "data": _any_text_or_any,
    "redacted": _plain_or_any(st.booleans()),
}


@st.composite
def object_lines(draw: st.DrawFn) -> bytes:
    """A JSON object with record-like keys, values mostly of the right type, duplicate keys,
    NaN, huge ints, nested values and lone surrogates (escaped or as invalid UTF-8)."""
    pairs = []
    for key in draw(_object_keys):
        plain, or_any = _object_values.get(key, _any_text_or_any)
        pairs.append((key, draw(or_any if draw(st.booleans()) else plain)))
    ascii_only = draw(st.booleans())
    body = ",".join(
        f"{json.dumps(k, ensure_ascii=ascii_only)}:{json.dumps(v, ensure_ascii=ascii_only)}" for k, v in pairs
    )
    return ("{" + body + "}").encode("utf-8", "surrogatepass")


@st.composite
def writer_shaped_lines(draw: st.DrawFn) -> bytes:
    """The keys the writer writes for a frame or heartbeat, with values of the right type
    or not, sometimes a key left out, repeated or added: the quick path's border."""
    pairs = [
        (k, draw(or_any if draw(st.integers(0, 5)) == 0 else plain))
        for k, (plain, or_any) in _writer_values.items()
    ]
    if draw(st.booleans()):
        del pairs[-1]  # no "redacted", as the writer writes it
    if draw(st.integers(0, 3)) == 0:
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    if draw(st.integers(0, 3)) == 0:
        pairs.append((draw(_key), draw(json_values)))
    return ("{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}").encode()


@st.composite
def damaged(draw: st.DrawFn, lines: st.SearchStrategy[bytes]) -> bytes:
    """A line with a byte changed, a piece cut out or bytes put in (never a newline)."""
    line = draw(lines)
    at = draw(st.integers(min_value=0, max_value=len(line)))
    how = draw(st.sampled_from(("flip", "cut", "insert")))
    if how == "flip" and at < len(line):
        line = line[:at] + bytes([line[at] ^ draw(st.integers(1, 255))]) + line[at + 1 :]
    elif how == "cut":
        line = line[:at] + line[at + draw(st.integers(1, 8)) :]
    else:
        line = line[:at] + draw(st.binary(min_size=1, max_size=4)) + line[at:]
    return line.replace(b"\n", b" ")


# A line the writer writes: one record drawn, at any time a capture of a few records reaches
# (one of a list of one to four records was drawn before, the rest drawn for nothing).
record_lines = one_record(4 * 10**12).map(lambda record: encode_record(record)[:-1])
lines = st.one_of(
    record_lines, writer_shaped_lines(), object_lines(), damaged(record_lines), damaged(object_lines())
)


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )


def test_every_code_point_is_written_as_the_stdlib_writes_it():
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    expected = (json.dumps({"data": every}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    assert _dumps_record({"data": every}) == expected


# Floats left out of the union, not filtered out of it: the filter threw away about one
# drawn object in two (393 invalid cases for 400 examples).
@fuzz(400)
@given(st.dictionaries(any_text, scalars_but_floats, max_size=6))
def test_record_objects_are_written_as_the_stdlib_writes_them(obj):
    assert outcome(_dumps_record, obj) == outcome(_dumps, obj)


@fuzz(100)
@given(record_lists())
def test_records_are_written_as_the_stdlib_writes_them(records):
    for record in records:
        line = encode_record(record)
        assert line == _dumps(json.loads(line))  # the key order and every byte as before


def test_a_line_deeper_than_the_stdlib_parses_is_refused_as_it_refuses_it():
    # Not under hypothesis, which raises the recursion limit while it runs a test.
    assert outcome(legacy_decode, DEEPISH)[1][0] is RecursionError
    assert outcome(decode_line, DEEPISH) == outcome(legacy_decode, DEEPISH)
    assert outcome(frame_text, DEEPISH) == outcome(frame_text_by_stdlib, DEEPISH)


# Decoding a line and finding a frame's text are checked on the same lines: drawing a line
# costs far more than either check, and each check still sees 600 lines and every example.
@fuzz(600)
@given(lines)
@example(DEEP)
@example(b'{"type":"frame","t":18446744073709551616,"wall":"w","conn":0,"data":"x"}')
@example(b'{"type":"frame","t":1,"wall":"w","conn":0,"data":"x","t":2}')
@example(b'{"type":"frame","t":1,"wall":"w","conn":0,"data":"\\ud800"}')
@example(b'{"type":"heartbeat","t":1,"wall":"w","conn":0,"data":"x","redacted":null}')
@example(b'{"type":"frame","t":1,"wall":"w","conn":0,"data":"x","n":NaN}')
@example(b'{"type":"frame","data":"x","more":{"data":1}}')
def test_a_line_decodes_and_its_frame_text_is_found_as_the_stdlib_does_it(line):
    assert outcome(decode_line, line) == outcome(legacy_decode, line)
    # the reader hands out views of the decompressed text
    assert outcome(decode_line, memoryview(line)) == outcome(legacy_decode, line)
    assert outcome(frame_text, line) == outcome(frame_text_by_stdlib, line)
    assert outcome(frame_text, memoryview(line)) == outcome(frame_text_by_stdlib, line)


@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    any_text,
    st.integers(-(2**63), 2**63 - 1),
    any_text,
    st.booleans(),
)
def test_the_quick_way_builds_what_the_dataclass_builds(t, wall, conn, data, redacted):
    surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in wall + data)
    for kind, cls in (("frame", Frame), ("heartbeat", Heartbeat)):
        obj = {"type": kind, "t": t, "wall": wall, "conn": conn, "data": data} | (
            {"redacted": True} if redacted else {}
        )
        out: list[Any] = []
        vouched = quick_records([json.dumps(obj).encode()], 0, 1, out)
        assert vouched == (0 if surrogate else 1)  # orjson refuses a lone surrogate: the stdlib's way then
        if surrogate:
            continue
        (quick,) = out
        built = cls(t, wall, conn, data, redacted)
        assert type(quick) is cls and quick == built and repr(quick) == repr(built)
        assert hash(quick) == hash(built) and dataclasses.astuple(quick) == (t, wall, conn, data, redacted)
        with pytest.raises(dataclasses.FrozenInstanceError):
            quick.t = t + 1  # type: ignore[misc]


@st.composite
def captures(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A capture's bytes (a zstd block flushed per line, as the writer does, maybe torn
    anywhere) and its lines after the header."""
    body = draw(
        st.lists(lines | record_lines, max_size=FRAME_BATCH_LINES + 20 if draw(st.booleans()) else 12)
    )
    out = io.BytesIO()
    header_end = 0
    writer = zstandard.ZstdCompressor(write_checksum=True).stream_writer(out, closefd=False)
    for line in [encode_header(HEADER)[:-1], *body]:
        writer.write(line + b"\n")
        writer.flush(zstandard.FLUSH_BLOCK)
        header_end = header_end or out.tell()  # a tear before it is another test's subject
    writer.flush(zstandard.FLUSH_FRAME)
    raw = out.getvalue()
    keep = draw(st.sampled_from([len(raw), draw(st.integers(min_value=header_end, max_value=len(raw)))]))
    return raw[:keep], body


def complete_lines(raw: bytes) -> list[bytes]:
    """Every complete line python-zstandard decodes from `raw`, the header's dropped."""
    text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    return text.split(b"\n")[1:-1]


def expected_run(raw: bytes, decode: Any) -> tuple[list[Any], tuple[int, str] | None]:
    """What a stdlib reader returns: values up to the first bad line, and that line's
    error as the reader words it (`_describe`, unchanged by the quick paths)."""
    values = []
    for number, line in enumerate(complete_lines(raw), start=2):
        try:
            value = decode(line)
        except (ValueError, RecursionError) as exc:
            return values, (number, _describe(exc))
        if value is not None:
            values.append(value)
    return values, None


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for every example's capture (tmp_path is per test, not per example; a
    directory made for each example scanned the session's temporary directory each time)."""
    return tmp_path_factory.mktemp("captures")


def capture_file(scratch: Path, raw: bytes) -> Path:
    """`raw` in a new capture file (the last example's is removed first)."""
    path = scratch / "c.jsonl.zst"
    path.unlink(missing_ok=True)
    path.write_bytes(raw)
    return path


# Reading a capture and `cat --frames` are checked on the same captures: building one
# (compressing it line by line) costs more than either check, and each still sees 150.
@fuzz(150)
@given(captures())
def test_reading_a_capture_and_cat_frames_give_what_the_stdlib_reading_gives(scratch, capture):
    raw, _ = capture
    path = capture_file(scratch, raw)
    records: list[Record] = []
    error = None
    with CaptureReader(path) as reader:
        try:
            records.extend(reader)
        except CaptureFormatError as exc:
            error = (exc.line, exc.problem)
    assert (records, error) == expected_run(raw, legacy_decode)
    texts, expected_error = expected_run(raw, frame_text_by_stdlib)
    assert frames_printed(path) == (b"".join(t.encode() + b"\n" for t in texts), expected_error)


def frames_printed(path: Path) -> tuple[bytes, tuple[int | None, str] | None]:
    """What `ttrec cat --frames` writes of `path`, and the line and problem it stops at."""
    out, error = io.BytesIO(), None
    with CaptureReader(path) as reader:
        try:
            cat_to(reader, out, frames=True)
        except CaptureFormatError as exc:
            error = (exc.line, exc.problem)
    return out.getvalue(), error


@pytest.mark.parametrize("count", [FRAME_BATCH_LINES - 1, FRAME_BATCH_LINES, 2 * FRAME_BATCH_LINES + 3])
def test_frames_before_a_bad_line_are_all_printed(tmp_path, count):
    frames = [f'{{"type":"frame","t":{i},"wall":"w","conn":0,"data":"f{i}"}}'.encode() for i in range(count)]
    body = [encode_header(HEADER)[:-1], *frames, b'{"type":"frame","t":"late"}']
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(body) + b"\n"))
    out = io.BytesIO()
    with CaptureReader(path) as reader, pytest.raises(CaptureFormatError) as caught:
        cat_to(reader, out, frames=True)
    assert out.getvalue() == b"".join(f"f{i}\n".encode() for i in range(count))
    assert caught.value.line == count + 2


@pytest.mark.parametrize(
    "line",
    [
        b'{"kind":"frame","t":0,"wall":"w","conn":0,"data":"x"}',  # the writer's key count, no "type"
        b'{"type":"frame","t":0,"wall":"w","conn":0,"text":"x"}',
        b'{"type":"frame","t":-1,"wall":"w","conn":0,"data":"x"}',
        b'{"type":"heartbeat","t":0,"wall":"w","conn":0,"data":"x","more":1}',
    ],
)
def test_a_line_shaped_almost_as_the_writer_writes_goes_the_careful_way(tmp_path, line):
    """The quick loop of `cat --frames` takes only what the writer writes: a line with the
    writer's number of keys but not its keys or values is judged as the stdlib judges it."""
    body = [encode_header(HEADER)[:-1], b'{"type":"frame","t":0,"wall":"w","conn":0,"data":"first"}', line]
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(body) + b"\n"))
    try:
        expected = [t for t in (frame_text_by_stdlib(b) for b in body[1:]) if t is not None]
        expected_error = None
    except (ValueError, RecordError) as exc:
        expected, expected_error = ["first"], (3, _describe(exc))
    assert frames_printed(path) == (b"".join(t.encode() + b"\n" for t in expected), expected_error)
