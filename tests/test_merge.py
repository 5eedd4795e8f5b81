"""`ttrec merge`: replicas of one fixture's recording unioned by seqNum, disagreements refused."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from action_factory import ActionMatch, straight_match
from click.testing import CliRunner
from recorder_support import read
from replayer_support import FIXTURE, OTHER_FIXTURE, frame_text, header

from ttrec.capture import CaptureWriter
from ttrec.cli import cli
from ttrec.records import Frame, Heartbeat, Record

NS = 1_000_000_000


def wall(second: float) -> str:
    whole = int(second)
    return f"2026-11-24T07:00:{whole:02d}.{round((second - whole) * 1e6):06d}Z"


def write(
    path: Path, frames: list[tuple[int, float]], fixture: str = FIXTURE, texts: dict[int, str] | None = None
) -> Path:
    """Frames (seqNum, wall second); `t` counts from this recorder's own start."""
    start = frames[0][1]
    with CaptureWriter(path, header(fixture)) as writer:
        for seq, second in frames:
            t = round((second - start) * NS)
            writer.write(Frame(t, wall(second), 0, (texts or {}).get(seq, frame_text(seq, fixture))))
            writer.write(Heartbeat(t + 1, wall(second), 0, '{"message":"hb"}'))
    return path


def test_union_by_seqnum_at_the_earliest_arrival(tmp_path: Path) -> None:
    # A was killed during 4..6 and reconnected; B started late (from 3) and lost 9.
    a = write(
        tmp_path / "a.jsonl.zst", [(1, 1.0), (2, 2.0), (3, 3.0), (7, 7.5), (8, 8.5), (9, 9.5), (10, 10.0)]
    )
    b = write(
        tmp_path / "b.jsonl.zst", [(3, 2.9), (4, 4.0), (5, 5.0), (6, 6.0), (7, 7.0), (8, 8.6), (10, 10.2)]
    )
    out = tmp_path / "merged.jsonl.zst"
    result = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    reader, records = read(out)
    frames = [r for r in records if isinstance(r, Frame)]
    assert [f.data for f in frames] == [frame_text(seq) for seq in range(1, 11)]
    # Earliest arrival: 3 and 7 from B, 8 and 10 from A; times from the first frame's wall.
    assert [f.wall for f in frames] == [wall(s) for s in (1.0, 2.0, 2.9, 4.0, 5.0, 6.0, 7.0, 8.5, 9.5, 10.0)]
    assert [f.t for f in frames] == [
        round((s - 1.0) * NS) for s in (1.0, 2.0, 2.9, 4.0, 5.0, 6.0, 7.0, 8.5, 9.5, 10.0)
    ]
    assert not any(isinstance(r, Heartbeat) for r in records)
    assert reader.header.source == "derived"
    sources = reader.header.extra["derived_from"]
    assert [(s["path"], s["frames_supplied"], s["frames_only_here"]) for s in sources] == [
        (str(a), 5, 3),  # 1, 2, 8, 9, 10 first; 1, 2, 9 nowhere else
        (str(b), 5, 3),  # 3, 4, 5, 6, 7 first; 4, 5, 6 nowhere else
    ]
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert f"merged from {a}: 5 frame(s) supplied, 3 no other recording had" in info.output
    assert f"merged from {b}: 5 frame(s) supplied, 3 no other recording had" in info.output


def test_a_replica_whose_clock_runs_behind_cannot_reorder_the_frames(tmp_path: Path) -> None:
    # B's clock is 3 s behind: its 6 and 7 look earlier than A's 4 and 5 by the wall clock.
    a = write(tmp_path / "a.jsonl.zst", [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)])
    b = write(tmp_path / "b.jsonl.zst", [(6, 3.1), (7, 4.1)])
    out = tmp_path / "merged.jsonl.zst"
    result = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    _, records = read(out)
    frames = [r for r in records if isinstance(r, Frame)]
    assert [f.data for f in frames] == [frame_text(seq) for seq in range(1, 8)]  # seqNum order
    ts = [f.t for f in frames]
    assert ts == sorted(ts) and ts[5] == ts[4] == round(4.0 * NS)  # never before the one it follows
    assert CliRunner().invoke(cli, ["check", str(out)]).exit_code == 0


def test_times_count_from_the_first_frame_even_when_a_later_one_looked_earlier(tmp_path: Path) -> None:
    # B's clock is 4 s behind: its copies of 2 and 3 look older than A's 1.
    a = write(tmp_path / "a.jsonl.zst", [(1, 10.0), (2, 11.0), (3, 12.0)])
    b = write(tmp_path / "b.jsonl.zst", [(2, 7.0), (3, 8.0)])
    out = tmp_path / "merged.jsonl.zst"
    assert CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)]).exit_code == 0
    _, records = read(out)
    frames = [r for r in records if isinstance(r, Frame)]
    assert [f.data for f in frames] == [frame_text(seq) for seq in (1, 2, 3)]
    # B's copies arrived first (by their stamps) and stamp before 1: held at the first's time
    assert [f.t for f in frames] == [0, 0, 0]
    assert [f.wall for f in frames] == [wall(10.0), wall(7.0), wall(8.0)]  # as each copy was stamped


