"""`ttrec info` figures: the fold over records and the seqNum gap tracker."""

from __future__ import annotations

from frame_factory import FIXTURE, stats_frame
from hypothesis import given
from hypothesis import strategies as st

from ttrec.records import Close, Frame, Header, Heartbeat
from ttrec.summary import CaptureSummary, SeqTracker


def missing(seen: set[int]) -> list[tuple[int, int]]:
    """Reference: the missing ranges between the lowest and highest seen seqNum."""
    gaps: list[tuple[int, int]] = []
    for n in range(min(seen), max(seen) + 1):
        if n not in seen:
            if gaps and gaps[-1][1] == n - 1:
                gaps[-1] = (gaps[-1][0], n)
            else:
                gaps.append((n, n))
    return gaps


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1))
def test_gap_tracker_agrees_with_a_set_in_any_arrival_order(seqs):
    tracker = SeqTracker()
    for seq in seqs:
        tracker.add(seq)
    assert (tracker.first, tracker.highest) == (min(seqs), max(seqs))
    assert tracker.gaps == missing(set(seqs))


def test_summary_of_a_reconnected_capture():
    summary = CaptureSummary(Header(FIXTURE, "ws://h", "recorded", "2026-11-24T07:00:00Z"))
    for record in [
        Frame(1_000_000_000, "w", 0, stats_frame(1, [(1, 0)])),
        Heartbeat(2_000_000_000, "w", 0, "hb"),
        Close(2_500_000_000, "w", 0, None, "", "network"),
        Frame(3_000_000_000, "w", 1, stats_frame(4, [(11, 3)], finished=True)),
    ]:
        summary.add(record)
    data = summary.as_json()
    assert {k: data[k] for k in ("frames", "heartbeats", "connections", "first_seq", "last_seq")} == {
        "frames": 2,
        "heartbeats": 1,
        "connections": 2,
        "first_seq": 1,
        "last_seq": 4,
    }
    assert data["seq_gaps"] == [[2, 3]]
    assert data["duration_s"] == 2.0
    assert (data["sets"], data["winner"], data["finished"]) == ([[11, 3]], "home", True)
    assert data["teams"] == {"home": "Home", "away": "Away"}
