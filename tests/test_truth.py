"""The truth at every frame and the verdict on a consumer's beliefs.

The truth is checked against what is known without it: the simulator's own point-by-point
record (score, set, server of every point, the winner), the provider's published final
score of its sample frame, and hand-built frames for corrections and an ended collection.
The verdict is checked with beliefs built from those same independent facts, right and
wrong, through the library and the `ttrec truth` / `ttrec verdict` commands on real files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from frame_factory import PROVIDER_SAMPLE, stats_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.cli import cli
from ttrec.match import POINT_SCORED, parse_frame
from ttrec.records import Frame
from ttrec.schedule import build_timeline
from ttrec.simulated_incidents import DEFAULT_CORRECTION_PPM, SCENARIOS, Incidents, Scenario
from ttrec.simulator import SimulatedMatch, simulate_match, write_capture
from ttrec.truth import COMPARABLE, SCHEMA, Truth, TruthTable, truths
from ttrec.verdict import BeliefError, first_divergence, parse_beliefs

MATCH = simulate_match(seed=11, best_of=5)


def test_every_scored_point_is_the_simulators() -> None:
    states = list(truths(MATCH.frames))
    assert len(states) == len(MATCH.frames)
    assert [s.seq for s in states] == [json.loads(f)["seqNum"] for f in MATCH.frames]
    points = iter(MATCH.points)
    scored = 0
    for state in states:
        total = sum(home + away for home, away in state.sets)
        if total == scored:
            continue
        assert total == scored + 1
        scored = total
        point = next(points)
        assert len(state.sets) == point.period and state.sets[-1] == point.score
        # The side that served this point is still the server until the next serve starts.
        assert state.server in (point.server, None)
    assert next(points, None) is None
    last = states[-1]
    assert last.finished and last.winner == MATCH.winner and last.ended == "completed"
    assert list(last.sets) == [tuple(s) for s in MATCH.sets]
    assert not any(s.finished for s in states[:-1]) and last.corrections == 0
    assert last.teams == {"home": MATCH.home.name, "away": MATCH.away.name}


def test_the_providers_sample_frame() -> None:
    # The provider's page: home wins 3-2, 4-11 11-9 10-12 11-9 11-7, seqNum 272.
    [state] = truths([PROVIDER_SAMPLE.read_text()])
    assert state.seq == 272 and state.finished and state.winner == "home"
    assert state.sets == ((4, 11), (11, 9), (10, 12), (11, 9), (11, 7)) and state.sets_won == (3, 2)


def test_a_point_taken_back_is_a_correction() -> None:
    frames = [stats_frame(1, [(1, 0)]), stats_frame(2, [(2, 0)]), stats_frame(5, [(1, 1)])]
    states = list(truths(frames))
    assert [s.corrections for s in states] == [0, 0, 1]
    assert [s.seq for s in states] == [1, 2, 5]


def test_a_collection_that_ends_without_a_result() -> None:
    [state] = truths([stats_frame(40, [(11, 5), (3, 11), (4, 2)], finished=True)])
    assert state.finished and state.winner is None and state.ended == "dropped"


def test_frames_that_are_not_statistics_frames_get_no_line() -> None:
    states = list(truths([stats_frame(1, [(1, 0)]), '{"seqNum": 2, "fixtureId": 7}', "not json"]))
    assert [s.seq for s in states] == [1]


def _truth_json() -> list[dict[str, object]]:
    return [s.to_json() for s in truths(MATCH.frames)]


# The seqNum of the frame each simulated point was scored in, from the simulator's own actions.
SCORING_SEQS = [a.seq_num for a in MATCH.actions if a.action_id == POINT_SCORED]


def _believe(point_index: int, **fields: object) -> dict[str, object]:
    """A right belief about the score after the simulator's point `point_index`, plus `fields`."""
    point = MATCH.points[point_index]
    sets = [list(s) for s in MATCH.sets[: point.period - 1]] + [list(point.score)]
    return {"seq": SCORING_SEQS[point_index], "sets": sets, **fields}


def test_a_lagging_but_right_consumer_passes() -> None:
    beliefs = [(n, _believe(i)) for n, i in enumerate(range(0, len(MATCH.points), 7), start=1)]
    final = {"seq": json.loads(MATCH.frames[-1])["seqNum"], "winner": MATCH.winner, "finished": True}
    assert first_divergence(_truth_json(), [*beliefs, (len(beliefs) + 1, final)]) is None


