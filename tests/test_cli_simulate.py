"""`ttrec simulate` through click's CliRunner, and its captures through `check` and `info`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec import __version__
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.records import Frame
from ttrec.simulated_points import PointModel
from ttrec.simulator import simulate_match
from ttrec.testing.strategies import seeds


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_writes_the_simulated_match(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    result = run("simulate", "--seed", "12", "--best-of", "7", "--doubles", "-o", out)
    assert result.exit_code == 0, result.output
    match = simulate_match(12, best_of=7, doubles=True)
    header, records = read_capture(out)
    assert header == match.header
    assert tuple(records) == match.records
    assert header.source == "simulated" and header.extra["seed"] == 12
    scores = " ".join(f"{h}-{a}" for h, a in match.sets)
    assert result.output.startswith(f"{out}: seed 12, best of 7 doubles, {match.home.name} ")
    assert f"({scores}), {len(match.actions)} frames" in result.output


def test_same_seed_and_options_give_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert run("simulate", "--seed", "99", "--best-of", "3", "-o", tmp_path / name).exit_code == 0
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert run("simulate", "--seed", "99", "--best-of", "3", "--doubles", "-o", tmp_path / "c").exit_code == 0
    assert (tmp_path / "c").read_bytes() != (tmp_path / "a").read_bytes()


def test_options_reach_the_header_and_frames(tmp_path: Path) -> None:
    fixture = "0b7f3a52-2c1e-4d3b-9f00-5a6b7c8d9e0f"
    out = tmp_path / "m.jsonl.zst"
    result = run(
        "simulate", "--seed", "3", "--fixture-id", fixture.upper(), "--start", "2027-02-03T04:05:06+01:00",
        "--base-url", "ws://127.0.0.1:8765", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, records = read_capture(out)
    assert header.fixture_id == fixture and header.created == "2027-02-03T03:05:06.000000Z"
    assert header.url == f"ws://127.0.0.1:8765/v2/tabletennis/fixtures/{fixture}/statistics"
    frames = [json.loads(r.data) for r in records if isinstance(r, Frame)]
    assert {f["fixtureId"] for f in frames} == {fixture}
    assert frames[0]["timestamp"].startswith("2027-02-03T03:0")


def test_default_file_name_names_seed_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("simulate", "--seed", "5", "--best-of", "3", "--doubles")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sim-5-bo3-doubles.jsonl.zst").is_file()


def test_without_a_seed_one_is_drawn_and_recorded(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    result = run("simulate", "-o", out)
    assert result.exit_code == 0, result.output
    seed = read_capture(out)[0].extra["seed"]
    assert f": seed {seed}, " in result.output
    again = tmp_path / "again.jsonl.zst"
    assert run("simulate", "--seed", str(seed), "-o", again).exit_code == 0
    assert again.read_bytes() == out.read_bytes()


def test_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    out.write_bytes(b"precious")
    result = CliRunner().invoke(cli, ["simulate", "--seed", "1", "-o", str(out)])
    assert result.exit_code == 2  # the path given is refused: a usage error (docs/outputs.md)
    assert "already exists" in result.output and len(result.output.strip().splitlines()) == 1
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--best-of", "4"], "--best-of"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "--seed"),
        (["--fixture-id", "not-a-uuid"], "--fixture-id"),
        (["--start", "2026-01-01T00:00:00"], "time zone"),
        (["--start", "yesterday"], "--start"),
        (["--base-url", "https://example.com"], "ws://"),
        (["--point-prob", "1.5"], "--point-prob"),
        (["--point-prob", "0.5", "--serve-advantage", "0.02"], "cannot be combined"),
        (["--point-prob", "0.5", "--strength-spread", "0.1"], "cannot be combined"),
        (["--strength-spread", "-0.1"], "--strength-spread"),
        (["--serve-advantage", "0.26"], "--serve-advantage"),
        (["--strength-spread", "0.16"], "--strength-spread"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", *args, "-o", str(tmp_path / "m.jsonl.zst")])
    assert result.exit_code == 2 and complaint in result.output
    assert not (tmp_path / "m.jsonl.zst").exists()


@pytest.mark.parametrize(("chance", "game"), [("1", (11, 0)), ("0", (0, 11))])
def test_a_certain_point_prob_decides_every_point(tmp_path: Path, chance: str, game: tuple[int, int]) -> None:
    """P = 1: home wins every point, so every game 11-0 and the fewest games possible."""
    out = tmp_path / "m.jsonl.zst"
    assert run("simulate", "--seed", "4", "--best-of", "7", "--point-prob", chance, "-o", out).exit_code == 0
    summary = json.loads(run("info", "--json", out).output)
    assert summary["sets"] == [list(game)] * 4
    header, _ = read_capture(out)
    assert header.extra["point_model"] == {
        "point_ppm": int(chance) * 1_000_000,
        "strength_spread_ppm": 0,
        "serve_advantage_ppm": 0,
    }


def test_strength_and_serve_options_reach_the_model(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    args = ["--seed", "4", "--strength-spread", "0", "--serve-advantage", "0.25", "--doubles"]
    assert run("simulate", *args, "-o", out).exit_code == 0
    header, records = read_capture(out)
    assert header.extra["point_model"] == {
        "point_ppm": None,
        "strength_spread_ppm": 0,
        "serve_advantage_ppm": 250_000,
    }
    model = PointModel(strength_spread_ppm=0, serve_advantage_ppm=250_000)
    assert tuple(records) == simulate_match(4, doubles=True, model=model).records
    # Even players, each winning 75 % on serve: the server wins far more than half.
    points = [p for seed in range(20) for p in simulate_match(seed, model=model).points]
    assert sum(p.winner == p.server for p in points) / len(points) > 0.7


def test_defaults_are_the_documented_model(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    assert run("simulate", "--seed", "4", "-o", out).exit_code == 0
    # docs/simulator.md: strength spread 0.075, serve advantage 0.03 in singles
    assert read_capture(out)[0].extra["point_model"] == {
        "point_ppm": None,
        "strength_spread_ppm": 75_000,
        "serve_advantage_ppm": 30_000,
    }


def test_help_and_version() -> None:
    result = run("simulate", "--help")
    assert result.exit_code == 0 and "ttrec simulate --seed" in result.output
    assert run("simulate", "--version").output.strip().endswith(__version__)


@settings(max_examples=20, deadline=None)
@given(seeds(), st.sampled_from(["3", "5", "7"]), st.sampled_from(["--singles", "--doubles"]))
def test_every_simulated_capture_passes_check_and_info_reports_what_was_played(
    seed: int, best_of: str, kind: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "m.jsonl.zst"
        assert run("simulate", "--seed", str(seed), "--best-of", best_of, kind, "-o", out).exit_code == 0
        checked = run("check", out)
        assert checked.exit_code == 0, checked.output
        info = run("info", "--json", out)
        assert info.exit_code == 0, info.output
        summary = json.loads(info.output)
    match = simulate_match(seed, best_of=int(best_of), doubles=kind == "--doubles")
    assert summary["winner"] == match.winner
    assert summary["sets"] == [list(score) for score in match.sets]
    assert summary["finished"] is True and summary["source"] == "simulated"
    assert summary["frames"] == len(match.actions)
    # seqNums are the timeline's fixtureSeqNums: the gaps are the runs of uncounted actions.
    counted = {i for i, event in enumerate(match.events, start=1) if event.counted}
    gaps: list[list[int]] = []
    for seq in range(min(counted), len(match.events) + 1):
        if seq in counted:
            continue
        if gaps and gaps[-1][1] == seq - 1:
            gaps[-1][1] = seq
        else:
            gaps.append([seq, seq])
    assert (summary["first_seq"], summary["last_seq"]) == (min(counted), len(match.events))
    assert summary["seq_gaps"] == gaps
    assert summary["teams"] == {"home": match.home.name, "away": match.away.name}
    assert summary["heartbeats"] > 0 and summary["connections"] == 1 and summary["torn_tail"] is False


@pytest.mark.parametrize("scenario", ["dropped", "suspended"])
def test_a_correction_at_match_point_that_never_came_is_said(tmp_path: Path, scenario: str) -> None:
    from ttrec.truth import truths

    out = tmp_path / "m.jsonl.zst"
    result = run(
        "simulate", "--seed", "7", "--scenario", scenario, "--correction-at", "match-point", "-o", out
    )
    assert result.exit_code == 0
    _, records = read_capture(out)
    last = list(truths([r.data for r in records if isinstance(r, Frame)]))[-1]
    # warned exactly when the capture holds no correction (seed 7 is dropped in game 2)
    assert ("corrected nothing" in result.stderr) == (last.corrections == 0)
    assert last.corrections == (0 if scenario == "dropped" else 1)
