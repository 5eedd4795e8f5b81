"""Issue 14 §1-3 and §5: one match, two feeds; corrections; collection status; the naive
consumer the new samples break. Expectations come from the simulator's timeline (its ground
truth) or are worked out here, never copied from the output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import mean

import pytest
from click.testing import CliRunner, Result
from frame_factory import FIXTURE, PROVIDER_SAMPLE, stats_frame
from naive_consumer import NaiveConsumerError, consume

from ttrec.actions import COUNTED, STATUS_UPDATED, ActionPacket, parse_packet
from ttrec.bundled import SAMPLES, sample_path
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.derive import rewrite_frame
from ttrec.feed import feed_url
from ttrec.invariants import Checker
from ttrec.match import parse_frame
from ttrec.records import Frame, Header, Heartbeat, Record
from ttrec.simulated_incidents import SUSPENSION, Incidents
from ttrec.simulator import SimulatedMatch, simulate_match
from ttrec.truth import truths

S = 1_000_000_000
NO_CORRECTIONS = Incidents(correction_ppm=0)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def packets(records: tuple[Record, ...] | list[Record]) -> list[ActionPacket]:
    return [parse_packet(r.data) for r in records if isinstance(r, Frame)]


def check(header: Header, records: tuple[Record, ...] | list[Record]) -> Checker:
    checker = Checker(header)
    for line, record in enumerate(records, start=2):
        checker.add(line, record)
    return checker


def renumbered(texts: tuple[str, ...] | list[str]) -> Iterator[str]:
    """The frames with seqNums 1..N: what the naive consumer expects."""
    for index, text in enumerate(texts, start=1):
        frame = parse_frame(text)
        yield rewrite_frame(text, frame.fixture_id, index - frame.seq_num)


# --- §1 one match, two feeds -----------------------------------------------------------------


def test_simulate_writes_both_feeds_of_one_match(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl.zst"
    result = run("simulate", "--seed", "3", "--feeds", "statistics,actions", "-o", out)
    assert result.exit_code == 0, result.output
    match = simulate_match(3)
    stats_header, stats_records = read_capture(out)
    actions_header, actions_records = read_capture(tmp_path / "m.actions.jsonl.zst")
    assert (stats_header.feed, actions_header.feed) == ("statistics", "actions")
    assert stats_header.fixture_id == actions_header.fixture_id == match.fixture_id
    assert actions_header.url == feed_url("wss://dde-streams.data.srarena.io", match.fixture_id, "actions")
    assert actions_header.url.endswith("/actions") and tuple(actions_records) == match.actions_records
    # One packet per action of the timeline, numbered from 1 without gaps.
    sent = packets(actions_records)
    assert [p.seq for p in sent] == list(range(1, len(match.events) + 1))
    # Consistent times: each statistics frame arrives with the packet of its action.
    packet_t = {parse_packet(r.data).seq: r.t for r in actions_records if isinstance(r, Frame)}
    for record in stats_records:
        if isinstance(record, Frame):
            assert record.t == packet_t[parse_frame(record.data).seq_num]


@pytest.fixture(scope="module")
def default_match() -> Callable[[int], SimulatedMatch]:
    """The match of a seed with every default (best of 5, default corrections), simulated
    once per module: three tests below look at seeds 0..59, and simulating a match (50-90
    ms, about 1 MB) costs far more than any of their checks."""
    return functools.cache(simulate_match)


def test_the_two_feeds_agree_after_every_counted_action(
    default_match: Callable[[int], SimulatedMatch],
) -> None:
    """The actions feed's summary (games won, points per game) and the statistics frame of
    the same fixtureSeqNum tell the same score: two renderings of one timeline."""
    for match in map(default_match, range(6)):
        by_seq = {p.seq: p for p in packets(match.actions_records)}
        for text in match.frames:
            frame = parse_frame(text)
            summary = by_seq[frame.seq_num].summary
            assert summary is not None
            assert list(summary.periods) == frame.sets
            assert (summary.home_score, summary.away_score) == frame.sets_won
            assert by_seq[frame.seq_num].type_id in COUNTED
        final = by_seq[len(match.events)]
        assert final.finished and final.summary is not None and final.summary.current_status == "Completed"


def test_statistics_seqnums_skip_about_as_many_actions_as_the_providers_sample(
    default_match: Callable[[int], SimulatedMatch],
) -> None:
    """The provider's sample: final seqNum 272 with 249 counted actions (8.5 % uncounted)."""
    shares = []
    for match in map(default_match, range(60)):
        last = parse_frame(match.frames[-1]).seq_num
        assert last == len(match.events)
        shares.append(1 - len(match.frames) / last)
    assert 0.05 < mean(shares) < 0.11