def test_the_first_wrong_belief_is_named_with_its_fields() -> None:
    right = _believe(3)
    wrong = _believe(9)
    wrong["sets"] = [[0, 0]]
    loser = "home" if MATCH.winner == "away" else "away"
    also_wrong = {"seq": json.loads(MATCH.frames[-1])["seqNum"], "winner": loser}
    divergence = first_divergence(_truth_json(), [(1, right), (2, wrong), (3, also_wrong)])
    assert divergence is not None and divergence.line == 2 and divergence.fields == ("sets",)
    text = "\n".join(divergence.describe())
    assert f"at seq {wrong['seq']}" in text and "sets believed [[0,0]]" in text
    assert "truth before:" in text and "truth after:" in text


def test_a_divergence_at_the_first_or_last_frame_says_there_is_nothing_before_or_after() -> None:
    truth = _truth_json()
    before, at, after, belief = "truth before", "truth at", "truth after", "belief"
    shown = {}
    for index in (0, 1, len(truth) - 1):
        wrong = {"seq": truth[index]["seq"], "sets_won": [9, 9]}
        divergence = first_divergence(truth, [(1, wrong)])
        assert divergence is not None
        lines = divergence.describe()
        assert lines[0].startswith(f"beliefs line 1: at seq {wrong['seq']} (data frame {index + 1}): ")
        pairs = (line.split(":", 1) for line in lines[1:])
        shown[index] = [(label.strip(), value.strip()) for label, value in pairs]
        assert (at, json.dumps(truth[index], separators=(",", ":"))) in shown[index]
    assert [label for label, _ in shown[0]] == [before, at, after, after, belief]
    assert shown[0][0] == (before, "none (the first data frame)")
    assert [label for label, _ in shown[1]] == [before, at, after, after, belief]
    assert shown[1][0][1] != "none (the first data frame)"
    last = shown[len(truth) - 1]
    assert [label for label, _ in last] == [before, before, at, after, belief]
    assert last[3] == (after, "none (the last data frame)")


def test_a_seq_the_feed_never_sent_and_true_is_not_1() -> None:
    truth = _truth_json()
    never = max(int(str(line["seq"])) for line in truth) + 1
    divergence = first_divergence(truth, [(1, {"seq": never})])
    assert divergence is not None and divergence.truth is None
    last = truth[-1]
    divergence = first_divergence(truth, [(1, {"seq": last["seq"], "finished": 1})])
    assert divergence is not None and divergence.fields == ("finished",)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1]", "not a JSON object"),
        ('{"sets": []}', "no integer 'seq'"),
        ('{"seq": true}', "no integer"),
        ('{"seq": 1, "score": 3}', "unknown field 'score'"),
        ("{", "not a JSON object"),
    ],
)
def test_bad_belief_lines(line: str, problem: str) -> None:
    with pytest.raises(BeliefError, match=problem) as caught:
        parse_beliefs(['{"seq": 1}', "", line])
    assert caught.value.line == 3


def test_the_commands_on_files(tmp_path: Path) -> None:
    capture = write_capture(MATCH, tmp_path / "m.jsonl.zst")
    runner = CliRunner()
    printed = runner.invoke(cli, ["truth", str(capture)])
    assert printed.exit_code == 0
    lines = [json.loads(line) for line in printed.output.splitlines()]
    assert len(lines) == len(MATCH.frames) and {line["schema"] for line in lines} == {SCHEMA}
    truth_file = tmp_path / "truth.jsonl"
    truth_file.write_text(printed.output)
    good = "\n".join(json.dumps(_believe(i)) for i in (0, 5, 20)) + "\n"
    for truth_source in (capture, truth_file):
        ok = runner.invoke(cli, ["verdict", str(truth_source), "-"], input=good)
        assert ok.exit_code == 0 and ok.output == ""
    bad = json.dumps(_believe(5, sets_won=[2, 2])) + "\n"
    failed = runner.invoke(cli, ["verdict", str(capture), "-"], input=good + bad)
    assert failed.exit_code == 1 and failed.output.startswith("beliefs line 4: at seq ")
    broken = runner.invoke(cli, ["verdict", str(capture), "-"], input="nonsense\n")
    assert broken.exit_code == 1 and "beliefs line 1: not a JSON object" in broken.output
    assert "Traceback" not in broken.output


