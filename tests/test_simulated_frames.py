"""ttrec.simulated_frames writes a frame's text from pieces, exactly as json.dumps wrote the
frame as a dict before (the way kept below as the oracle): the same text and the same draws
from the generator, frame for frame, over matches of every shape the simulator plays."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ttrec.match import ACTION_NAMES, Team
from ttrec.simulated_frames import PERIOD_TYPE, SIDES, AggregateBook, FrameMeta, period_label
from ttrec.simulated_incidents import Incidents
from ttrec.simulator import simulate_match


def dict_render(book: AggregateBook, meta: FrameMeta, rng: random.Random) -> str:
    """The frame as a dict, then json.dumps: how render wrote it before it wrote pieces."""
    frame: dict[str, Any] = {
        "seqNum": meta.seq_num,
        "traceId": meta.trace_id,
        "version": 3,
        "finished": meta.finished,
        "fixtureId": meta.fixture_id,
        "timestamp": meta.timestamp,
        "teamActionAggregates": [dict_team(book, side, rng) for side in SIDES],
    }
    if meta.advanced:
        frame["advancedSportStatistics"] = []  # "advancedSportStatistics []" in the field table
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def dict_team(book: AggregateBook, side: str, rng: random.Random) -> dict[str, Any]:
    team = book.teams[side]  # type: ignore[index]
    periods = [
        {"type": PERIOD_TYPE, "label": period_label(p), "period": p, "aggregates": dict_aggregates(c, rng)}
        for p, c in book.periods[side].items()  # type: ignore[index]
    ]
    rng.shuffle(periods)
    return {
        "team": {"id": team.id, "name": team.name, "homeTeam": team.home},
        "gameActionAggregates": dict_aggregates(book.totals[side], rng),  # type: ignore[index]
        "periodActionAggregates": periods,
        "playerActionAggregates": [],
    }


def dict_aggregates(counts: dict[int, int], rng: random.Random) -> list[dict[str, Any]]:
    aggregates = [
        {"action": ACTION_NAMES[a], "actionId": a, "actionAggregate": n, "subActionAggregates": []}
        for a, n in counts.items()
        if n > 0
    ]
    rng.shuffle(aggregates)
    return aggregates


# Singles and doubles, best of 3, 5 and 7, every collection ending, corrections (counts that
# go down to zero and leave the frame), advanced statistics, contiguous numbering.
SHAPES = [
    {"best_of": 3},
    {"best_of": 5, "doubles": True, "advanced_statistics": True},
    {"best_of": 7, "contiguous_seq": True},
    {"best_of": 3, "incidents": Incidents(correction_ppm=200_000, scenario="dropped")},
    {"best_of": 5, "incidents": Incidents(correction_ppm=60_000, scenario="suspended"), "doubles": True},
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_frames_are_the_texts_json_dumps_wrote(
    monkeypatch: pytest.MonkeyPatch, shape: dict[str, Any]
) -> None:
    for seed in (0, 2**40 + 7):
        pieces = simulate_match(seed, **shape)
        with monkeypatch.context() as patched:
            patched.setattr(AggregateBook, "render", dict_render)
            dicts = simulate_match(seed, **shape)
        # The generator drew the same: the rest of the match (later frames, heartbeat and
        # close times, the actions feed) is the same too.
        assert pieces == dicts and len(pieces.frames) > 40


def test_strings_are_escaped_as_json_dumps_escapes_them() -> None:
    home = Team('h"1\\', 'Zoë \u2028 "Quote"\n', True)
    away = Team("a\t2", "Ōkubo / 大", False)
    book = AggregateBook(home, away)
    for action in ACTION_NAMES:
        book.add("home", 1, action)
        book.add("away", 12, action)
    book.add("away", 12, 1102)
    meta = FrameMeta(7, "t\x00", True, "fix\u00e9", "2026-01-05T09:00:00.000000100Z", advanced=True)
    assert book.render(meta, random.Random(5)) == dict_render(book, meta, random.Random(5))
