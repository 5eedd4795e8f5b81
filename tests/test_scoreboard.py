"""The scoreboard folded from frames: who serves, game and match points, rendering."""

from __future__ import annotations

from frame_factory import PROVIDER_SAMPLE

from ttrec.match import parse_frame
from ttrec.scoreboard import Scoreboard
from ttrec.simulator import simulate_match


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
    match = simulate_match(seed=3, best_of=5)
    board = Scoreboard()
    servers, game_points, match_points = [], 0, 0
    for i, frame_text in enumerate(match.frames):
        before = board.moment
        board.add_frame(parse_frame(frame_text), at=float(i))
        servers.append(board.server)
        if board.moment != before and board.moment.startswith("GAME POINT"):
            game_points += 1
        if board.moment != before and board.moment.startswith("MATCH POINT"):
            match_points += 1
    final = board.frame
    assert final is not None and final.finished
    assert final.sets == [tuple(s) for s in match.sets]
    assert final.winner == match.winner
    assert board.line().endswith(f"FINISHED winner {match.winner}")
    # The board knows who serves from the first Point Started on.
    assert servers[-1] is not None and None not in servers[3:]
    assert game_points >= 1 and match_points >= 1


def test_before_any_frame_the_board_waits_and_counts_heartbeats():
    board = Scoreboard()
    assert board.render(now=5.0) == ["waiting for the first frame ... heartbeats 0, last never"]
    board.add_heartbeat(at=1.0)
    assert board.render(now=5.0) == ["waiting for the first frame ... heartbeats 1, last 4.0s ago"]
