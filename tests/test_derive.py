"""Derived captures as pure functions over records: slice, splice, warp, and their headers."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttrec.derive import (
    Cut,
    DeriveError,
    Origin,
    derived_header,
    moment_cut,
    parse_cut,
    rewrite_frame,
    slice_records,
    splice,
    warp,
)
from ttrec.feed import seq_num
from ttrec.invariants import Checker
from ttrec.moments import moments_of_texts
from ttrec.records import Frame, Header, Heartbeat, Record
from ttrec.simulator import simulate_match

MATCH = simulate_match(seed=5, best_of=5, contiguous_seq=True)  # frames counted 1..N
RECORDS: list[Record] = list(MATCH.records)
FRAMES = list(MATCH.frames)
MOMENTS = list(moments_of_texts(FRAMES))
NS = 1_000_000_000


def frames(records: list[Record]) -> list[str]:
    return [r.data for r in records if isinstance(r, Frame)]


def seqs(records: list[Record]) -> list[int | None]:
    return [seq_num(text) for text in frames(records)]


def problems(records: list[Record], header: Header | None = None) -> list[str]:
    checker = Checker(header or MATCH.header)
    for line, record in enumerate(records, start=2):
        checker.add(line, record)
    return [str(p) for p in checker.finish()]


def at(moment: str, nth: int = 1) -> int:
    return [i for i, m in enumerate(MOMENTS) if moment in m][nth - 1]


def test_slice_by_seq_keeps_what_lies_between_and_starts_at_zero() -> None:
    out = slice_records(RECORDS, parse_cut("seq", "10..50"))
    assert seqs(out) == list(range(10, 51))
    assert isinstance(out[0], Frame) and isinstance(out[-1], Frame)
    assert out[0].t == 0 and out[0].conn == 0
    first = RECORDS.index(next(r for r in RECORDS if isinstance(r, Frame) and seq_num(r.data) == 10))
    assert [r.data for r in out] == [r.data for r in RECORDS[first : first + len(out)]]  # type: ignore[union-attr]
    gaps = [b.t - a.t for a, b in pairwise(out)]
    assert gaps == [b.t - a.t for a, b in pairwise(RECORDS[first : first + len(out)])]
    assert problems(out) == []


def test_open_ended_and_single_value_ranges() -> None:
    last = len(FRAMES)
    assert seqs(slice_records(RECORDS, parse_cut("seq", f"{last - 9}.."))) == list(range(last - 9, last + 1))
    assert seqs(slice_records(RECORDS, parse_cut("seq", "..3"))) == [1, 2, 3]
    assert seqs(slice_records(RECORDS, parse_cut("seq", "7"))) == [7]


def test_slice_by_time() -> None:
    out = slice_records(RECORDS, parse_cut("time", "60..120"))
    kept = [r for r in RECORDS if isinstance(r, Frame) and 60 * NS <= r.t <= 120 * NS]
    assert frames(out) == [r.data for r in kept]


def test_slice_by_sets_and_moments() -> None:
    set_2 = slice_records(RECORDS, parse_cut("set", "2"))
    assert frames(set_2) == FRAMES[at("set-end", 1) + 1 : at("set-end", 2) + 1]
    assert problems(set_2) == []
    tail = slice_records(RECORDS, parse_cut("set", "3.."))
    assert frames(tail) == FRAMES[at("set-end", 2) + 1 :]
    between = slice_records(RECORDS, moment_cut("game-point#2", "set-end#2"))
    assert frames(between) == FRAMES[at("game-point", 2) : at("set-end", 2) + 1]
    end = slice_records(RECORDS, moment_cut("match-point", None))
    assert frames(end) == FRAMES[at("match-point") :] and json.loads(frames(end)[-1])["finished"] is True


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (Cut("seq", 10_000, None), "no data frame"),
        (moment_cut("match-point#9", None), "match-point"),
        (moment_cut("set-end#2", "set-end#1"), "before the start"),
        (Cut("set", 9, 9), "set"),
    ],
)
def test_impossible_cuts_say_why(cut: Cut, problem: str) -> None:
    with pytest.raises(DeriveError, match=problem):
        slice_records(RECORDS, cut)


@pytest.mark.parametrize(
    ("kind", "text"), [("seq", "9..3"), ("seq", "a..b"), ("time", "-1..5"), ("set", "0")]
)
def test_bad_ranges_say_why(kind: str, text: str) -> None:
    with pytest.raises(DeriveError):
        parse_cut(kind, text)  # type: ignore[arg-type]


@given(st.integers(1, len(FRAMES)), st.integers(0, 40))
def test_any_seq_slice_is_a_valid_capture(low: int, length: int) -> None:
    out = slice_records(RECORDS, Cut("seq", low, low + length))
    assert seqs(out) == list(range(low, min(low + length, len(FRAMES)) + 1))
    assert problems(out) == []


def test_warp_scales_and_caps_every_gap() -> None:
    halved = warp(RECORDS, scale=0.5)
    capped = warp(RECORDS, cap_s=2)
    for original, fast, short in zip(pairwise(RECORDS), pairwise(halved), pairwise(capped), strict=True):
        gap = original[1].t - original[0].t
        assert fast[1].t - fast[0].t == round(gap * 0.5)
        assert short[1].t - short[0].t == min(gap, 2 * NS)
    assert [type(r) for r in halved] == [type(r) for r in RECORDS] and problems(capped) == []
    assert halved[0].t == 0
    with pytest.raises(DeriveError):
        warp(RECORDS, scale=0)


def test_splice_runs_seqnums_on_and_moves_each_part_after_the_previous() -> None:
    first = slice_records(RECORDS, parse_cut("seq", "1..20"))
    second = slice_records(RECORDS, parse_cut("seq", "101..110"))
    joined = splice([first, second], fixture_id="new-fixture", gap_s=30)
    assert seqs(joined) == list(range(1, 31))
    assert {json.loads(text)["fixtureId"] for text in frames(joined)} == {"new-fixture"}
    boundary = len(first)
    assert joined[boundary].t == joined[boundary - 1].t + 30 * NS
    assert joined[boundary].conn == joined[boundary - 1].conn + 1
    # Only the seqNum and fixtureId changed: the rest of each frame is byte for byte.
    for before, after in zip(frames(second), frames(joined)[20:], strict=True):
        old, new = json.loads(before), json.loads(after)
        assert {k: v for k, v in old.items() if k not in ("seqNum", "fixtureId")} == {
            k: v for k, v in new.items() if k not in ("seqNum", "fixtureId")
        }
        assert len(after) - len(before) == len("new-fixture") - len(old["fixtureId"]) + len(
            str(new["seqNum"])
        ) - len(str(old["seqNum"]))
    header = Header("new-fixture", "u", "derived", "c")
    assert problems(joined, header) == []  # later in the same match: the score only grows
    assert problems(splice([second, first], fixture_id="new-fixture"), header) != []  # it goes back


def test_rewrite_frame_falls_back_to_a_full_encoding_when_keys_repeat() -> None:
    text = json.dumps({"seqNum": 4, "fixtureId": "a", "nested": {"seqNum": 1}})
    assert json.loads(rewrite_frame(text, "b", 10)) == {
        "seqNum": 14,
        "fixtureId": "b",
        "nested": {"seqNum": 1},
    }
    assert rewrite_frame("not json", "b", 1) == "not json"


def test_splice_keeps_heartbeats() -> None:
    part = [Frame(0, "w", 0, FRAMES[0]), Heartbeat(5, "w", 0, '{"message":"hb"}')]
    joined = splice([part, part], fixture_id=MATCH.header.fixture_id, gap_s=0)
    assert [type(r) for r in joined] == [Frame, Heartbeat, Frame, Heartbeat]
    assert [r.t for r in joined] == [0, 5, 5, 10] and seqs(joined) == [1, 2]


def test_derived_header_names_its_inputs_and_their_history() -> None:
    sliced = derived_header(
        [Origin("m.jsonl.zst", MATCH.header)], "slice seq=1..5", created="2026-11-24T08:00:00Z"
    )
    assert sliced.source == "derived" and sliced.fixture_id == MATCH.header.fixture_id
    assert sliced.extra["derived_from"] == [
        {
            "path": "m.jsonl.zst",
            "fixture_id": MATCH.header.fixture_id,
            "source": "simulated",
            "operation": "slice seq=1..5",
        }
    ]
    again = derived_header([Origin("s.jsonl.zst", sliced)], "warp scale=0.5", created="x", fixture_id="other")
    assert again.fixture_id == "other" and "other" in again.url and MATCH.header.fixture_id not in again.url
    assert again.extra["derived_from"][0]["derived_from"] == sliced.extra["derived_from"]