def test_truth_table_is_the_fold_looked_up_and_folds_only_as_far_as_asked() -> None:
    consumed = 0

    def counted() -> Iterator[str]:
        nonlocal consumed
        for text in [*MATCH.frames[:5], "not a frame", *MATCH.frames[5:]]:
            consumed += 1
            yield text

    table = TruthTable(counted())
    assert table.at(-1) is None
    fifth = table.at(4)
    assert consumed <= 6  # the frames up to the fifth, and one to see the next frame's number
    assert fifth is not None and (fifth.frame, fifth.seq) == (5, parse_frame(MATCH.frames[4]).seq_num)
    # the unparsable sixth frame changes nothing: the state after it is the fifth's
    assert table.at(5) is fifth
    sixth = table.at(6)
    assert sixth is not None and sixth.seq == parse_frame(MATCH.frames[5]).seq_num
    last = table.at(len(MATCH.frames))
    assert last is not None and last.finished and last.sets == tuple(MATCH.sets)
    assert table.at(10**6) is last  # past the end: the final state
    assert TruthTable(["no frame at all"]).at(0) is None


def test_a_timeline_folds_its_truth_once() -> None:
    timeline = build_timeline(MATCH.records)
    table = timeline.truth_table()
    assert timeline.truth_table() is table  # kept: every connection looks positions up in it
    last = table.at(timeline.frames - 1)
    assert last is not None and last.frame == len(MATCH.frames) and last.winner == MATCH.winner


# --- the actions feed's truth: the same as the statistics feed's at every seq -------------------


def _feeds_truths(match: SimulatedMatch) -> tuple[list[Truth], list[Truth]]:
    frames = [r.data for r in match.records if isinstance(r, Frame)]
    packets = [r.data for r in match.actions_records if isinstance(r, Frame)]
    return list(truths(frames)), list(truths(packets, "actions"))


def test_the_actions_truths_server_is_the_simulators_at_every_serve_and_swap() -> None:
    """docs/verdict.md: the server is the side whose Point Started or Swap Serve rose last;
    the simulator credits both to the side that serves (next), by ITTF rotation."""
    match = simulate_match(seed=9, best_of=5, incidents=Incidents(correction_ppm=0))
    serves = [point.server for point in match.points for _ in range(1 + point.lets)]  # a let serves again
    packets = [r.data for r in match.actions_records if isinstance(r, Frame)]
    expected, served, swaps = None, 0, 0
    for packet, truth in zip(packets, truths(packets, "actions"), strict=True):
        action = json.loads(packet)["fixtureAction"]
        if action["fixtureActionTypeId"] == 1101:
            expected, served = serves[served], served + 1
        elif action["fixtureActionTypeId"] == 1103 and served < len(serves):
            expected, swaps = serves[served], swaps + 1  # the side that serves the next point
        assert truth.server == (None if truth.finished else expected), (truth.seq, action)
    assert served == len(serves) and swaps >= len(match.sets)  # one before each game at least


@settings(max_examples=30)
@given(
    seed=st.integers(0, 10**6),
    best_of=st.sampled_from([3, 5, 7]),
    doubles=st.booleans(),
    scenario=st.sampled_from(SCENARIOS),
    corrections=st.sampled_from(["none", "default", "match-point", "many"]),
)
def test_both_feeds_truths_agree_at_every_seq(
    seed: int, best_of: int, doubles: bool, scenario: Scenario, corrections: str
) -> None:
    """docs/verdict.md: a consumer of either feed is judged alike at the same seq. Every
    statistics frame's seqNum is a packet's fixtureSeqNum (SPEC §6), and there every field a
    belief may report, and the teams, are the same."""
    incidents = Incidents(
        correction_ppm={"none": 0, "many": 100_000}.get(corrections, DEFAULT_CORRECTION_PPM),
        correction_at="match-point" if corrections == "match-point" else None,
        scenario=scenario,
    )
    match = simulate_match(seed, best_of=best_of, doubles=doubles, incidents=incidents)
    on_statistics, on_actions = _feeds_truths(match)
    by_seq = {truth.seq: truth.to_json() for truth in on_actions}
    for truth in on_statistics:
        assert truth.seq in by_seq
        stats, actions = truth.to_json(), by_seq[truth.seq]
        for name in (*COMPARABLE, "teams"):
            assert stats[name] == actions[name], (truth.seq, name, stats[name], actions[name])
