"""`ttrec watch` and `ttrec demo`, driven against the replayer over loopback."""

from __future__ import annotations

import json

import pytest
import trio
from click.testing import CliRunner
from terminal_emulator import cursor_shown_at_end, screen

from recorder.secret import Token
from recorder.watch import watch
from replayer import ServeOptions, serve
from ttrec.bundled import sample_path
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.cli.watch import DEMO_SAMPLE
from ttrec.errors import UpstreamRejected
from ttrec.feed import seq_num
from ttrec.records import Frame
from ttrec.scoreboard import Scoreboard
from ttrec.testing import serve_in_thread


def sample_truth() -> dict:
    result = CliRunner().invoke(cli, ["info", "--json", str(sample_path(DEMO_SAMPLE))])
    return json.loads(result.output)


async def test_watch_follows_a_served_match_to_its_end():
    truth = sample_truth()
    shown: list[tuple[int, bool]] = []

    def show(board: Scoreboard, new_frame: bool) -> None:
        shown.append((board.frames, new_frame))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(serve, [sample_path(DEMO_SAMPLE)], ServeOptions(speed=None))
            url = handle.fixture_url(truth["fixture_id"])
            result = await watch(url, Token("any-token"), show, refresh_s=None)
            nursery.cancel_scope.cancel()
    frame = result.board.frame
    assert result.ended == "finished"
    assert frame is not None and [list(s) for s in frame.sets] == truth["sets"]
    assert frame.winner == truth["winner"]
    assert result.board.frames == truth["frames"]
    assert [count for count, new in shown if new] == list(range(1, truth["frames"] + 1))


async def test_watch_with_a_refused_token_raises_a_clear_error():
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            options = ServeOptions(speed=None, tokens=frozenset({"right-token"}))
            handle = await nursery.start(serve, [sample_path(DEMO_SAMPLE)], options)
            url = handle.fixture_url(handle.fixtures[0])
            # the mock, like the provider, says 401 in an error frame after the handshake
            refused = (
                "rejected by the server: an error frame, status 401: The supplied authentication is invalid"
            )
            with pytest.raises(UpstreamRejected, match=refused):
                await watch(url, Token("wrong-token"), lambda board, new: None, refresh_s=None)
            nursery.cancel_scope.cancel()


def test_demo_shows_a_whole_match_in_plain_lines():
    truth = sample_truth()
    result = CliRunner().invoke(cli, ["demo", "--plain", "--seconds", "0.5"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == truth["frames"]
    points = " ".join(f"{h}-{a}" for h, a in truth["sets"])
    home, away = truth["sets_won"]
    tail = f"sets {home}-{away}  points per set {points}  FINISHED winner {truth['winner']}"
    assert lines[-1].endswith(tail)
    assert "finished: " in result.stderr


def test_demo_live_leaves_the_final_board_on_screen():
    truth = sample_truth()
    result = CliRunner().invoke(cli, ["demo", "--live", "--seconds", "0.5"])
    assert result.exit_code == 0, result.output
    shown = screen(result.stdout)
    assert cursor_shown_at_end(result.stdout)
    # Drawn in place: only the last board is left, headed by the final frame.
    assert sum(line.startswith("fixture ") for line in shown) == 1
    assert shown[0].endswith(f"seq {truth['last_seq']}  FINISHED")
    home, away = truth["sets_won"]
    count = len(truth["sets"])
    assert shown[1].split() == ["team", "sets", *map(str, range(1, count + 1))]
    assert shown[2].split()[-count - 1 :] == [str(home), *(str(h) for h, _ in truth["sets"])]
    assert shown[3].split()[-count - 1 :] == [str(away), *(str(a) for _, a in truth["sets"])]
    assert any(line.startswith(f"winner {truth['winner']}") for line in shown)


def test_watch_cli_errors_are_one_line():
    runner = CliRunner()
    unreachable = "ws://127.0.0.1:1/v2/tabletennis/fixtures/1bd00469-86fa-4f0b-abcc-30cbef80dacc/statistics"
    result = runner.invoke(cli, ["watch", "--plain", unreachable])
    assert result.exit_code == 1 and "cannot connect" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(cli, ["watch", "1bd00469-86fa-4f0b-abcc-30cbef80dacc"], env={"TTREC_TOKEN": ""})
    assert result.exit_code == 2 and "needs a token" in result.stderr
    assert runner.invoke(cli, ["watch", "not-a-fixture"]).exit_code == 2


def test_watch_cli_exits_1_when_the_connection_ends_before_the_match():
    sample = sample_path(DEMO_SAMPLE)
    with serve_in_thread([sample], faults=["close:after=5,code=1011"]) as server:
        result = CliRunner().invoke(cli, ["watch", "--plain", server.fixture_url()])
    assert result.exit_code == 1
    first_five = [str(seq_num(r.data)) for r in read_capture(sample)[1] if isinstance(r, Frame)][:5]
    assert [line.split()[1] for line in result.stdout.splitlines()] == first_five
    assert result.stderr.strip().startswith("closed by the server (1011): 5 frames, ")


def test_watch_says_a_dropped_connection_was_lost_not_closed_by_the_server():
    sample = sample_path(DEMO_SAMPLE)
    with serve_in_thread([sample], faults=["drop:after=5"]) as server:
        result = CliRunner().invoke(cli, ["watch", "--plain", server.fixture_url()])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("connection lost (no close frame): 5 frames, ")
    assert "1006" not in result.stderr


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ('{"error": "Authentication failed", "status": 401}', 401),
        ('{"error": "busy", "status": 503}', 503),
        ('{"error": "not a refusal", "status": 200}', None),  # below 400: informational
        ('{"status": 401}', None),  # no "error": the recorder's rule says it is no error frame
        ("[" * 100_000, None),  # deeper than the JSON parser's recursion limit
        ('{"message":"Heartbeat","level":"INFO"}', None),
    ],
)
def test_watch_reads_error_frames_by_the_recorders_rule(text: str, status: int | None) -> None:
    from recorder.watch import _refusal
    from ttrec.feed import inspect_text

    refusal = _refusal(text, Token("secret"))
    assert (refusal.status if refusal else None) == status
    if status is not None:  # the same frame the recorder calls an error frame
        assert inspect_text(text).error_status == status
