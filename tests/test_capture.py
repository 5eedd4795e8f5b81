"""Capture files: round-trips, torn tails at every offset, garbage, and interoperability."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from record_strategies import FIXTURE, headers, record_lists

from ttrec.capture import RECORD_BATCH_LINES, CaptureReader, CaptureWriter, read_capture
from ttrec.errors import CaptureFormatError, CaptureWriteError
from ttrec.records import Frame, Header, Heartbeat, Open, decode_record, encode_header, encode_record

HEADER = Header(
    fixture_id=FIXTURE,
    url=f"ws://127.0.0.1:1/v2/tabletennis/fixtures/{FIXTURE}/statistics",
    source="recorded",
    created="2026-11-24T07:00:00Z",
)


def frames(count: int, step_ns: int = 1_000_000_000) -> list[Frame | Heartbeat]:
    out: list[Frame | Heartbeat] = []
    for i in range(count):
        data = f'{{"seqNum":{i + 1},"fixtureId":"{FIXTURE}","pad":"{"x" * (i % 7)}"}}'
        out.append(Frame(i * step_ns, f"2026-11-24T07:00:{i % 60:02d}Z", 0, data))
        out.append(Heartbeat(i * step_ns + 1, "w", 0, '{"message":"Heartbeat","level":"INFO"}'))
    return out


def write(path: Path, records, header: Header = HEADER, **kwargs) -> Path:
    with CaptureWriter(path, header, **kwargs) as writer:
        for record in records:
            writer.write(record)
    return path


@settings(max_examples=60)
@given(header=headers, records=record_lists())
def test_any_records_written_are_read_back_equal(tmp_path_factory, header, records):
    path = tmp_path_factory.mktemp("rt") / "c.jsonl.zst"
    write(path, records, header)
    with CaptureReader(path) as reader:
        assert reader.header == header
        assert list(reader) == records
        assert not reader.torn_tail and reader.damage is None


def test_frames_end_every_minute_and_reading_spans_them(tmp_path):
    records = frames(200, step_ns=3_000_000_000)  # 10 minutes of records
    path = write(tmp_path / "c.jsonl.zst", records)
    raw = path.read_bytes()
    assert raw.count(b"\x28\xb5\x2f\xfd") >= 10  # a frame per minute of capture time
    assert read_capture(path) == (HEADER, records)


def test_every_truncation_reads_a_prefix_and_never_raises_anything_else(tmp_path):
    records = frames(12, step_ns=2_000_000_000)
    raw = write(tmp_path / "full.jsonl.zst", records).read_bytes()
    seen_lengths = set()
    cut_path = tmp_path / "cut.jsonl.zst"
    for cut in range(len(raw)):
        cut_path.unlink(missing_ok=True)  # a new file: ext4 flushes one truncated and rewritten
        cut_path.write_bytes(raw[:cut])
        try:
            reader = CaptureReader(cut_path)
        except CaptureFormatError:
            continue  # not even a header survived: refused with a clear error
        with reader:
            got = list(reader)
        assert got == records[: len(got)], cut
        seen_lengths.add(len(got))
        if len(got) < len(records) and not reader.torn_tail:
            # Only a cut exactly between two zstd frames can look complete.
            assert raw[cut : cut + 4] == b"\x28\xb5\x2f\xfd", cut
    assert seen_lengths == set(range(len(records) + 1))


def test_a_killed_writer_leaves_every_flushed_record_readable(tmp_path):
    path = tmp_path / "live.jsonl.zst"
    writer = CaptureWriter(path, HEADER)
    records = frames(3)
    for record in records:
        writer.write(record)
    # no close(): as if the process died here
    with CaptureReader(path) as reader:
        assert list(reader) == records
        assert reader.torn_tail
    writer.close()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not a zstd file"),
        (b"hello world\n", "not a zstd file"),
        (b'{"type":"header","format":"ttrec/1"}\n', "not a zstd file"),
        (zstandard.compress(b"not json at all\n"), ":1: line is not JSON"),
        (zstandard.compress(b'{"type":"header","format":"pcap"}\n'), "unknown capture format 'pcap'"),
        (zstandard.compress(b"[1,2,3]\n"), "not a ttrec header"),
        (zstandard.compress(b""), "empty"),
        (zstandard.compress(b"\xff\xfe\n"), "not UTF-8"),
    ],
)
def test_garbage_is_refused_naming_file_and_line(tmp_path, content, problem):
    path = tmp_path / "bad.jsonl.zst"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError, match=problem) as info:
        CaptureReader(path)
    assert str(path) in str(info.value)


def test_garbage_line_after_the_header_names_its_line(tmp_path):
    body = encode_header(HEADER) + encode_record(frames(1)[0]) + b"{oops\n"
    path = tmp_path / "bad.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(body))
    with CaptureReader(path) as reader, pytest.raises(CaptureFormatError, match=r"bad.jsonl.zst:3: line"):
        list(reader)


@pytest.fixture(scope="module")
def six_frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """The capture of frames(6), written once (it was written again, and synced, for every
    example below), and a path for each example's flipped copy."""
    directory = tmp_path_factory.mktemp("flip")
    return write(directory / "c.jsonl.zst", frames(6)).read_bytes(), directory / "flipped.jsonl.zst"


