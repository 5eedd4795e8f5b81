"""The scoreboard folded from frames: who serves, game and match points, rendering."""

from __future__ import annotations

import json

from frame_factory import PROVIDER_SAMPLE

from ttrec.match import parse_frame
from ttrec.scoreboard import Scoreboard
from ttrec.simulator import simulate_match
from ttrec.truth import truths


def test_the_providers_final_frame_on_the_board():
    board = Scoreboard()
    board.add_frame(parse_frame(PROVIDER_SAMPLE.read_text()), at=10.0)
    board.add_heartbeat(at=12.0)
    lines = board.render(now=13.5)
    assert lines[0] == "fixture 1bd00469-86fa-4f0b-abcc-30cbef80dacc  seq 272  FINISHED"
    assert lines[1].endswith("3 |  4 11 10 11 11") and "MUKHERJEE" in lines[1]
    assert lines[2].endswith("2 | 11  9 12  9  7") and "YILMAZ" in lines[2]
    assert lines[3] == "winner home  last frame 3.5s ago  last heartbeat 1.5s ago"
    assert board.line().endswith("FINISHED winner home")


def test_a_whole_simulated_match_point_by_point_agrees_with_the_simulator():
    """After every frame that scores a point, the board shows the simulator's score of that
    point in the right set and the side that served it; game and match points are announced
    once per point at which the simulator's score makes one."""
    match = simulate_match(seed=3, best_of=5)
    board = Scoreboard()
    points = iter(match.points)
    scored, announced = 0, 0
    for i, frame_text in enumerate(match.frames):
        before = board.moment
        board.add_frame(parse_frame(frame_text), at=float(i))
        frame = board.frame
        assert frame is not None
        total = sum(home + away for home, away in frame.sets)
        if total == scored:
            if board.moment != before and board.moment.startswith(("GAME POINT", "MATCH POINT")):
                announced += 1
            continue
        assert total == scored + 1, f"frame {i} scored {total - scored} points at once"
        scored = total
        point = next(points)
        assert len(frame.sets) == point.period and frame.sets[-1] == point.score, i
        assert board.server == point.server, i
    assert next(points, None) is None  # every simulated point was seen
    final = board.frame
    assert final is not None and final.finished
    assert final.sets == [tuple(s) for s in match.sets]
    assert final.winner == match.winner
    assert board.line().endswith(f"FINISHED winner {match.winner}")
    # A game point is due after every point that leaves a side one point from the set.
    due = sum(
        1
        for point in match.points
        if (max(point.score) >= 10 and abs(point.score[0] - point.score[1]) == 1)
        or max(point.score) == 10 > min(point.score)
    )
    assert announced == due


def test_before_any_frame_the_board_waits_and_counts_heartbeats():
    board = Scoreboard()
    assert board.render(now=5.0) == ["waiting for the first frame ... heartbeats 0, last never"]
    board.add_heartbeat(at=1.0)
    assert board.render(now=5.0) == ["waiting for the first frame ... heartbeats 1, last 4.0s ago"]


def test_the_board_shows_a_moment_exactly_where_the_truth_has_one():
    """docs/verdict.md: `ttrec watch` shows the truth's moment; a finished frame shows none,
    a dropped collection's last frame (the moment before it repeated, finished) included."""
    for seed in range(4):
        texts = list(simulate_match(seed=seed, best_of=3).frames)
        held = next(i for i, t in enumerate(truths(texts)) if t.moment == "match-point" and not t.finished)
        dropped = json.loads(texts[held])
        dropped["seqNum"] += 1000
        dropped["finished"] = True  # the collection ends there, unchanged counts, no result
        for frames in (texts, [*texts[: held + 1], json.dumps(dropped)]):
            board = Scoreboard()
            for i, (text, truth) in enumerate(zip(frames, truths(frames), strict=True)):
                board.add_frame(parse_frame(text), at=float(i))
                shown = "POINT" in board.line()
                assert shown == (truth.moment is not None), (seed, i, board.line(), truth)
