"""The reader's pieces: lines split across decompressed chunks, tears at every offset.

The reader decompresses a file in chunks and hands out lines as views of them, so a line
can start in one chunk and end several chunks later, and a tear can fall anywhere. Each
way of reading (records, `cat`'s text copy, `cat --frames`, raw lines) is compared with
what python-zstandard's own stream reader decodes from the same bytes, line by line
through the stdlib's json: an independent reading of the capture.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import zstandard

from ttrec import capture
from ttrec.capture import ZSTD_MAGIC, CaptureReader, CaptureWriter
from ttrec.cat import cat_to
from ttrec.errors import CaptureFormatError
from ttrec.records import Frame, Header, Heartbeat, Open, Record, decode_record, encode_header

HEADER = Header("f1", "ws://127.0.0.1:1/x", "recorded", "2026-11-24T07:00:00Z")
DEFAULT_CHUNK = capture.READ_CHUNK


def sample(count: int, pad: int = 0) -> list[Record]:
    """Frames, heartbeats and an open, some padded past a read chunk with text zstd cannot
    shrink (so their compressed bytes span chunks too)."""
    out: list[Record] = [Open(0, "w", 0, "ws://127.0.0.1:1/x")]
    for i in range(count):
        noise = os.urandom(pad * (i % 2)).hex()
        out.append(Frame(i * 30_000_000_000 + 1, "w", 0, f'{{"seqNum":{i + 1},"n":"{noise}"}}'))
        out.append(Heartbeat(i * 30_000_000_000 + 2, "w", 0, '{"message":"Heartbeat"}'))
    return out


def write(path: Path, records: list[Record]) -> bytes:
    # Frames of 60 s of capture time: the records above span several zstd frames.
    with CaptureWriter(path, HEADER) as writer:
        for record in records:
            writer.write(record)
    return path.read_bytes()


def complete_lines(raw: bytes) -> list[bytes]:
    """The complete lines (header included) python-zstandard decodes from `raw`."""
    text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    return text.split(b"\n")[:-1]


def expected_records(lines: list[bytes]) -> list[Record]:
    records = [decode_record(json.loads(line)) for line in lines[1:]]
    return [r for r in records if r is not None]


def expected_frames(records: list[Record]) -> bytes:
    texts = [r.data for r in records if isinstance(r, Frame)]
    return b"".join(text.encode() + b"\n" for text in texts)


def read_every_way(path: Path) -> dict[str, object]:
    """What each way of reading gives for the capture at `path`, and its torn_tail."""
    got: dict[str, object] = {}
    with CaptureReader(path) as reader:
        got["records"] = list(reader)
        got["torn"] = reader.torn_tail
        got["lines"] = reader.lines
    with CaptureReader(path) as reader:
        text = io.BytesIO()
        reader.copy_text(text.write)
        got["text"] = text.getvalue()
        assert reader.torn_tail == got["torn"]
    with CaptureReader(path) as reader:
        frames = io.BytesIO()
        cat_to(reader, frames, frames=True)
        got["frames"] = frames.getvalue()
        assert reader.torn_tail == got["torn"]
    with CaptureReader(path) as reader:
        got["raw"] = list(reader.raw_lines())
    return got


@pytest.fixture(params=[1, 7, DEFAULT_CHUNK], ids=lambda size: f"read{size}")
def read_chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Compressed bytes read at a time: 1 puts a chunk boundary at every byte."""
    monkeypatch.setattr(capture, "READ_CHUNK", request.param)
    return int(request.param)


def test_lines_longer_than_a_chunk_are_read_whole(tmp_path: Path, read_chunk: int) -> None:
    # 150 kB lines: more than a read chunk compressed and than a decompressed piece
    records = sample(4, pad=75_000)
    raw = write(tmp_path / "c.jsonl.zst", records)
    lines = complete_lines(raw)
    got = read_every_way(tmp_path / "c.jsonl.zst")
    assert got["records"] == records == expected_records(lines)
    assert got["text"] == b"".join(line + b"\n" for line in lines)
    assert got["frames"] == expected_frames(records)
    assert got["raw"] == lines[1:]
    assert got["lines"] == len(lines) and got["torn"] is False


def test_a_tear_at_every_offset_gives_every_whole_line_before_it(tmp_path: Path, read_chunk: int) -> None:
    records = sample(5)
    raw = write(tmp_path / "full.jsonl.zst", records)
    assert raw.count(ZSTD_MAGIC) >= 2  # tears between frames and inside them
    cut_path = tmp_path / "cut.jsonl.zst"
    for cut in range(len(raw) + 1):
        cut_path.write_bytes(raw[:cut])
        lines = complete_lines(raw[:cut])
        if not lines:  # not even a header survived
            with pytest.raises(CaptureFormatError):
                CaptureReader(cut_path)
            continue
        got = read_every_way(cut_path)
        expected = expected_records(lines)
        assert got["records"] == expected, cut
        assert got["text"] == b"".join(line + b"\n" for line in lines), cut
        assert got["frames"] == expected_frames(expected), cut
        assert got["raw"] == lines[1:], cut
        assert got["lines"] == len(lines), cut
        if cut == len(raw):
            assert got["torn"] is False
        elif not got["torn"]:  # only a cut exactly between two zstd frames looks whole
            assert raw[cut : cut + 4] == ZSTD_MAGIC, cut


def test_reading_resumes_after_the_last_line_handed_out(tmp_path: Path, read_chunk: int) -> None:
    records = sample(6)
    write(tmp_path / "c.jsonl.zst", records)
    for first in range(len(records) + 1):
        with CaptureReader(tmp_path / "c.jsonl.zst") as reader:
            records_iter = iter(reader)
            head = [next(records_iter) for _ in range(first)]
            assert reader.lines == first + 1  # the header and each record so far
            texts = list(reader.frame_texts())
            assert head == records[:first]
            assert texts == [r.data for r in records[first:] if isinstance(r, Frame)]
            assert reader.lines == len(records) + 1


def test_a_bad_line_split_across_chunks_is_named(tmp_path: Path, read_chunk: int) -> None:
    heartbeat = {"type": "heartbeat", "wall": "w", "conn": 0, "data": "x" * 300}
    body = [json.dumps({**heartbeat, "t": i}) for i in range(3)]
    body.insert(2, "{not json" + "y" * 300)
    path = tmp_path / "c.jsonl.zst"
    with zstandard.ZstdCompressor(write_checksum=True).stream_writer(path.open("wb")) as out:
        for line in [encode_header(HEADER).decode(), *(line + "\n" for line in body)]:
            out.write(line.encode())
            out.flush(zstandard.FLUSH_BLOCK)
    with CaptureReader(path) as reader:
        read: list[Record] = []
        with pytest.raises(CaptureFormatError) as caught:
            read.extend(reader)
    assert caught.value.line == 4 and "not JSON" in caught.value.problem
    assert [r.t for r in read] == [0, 1]
