"""Every command that reads a capture takes it the same way (ttrec.cli.params.CaptureInput):
a bundled sample's name from any directory, and a missing file is one line and exit 1."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Final

import pytest
from click.testing import CliRunner, Result

from ttrec.bundled import sample_path
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.records import Frame

SAMPLE: Final = "sample-singles-bo5"


def _args(command: str, capture: str, out: Path) -> list[str]:
    """Arguments that make `command` read `capture` (twice for the commands that join
    several) and, for those that write one, a new capture `out`."""
    return {
        "info": ["info", capture],
        "check": ["check", capture],
        "cat": ["cat", capture],
        "truth": ["truth", capture],
        "slice": ["slice", capture, "-o", str(out), "--seq", "10..40"],
        "warp": ["warp", capture, "-o", str(out), "--scale", "0.5"],
        "splice": ["splice", capture, capture, "-o", str(out)],
        "merge": ["merge", capture, capture, "-o", str(out)],
    }[command]


READERS: Final = ["info", "check", "cat", "truth", "slice", "warp", "splice", "merge"]


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def _frames(path: Path) -> list[str]:
    return [r.data for r in read_capture(path)[1] if isinstance(r, Frame)]


@pytest.mark.parametrize("command", READERS)
def test_a_bundled_sample_is_taken_by_name_from_any_directory(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no captures/ here: only the name can find the sample
    by_path = _invoke(_args(command, str(sample_path(SAMPLE)), tmp_path / "by-path.jsonl.zst"))
    by_name = _invoke(_args(command, SAMPLE, tmp_path / "by-name.jsonl.zst"))
    assert by_path.exit_code == 0, by_path.output
    assert by_name.exit_code == 0, by_name.stderr
    if (tmp_path / "by-path.jsonl.zst").exists():  # a derived capture: the same frames
        by_name_frames = _frames(tmp_path / "by-name.jsonl.zst")
        assert by_name_frames and by_name_frames == _frames(tmp_path / "by-path.jsonl.zst")
    else:  # what it prints names the file it read, so it is the same as given by path
        assert by_name.output and by_name.output == by_path.output


def test_verdict_takes_a_sample_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    truth = _invoke(["truth", str(sample_path(SAMPLE))])
    last = truth.stdout.splitlines()[-1]
    (tmp_path / "right.jsonl").write_text(last + "\n")
    assert _invoke(["verdict", SAMPLE, "right.jsonl"]).exit_code == 0
    wrong = last.replace('"finished":true', '"finished":false')
    assert wrong != last
    (tmp_path / "wrong.jsonl").write_text(wrong + "\n")
    by_name = _invoke(["verdict", SAMPLE, "wrong.jsonl"])
    assert by_name.exit_code == 1 and "finished" in by_name.stdout
    assert by_name.stdout == _invoke(["verdict", str(sample_path(SAMPLE)), "wrong.jsonl"]).stdout


def test_a_file_named_like_a_sample_is_read_not_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's own file is never shadowed by a bundled sample's name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / SAMPLE).write_bytes(b"not a capture")
    result = _invoke(["truth", SAMPLE])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {SAMPLE}")


@pytest.mark.parametrize("command", [*READERS, "verdict-truth", "verdict-beliefs", "serve"])
def test_a_missing_input_is_one_line_and_exit_1_for_every_command(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl.zst"
    out = tmp_path / "out.jsonl.zst"
    present = str(sample_path(SAMPLE))
    if command == "verdict-truth":
        (tmp_path / "beliefs.jsonl").write_text('{"seq": 5}\n')
        args = ["verdict", str(missing), str(tmp_path / "beliefs.jsonl")]
    elif command == "verdict-beliefs":
        args = ["verdict", present, str(missing)]
    elif command == "serve":  # fails before it listens
        args = ["serve", str(missing)]
    elif command in ("splice", "merge"):  # the missing one after one that reads
        args = [command, present, str(missing), "-o", str(out)]
    else:
        args = _args(command, str(missing), out)
    result = _invoke(args)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {missing}: {os.strerror(errno.ENOENT)}\n"  # the same words everywhere
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["beliefs.jsonl"])  # nothing written


def test_check_reports_a_missing_capture_and_still_checks_the_others(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl.zst"
    result = _invoke(["check", str(missing), SAMPLE])
    assert result.exit_code == 1
    assert f"Error: {missing}: No such file or directory" in result.stderr
    assert f"{sample_path(SAMPLE)}: ok" in result.stderr


@pytest.mark.parametrize("command", ["cat", "truth", "warp"])
def test_a_directory_is_a_usage_error(command: str, tmp_path: Path) -> None:
    result = _invoke(_args(command, str(tmp_path), tmp_path / "out.jsonl.zst"))
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "is a directory" in result.stderr
