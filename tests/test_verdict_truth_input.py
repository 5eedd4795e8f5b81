"""`ttrec verdict TRUTH BELIEFS` refuses a TRUTH that is not one: a wrong file must neither
pass a consumer nor blame it (docs/verdict.md: TRUTH is a capture or what `ttrec truth`
printed). Over click's CliRunner on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttrec.cli import cli
from ttrec.records import Frame
from ttrec.simulated_incidents import Incidents
from ttrec.simulator import simulate_match, write_capture
from ttrec.truth import Truth, line_problem, truths

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
        (lambda line: {k: v for k, v in line.items() if k != "schema"}, "no schema"),
        (lambda line: {"seq": line["seq"], "sets": line["sets"]}, "no schema"),  # a beliefs line
        (lambda line: {k: v for k, v in line.items() if k != "winner"}, "no winner"),
        (lambda line: {**line, "seq": "3"}, 'seq "3" is not what a truth line holds there'),
        (lambda line: {**line, "seq": True}, "seq true is not what a truth line holds there"),
        (lambda line: {**line, "sets": None}, "sets null is not what a truth line holds there"),
        (lambda line: {**line, "sets_won": "x"}, 'sets_won "x" is not what a truth line holds there'),
        (lambda line: {**line, "server": 5}, "server 5 is not what a truth line holds there"),
        (lambda line: {**line, "finished": 1}, "finished 1 is not what a truth line holds there"),
        (
            lambda line: {**line, "moment": "set-point"},
            'moment "set-point" is not what a truth line holds there',
        ),
        (
            lambda line: {**line, "teams": {"host": "a"}},
            'teams {"host": "a"} is not what a truth line holds there',
        ),
        (lambda line: {**line, "frame": 0}, "frame 0 is not what a truth line holds there"),
        (lambda line: {**line, "seq": -7}, "seq -7 is not what a truth line holds there"),
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


@pytest.mark.parametrize("feed", ["statistics", "actions"])
@pytest.mark.parametrize("scenario", ["completed", "suspended", "dropped"])
def test_every_truth_line_ttrec_writes_is_one_line_problem_accepts(feed: str, scenario: str) -> None:
    """line_problem names the fields a truth line holds: exactly those `Truth.to_json` writes."""
    for seed in range(4):
        match = simulate_match(seed=seed, best_of=3, incidents=Incidents(scenario=scenario))  # type: ignore[arg-type]
        packets = [r.data for r in match.actions_records if isinstance(r, Frame)]
        texts = packets if feed == "actions" else match.frames
        lines = [state.to_json() for state in truths(texts, feed)]  # type: ignore[arg-type]
        assert lines and all(line_problem(json.loads(json.dumps(line))) is None for line in lines)
        first = lines[0]
        for name in first:
            if name != "schema":
                assert line_problem({k: v for k, v in first.items() if k != name}) == f"no {name}"
    assert Truth.__dataclass_fields__.keys() == first.keys()


def test_truth_help_names_every_field_of_a_truth_line() -> None:
    """verdict's refusals send the user to `ttrec truth --help`: it must name what they cite."""
    shown = " ".join(CliRunner().invoke(cli, ["truth", "--help"]).output.split())
    assert [name for name in Truth.__dataclass_fields__ if f"`{name}`" not in shown] == []