def test_the_timeline_has_the_uncounted_actions() -> None:
    match = simulate_match(2, best_of=7)
    names = [e.type_id for e in match.events if not e.counted]
    assert names[:4] == [3, 3, STATUS_UPDATED, 4]  # lineups, collection live, fixture started
    assert names.count(6) == len(match.sets)  # one Start Period per game


def test_two_feeds_to_stdout_or_over_an_existing_file_are_refused(tmp_path: Path) -> None:
    assert run("simulate", "--seed", "1", "--feeds", "statistics,actions", "-o", "-").exit_code == 2
    assert run("simulate", "--seed", "1", "--feeds", "statistics,teletext").exit_code == 2
    out = tmp_path / "m.jsonl.zst"
    (tmp_path / "m.actions.jsonl.zst").write_text("mine")
    result = run("simulate", "--seed", "1", "--feeds", "statistics,actions", "-o", out)
    assert result.exit_code != 0 and not out.exists()
    assert (tmp_path / "m.actions.jsonl.zst").read_text() == "mine"


# --- §2 corrections --------------------------------------------------------------------------


def test_a_correction_at_match_point_gives_the_deciding_point_to_its_winner() -> None:
    match = simulate_match(4, incidents=Incidents(correction_at="match-point"))
    assert match.winner is not None
    loser = "away" if match.winner == "home" else "home"
    before, final = parse_frame(match.frames[-2]), parse_frame(match.frames[-1])
    last_set = len(match.sets)
    won = match.sets[-1]
    # First the point went to the loser (a frame with the winner one short and the loser one
    # up), then the final frame moved it.
    wrong = (won[0] - 1, won[1] + 1) if match.winner == "home" else (won[0] + 1, won[1] - 1)
    assert before.points(last_set) == wrong and final.points(last_set) == won
    assert final.finished and final.winner == match.winner
    checker = check(match.header, match.records)
    assert checker.finish() == []
    assert [n.message.split(": ", 1)[1] for n in checker.notes] == [
        f"{loser} Point Scored in set {last_set} given to {match.winner}"
    ]
    assert list(truths(match.frames))[-1].corrections == 1
    updated = [p for p in packets(match.actions_records) if p.send_type == "Updated"]
    assert len(updated) == 1 and updated[0].side == match.winner and updated[0].related


def test_default_corrections_come_once_every_few_matches_and_check_accepts_them(
    default_match: Callable[[int], SimulatedMatch],
) -> None:
    corrected = 0
    for match in map(default_match, range(40)):
        sends = {e.send_type for e in match.events}
        corrected += bool(sends - {"Confirmed"})
        assert check(match.header, match.records).finish() == []
        # The truth of the points is unchanged by the corrections.
        assert parse_frame(match.frames[-1]).sets == list(match.sets)
    assert 2 <= corrected <= 20


# No corrections when the rate is zero: a rule of every clean match in tests/test_simulator.py.


def frames_of(*texts: str) -> list[Record]:
    return [Frame(i, "w", 0, text) for i, text in enumerate(texts)]


HEADER = Header(fixture_id=FIXTURE, url="ws://127.0.0.1/x", source="recorded", created="2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("after", "note"),
    [
        (stats_frame(5, [(1, 0)]), "home Point Scored in set 1 cancelled"),
        (stats_frame(5, [(1, 1)]), "home Point Scored in set 1 given to away"),
    ],
)
def test_check_takes_a_point_back_after_a_video_check_as_a_correction(after: str, note: str) -> None:
    checker = check(HEADER, frames_of(stats_frame(1, [(1, 0)]), stats_frame(2, [(2, 0)]), after))
    assert checker.finish() == []
    assert [str(n) for n in checker.notes] == [f"line 4: correction at seqNum 5: {note}"]


@pytest.mark.parametrize(
    "after",
    [
        stats_frame(3, [(1, 0)]),  # no room for a video check: no uncounted action before it
        stats_frame(5, [(0, 0)]),  # two points taken back at once
        stats_frame(5, [(1, 2)]),  # one taken back, two given
        stats_frame(5, [(1, 0)], total_bonus=1),  # the match total does not follow the set
    ],
)
def test_check_still_fails_counts_that_fall_for_no_reason_it_can_explain(after: str) -> None:
    problems = check(HEADER, frames_of(stats_frame(1, [(1, 0)]), stats_frame(2, [(2, 0)]), after)).finish()
    assert any("fell from" in p.message for p in problems), problems


def test_check_passes_the_providers_sample_frame() -> None:
    text = PROVIDER_SAMPLE.read_text().strip()
    frame = parse_frame(text)
    header = Header(fixture_id=frame.fixture_id, url="ws://127.0.0.1/x", source="recorded", created="x")
    assert check(header, [Frame(0, "w", 0, text)]).finish() == []


