"""The recorder against a faulty replayer: what it still guarantees.

For every fault here the recorder ends with the match's finished frame and every seqNum
exactly once. Where the fault changes what arrives, the capture shows it as it arrived:
- duplicate: the repeat is dropped (counted in `duplicates`), order kept;
- reorder: both frames are kept once, in the order they came (out of seqNum order; the
  capture is a record of the wire, so `ttrec check` reports that seqNum went back);
- corrupt: the torn frame is not a data frame, so it is kept as a heartbeat record;
- drop, close, reject: reconnects with startPosition = frames written, nothing lost or twice.

Rules: loopback only, port 0, `autojump_clock`, a `trio.fail_after` bound on every test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from recorder_support import TOKEN, frames_of, read, record_from, replayer

from replayer import ServeOptions
from ttrec.faults import corrupt_text, parse_fault
from ttrec.feed import seq_num
from ttrec.moments import moments_of_texts
from ttrec.records import Close, Error, Heartbeat, Open
from ttrec.simulator import simulate_match, write_capture

MATCH = simulate_match(seed=11, best_of=3)
FIXTURE = MATCH.header.fixture_id
SEQS = [seq_num(f) for f in MATCH.frames]
MATCH_POINTS = [i for i, m in enumerate(moments_of_texts(MATCH.frames)) if "match-point" in m]


async def _record(
    tmp_path: Path, *specs: str, speed: float | None = None
) -> tuple[object, list[object], list[str]]:
    source = write_capture(MATCH, tmp_path / "source.jsonl.zst")
    options = ServeOptions(speed=speed, seed=9, faults=tuple(parse_fault(s) for s in specs))
    with trio.fail_after(3600):
        async with replayer([source], options) as handle:
            [result] = await record_from(handle, [FIXTURE], tmp_path / "out", token=TOKEN)
            reports = [r.ended for r in handle.connections]
            fired = [f for r in handle.connections for f in r.faults]
    assert result.outcome == "finished" and result.complete, result.detail
    assert fired, "the fault never fired"
    _, records = read(result.path)
    return result, records, reports


@pytest.mark.parametrize(
    ("spec", "connections"),
    [
        ("drop:at=match-point", 2),  # once (the default): the resumed connection plays on
        # With times=always each match point drops a connection, also when it is sent again as
        # the resume's overlap: then the next resume asks for no overlap.
        ("drop:at=match-point,times=always", 2 * len(MATCH_POINTS) + 1),
        ("close:after=40,code=1011,reason=overloaded,times=always", 0),  # every 40: computed below
        ("stall:after=30,for=20", 1),  # shorter than the recorder's 30 s watchdog
        ("no-heartbeats:after=0", 1),
        ("heartbeats-only:at=set-end#1,for=25", 1),
        ("delay:after=10,by=20", 1),
    ],
)
async def test_every_seqnum_exactly_once_in_order(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, spec: str, connections: int
) -> None:
    result, records, _ = await _record(tmp_path, spec, speed=1.0 if "for=" in spec or "by=" in spec else None)
    assert [seq_num(f.data) for f in frames_of(records)] == SEQS  # type: ignore[arg-type]
    expected = connections or -(-len(SEQS) // 40)
    assert result.connections == expected  # type: ignore[attr-defined]
    if spec.startswith("drop"):
        opens = [r for r in records if isinstance(r, Open)]
        # A resume asks for one frame of overlap (the position minus one), and none after a
        # connection that brought only that overlap.
        resumes = [p for i in MATCH_POINTS for p in (i, i + 1)][: connections - 1]
        assert [o.start_position for o in opens] == [0, *resumes]


async def test_reject_next_two_is_retried_and_loses_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    result, records, reports = await _record(tmp_path, "reject:next=2,status=503")
    assert [seq_num(f.data) for f in frames_of(records)] == SEQS  # type: ignore[arg-type]
    assert [r.status for r in records if isinstance(r, Error)] == [503, 503]
    assert reports[:2] == ["rejected", "rejected"]
    assert (result.attempts, result.connections) == (3, 1)  # type: ignore[attr-defined]


async def test_duplicates_are_dropped(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    result, records, _ = await _record(tmp_path, "duplicate:p=0.2", "duplicate:at=match-point")
    assert [seq_num(f.data) for f in frames_of(records)] == SEQS  # type: ignore[arg-type]
    assert result.duplicates > 1  # type: ignore[attr-defined]


async def test_reorder_keeps_both_frames_once_in_arrival_order(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    _, records, _ = await _record(tmp_path, "reorder:after=5", "drop:after=7")
    got = [seq_num(f.data) for f in frames_of(records)]  # type: ignore[arg-type]
    assert sorted(got) == SEQS and len(set(got)) == len(got)  # type: ignore[type-var]
    # Each connection swaps its 6th and 7th frames, and the drop waits for the pair to be
    # out, so a reconnect never skips the held-back one.
    assert got[:8] == [*SEQS[:5], SEQS[6], SEQS[5], SEQS[7]]


async def test_a_corrupt_frame_is_kept_as_a_heartbeat(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    _, records, _ = await _record(tmp_path, "corrupt:after=10")
    assert [seq_num(f.data) for f in frames_of(records)] == SEQS  # type: ignore[arg-type]
    torn = corrupt_text(MATCH.frames[9])
    assert torn in [r.data for r in records if isinstance(r, Heartbeat)]
    assert not [r for r in records if isinstance(r, Close) and r.by != "client"]
