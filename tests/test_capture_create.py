"""A new capture appears under its name only with its header in it.

What this proves, on the real file system of the test's temporary directory: a capture
file being created is not in its directory until the writer has flushed the header into
it, so a process killed (SIGKILL) between creating it and writing it leaves no file, and
a header the disk refuses leaves none either (it used to leave an empty file, which every
reader rejects as "not a zstd file"); the name is still taken exclusively (an existing
file, or one that appears while the header is written, is refused and left as it was);
and where unnamed files are not available the file is made under its name, as before.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import IO, cast

import pytest
from test_disk_errors import RefusingFile

import ttrec.capture
from ttrec.capture import CaptureReader, CaptureWriter, create_exclusive
from ttrec.errors import CaptureWriteError
from ttrec.records import Frame, Header

FIXTURE = "7d8e0c2a-51b4-4d0e-9c3e-2f1a6b5c4d3e"
HEADER = Header(
    fixture_id=FIXTURE,
    url=f"ws://127.0.0.1:1/v2/tabletennis/fixtures/{FIXTURE}/statistics",
    source="recorded",
    created="2026-11-30T09:00:00Z",
)


def test_the_file_is_named_once_its_header_is_in_it(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.zst"
    file = create_exclusive(path)
    try:
        assert list(tmp_path.iterdir()) == []  # created, written to, and not in the directory
        file.write(b"not yet a capture")
    finally:
        file.close()
    assert list(tmp_path.iterdir()) == []  # closed unnamed: gone with its bytes
    with CaptureWriter(path, HEADER) as writer:
        with CaptureReader(path) as reader:  # named, and readable before any record
            assert reader.header == HEADER and list(reader) == []
        writer.write(Frame(0, "2026-11-30T09:00:00Z", 0, '{"seqNum":1}'))
    with CaptureReader(path) as reader:
        assert [r.data for r in reader] == ['{"seqNum":1}']


def test_a_process_killed_before_its_header_leaves_no_file(tmp_path: Path) -> None:
    # The recorder's way in (recorder/run.py): the file, then the writer on it.
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from ttrec.capture import open_new
        file = open_new(Path(sys.argv[1]))
        file.write(b"half a header")
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    path = tmp_path / "killed.jsonl.zst"
    done = subprocess.run([sys.executable, "-c", script, str(path)], timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_a_header_the_disk_refuses_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "full.jsonl.zst"
    refusing = cast(IO[bytes], RefusingFile(create_exclusive(path), 10, errno.ENOSPC))
    with pytest.raises(CaptureWriteError, match="No space left on device"):
        CaptureWriter(refusing, HEADER, path=path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "theirs.jsonl.zst"
    path.write_bytes(b"someone else's")
    with pytest.raises(CaptureWriteError, match="already exists"):
        CaptureWriter(path, HEADER)
    assert path.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.jsonl.zst"]


def test_a_file_that_appears_while_the_header_is_written_wins(tmp_path: Path) -> None:
    path = tmp_path / "raced.jsonl.zst"
    file = create_exclusive(path)
    path.write_bytes(b"the other recorder's")  # takes the name before ours is published
    with pytest.raises(CaptureWriteError, match="already exists"):
        CaptureWriter(file, HEADER, path=path)
    assert path.read_bytes() == b"the other recorder's"


def test_without_unnamed_files_the_file_is_made_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_tmpfile(target: object, flags: int, *args: object, **kwargs: object) -> int:
        if hasattr(os, "O_TMPFILE") and flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(target, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ttrec.capture.os, "open", no_tmpfile)
    path = tmp_path / "named.jsonl.zst"
    file = create_exclusive(path)
    try:
        assert path.exists() and path.read_bytes() == b""  # the old way: named at once
    finally:
        file.close()
    with pytest.raises(FileExistsError):
        create_exclusive(path)