def test_a_disagreement_is_reported_and_nothing_written(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl.zst", [(1, 1.0), (2, 2.0), (3, 3.0)])
    b = write(tmp_path / "b.jsonl.zst", [(2, 2.1), (3, 3.1)], texts={3: frame_text(3, pad="other")})
    out = tmp_path / "merged.jsonl.zst"
    result = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 1
    assert f"seqNum 3: different frames in {a}, {b}" in result.output
    assert "1 seqNum disagree" in result.output
    assert not out.exists()


def test_refuses_other_fixtures_and_a_single_input(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl.zst", [(1, 1.0)])
    b = write(tmp_path / "b.jsonl.zst", [(1, 1.0)], fixture=OTHER_FIXTURE)
    out = tmp_path / "merged.jsonl.zst"
    other = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    single = CliRunner().invoke(cli, ["merge", str(a), "-o", str(out)])
    assert other.exit_code == 2 and "only recordings of one fixture and feed merge" in other.output
    assert single.exit_code == 2 and "at least two" in single.output
    assert not out.exists()


# --- the actions feed: packets unioned by fixtureSeqNum ----------------------------------------


def actions_wall(second: float) -> str:
    return f"2026-11-24T07:{int(second) // 60:02d}:{second % 60:09.6f}Z"


def write_actions(path: Path, match: ActionMatch, arrivals: list[tuple[int, float]]) -> Path:
    """A replica's actions recording: (index of the match's packet, wall second) in the order
    it received them, a heartbeat after each, on a new connection after a repeat."""
    records: list[Record] = []
    conn, start, seen = 0, arrivals[0][1], set()
    for index, second in arrivals:
        if index in seen:
            conn += 1  # a packet received again after a reconnect
        seen.add(index)
        t = round((second - start) * NS)
        records.append(Frame(t, actions_wall(second), conn, match.packets[index]))
        records.append(Heartbeat(t + 1, actions_wall(second), conn, '{"message":"hb"}'))
    return match.write(path, "actions", records)


def test_actions_recordings_union_by_fixture_seq_num(tmp_path: Path) -> None:
    match = straight_match()
    packets, seconds, n = match.packets, match.seconds, len(match.packets)
    cancel = next(i for i, p in enumerate(packets) if '"sendType":"Cancelled"' in p)
    assert cancel - 2 > 5 and cancel + 1 < n - 3  # the match is long enough for the plan below
    # A lost cancel-2..cancel+1 (the correction among them): it reconnected, was sent
    # cancel-3 again (the same text: a resend) and went on from cancel+2, 0.1 s late.
    a_arrivals = [(i, seconds[i]) for i in range(cancel - 2)] + [(cancel - 3, seconds[cancel - 3] + 9.0)]
    a_arrivals += [(i, seconds[i] + 0.1) for i in range(cancel + 2, n)]
    a = write_actions(tmp_path / "a.actions.jsonl.zst", match, a_arrivals)
    # B joined at 5 and left before the last two; its wall clock runs 3 s behind, so by the
    # wall clock its copy of packet 5 "arrived" before A's copy of packet 4.
    b = write_actions(
        tmp_path / "b.actions.jsonl.zst", match, [(i, seconds[i] - 3.0) for i in range(5, n - 2)]
    )
    out = tmp_path / "m.actions.jsonl.zst"
    result = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"fixtureSeqNum 1..{n}" in result.output
    reader, records = read(out)
    frames = [r for r in records if isinstance(r, Frame)]
    # every packet of the match once, the correction included, in fixtureSeqNum order
    assert [f.data for f in frames] == packets
    assert [f.conn for f in frames] == [0] * n
    # each packet at its earliest arrival, counted from the earliest one; never going back
    earliest = [
        seconds[i] - 3.0 if 5 <= i < n - 2 else seconds[i] + (0.1 if i > cancel else 0.0) for i in range(n)
    ]
    first = min(earliest)
    assert [f.wall for f in frames] == [actions_wall(s) for s in earliest]
    assert [f.t for f in frames] == list(accumulate((round((s - first) * NS) for s in earliest), max))
    assert frames[5].t == frames[4].t  # B's packet 5 is held back to A's packet 4
    assert not any(isinstance(r, Heartbeat) for r in records)
    assert reader.header.feed == "actions" and reader.header.url.endswith("/actions")
    sources = reader.header.extra["derived_from"]
    assert [(s["frames_supplied"], s["frames_only_here"]) for s in sources] == [
        (7, 7),  # 0..4, n-2, n-1: B never had them
        (n - 7, 4),  # B was earlier for all it had; cancel-2..cancel+1 only B had
    ]
    check = CliRunner().invoke(cli, ["check", str(out)])
    assert check.exit_code == 0, check.output


def test_actions_recordings_that_disagree_are_refused(tmp_path: Path) -> None:
    match = straight_match()
    a = write_actions(tmp_path / "a.actions.jsonl.zst", match, [(i, match.seconds[i]) for i in range(6)])
    other = ActionMatch()
    for type_id in (3, 4, 6, 22, 52, 52):
        other.action(type_id)
    b = write_actions(tmp_path / "b.actions.jsonl.zst", other, [(i, 30.0 + i) for i in range(4, 6)])
    out = tmp_path / "m.actions.jsonl.zst"
    result = CliRunner().invoke(cli, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 1
    assert f"fixtureSeqNum 5: different frames in {a}, {b}" in result.output
    assert f"fixtureSeqNum 6: different frames in {a}, {b}" in result.output
    assert "2 fixtureSeqNums disagree" in result.output
    assert not out.exists()
