"""ttrec.text_lines, the quick reading of frame and heartbeat lines apart from the record
classes: `cat --frames` loads those only for a line the quick way passes on. (What the
quick way reads is compared with the stdlib's in tests/test_records_fast.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ttrec.capture import CaptureWriter
from ttrec.records import Frame, Header, Heartbeat, Open, Record
from ttrec.text_lines import TextShell

TIMEOUT_S = 60
HEADER = Header("f-1", "ws://127.0.0.1:1/x", "recorded", "2026-11-24T07:00:00Z")
# Runs `cat --frames` as the `ttrec` process does, then names the record classes' module
# if it was loaded.
PROBE = (
    "import sys; from ttrec.cat import main; sys.argv = ['ttrec', 'cat', '--frames', sys.argv[1]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('ttrec.records' in sys.modules, file=sys.stderr)"
)


def frames_and_loaded(path: Path, records: list[Record]) -> tuple[list[str], bool]:
    """The lines `cat --frames` prints of a capture of `records`, and whether it loaded
    ttrec.records to do it."""
    with CaptureWriter(path, HEADER) as writer:
        for record in records:
            writer.write(record)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, timeout=TIMEOUT_S, check=True
    )
    return done.stdout.decode().splitlines(), {b"True": True, b"False": False}[done.stderr.strip()]


def test_cat_frames_reads_the_writers_frames_without_the_record_classes(tmp_path: Path) -> None:
    records: list[Record] = [
        Frame(1, "w", 0, '{"seqNum":1,"name":"é \\" \\n"}'),
        Heartbeat(2, "w", 0, '{"message":"Heartbeat","level":"INFO"}'),
        Frame(3, "w", 1, "x", redacted=True),
    ]
    texts, loaded = frames_and_loaded(tmp_path / "a.jsonl.zst", records)
    assert texts == ['{"seqNum":1,"name":"é \\" \\n"}', "x"] and not loaded


def test_a_line_the_quick_way_passes_on_loads_them(tmp_path: Path) -> None:
    records: list[Record] = [Open(0, "w", 0, "ws://127.0.0.1:1/x"), Frame(1, "w", 0, "x")]
    texts, loaded = frames_and_loaded(tmp_path / "a.jsonl.zst", records)
    assert texts == ["x"] and loaded  # the open record is checked the careful way


def test_the_shell_has_the_slots_of_the_records_it_becomes() -> None:
    # Assigning __class__ needs one layout; Python compares the slots, not their order.
    for cls in (Frame, Heartbeat):
        assert sorted(cls.__slots__) == sorted(TextShell.__slots__)
        assert TextShell.__slots__ == tuple(sorted(TextShell.__slots__))  # as ruff keeps them
