"""`ttrec slice`, `splice` and `warp` through click's CliRunner: derived files that `ttrec
check` accepts, headers that say where they came from, one-line errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttrec.capture import CaptureReader, read_capture
from ttrec.cli import cli
from ttrec.feed import seq_num
from ttrec.moments import moments_of_texts
from ttrec.records import Frame
from ttrec.simulator import simulate_match, write_capture

MATCH = simulate_match(seed=8, best_of=5, contiguous_seq=True)  # frames counted 1..N
MOMENTS = list(moments_of_texts(MATCH.frames))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_capture(MATCH, tmp_path / "match.jsonl.zst")


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def seqs(path: Path) -> list[int | None]:
    _, records = read_capture(path)
    return [seq_num(r.data) for r in records if isinstance(r, Frame)]


def test_slice_by_seq_writes_a_derived_capture_that_checks(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "mid.jsonl.zst"
    code, stdout, _ = run("slice", source, "-o", out, "--seq", "120..150")
    assert code == 0 and "31 data frames, seqNum 120..150" in stdout
    assert seqs(out) == list(range(120, 151))
    header, _ = read_capture(out)
    assert header.source == "derived" and header.fixture_id == MATCH.header.fixture_id
    assert header.extra["derived_from"] == [
        {
            "path": str(source),
            "fixture_id": MATCH.header.fixture_id,
            "source": "simulated",
            "operation": "slice seq=120..150",
        }
    ]
    assert run("check", out)[0] == 0


def test_slice_by_set_and_by_moments(source: Path, tmp_path: Path) -> None:
    set_ends = [i + 1 for i, m in enumerate(MOMENTS) if "set-end" in m]  # seqNums
    code, _, _ = run("slice", source, "-o", tmp_path / "set2.jsonl.zst", "--set", "2")
    assert code == 0 and seqs(tmp_path / "set2.jsonl.zst") == list(range(set_ends[0] + 1, set_ends[1] + 1))
    code, _, _ = run("slice", source, "-o", tmp_path / "end.jsonl.zst", "--from", "match-point")
    match_point = next(i + 1 for i, m in enumerate(MOMENTS) if "match-point" in m)
    assert code == 0 and seqs(tmp_path / "end.jsonl.zst") == list(range(match_point, len(MATCH.frames) + 1))
    assert run("check", tmp_path / "set2.jsonl.zst", tmp_path / "end.jsonl.zst")[0] == 0


def test_warp_then_splice_keeps_the_history(source: Path, tmp_path: Path) -> None:
    quick = tmp_path / "quick.jsonl.zst"
    assert run("warp", source, "-o", quick, "--scale", "0.1", "--cap", "2")[0] == 0
    _, records = read_capture(quick)
    assert max(b.t - a.t for a, b in itertools.pairwise(records)) <= 2_000_000_000
    assert run("check", quick)[0] == 0
    head, tail = tmp_path / "head.jsonl.zst", tmp_path / "tail.jsonl.zst"
    assert run("slice", quick, "-o", head, "--seq", "..10")[0] == 0
    assert run("slice", source, "-o", tail, "--seq", "50..60")[0] == 0
    joined = tmp_path / "joined.jsonl.zst"
    code, stdout, _ = run("splice", head, tail, "-o", joined, "--gap", "30")
    assert code == 0 and "21 data frames, seqNum 1..21" in stdout
    header, _ = read_capture(joined)
    first, second = header.extra["derived_from"]
    assert first["operation"] == second["operation"] == "splice 2 parts gap=30s"
    assert first["derived_from"][0]["operation"] == "slice seq=..10"
    assert first["derived_from"][0]["derived_from"][0]["operation"] == "warp scale=0.1 cap=2s"
    assert run("check", joined)[0] == 0  # later frames of the same match: a valid capture


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["slice", "{src}", "-o", "{out}"], 2, "say where to cut"),
        (
            ["slice", "{src}", "-o", "{out}", "--seq", "1..2", "--set", "1"],
            2,
            "--seq and --set were given together",
        ),
        (
            ["slice", "{src}", "-o", "{out}", "--time", "1", "--to", "final"],
            2,
            "--time and --to were given together",
        ),
        (
            ["slice", "{src}", "-o", "{out}", "--seq", "1", "--set", "1", "--time", "1", "--from", "final"],
            2,
            "--seq, --time, --set and --from were given together",
        ),
        (["slice", "{src}", "-o", "{out}", "--time", "abc"], 2, "--time 'abc': expected A..B in seconds"),
        (["slice", "{src}", "-o", "{out}", "--seq", "10..20", "--seq", "30..40"], 2, "--seq: given 2 times"),
        (
            ["slice", "{src}", "-o", "{out}", "--from", "final", "--from", "set-end"],
            2,
            "--from: given 2 times",
        ),
        (["slice", "{src}", "-o", "{out}", "--seq", "x"], 2, "expected N..M"),
        (["slice", "{src}", "-o", "{out}", "--from", "deuce"], 2, "unknown moment"),
        (["slice", "{src}", "-o", "{out}", "--seq", "9000.."], 1, "no data frame"),
        (["slice", "{src}", "-o", "{src}", "--seq", "1.."], 2, "never overwrites"),
        (["splice", "{src}", "-o", "{out}"], 2, "two captures"),
        (["warp", "{src}", "-o", "{out}"], 2, "--scale"),
    ],
)
def test_errors_are_one_line(source: Path, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    filled = [a.format(src=source, out=tmp_path / "out.jsonl.zst") for a in args]
    got, _, stderr = run(*filled)
    assert got == code and message in stderr
    assert len(stderr.splitlines()) == 1, stderr  # usage errors too: one line, not click's four
    if code == 1:
        assert not (tmp_path / "out.jsonl.zst").exists()


@pytest.mark.parametrize("command", ["slice", "warp", "merge"])
def test_an_input_cut_short_by_corrupt_data_is_said_so(source: Path, tmp_path: Path, command: str) -> None:
    """What comes before the damage is used, as for a torn tail, and a warning says so."""
    damaged = tmp_path / "damaged.jsonl.zst"
    raw = bytearray(source.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 40] = bytes(b ^ 0xFF for b in raw[middle : middle + 40])
    damaged.write_bytes(bytes(raw))
    with CaptureReader(damaged) as reader:  # what a reader salvages, and why it stopped
        salvaged = list(reader)
        damage = reader.damage
    assert damage is not None and damage.startswith("corrupt zstd data after line ")
    out = tmp_path / "out.jsonl.zst"
    args = {
        "slice": ["slice", damaged, "-o", out, "--seq", "1.."],
        "warp": ["warp", damaged, "-o", out, "--scale", "2"],
        "merge": ["merge", damaged, damaged, "-o", out],
    }[command]
    code, _, stderr = run(*args)
    assert code == 0, stderr
    warning = f"ttrec: {damaged}: {damage}; using the {len(salvaged)} records before it"
    assert stderr.splitlines().count(warning) == (2 if command == "merge" else 1), stderr
    salvaged_seqs = [seq_num(r.data) for r in salvaged if isinstance(r, Frame)]
    assert seqs(out) == salvaged_seqs and salvaged_seqs


def test_help_has_examples() -> None:
    for name in ("slice", "splice", "warp"):
        code, stdout, _ = run(name, "--help")
        assert code == 0 and "Example" in stdout and f"ttrec {name}" in stdout
