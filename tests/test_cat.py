"""`ttrec cat` as the `ttrec` process runs it: the fast path that skips click, checked
against the text python-zstandard decompresses on its own, whole, torn and damaged.

The process's own entry point (`python -m ttrec` runs ttrec.cat.main) runs in a real
process where the process is the subject (what it imports, its stdout pipe closed early,
one whole cat); the other runs call the same entry point in this process (`cat_main`),
with sys.argv set and stdout and stderr captured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from test_cli_capture import write_match

from ttrec.cat import main

TIMEOUT_S = 60


def ttrec(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ttrec", *args], capture_output=True, timeout=TIMEOUT_S, check=False, **kwargs
    )


def cat_main(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """`ttrec cat ARGS` through the process's entry point (ttrec.cat.main), in this process."""
    monkeypatch.setattr(sys, "argv", ["ttrec", "cat", *args])
    capsysbinary.readouterr()  # nothing from before
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsysbinary.readouterr()
    code = exited.value.code
    assert code is None or isinstance(code, int), code
    return subprocess.CompletedProcess(args, code or 0, out, err)


def decompressed(raw: bytes) -> bytes:
    """Everything decodable from `raw`: python-zstandard yields a torn last frame's prefix."""
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return reader.read()


def test_cat_prints_exactly_the_decompressed_text(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    done = ttrec("cat", str(path))
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == decompressed(path.read_bytes())


def test_cat_does_not_load_click_nor_the_record_classes(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    probe = (
        "import sys; from ttrec.cat import main; sys.argv = ['ttrec', 'cat', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'click', 'ttrec.records', 'dataclasses', 'orjson'}\n"
        "print(*sorted(heavy & set(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, timeout=TIMEOUT_S, check=True
    )
    # plain cat loads neither click nor the record classes (dataclasses, orjson): start-up
    assert done.stderr.strip() == b""
    assert done.stdout == decompressed(path.read_bytes())


def test_frames_prints_each_payload_on_its_line(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path)
    for args in (["--frames", str(path)], [str(path), "--frames"]):
        done = cat_main(capsysbinary, monkeypatch, *args)
        assert done.returncode == 0 and done.stderr == b""
        assert done.stdout.decode().splitlines() == datas


def test_a_torn_tail_prints_every_complete_line_and_says_so(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.jsonl.zst"
    write_match(path, close=False)  # the last zstd frame was never ended
    raw = path.read_bytes()
    for cut in (len(raw), len(raw) - 7, len(raw) // 2):
        path.write_bytes(raw[:cut])
        text = decompressed(raw[:cut])
        done = cat_main(capsysbinary, monkeypatch, str(path))
        assert done.returncode == 0
        assert done.stdout == text[: text.rfind(b"\n") + 1]
        assert b"torn tail" in done.stderr and len(done.stderr.splitlines()) == 1
        frames = cat_main(capsysbinary, monkeypatch, "--frames", str(path))
        assert frames.returncode == 0 and b"torn tail" in frames.stderr
        assert frames.stdout.count(b"\n") == text[: text.rfind(b"\n") + 1].count(b'"type":"frame"')


def test_damage_keeps_what_came_before_and_is_one_error_line(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    whole = path.read_bytes()
    # Two captures in one file, the second one's frame header broken: the first is intact.
    broken = whole + b"\x28\xb5\x2f\xfd" + b"\xff" * 64
    path.write_bytes(broken)
    done = cat_main(capsysbinary, monkeypatch, str(path))
    assert done.returncode == 1
    assert done.stdout == decompressed(whole)
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: corrupt zstd data")


def test_what_is_not_a_capture_is_reported_by_the_usual_command(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.jsonl.zst"
    path.write_bytes(b"garbage")
    done = cat_main(capsysbinary, monkeypatch, str(path))
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().splitlines() == [f"Error: {path}: not a zstd file (is it a ttrec capture?)"]
    assert cat_main(capsysbinary, monkeypatch, str(tmp_path)).returncode == 2  # a directory: a usage error


def test_a_reader_that_leaves_early_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    # Big enough that the pipe (64 KiB) fills before the reader leaves.
    big = tmp_path / "big.jsonl.zst"
    text = decompressed(path.read_bytes())
    header, _, body = text.partition(b"\n")
    big.write_bytes(zstandard.compress(header + b"\n" + body * 200))
    with subprocess.Popen(
        [sys.executable, "-m", "ttrec", "cat", str(big)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(10) == b'{"type":"h'
        process.stdout.close()
        assert process.wait(timeout=TIMEOUT_S) == 0
        assert process.stderr.read() == b""
