"""`ttrec verdict TRUTH BELIEFS` refuses a TRUTH that is not one: a wrong file must neither
pass a consumer nor blame it (docs/verdict.md: TRUTH is a capture or what `ttrec truth`
printed). Over click's CliRunner on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttrec.cli import cli
from ttrec.simulator import simulate_match, write_capture

MATCH = simulate_match(seed=11, best_of=3)


def _truth_file(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    capture = write_capture(MATCH, tmp_path / "m.jsonl.zst")
    printed = CliRunner().invoke(cli, ["truth", str(capture)])
    assert printed.exit_code == 0
    path = tmp_path / "truth.jsonl"
    path.write_text(printed.output)
    return path, [json.loads(line) for line in printed.output.splitlines()]


def _verdict(truth: Path, beliefs: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["verdict", str(truth), "-"], input=beliefs)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda line: {**line, "schema": "other/9"}, "schema 'other/9'"),
        (lambda line: {k: v for k, v in line.items() if k != "schema"}, "schema None"),
        (lambda line: {"seq": line["seq"], "sets": line["sets"]}, "schema None"),  # a beliefs line
        (lambda line: {k: v for k, v in line.items() if k != "winner"}, "no winner"),
        (lambda line: {**line, "seq": str(line["seq"])}, "seq is not an integer"),
    ],
)
def test_a_truth_line_that_is_not_one_is_refused_by_its_line_number(tmp_path: Path, change, problem) -> None:  # type: ignore[no-untyped-def]
    path, lines = _truth_file(tmp_path)
    lines[2] = change(lines[2])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    belief = json.dumps({"seq": lines[0]["seq"], "sets": lines[0]["sets"]}) + "\n"  # true
    result = _verdict(path, belief)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: {path}:3: not a ttrec.truth/1 line ({problem}; see `ttrec truth --help`)"
    ]


def test_an_empty_truth_file_is_refused_instead_of_blaming_the_consumer(tmp_path: Path) -> None:
    _, lines = _truth_file(tmp_path)
    empty = tmp_path / "t_empty.jsonl"  # `ttrec truth typo > t_empty.jsonl` failed
    empty.write_text("")
    last = lines[-1]
    result = _verdict(empty, json.dumps({"seq": last["seq"], "winner": last["winner"]}) + "\n")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: {empty}: no truth line: neither a capture nor what `ttrec truth` prints"
    ]


def test_what_ttrec_truth_printed_is_accepted_and_still_judges(tmp_path: Path) -> None:
    path, lines = _truth_file(tmp_path)
    last = lines[-1]
    right = json.dumps({"seq": last["seq"], "winner": last["winner"]}) + "\n"
    wrong = json.dumps({"seq": last["seq"], "winner": "away" if last["winner"] == "home" else "home"}) + "\n"
    assert _verdict(path, right).exit_code == 0
    judged = _verdict(path, wrong)
    assert judged.exit_code == 1 and judged.stdout.startswith("beliefs line 1: at seq ")