# --- §3 collection status --------------------------------------------------------------------


def test_a_suspended_collection_sends_only_heartbeats_until_it_resumes() -> None:
    match = simulate_match(9, incidents=Incidents(scenario="suspended"))
    assert match.header.extra["scenario"] == "suspended" and match.winner is not None
    statuses = [(i, e) for i, e in enumerate(match.events) if e.type_id == STATUS_UPDATED]
    assert [e.status for _, e in statuses] == ["CollectingLive", "CollectionSuspended", "CollectingLive"]
    off, on = statuses[1][1], statuses[2][1]
    assert on.t - off.t >= SUSPENSION.low
    for records in (match.records, match.actions_records):
        between = [r for r in records if off.t < r.t < on.t]
        assert between and all(isinstance(r, Heartbeat) for r in between)
        assert len(between) >= SUSPENSION.low // (10 * S) - 1
    assert check(match.header, match.records).finish() == []


def test_a_dropped_collection_ends_finished_without_a_result(tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl.zst"
    assert (
        run(
            "simulate", "--seed", "9", "--scenario", "dropped", "--feeds", "statistics,actions", "-o", out
        ).exit_code
        == 0
    )
    match = simulate_match(9, incidents=Incidents(scenario="dropped"))
    assert match.winner is None and match.header.extra["scenario"] == "dropped"
    final = parse_frame(match.frames[-1])
    assert final.finished and final.winner is None and final.sets == list(match.sets)
    info = json.loads(run("info", "--json", out).output)
    assert (info["winner"], info["ended"], info["finished"]) == (None, "dropped", True)
    assert "ended: dropped" in run("info", out).output
    last_truth = list(truths(match.frames))[-1]
    assert (last_truth.winner, last_truth.ended) == (None, "dropped")
    checked = run("check", out)
    assert checked.exit_code == 0 and "finished without a result" in checked.stderr
    last_packet = packets(match.actions_records)[-1]
    assert last_packet.finished and last_packet.summary is not None
    assert (last_packet.summary.collection_status, last_packet.summary.current_status) == (
        "CollectionDropped",
        "Unverified",
    )


# --- the naive consumer ----------------------------------------------------------------------


def clean(seed: int) -> SimulatedMatch:
    return simulate_match(seed, incidents=NO_CORRECTIONS, contiguous_seq=True)


def test_the_naive_consumer_works_on_the_clean_stream_it_was_written_for() -> None:
    for seed in range(3):
        match = clean(seed)
        assert consume(match.frames) == match.winner


def test_the_naive_consumer_breaks_on_the_new_samples() -> None:
    _, records = read_capture(sample_path("sample-pair-messy"))
    texts = [r.data for r in records if isinstance(r, Frame)]
    with pytest.raises(NaiveConsumerError, match="missed frames"):
        consume(texts)
    # Even with the seqNums it expects, the correction breaks it.
    with pytest.raises(NaiveConsumerError, match="went down"):
        consume(renumbered(texts))
    # And a dropped match never has a winner.
    dropped = simulate_match(
        9, incidents=Incidents(scenario="dropped", correction_ppm=0), contiguous_seq=True
    )
    with pytest.raises(NaiveConsumerError, match="without a winner"):
        consume(dropped.frames)
    # A careful reader of the same frames is not fooled: the winner the simulator played.
    spec = SAMPLES["sample-pair-messy"]
    played = simulate_match(
        spec.seed,
        best_of=spec.best_of,
        doubles=spec.doubles,
        incidents=Incidents(scenario="suspended", correction_at="match-point"),
    )
    assert (spec.scenario, spec.correction_at) == ("suspended", "match-point")
    final = list(truths(texts))[-1]
    assert final.winner == played.winner and final.corrections == 1


def test_advanced_statistics_only_behind_the_flag(tmp_path: Path) -> None:
    plain, advanced = tmp_path / "p.jsonl.zst", tmp_path / "a.jsonl.zst"
    assert run("simulate", "--seed", "2", "-o", plain).exit_code == 0
    assert run("simulate", "--seed", "2", "--advanced-statistics", "-o", advanced).exit_code == 0
    for path, present in ((plain, False), (advanced, True)):
        _, records = read_capture(path)
        frames = [json.loads(r.data) for r in records if isinstance(r, Frame)]
        assert {"advancedSportStatistics" in frame for frame in frames} == {present}
        if present:  # the field table types it `advancedSportStatistics []`: an array
            assert {type(frame["advancedSportStatistics"]) for frame in frames} == {list}
        assert run("check", path).exit_code == 0
