"""Broken capture files: bit flips, every truncation, garbage lines, wrong types, valid zstd
around garbage, huge and deeply nested lines. The reader either raises a clear
CaptureFormatError (path and line) or returns records; records of checksummed frames are
the originals, and damage is reported, never silent (a bit flip either changes nothing read,
or is reported as damage, a torn tail or a format error); nothing else ever escapes.
`ttrec info/check/cat` exit 0 or 1 with one-line errors, never a traceback.

Thousands of cases in all: hypothesis examples (see each `max_examples`) plus an
exhaustive truncation at every byte, and each garbage line at every position. Hypothesis's
own work (drawing, not reading) is most of this module's CPU, so where a small part of a
case can be enumerated (a line's position) it is, and fewer draws go further.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recorder_support import match_records, write_match

from ttrec.capture import CaptureReader
from ttrec.cli import cli
from ttrec.errors import CaptureFormatError
from ttrec.records import Record

# Removed at interpreter exit by TemporaryDirectory's own finaliser, even when no test here runs.
_SCRATCH_DIR: Final = tempfile.TemporaryDirectory(prefix="ttrec-fuzz-")
_SCRATCH: Final = Path(_SCRATCH_DIR.name)
_BASE_PATH: Final = write_match(_SCRATCH / "base.jsonl.zst", 8)
BASE: Final = _BASE_PATH.read_bytes()
ORIGINAL: Final[list[Record]] = match_records(8)
LINES: Final = zstandard.ZstdDecompressor().decompressobj().decompress(BASE).split(b"\n")[:-1]


def fuzz(max_examples: int) -> settings:
    # No example database: the cases are cheap to find again, and a shared tree stays clean.
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def _file(data: bytes, name: str = "case.jsonl.zst") -> str:
    path = os.path.join(_SCRATCH, name)
    # A new file, not the last case's truncated: ext4 flushes a file truncated and written
    # again when it is closed, a millisecond of waiting for each of thousands of cases.
    # (os, not pathlib: some 15,000 files are written here, pathlib's parsing was a tenth
    # of this module's own CPU.)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def read_outcome(data: bytes) -> tuple[list[Record], CaptureReader] | CaptureFormatError:
    """Read a capture from bytes: its records, or the CaptureFormatError. Anything else
    propagates and fails the test."""
    try:
        with CaptureReader(_file(data)) as reader:
            return list(reader), reader
    except CaptureFormatError as exc:
        assert exc.problem and "\n" not in str(exc), exc
        return exc


_COMPRESSOR: Final = zstandard.ZstdCompressor(write_checksum=True)


def _compress(lines: list[bytes]) -> bytes:
    return _COMPRESSOR.compress(b"".join(line + b"\n" for line in lines))


def test_the_base_capture_reads_back() -> None:
    outcome = read_outcome(BASE)
    assert not isinstance(outcome, CaptureFormatError)
    records, reader = outcome
    assert records == ORIGINAL and not reader.torn_tail and reader.damage is None
    assert len(LINES) == len(ORIGINAL) + 1


def _flipped(flips: list[tuple[int, int]]) -> bytes:
    """BASE with each (byte position, bit) of `flips` inverted."""
    data = bytearray(BASE)
    for position, bit in flips:
        data[position] ^= 1 << bit
    return bytes(data)


def test_every_single_bit_flip() -> None:
    """All 8 * len(BASE) = 6864 one-bit flips, enumerated (the sampled test below drew
    2500 lists of one to four flips before, reaching some bits and not others). One flip is
    always caught: the records read are the originals, or a prefix of them with the damage
    or torn tail reported, or a clear error."""
    for position in range(len(BASE)):
        for bit in range(8):
            outcome = read_outcome(_flipped([(position, bit)]))
            if isinstance(outcome, CaptureFormatError):
                continue
            records, reader = outcome
            if reader.damage is None and not reader.torn_tail:
                assert records == ORIGINAL, (position, bit)
            else:
                assert records == ORIGINAL[: len(records)], (position, bit)
                assert reader.damage is None or "\n" not in reader.damage


# Two to four flips at once, sampled: every single flip is enumerated above, so the 1000
# examples here are for combinations only (2500 lists of one to four flips before;
# hypothesis's drawing, not the read, was most of their cost). A flip is drawn as one
# number, the bit's index in the file: half the draws of a (byte, bit) pair, the same flips.
@fuzz(1000)
@given(st.lists(st.integers(0, 8 * len(BASE) - 1), min_size=2, max_size=4))
def test_bit_flips(bits: list[int]) -> None:
    outcome = read_outcome(_flipped([divmod(bit, 8) for bit in bits]))
    if isinstance(outcome, CaptureFormatError):
        return
    records, reader = outcome
    if reader.damage is None and not reader.torn_tail:
        # Every frame's content checksum passed: the flips changed nothing that is read.
        assert records == ORIGINAL
    else:
        # Reported, in one line. Records of a frame whose checksum was never reached (a torn
        # tail: a flipped block size reads exactly like a cut file) are not verified; zstd
        # checks content only at a frame's end, so nothing stronger can be promised for them.
        assert reader.damage is None or "\n" not in reader.damage


def test_every_truncation() -> None:
    """Each of the len(BASE) possible cuts: a prefix of the records, and a torn tail
    (or a clear error when not even the header survives)."""
    for cut in range(len(BASE)):
        outcome = read_outcome(BASE[:cut])
        if isinstance(outcome, CaptureFormatError):
            continue
        records, reader = outcome
        assert records == ORIGINAL[: len(records)], cut
        assert reader.torn_tail, cut  # the last frame's checksum is always cut off
        assert reader.damage is None, cut


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_RECORD_KEYS: Final = [
    "type",
    "t",
    "wall",
    "conn",
    "data",
    "data_b64",
    "url",
    "start_position",
    "code",
    "reason",
    "by",
]


# The strategies the composites below draw from, built once: a sampled_from of a list is
# built anew at every call (a list is no key for hypothesis's strategy cache).
_record_lines = st.sampled_from(LINES[1:])
_frame_lines = st.sampled_from([line for line in LINES if b'"frame"' in line])
_record_types = st.sampled_from(["frame", "heartbeat", "binary", "sent", "open", "close", "error", "header"])
_record_key_lists = st.lists(st.sampled_from(_RECORD_KEYS), max_size=4)


@st.composite
def wrong_record(draw: st.DrawFn) -> bytes:
    """A record of a known type with some fields missing or of the wrong type."""
    base: dict[str, Any] = json.loads(draw(_record_lines))
    base["type"] = draw(_record_types)
    for key in draw(_record_key_lists):
        if draw(st.booleans()):
            base.pop(key, None)
        else:
            base[key] = draw(_json_values)
    return json.dumps(base).encode()


def _mutate(value: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """`value` with one randomly chosen nested value replaced (or removed)."""
    if depth > 6 or not isinstance(value, dict | list) or not value or draw(st.integers(0, 3)) == 0:
        return draw(_json_values)
    if isinstance(value, dict):
        key = draw(st.sampled_from(sorted(value)))
        if draw(st.integers(0, 5)) == 0:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: _mutate(value[key], draw, depth + 1)}
    index = draw(st.integers(0, len(value) - 1))
    return [*value[:index], _mutate(value[index], draw, depth + 1), *value[index + 1 :]]


@st.composite
def odd_frame(draw: st.DrawFn) -> bytes:
    """A well-formed frame record whose data frame (the provider's JSON) is malformed
    deep inside: what `check` and `info` parse."""
    record: dict[str, Any] = json.loads(draw(_frame_lines))
    frame = json.loads(record["data"])
    for _ in range(draw(st.integers(1, 3))):
        frame = _mutate(frame, draw)
    record["data"] = json.dumps(frame)
    return json.dumps(record).encode()


_garbage_line = st.one_of(
    odd_frame(),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=200).map(lambda s: s.replace("\n", " ").encode("utf-8", "surrogatepass")),
    _json_values.map(lambda v: json.dumps(v).encode()),
    wrong_record(),
)


# Each garbage line drawn is put at every index in turn (the header's too): the position of
# a bad line is a domain of len(LINES) = 10, enumerated rather than sampled with each line.
# That reads 10 captures per line drawn, so 500 lines give 5000 cases (twice the 2500 cases
# of one line at one drawn index each before, in under half the CPU: drawing a line, not
# reading it, was 95 % of the cost).
@fuzz(500)
@given(_garbage_line)
def test_garbage_lines(line: bytes) -> None:
    for index in range(len(LINES)):
        lines = list(LINES)
        lines[index] = line
        outcome = read_outcome(_compress(lines))
        if isinstance(outcome, CaptureFormatError):
            assert outcome.line is not None and 1 <= outcome.line <= index + 1, (index, outcome)
            continue
        records, _ = outcome
        assert records[: index - 1] == ORIGINAL[: index - 1], index


# Each payload three ways (two tests before: 1000 payloads in valid zstd, 500 others raw
# and after the magic; drawing a payload costs more than reading it).
@fuzz(1000)
@given(st.binary(max_size=2000))
def test_garbage_in_valid_zstd_raw_and_after_the_zstd_magic(payload: bytes) -> None:
    read_outcome(_COMPRESSOR.compress(payload))
    read_outcome(payload)
    read_outcome(b"\x28\xb5\x2f\xfd" + payload)


def test_deeply_nested_lines_are_a_format_error_not_a_crash() -> None:
    for depth_line in (b"[" * 100_000, b'{"type": "frame", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        for index in (0, 3):
            lines = list(LINES)
            lines[index] = depth_line
            outcome = read_outcome(_compress(lines))
            assert isinstance(outcome, CaptureFormatError) and outcome.line == index + 1, outcome


def test_huge_lines() -> None:
    big = json.dumps(
        {
            "type": "heartbeat",
            "t": 10**12,
            "wall": "2026-11-24T07:00:00Z",
            "conn": 0,
            "data": "h" * 20_000_000,
        }
    )
    outcome = read_outcome(_compress([*LINES, big.encode()]))
    assert not isinstance(outcome, CaptureFormatError)
    records, reader = outcome
    assert len(records) == len(ORIGINAL) + 1 and reader.damage is None
    # 20 MB with no newline at the end: a torn tail, and every complete record before it.
    unterminated = zstandard.ZstdCompressor().compress(b"\n".join(LINES) + b"\n" + b"x" * 20_000_000)
    outcome = read_outcome(unterminated)
    assert not isinstance(outcome, CaptureFormatError)
    assert outcome[0] == ORIGINAL and outcome[1].torn_tail


# --- the command line -------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails with it
    return result.exit_code, result.stdout, result.stderr


def _mutations() -> st.SearchStrategy[bytes]:
    def replaced(args: tuple[int, bytes]) -> bytes:
        lines = list(LINES)
        lines[args[0] % len(lines)] = args[1]
        return _compress(lines)

    return st.one_of(
        st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 7)), min_size=1, max_size=3).map(
            _flipped
        ),
        st.integers(0, len(BASE)).map(lambda cut: BASE[:cut]),
        st.tuples(st.integers(0, 100), _garbage_line).map(replaced),
        st.binary(max_size=300),
    )


def _assert_clean_failure(command: str, code: int, stdout: str, stderr: str) -> None:
    assert code in (0, 1), (command, code, stderr)
    assert "Traceback" not in stderr + stdout
    if code == 1:
        assert stderr.strip() or (command == "check" and stdout.strip()), (command, stdout, stderr)
    if command in ("info", "cat") and code == 1:
        assert len(stderr.strip().splitlines()) == 1, stderr  # one clear line


@fuzz(300)
@given(_mutations())
def test_cli_on_broken_files_exits_1_with_a_line_never_a_traceback(data: bytes) -> None:
    path = _file(data, "cli.jsonl.zst")
    for command in ("info", "check", "cat"):
        code, stdout, stderr = _cli(command, path)
        _assert_clean_failure(command, code, stdout, stderr)
    code, stdout, stderr = _cli("info", "--json", path)
    _assert_clean_failure("info", code, stdout, stderr)
    code, stdout, stderr = _cli("cat", "--frames", path)
    _assert_clean_failure("cat", code, stdout, stderr)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x28\xb5\x2f\xfd", b"not zstd", b"[" * 100_000, _compress([b"[" * 100_000])],
    ids=["empty", "magic-only", "text", "brackets", "nested-header"],
)
def test_cli_on_hopeless_files(data: bytes) -> None:
    path = _file(data, "hopeless.jsonl.zst")
    for command in ("info", "check", "cat"):
        code, _, stderr = _cli(command, path)
        assert code == 1 and "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1 and path in stderr, stderr


def test_cli_on_a_directory_and_a_missing_file() -> None:
    for target in (str(_SCRATCH), str(_SCRATCH / "missing.jsonl.zst")):
        for command in ("info", "check", "cat"):
            code, _, stderr = _cli(command, target)
            assert code in (1, 2) and "Traceback" not in stderr and stderr.strip(), (command, target)