@given(st.integers(min_value=4, max_value=10_000), st.integers(min_value=0, max_value=7))
@settings(max_examples=200)
def test_a_flipped_bit_gives_a_salvaged_prefix_or_a_clear_error(six_frames, offset, bit):
    records = frames(6)
    raw, path = bytearray(six_frames[0]), six_frames[1]
    raw[offset % len(raw)] ^= 1 << bit
    path.unlink(missing_ok=True)
    path.write_bytes(bytes(raw))
    try:
        with CaptureReader(path) as reader:
            got = list(reader)
    except CaptureFormatError:
        return  # a clear error naming the file and line
    if reader.damage is None and not reader.torn_tail:
        assert got == records  # the flip landed where zstd ignores it (e.g. a skippable bit)
    else:
        # Checksums catch the damage: the records of the frames before it come back intact.
        assert len(got) <= len(records)
        intact = [g for g, r in zip(got, records, strict=False) if g == r]
        assert len(intact) >= len(got) - 2  # at most the damaged frame's records differ


def test_a_capture_is_never_overwritten(tmp_path):
    path = write(tmp_path / "c.jsonl.zst", frames(1))
    before = path.read_bytes()
    with pytest.raises(CaptureWriteError, match="already exists"):
        CaptureWriter(path, HEADER)
    assert path.read_bytes() == before


def test_time_must_not_go_backwards(tmp_path):
    with CaptureWriter(tmp_path / "c.jsonl.zst", HEADER) as writer:
        writer.write(frames(1)[0])
        writer.write(Frame(10, "w", 0, "x"))
        with pytest.raises(ValueError, match="backwards"):
            writer.write(Frame(9, "w", 0, "x"))


def test_a_missing_directory_is_a_clear_write_error(tmp_path):
    with pytest.raises(CaptureWriteError, match="No such file"):
        CaptureWriter(tmp_path / "nope" / "c.jsonl.zst", HEADER)


def test_the_zstd_command_line_tool_reads_a_ttrec_capture(tmp_path):
    # .ci/run installs the zstd CLI: a machine without it fails here, loudly.
    assert shutil.which("zstd"), "the zstd command-line tool is needed (apt-get install zstd)"
    records = frames(20)
    path = write(tmp_path / "c.jsonl.zst", records)
    out = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    lines = out.splitlines()
    assert lines[0] == encode_header(HEADER).rstrip(b"\n")
    assert lines[1:] == [encode_record(r).rstrip(b"\n") for r in records]
    subprocess.run(["zstd", "-tq", str(path)], check=True)  # every checksum verifies


def test_a_read_stopped_anywhere_resumes_after_the_last_record_handed_out(tmp_path):
    """Records are built a batch of lines ahead of the one handed out: a read stopped at any
    record, in a zstd frame of more lines than a batch, leaves every line after it."""
    lines = [encode_record(r)[:-1] for r in frames(100)]
    for index in (RECORD_BATCH_LINES, 70, 2 * RECORD_BATCH_LINES - 1):  # read the careful way
        lines[index] = encode_record(Open(index, "w", 0, "ws://127.0.0.1:1/x"))[:-1]
    lines[101] = b'{"type":"later-kind","t":101}'  # a type this version skips
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(encode_header(HEADER) + b"\n".join(lines) + b"\n"))
    numbered = [(n, line) for n, line in enumerate(lines, start=2) if b"later-kind" not in line]
    for stop in (0, 1, 63, 64, 65, 66, 69, 70, 71, 72, 100, 101, 127, 128, 129, len(numbered)):
        with CaptureReader(path) as reader:
            head = list(itertools.islice(reader, stop))
            assert head == [decode_record(json.loads(line)) for _, line in numbered[:stop]]
            last = numbered[stop - 1][0] if stop else 1  # the line of the last record handed out
            assert reader.lines == last
            assert list(reader.raw_lines()) == lines[last - 1 :]
