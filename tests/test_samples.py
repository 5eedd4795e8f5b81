"""The bundled sample captures: made by `ttrec simulate`, small, and never drifting from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from ttrec.actions import STATUS_UPDATED, TIMEOUT, parse_packet
from ttrec.bundled import SAMPLES, SampleSpec, actions_sample_paths, sample_path, sample_paths, samples_dir
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.match import POINT_SCORED
from ttrec.outputs import feed_file
from ttrec.records import Frame, Heartbeat

REPO_CAPTURES = Path(__file__).resolve().parent.parent / "captures"
MAX_SAMPLE_BYTES = 300_000


def text_of(path: Path) -> str:
    with path.open("rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read().decode()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_is_exactly_what_simulate_makes(tmp_path: Path, name: str) -> None:
    spec = SAMPLES[name]
    fresh = tmp_path / f"{name}.jsonl.zst"
    result = CliRunner().invoke(cli, ["simulate", *spec.simulate_args(), "-o", str(fresh)])
    assert result.exit_code == 0, result.output
    committed = REPO_CAPTURES / f"{name}.jsonl.zst"
    regenerate = f"rm {committed.name} && ttrec simulate {' '.join(spec.simulate_args())} -o {committed.name}"
    # Compare the content first: a difference there means the simulator changed.
    assert text_of(fresh) == text_of(committed), f"the simulator drifted; in captures/ run: {regenerate}"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"zstd output changed; in captures/ run: {regenerate}"
    )
    if spec.pair:
        fresh_actions, committed_actions = (feed_file(p, "actions") for p in (fresh, committed))
        assert text_of(fresh_actions) == text_of(committed_actions), (
            f"the simulator drifted; run: {regenerate}"
        )
        assert fresh_actions.read_bytes() == committed_actions.read_bytes(), (
            f"zstd output changed: {regenerate}"
        )


@pytest.mark.parametrize("path", sample_paths() + actions_sample_paths(), ids=lambda p: p.name)
def test_sample_is_small_and_valid(path: Path) -> None:
    assert path.stat().st_size < MAX_SAMPLE_BYTES
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output


def summary(name: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["info", "--json", str(samples_dir() / f"{name}.jsonl.zst")])
    assert result.exit_code == 0, result.output
    info: dict[str, object] = json.loads(result.output)
    return info


def test_singles_sample_is_a_best_of_five_singles_match() -> None:
    info = summary("sample-singles-bo5")
    sets = info["sets"]
    assert isinstance(sets, list) and 3 <= len(sets) <= 5 and info["winner"] is not None
    assert isinstance(info["teams"], dict) and all("/" not in name for name in info["teams"].values())


def test_doubles_sample_goes_to_a_deciding_fifth_game() -> None:
    info = summary("sample-doubles-bo5-decider")
    assert isinstance(info["sets"], list) and len(info["sets"]) == 5
    assert isinstance(info["teams"], dict) and all("/" in name for name in info["teams"].values())


def test_best_of_seven_sample_has_a_long_deuce() -> None:
    header, records = read_capture(samples_dir() / "sample-bo7-long-deuce.jsonl.zst")
    assert header.extra["best_of"] == 7
    info = summary("sample-bo7-long-deuce")
    assert isinstance(info["sets"], list) and max(max(score) for score in info["sets"]) >= 16
    assert sum(isinstance(r, Frame) for r in records) == info["frames"]


def test_samples_are_distinct_fixtures_with_distinct_players() -> None:
    headers = [read_capture(path)[0] for path in sample_paths()]
    assert len({h.fixture_id for h in headers}) == len(SAMPLES)
    names = [team["name"] for h in headers for team in h.extra["teams"]]
    players = [player for name in names for player in name.split(" - ")[1].split("/")]
    assert len(set(players)) == len(players)


def test_sample_paths_are_the_named_samples_only() -> None:
    paths = sample_paths()
    assert [p.name for p in paths] == [f"{name}.jsonl.zst" for name in SAMPLES]
    assert all(p.is_file() for p in paths)
    # In a checkout (editable install) they are read from captures/ itself.
    assert samples_dir() == REPO_CAPTURES


def test_sample_arguments_name_every_option() -> None:
    assert SampleSpec(seed=3, best_of=7, doubles=True).simulate_args() == [
        "--seed", "3", "--best-of", "7", "--doubles",
    ]  # fmt: skip


@pytest.mark.parametrize("name", list(SAMPLES))
def test_info_takes_a_sample_by_name_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no captures/ here: the name alone must find the sample
    by_name = CliRunner().invoke(cli, ["info", "--json", name])
    by_path = CliRunner().invoke(cli, ["info", "--json", str(samples_dir() / f"{name}.jsonl.zst")])
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.output)["fixture_id"] == json.loads(by_path.output)["fixture_id"]


def test_a_file_of_a_sample_name_in_the_directory_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's own file is never shadowed by a bundled sample's name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample-singles-bo5").write_text("not a capture")
    result = CliRunner().invoke(cli, ["info", "sample-singles-bo5"])
    assert result.exit_code == 1


def test_the_pair_has_a_correction_a_time_out_and_a_suspended_collection() -> None:
    """What the messy pair promises, read from its actions capture alone."""
    [actions_path] = actions_sample_paths()
    header, records = read_capture(actions_path)
    assert header.feed == "actions" and header.url.endswith("/actions")
    packets = [parse_packet(r.data) for r in records if isinstance(r, Frame)]
    assert [p.seq for p in packets] == list(range(1, len(packets) + 1))
    corrected = [p for p in packets if p.send_type == "Updated"]
    assert len(corrected) == 1 and corrected[0].related
    assert corrected[0].related[0] in {p.action_id for p in packets if p.type_id == POINT_SCORED}
    assert any(p.type_id == TIMEOUT for p in packets)
    statuses = [p.summary.collection_status for p in packets if p.type_id == STATUS_UPDATED and p.summary]
    suspended = statuses.index("CollectionSuspended")
    assert statuses[suspended + 1] == "CollectingLive"
    # Nothing but heartbeats while the collection is suspended, for longer than a rest.
    at = next(i for i, r in enumerate(records) if isinstance(r, Frame) and "CollectionSuspended" in r.data)
    following = next(i for i in range(at + 1, len(records)) if isinstance(records[i], Frame))
    assert records[following].t - records[at].t > 60 * 1_000_000_000
    assert all(isinstance(r, Heartbeat) for r in records[at + 1 : following]) and following - at > 5
    statistics_header, _ = read_capture(sample_path("sample-pair-messy"))
    assert statistics_header.fixture_id == header.fixture_id and statistics_header.feed == "statistics"


# --- what `ttrec serve` serves of them ------------------------------------------------------


class _Served(Exception):
    """Raised in place of serving: the test wanted only the captures the command chose."""


def served_by(monkeypatch: pytest.MonkeyPatch, *args: str) -> list[Path]:
    import ttrec.cli.serve

    chosen: list[Path] = []

    def instead(captures: list[Path], *_: object, **__: object) -> None:
        chosen.extend(captures)
        raise _Served

    monkeypatch.setattr(ttrec.cli.serve, "run_server", instead)
    result = CliRunner().invoke(cli, ["serve", *args])
    assert isinstance(result.exception, _Served), result.output
    return chosen


def test_serve_with_no_capture_serves_every_bundled_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    on_disk = sorted(p for p in samples_dir().glob("*.jsonl.zst") if p.name.split(".")[0] in SAMPLES)
    assert len(on_disk) == len(SAMPLES) + sum(spec.pair for spec in SAMPLES.values())
    assert sorted(served_by(monkeypatch)) == on_disk


def test_serve_by_a_pairs_name_serves_both_its_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    (pair,) = [name for name, spec in SAMPLES.items() if spec.pair]
    statistics = samples_dir() / f"{pair}.jsonl.zst"
    assert served_by(monkeypatch, pair) == [statistics, feed_file(statistics, "actions")]
    single = next(name for name, spec in SAMPLES.items() if not spec.pair)
    assert served_by(monkeypatch, single) == [samples_dir() / f"{single}.jsonl.zst"]


def test_serve_help_names_every_sample() -> None:
    shown = CliRunner().invoke(cli, ["serve", "--help"]).output
    assert [name for name in SAMPLES if name not in shown] == []


def test_the_docs_quote_the_default_samples_figures_as_they_are() -> None:
    """README and docs/harness.md quote the default sample's counts in their examples; they
    drifted once when the samples were made again (220 frames quoted, 192 served)."""
    _, records = read_capture(sample_path("sample-singles-bo5"))
    frames = [r for r in records if isinstance(r, Frame)]
    heartbeats = [r for r in records if isinstance(r, Heartbeat)]
    last_seq = json.loads(frames[-1].data)["seqNum"]
    root = REPO_CAPTURES.parent
    readme, harness = (root / "README.md").read_text(), (root / "docs" / "harness.md").read_text()
    quoted_frames = re.findall(r"singles match, (\d+) data frames", readme)
    quoted_frames += re.findall(r"frames_sent == (\d+)|add == (\d+)|of (\d+) frames released", harness)
    flat = [int(next(g for g in q if g)) if isinstance(q, tuple) else int(q) for q in quoted_frames]
    assert len(flat) >= 5 and set(flat) == {len(frames)}, flat
    entry = re.search(r'"heartbeats_sent": (\d+), .*?"last_seq": (\d+)', harness)
    assert entry is not None and (int(entry[1]), int(entry[2])) == (len(heartbeats), last_seq)
