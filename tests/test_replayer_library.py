"""replayer.library keeps the captures a process has loaded: the same path and content loads
once (a server per test reads and indexes each capture once), and anything else is read
again: another content at the same path, even with the file's modification time put back,
and a file that changed while it was read is not kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from replayer_support import FIXTURE, frame_text, frames_every, texts, write_capture

import replayer.library
from replayer.library import load_fixture, load_fixtures
from ttrec.records import Frame


def _frame_texts(path: Path) -> list[str]:
    timeline = load_fixture(path).timeline
    return [str(timeline.messages[i].payload) for i in timeline.frame_positions]


def test_the_same_capture_loads_once_with_what_was_found_in_it(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "a.jsonl.zst", frames_every(5, 1.0))
    first = load_fixture(path)
    moments = first.timeline.moment_index()
    again = load_fixtures([tmp_path])[(FIXTURE, "statistics")]
    assert again is first and again.timeline.moment_index() is moments  # found once
    # Another path to the same file is another fixture: its path is in what the server says.
    relative = Path(os.path.relpath(path))
    assert load_fixture(relative).path == relative


def test_a_capture_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.zst"
    before = frames_every(5, 1.0)
    write_capture(path, before)
    assert _frame_texts(path) == texts(before)
    stat = path.stat()
    after = [Frame(r.t, r.wall, r.conn, frame_text(i + 4)) for i, r in enumerate(before)]
    # The same inode (written through, not replaced), the same length of every frame,
    path.write_bytes(write_capture(tmp_path / "other.jsonl.zst", after).read_bytes())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the modification time put back
    assert _frame_texts(path) == texts(after)


def test_a_capture_that_changes_while_it_is_read_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    five = write_capture(tmp_path / "five.jsonl.zst", frames_every(5, 1.0)).read_bytes()
    six = write_capture(tmp_path / "six.jsonl.zst", frames_every(6, 1.0)).read_bytes()
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(five)
    reader = replayer.library.CaptureReader

    def rewritten_before_the_read(where: Path) -> replayer.library.CaptureReader:
        path.write_bytes(six)  # after the digest of five was taken
        return reader(where)

    with monkeypatch.context() as patched:
        patched.setattr(replayer.library, "CaptureReader", rewritten_before_the_read)
        assert load_fixture(path).timeline.frames == 6
    path.write_bytes(five)  # back to the content whose digest was taken: not the six frames
    assert load_fixture(path).timeline.frames == 5
