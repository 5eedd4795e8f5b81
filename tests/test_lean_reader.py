"""benchmarks/lean_reader.py: the throughput benchmark's client counts and checks frames
right, so that its figure is one of the server.

Frames are built here by hand from RFC 6455 §5.2 (not by the code under test); the
loopback test reads a replay server at speed max. Loopback only, every wait bounded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType

import pytest
import trio
from benchmark_support import load_benchmark
from replayer_support import ACCEPT, FIXTURE, frames_every, running, texts, write_capture

from replayer import ServeOptions
from ttrec.feed import auth_message


def lean_reader() -> ModuleType:
    return load_benchmark("lean_reader")


lean = lean_reader()


def frame(opcode: int, payload: bytes, *, masked: bool = False) -> bytes:
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x80 | opcode, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, mask_bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, mask_bit | 127]) + struct.pack("!Q", n)
    return head + (b"\0\0\0\0" if masked else b"") + payload


def test_payloads_of_every_length_form_come_back_and_a_partial_frame_waits() -> None:
    payloads = [b"", b"a" * 125, b"b" * 126, b"c" * 65535, b"d" * 65536]
    raw = b"".join(frame(0x1, p) for p in payloads)
    assert lean.messages(raw) == payloads
    # Cut anywhere inside the last frame: only the frames before it are complete.
    last = len(raw) - len(frame(0x1, payloads[-1]))
    for cut in (last + 1, last + 5, last + 10, len(raw) - 1):
        assert lean.messages(raw[:cut]) == payloads[:-1]


def test_a_ping_is_skipped_a_close_or_a_masked_frame_is_an_error() -> None:
    assert lean.messages(frame(0x9, b"p") + frame(0x2, b"\x00\xff")) == [b"\x00\xff"]
    with pytest.raises(lean.LeanReaderError, match="closed by the server after 1"):
        lean.messages(frame(0x1, b"x") + frame(0x8, b"\x03\xe8"))
    with pytest.raises(lean.LeanReaderError, match="masked"):
        lean.messages(frame(0x1, b"x", masked=True))


async def test_it_reads_a_replay_server_at_speed_max(tmp_path: Path) -> None:
    records = frames_every(300, 0.5, pad="x" * 3000)  # ~1 MB: many receives, frames cut across them
    capture = write_capture(tmp_path / "c.jsonl.zst", records)
    with trio.fail_after(20):
        async with running([capture], ServeOptions(speed=None)) as handle:
            raw = await lean.read_messages(handle.fixture_url(FIXTURE), auth_message("t"), 300, ACCEPT)
    assert [m.decode() for m in lean.messages(raw)] == texts(records)
