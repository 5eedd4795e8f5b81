"""Every reader of a capture understands the actions feed (issue 14 §4): the data-frame rule
per feed, info, check, cat --frames, truth, moments, slice/splice/warp, and the cross-check
of a statistics and an actions capture of one match. Real files, the real CLI.

Expected values come from the builder's own bookkeeping (tests/action_factory.py) or from
the packets' JSON read here, never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from action_factory import FIXTURE, WALL, ActionMatch, straight_match
from click.testing import CliRunner
from frame_factory import stats_frame

from ttrec.capture import CaptureReader
from ttrec.cli import cli
from ttrec.feed import classify, inspect_text, seq_num
from ttrec.moments import moments_of_texts
from ttrec.records import Error, Frame
from ttrec.truth import truths

LINEUPS = (Path(__file__).parent / "data" / "provider-action-packet-lineups.json").read_text()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _packet(**action: object) -> str:
    base: dict[str, object] = {"fixtureId": FIXTURE, "fixtureSeqNum": 3}
    base.update(action)
    return json.dumps({"fixtureAction": base, "fixtureSummary": {"finished": False}})


# --- the data-frame rule, per feed ----------------------------------------------------------


def test_the_providers_packet_is_a_data_frame_on_the_actions_feed_only() -> None:
    assert inspect_text(LINEUPS, "actions").kind == "frame"
    assert seq_num(LINEUPS, "actions") == 1  # its fixtureAction.fixtureSeqNum
    assert classify(LINEUPS, "statistics") == "heartbeat"  # no top-level seqNum
    statistics = stats_frame(7, [(3, 2)])
    assert classify(statistics, "statistics") == "frame"
    assert classify(statistics, "actions") == "heartbeat"


@pytest.mark.parametrize(
    "text",
    [
        _packet(fixtureSeqNum=0),
        _packet(fixtureSeqNum="7"),
        _packet(fixtureSeqNum=True),
        _packet(fixtureSeqNum=None),
        _packet(fixtureId=""),
        _packet(fixtureId=None),
        json.dumps({"fixtureAction": [1], "fixtureSeqNum": 3, "fixtureId": FIXTURE}),
        '{"message":"Heartbeat sent at 2025-02-20T14:47:00.517484Z","level":"INFO"}',
    ],
)
def test_what_is_not_a_position_on_the_actions_feed(text: str) -> None:
    assert inspect_text(text, "actions").kind == "heartbeat"


def test_a_packet_is_finished_by_its_own_flag_or_its_summary() -> None:
    own = json.dumps({"finished": True, "fixtureAction": {"fixtureId": FIXTURE, "fixtureSeqNum": 9}})
    summary = json.dumps(
        {"fixtureAction": {"fixtureId": FIXTURE, "fixtureSeqNum": 9}, "fixtureSummary": {"finished": True}}
    )
    assert inspect_text(own, "actions").finished
    assert inspect_text(summary, "actions").finished
    assert not inspect_text(_packet(), "actions").finished


# --- info, check, cat, truth ----------------------------------------------------------------


def _types(match: ActionMatch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in match.packets:
        name = json.loads(text)["fixtureAction"]["fixtureActionType"]
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_info_reads_the_score_actions_corrections_and_collection(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    code, out, _ = run("info", "--json", str(path))
    assert code == 0
    info = json.loads(out)
    assert info["feed"] == "actions"
    assert info["sets"] == [list(s) for s in match.sets if s != [0, 0]] == [[11, 5], [11, 5]]
    assert info["sets_won"] == [2, 0] and info["winner"] == "home" and info["finished"] is True
    assert info["actions"] == _types(match)
    assert info["corrections"] == 1  # the one cancelled point
    assert info["first_seq"] == 1 and info["last_seq"] == len(match.packets) and info["seq_gaps"] == []
    assert info["collection"] == [[1, "CollectingLive"]]
    code, human, _ = run("info", str(path))
    assert "corrections 1" in human and "Timeout 1" in human and "winner home" in human


def test_info_says_a_dropped_collection_has_no_result(tmp_path: Path) -> None:
    match = ActionMatch()
    match.action(4)
    match.point("home")
    match.collection = "CollectionSuspended"
    match.action(22)
    match.collection = "CollectingLive"
    match.action(22)
    match.point("away")
    match.collection = "CollectionDropped"
    match.finished = True
    match.action(22)
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    info = json.loads(run("info", "--json", str(path))[1])
    assert info["winner"] is None and info["finished"] is True and info["ended"] == "dropped"
    suspended_at = 1 + 2 + 1  # Start Fixture, Point Started + Point Scored, then the update
    assert info["collection"] == [
        [1, "CollectingLive"],
        [suspended_at, "CollectionSuspended"],
        [suspended_at + 1, "CollectingLive"],
        [suspended_at + 4, "CollectionDropped"],
    ]
    assert "ended: dropped, no result" in run("info", str(path))[1]
    last = list(truths(match.packets, "actions"))[-1]
    assert (last.ended, last.winner, last.finished) == ("dropped", None, True)


def test_info_on_an_actions_capture_cut_mid_match_says_in_play(tmp_path: Path) -> None:
    # A capture still being recorded, torn, or of a feed that failed: no end yet.
    match = straight_match()
    records = match.records("actions")
    frames = [i for i, r in enumerate(records) if isinstance(r, Frame)]
    path = match.write(tmp_path / "half.jsonl.zst", "actions", records[: frames[len(frames) // 2] + 1])
    code, human, err = run("info", str(path))
    assert code == 0 and "(in play)" in human and err == ""
    actions = json.loads(run("info", "--json", str(path))[1])
    assert (actions["finished"], actions["ended"], actions["winner"]) == (False, None, None)
    # the statistics capture of the same match: every key it has, the actions one has too
    stats = json.loads(run("info", "--json", str(match.write(tmp_path / "s.jsonl.zst", "statistics")))[1])
    assert set(stats) <= set(actions), set(stats) - set(actions)


def test_check_passes_a_good_actions_capture_and_names_each_broken_packet(tmp_path: Path) -> None:
    match = straight_match()
    good = match.write(tmp_path / "good.jsonl.zst", "actions")
    code, out, err = run("check", str(good))
    assert (code, out) == (0, "") and "ok" in err
    records = match.records("actions")
    frames = [i for i, r in enumerate(records) if isinstance(r, Frame)]
    broken = list(records)
    # 1. a summary that gives home a point no action scored (packet 10)
    obj = json.loads(match.packets[9])
    obj["fixtureSummary"]["periods"][0]["homeTeamScore"] += 1
    broken[frames[9]] = Frame(records[frames[9]].t, "w", 0, json.dumps(obj))
    # 2. fixtureSeqNum going back (packet 20 says 5)
    obj = json.loads(match.packets[19])
    obj["fixtureAction"]["fixtureSeqNum"] = 5
    broken[frames[19]] = Frame(records[frames[19]].t, "w", 0, json.dumps(obj))
    # 3. another fixture's packet (packet 30)
    other = match.packets[29].replace(FIXTURE, "00000000-0000-4000-8000-000000000000")
    broken[frames[29]] = Frame(records[frames[29]].t, "w", 0, other)
    bad = match.write(tmp_path / "bad.jsonl.zst", "actions", broken)
    code, out, _ = run("check", str(bad))
    assert code == 1
    lines = out.splitlines()
    line_of = {n: frames[n - 1] + 2 for n in (10, 20, 30)}  # +1 header, +1 from 0-based
    assert any(f":{line_of[10]}:" in x and "Point Scored" in x for x in lines), out
    assert any(f":{line_of[20]}:" in x and "fixtureSeqNum 5 does not increase" in x for x in lines), out
    assert any(f":{line_of[30]}:" in x and "is not the capture's" in x for x in lines), out


def test_cat_frames_prints_the_packets_byte_for_byte(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    code, out, _ = run("cat", "--frames", str(path))
    assert code == 0 and out.splitlines() == match.packets


def test_truth_on_actions_is_keyed_by_fixture_seq_num_and_matches_the_builder(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    code, out, _ = run("truth", str(path))
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [x["seq"] for x in lines] == list(range(1, len(match.packets) + 1))
    for line, text in zip(lines, match.packets, strict=True):
        summary = json.loads(text)["fixtureSummary"]
        assert line["sets"] == [[p["homeTeamScore"], p["awayTeamScore"]] for p in summary["periods"]]
        assert line["sets_won"] == [summary["homeTeamScore"], summary["awayTeamScore"]]
    cancel_seq = next(
        json.loads(t)["fixtureAction"]["fixtureSeqNum"]
        for t in match.packets
        if json.loads(t)["fixtureAction"]["sendType"] == "Cancelled"
    )
    assert [x["corrections"] for x in lines if x["seq"] in (cancel_seq - 1, cancel_seq)] == [0, 1]
    game_point = next(x for x in lines if x["moment"] == "game-point")
    assert game_point["moment_side"] == "home" and game_point["sets"][0] == [10, 5]
    assert lines[-1]["winner"] == "home" and lines[-1]["ended"] == "completed"


# --- moments and the cross-check --------------------------------------------------------------


def _moment_seqs(texts: list[str], feed: str) -> list[tuple[int | None, list[str]]]:
    return [
        (seq_num(t, feed), sorted(m))  # type: ignore[arg-type]
        for t, m in zip(texts, moments_of_texts(texts, feed), strict=True)  # type: ignore[arg-type]
        if m
    ]


def test_moments_are_the_same_actions_on_both_feeds() -> None:
    match = straight_match()
    on_actions = _moment_seqs(match.packets, "actions")
    on_statistics = _moment_seqs([t for _, t in match.frames], "statistics")
    assert on_actions == on_statistics
    # the builder's own record: where it sent Game Point and Match Point, and the last point
    kinds = {
        json.loads(t)["fixtureAction"]["fixtureActionTypeId"]: i + 1 for i, t in enumerate(match.packets)
    }
    assert (kinds[1105], ["game-point"]) in on_actions
    assert (kinds[1108], ["match-point"]) in on_actions
    last_point = max(
        i + 1
        for i, t in enumerate(match.packets)
        if json.loads(t)["fixtureAction"]["fixtureActionTypeId"] == 1102
    )
    assert on_actions[-1] == (last_point, ["final", "set-end"])


def test_check_of_both_feeds_agrees_and_finds_a_disagreement(tmp_path: Path) -> None:
    match = ActionMatch()  # no correction: the statistics feed's own check passes too
    match.action(3, "home")
    match.action(4)
    match.action(6)
    match.action(52, "away")
    match.play_set("home", 4)
    match.play_set("away", 9)
    match.play_set("home", 3)
    stats = match.write(tmp_path / "m.statistics.jsonl.zst", "statistics")
    actions = match.write(tmp_path / "m.actions.jsonl.zst", "actions")
    code, out, err = run("check", str(stats), str(actions))
    assert (code, out) == (0, ""), out
    assert "agrees with" in err
    # a statistics capture one point off at one frame, and one frame missing
    records = match.records("statistics")
    frames = [i for i, r in enumerate(records) if isinstance(r, Frame)]
    wrong = list(records)
    altered = json.loads(match.frames[20][1])
    seq = altered["seqNum"]
    for team in altered["teamActionAggregates"]:  # one more home point in set 1, consistently
        if team["team"]["homeTeam"]:
            for agg in team["gameActionAggregates"] + team["periodActionAggregates"][0]["aggregates"]:
                if agg["actionId"] == 1102:
                    agg["actionAggregate"] += 1
    wrong[frames[20]] = Frame(records[frames[20]].t, "w", 0, json.dumps(altered))
    missing_seq = json.loads(match.frames[30][1])["seqNum"]
    del wrong[frames[30]]
    bad = match.write(tmp_path / "bad.statistics.jsonl.zst", "statistics", wrong)
    code, out, _ = run("check", str(bad), str(actions))
    assert code == 1
    assert f"seqNum {seq}: statistics score" in out, out
    assert f"counted action fixtureSeqNum {missing_seq} " in out, out


def test_a_statistics_seq_num_that_is_no_counted_action_is_a_disagreement(tmp_path: Path) -> None:
    match = straight_match()
    actions = match.write(tmp_path / "a.jsonl.zst", "actions")
    records = match.records("statistics")
    frames = [r for r in records if isinstance(r, Frame)]
    # the Timeout's fixtureSeqNum (an uncounted action) used as a statistics seqNum
    timeout_seq = next(
        i + 1
        for i, t in enumerate(match.packets)
        if json.loads(t)["fixtureAction"]["fixtureActionTypeId"] == 52
    )
    before = next(f for f in frames if seq_num(f.data) > timeout_seq)  # type: ignore[operator]
    obj = json.loads(before.data)
    obj["seqNum"] = timeout_seq
    stats = [r if r is not before else Frame(r.t, r.wall, 0, json.dumps(obj)) for r in records]
    path = match.write(tmp_path / "s.jsonl.zst", "statistics", stats)
    out = run("check", str(path), str(actions))[1]
    assert f"seqNum {timeout_seq} is a Timeout action" in out, out


def _dropped_match() -> ActionMatch:
    """Home wins set 1 11-5, set 2 stands at 4-2 when the collection is dropped."""
    match = ActionMatch()
    match.action(3, "home")
    match.action(4)
    match.action(6)
    match.play_set("home", 5)
    for side in ("home", "away", "home", "home", "away", "home"):
        match.point(side)
    assert match.sets == [[11, 5], [4, 2]]
    match.drop()
    return match


def test_a_dropped_collection_passes_check_on_each_feed_and_both(tmp_path: Path) -> None:
    match = _dropped_match()
    stats = match.write(tmp_path / "d.jsonl.zst", "statistics")
    actions = match.write(tmp_path / "d.actions.jsonl.zst", "actions")
    drop_line = 1 + len(match.records("actions"))  # the header, then the drop is the last record
    code, out, err = run("check", str(actions))
    assert (code, out) == (0, ""), out
    assert f"{actions}:{drop_line}: note: finished without a result: set 2 stopped at 4-2" in err
    code, out, err = run("check", str(stats), str(actions))
    assert (code, out) == (0, ""), out
    assert f"{stats}: agrees with {actions}" in err


def test_an_undecided_set_is_legal_only_at_the_status_action_that_drops_the_collection(
    tmp_path: Path,
) -> None:
    # A Point Scored that says finished with the set in play is not a dropped collection.
    match = _dropped_match()
    scored = json.loads(match.packets[-2])
    assert scored["fixtureAction"]["fixtureActionTypeId"] == 1102
    scored["finished"] = scored["fixtureSummary"]["finished"] = True
    records = match.records("actions")[:-1]
    records[-1] = Frame(records[-1].t, WALL, 0, json.dumps(scored))
    code, out, _ = run("check", str(match.write(tmp_path / "p.jsonl.zst", "actions", records)))
    assert code == 1 and "set 2: 4-2 is not a legal score" in out, out


def test_an_undecided_set_is_not_legal_where_a_finished_status_action_drops_nothing(tmp_path: Path) -> None:
    # The same ending, but the collection is still live: a match that "finished" at 4-2.
    match = _dropped_match()
    ending = json.loads(match.packets[-1])
    assert ending["fixtureSummary"]["collectionStatus"] == "CollectionDropped"
    ending["fixtureSummary"]["collectionStatus"] = "CollectingLive"
    records = match.records("actions")
    records[-1] = Frame(records[-1].t, WALL, 0, json.dumps(ending))
    code, out, err = run("check", str(match.write(tmp_path / "p.jsonl.zst", "actions", records)))
    assert code == 1 and "set 2: 4-2 is not a legal score" in out, out
    assert "finished without a result" not in err


def test_a_statistics_frame_at_a_status_action_that_ends_nothing_is_a_disagreement(tmp_path: Path) -> None:
    # The suspension's Status Updated does not end the collection: no statistics frame for it.
    match = ActionMatch()
    match.play_set("home", 5)
    match.point("away")
    match.collection = "CollectionSuspended"
    match.action(22)
    match.frames.append((len(match.packets) - 1, match.stats_frame()))
    match.collection = "CollectingLive"
    match.action(22)
    match.play_set("home", 5)
    stats = match.write(tmp_path / "s.jsonl.zst", "statistics")
    actions = match.write(tmp_path / "s.actions.jsonl.zst", "actions")
    code, out, _ = run("check", str(stats), str(actions))
    suspended = next(i + 1 for i, p in enumerate(match.packets) if "CollectionSuspended" in p)
    assert code == 1 and f"seqNum {suspended} is a Status Updated action" in out, out


@pytest.mark.parametrize(("seed", "best_of"), [(9, 5), (1, 3), (2, 3), (3, 3), (4, 3)])
def test_the_simulators_dropped_matches_pass_check(tmp_path: Path, seed: int, best_of: int) -> None:
    stats = tmp_path / "d.jsonl.zst"
    simulated = run(
        "simulate", "-q", "--seed", str(seed), "--best-of", str(best_of), "--scenario", "dropped",
        "--feeds", "statistics,actions", "-o", str(stats),
    )  # fmt: skip
    assert simulated[0] == 0, simulated
    actions = tmp_path / "d.actions.jsonl.zst"
    code, out, err = run("check", str(stats), str(actions))
    assert (code, out) == (0, ""), out
    assert err.count("finished without a result") == 2 and "agrees with" in err


def _clean_match() -> ActionMatch:
    """A best of three with uncounted actions but no correction (its statistics capture
    passes check on its own: a cancelled point needs a video check's gap there)."""
    match = ActionMatch()
    for type_id, side in ((3, "home"), (4, None), (6, None), (52, "away")):
        match.action(type_id, side)
    for winner, loser_points in (("home", 4), ("away", 9), ("home", 3)):
        match.play_set(winner, loser_points)
    return match


def _seqs_of_frames(match: ActionMatch, keep: object) -> list[int]:
    """The statistics seqNums (their action's fixtureSeqNum) for which `keep(seq)` holds."""
    return [index + 1 for index, _ in match.frames if keep(index + 1)]  # type: ignore[operator]


@pytest.mark.parametrize("cut", ["end", "start"])
def test_only_the_stretch_both_captures_cover_is_cross_checked(tmp_path: Path, cut: str) -> None:
    match = _clean_match()
    stats = match.write(tmp_path / "p.jsonl.zst", "statistics")
    records = match.records("actions")
    packets = [r for r in records if isinstance(r, Frame)]
    k = 20  # the actions capture holds fixtureSeqNum 1..20, or 21.. to the end
    kept = packets[:k] if cut == "end" else packets[k:]
    actions = match.write(tmp_path / "p.actions.jsonl.zst", "actions", [*records[:2], *kept])
    code, out, err = run("check", str(stats), str(actions))
    assert (code, out) == (0, ""), out
    if cut == "end":
        skipped = _seqs_of_frames(match, lambda seq: seq > k)
        why = f"after its last fixtureSeqNum {k}"
    else:
        skipped = _seqs_of_frames(match, lambda seq: seq <= k)
        why = f"before its first fixtureSeqNum {k + 1}"
    note = f"seqNum {skipped[0]}..{skipped[-1]} ({len(skipped)} frames), {why}"
    assert f"{stats}: note: not cross-checked with {actions}: {note}\n" in err, err
    assert err.count("not cross-checked") == 1
    assert f"{stats}: agrees with {actions} where both cover the match" in err
    # inside the stretch both cover, a disagreement is still one
    inside = next(i for i, (index, _) in enumerate(match.frames) if (index + 1 <= k) == (cut == "end"))
    wrong = match.records("statistics")
    at = [i for i, r in enumerate(wrong) if isinstance(r, Frame)][inside]
    altered = json.loads(match.frames[inside][1])
    altered["teamActionAggregates"][0]["periodActionAggregates"][0]["aggregates"][1]["actionAggregate"] += 1
    wrong[at] = Frame(wrong[at].t, WALL, 0, json.dumps(altered))
    bad = match.write(tmp_path / "bad.jsonl.zst", "statistics", wrong)
    code, out, _ = run("check", str(bad), str(actions))
    disagreements = [line for line in out.splitlines() if "disagrees with" in line]
    assert code == 1 and len(disagreements) == 1, out
    assert f"seqNum {altered['seqNum']}: statistics score" in disagreements[0]


def test_a_statistics_frame_past_a_finished_actions_capture_is_a_disagreement(tmp_path: Path) -> None:
    # The actions capture reached the packet saying finished: it covers the match to its
    # end, so a statistics frame numbered past it is not a stretch it missed.
    match = _clean_match()
    wrong = match.records("statistics")
    at = [i for i, r in enumerate(wrong) if isinstance(r, Frame)][-1]
    last = json.loads(match.frames[-1][1])
    beyond = len(match.packets) + 7
    last["seqNum"] = beyond
    wrong[at] = Frame(wrong[at].t, WALL, 0, json.dumps(last))
    stats = match.write(tmp_path / "p.jsonl.zst", "statistics", wrong)
    actions = match.write(tmp_path / "p.actions.jsonl.zst", "actions")
    code, out, err = run("check", str(stats), str(actions))
    assert code == 1 and f"seqNum {beyond} has no action packet with that fixtureSeqNum" in out, out
    assert "not cross-checked" not in err


def test_an_actions_capture_without_packets_is_not_cross_checked(tmp_path: Path) -> None:
    # `record --live --feeds statistics,actions` for a fixture with no actions feed: a 404.
    match = _clean_match()
    stats = match.write(tmp_path / "p.jsonl.zst", "statistics")
    refused = Error(0, WALL, 0, status=404, body='{"error": "not found", "status": 404}')
    actions = match.write(tmp_path / "p.actions.jsonl.zst", "actions", [refused])
    code, out, err = run("check", str(stats), str(actions))
    assert (code, out) == (0, ""), out
    assert f"{stats}: note: not cross-checked with {actions}: it has no action packet" in err
    assert "agrees with" not in err


def _match_with_another_statistics_capture(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A match on both feeds, and another statistics capture of the same fixture that does
    not agree with its actions (its set 1 goes the other way)."""
    match, other = ActionMatch(), ActionMatch()
    for who, sets in ((match, ("home", "away", "home")), (other, ("away", "away"))):
        for winner in sets:
            who.play_set(winner, 5)
    stats = match.write(tmp_path / "m.jsonl.zst", "statistics")
    actions = match.write(tmp_path / "m.actions.jsonl.zst", "actions")
    another = other.write(tmp_path / "another.jsonl.zst", "statistics")
    return stats, actions, another


@pytest.mark.parametrize("order", ["another-first", "another-last"])
def test_check_pairs_an_actions_capture_with_the_statistics_capture_named_after_it(
    tmp_path: Path, order: str
) -> None:
    """Two statistics captures of one fixture (same-seed simulations share one): the actions
    capture is checked against the one whose name it carries, whatever the order given."""
    stats, actions, another = _match_with_another_statistics_capture(tmp_path)
    paths = [another, stats, actions] if order == "another-first" else [stats, actions, another]
    code, out, err = run("check", *map(str, paths))
    assert (code, out) == (0, ""), out
    assert f"{stats}: agrees with {actions}" in err


def test_check_does_not_guess_between_statistics_captures_not_named_after_the_actions(
    tmp_path: Path,
) -> None:
    stats, actions, another = _match_with_another_statistics_capture(tmp_path)
    renamed = actions.rename(tmp_path / "elsewhere.actions.jsonl.zst")
    code, out, err = run("check", str(another), str(stats), str(renamed))
    assert (code, out) == (0, ""), out
    assert f"{renamed}: note: not cross-checked: 2 statistics captures" in err
    assert "agrees with" not in err
    # with only the one it belongs to, it is paired whatever its name
    assert run("check", str(stats), str(renamed))[0] == 0
    code, out, _ = run("check", str(another), str(renamed))
    assert code == 1 and "disagrees with" in out, out


# --- slice, splice, warp ----------------------------------------------------------------------


def _packets_of(path: Path) -> list[str]:
    with CaptureReader(path) as reader:
        assert reader.header.feed == "actions"
        return [r.data for r in reader if isinstance(r, Frame)]


def test_slice_an_actions_capture_by_fixture_seq_num_and_by_moment(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    out = tmp_path / "s.jsonl.zst"
    assert run("slice", str(path), "-o", str(out), "--seq", "10..20")[0] == 0
    assert _packets_of(out) == match.packets[9:20]
    kinds = [json.loads(t)["fixtureAction"]["fixtureActionTypeId"] for t in match.packets]
    out2 = tmp_path / "m.jsonl.zst"
    assert run("slice", str(path), "-o", str(out2), "--from", "match-point")[0] == 0
    assert _packets_of(out2) == match.packets[kinds.index(1108) :]
    out3 = tmp_path / "set2.jsonl.zst"
    assert run("slice", str(path), "-o", str(out3), "--set", "2")[0] == 0
    first_after_set1 = next(
        i for i, t in enumerate(match.packets) if json.loads(t)["fixtureSummary"]["homeTeamScore"] == 1
    )
    assert _packets_of(out3)[0] == match.packets[first_after_set1 + 1]


def test_splice_two_actions_captures_renumbers_fixture_seq_num(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    part1, part2, joined = tmp_path / "p1.jsonl.zst", tmp_path / "p2.jsonl.zst", tmp_path / "j.jsonl.zst"
    assert run("slice", str(path), "-o", str(part1), "--seq", "1..10")[0] == 0
    assert run("slice", str(path), "-o", str(part2), "--seq", "30..40")[0] == 0
    code, _, err = run("splice", str(part1), str(part2), "-o", str(joined))
    assert code == 0, err
    packets = _packets_of(joined)
    seqs = [json.loads(t)["fixtureAction"]["fixtureSeqNum"] for t in packets]
    assert seqs == list(range(1, 22))
    # all else in the second part unchanged: the action ids are those of packets 30..40
    ids = [json.loads(t)["fixtureAction"]["actionId"] for t in packets[10:]]
    assert ids == [json.loads(t)["fixtureAction"]["actionId"] for t in match.packets[29:40]]
    stats = match.write(tmp_path / "s.jsonl.zst", "statistics")
    code, _, err = run("splice", str(part1), str(stats), "-o", str(tmp_path / "mixed.jsonl.zst"))
    assert code == 2 and "mix statistics and actions" in err


def test_warp_an_actions_capture_keeps_every_packet(tmp_path: Path) -> None:
    match = straight_match()
    path = match.write(tmp_path / "a.jsonl.zst", "actions")
    out = tmp_path / "w.jsonl.zst"
    code, _, err = run("warp", str(path), "-o", str(out), "--scale", "0.5")
    assert code == 0, err
    assert _packets_of(out) == match.packets
    with CaptureReader(out) as reader:
        last = [r.t for r in reader][-1]
    assert last == round(match.seconds[-1] * 1e9 * 0.5)


def test_a_sliced_actions_capture_still_passes_check(tmp_path: Path) -> None:
    """A capture that starts mid-match cannot count the points from the actions: not a problem."""
    path = straight_match().write(tmp_path / "a.jsonl.zst", "actions")
    out = tmp_path / "s.jsonl.zst"
    assert run("slice", str(path), "-o", str(out), "--seq", "30..")[0] == 0
    code, stdout, _ = run("check", str(out))
    assert (code, stdout) == (0, "")


def _scored(
    seq: int,
    action_id: str,
    side: str,
    period: int,
    send: str = "Confirmed",
    related: list[str] | None = None,
) -> str:
    team = {"id": side, "name": side.title(), "homeTeam": side == "home"}
    return json.dumps(
        {
            "fixtureAction": {
                "fixtureId": FIXTURE,
                "fixtureSeqNum": seq,
                "actionId": action_id,
                "fixtureActionTypeId": 1102,
                "fixtureActionType": "Point Scored",
                "sendType": send,
                "team": team,
                "period": period,
                "relatedFixtureActionIds": related or [],
            }
        }
    )


def test_the_fold_applies_cancelled_updated_and_restored() -> None:
    from ttrec.action_fold import ActionFold
    from ttrec.actions import parse_packet

    fold = ActionFold()
    steps = [
        (_scored(1, "a", "home", 1), ((1, 0),)),
        (_scored(2, "b", "home", 1), ((2, 0),)),
        (_scored(3, "c", "away", 1, "Cancelled", ["b"]), ((1, 0),)),  # b taken back
        (_scored(4, "d", "away", 1, "Restored", ["b"]), ((2, 0),)),  # and given back
        (_scored(5, "e", "away", 1, "Updated", ["a"]), ((1, 1),)),  # a goes to the away side
        (_scored(6, "f", "away", 2), ((1, 1), (0, 1))),
    ]
    for text, expected in steps:
        fold.add(parse_packet(text))
        assert fold.counted_sets() == expected, text
    assert fold.corrections == 3
