"""Build small statistics frames for tests of the core (the simulator makes realistic ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The provider's published sample (the final frame of a simulated 5-set doubles match),
# copied from shared/reference so the tests need nothing outside the repository.
PROVIDER_SAMPLE = Path(__file__).parent / "data" / "provider-statistics-frame-final.json"

FIXTURE = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
HOME_ID = "0222e701-d937-4250-8041-0f8ed8cf4a23"
AWAY_ID = "e02e8cbb-7149-4f72-b69a-7896d06d390b"


def _agg(action_id: int, count: int) -> dict[str, Any]:
    names = {1101: "Point Started", 1102: "Point Scored", 1103: "Swap Serve"}
    return {
        "action": names.get(action_id, "Other"),
        "actionId": action_id,
        "actionAggregate": count,
        "subActionAggregates": [],
    }


def _team(home: bool, sets: list[tuple[int, int]], total_bonus: int) -> dict[str, Any]:
    side = 0 if home else 1
    periods = [
        {"type": "Regular", "label": f"Set {i + 1}", "period": i + 1, "aggregates": [_agg(1102, s[side])]}
        for i, s in enumerate(sets)
    ]
    total = sum(s[side] for s in sets) + total_bonus
    return {
        "team": {"id": HOME_ID if home else AWAY_ID, "name": "Home" if home else "Away", "homeTeam": home},
        "gameActionAggregates": [_agg(1102, total)],
        "periodActionAggregates": list(reversed(periods)),  # the provider's order is no order
        "playerActionAggregates": [],
    }


def stats_frame(
    seq: int,
    sets: list[tuple[int, int]],
    *,
    finished: bool = False,
    fixture: str = FIXTURE,
    total_bonus: int = 0,
) -> str:
    return json.dumps(
        {
            "seqNum": seq,
            "traceId": f"{seq:032x}",
            "version": 3,
            "finished": finished,
            "fixtureId": fixture,
            "timestamp": "2026-11-24T07:00:00.000000000Z",
            "teamActionAggregates": [_team(True, sets, total_bonus), _team(False, sets, 0)],
        },
        separators=(",", ":"),
    )


def match_progression(set_scores: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Every intermediate score, point by point (home scores first within a set)."""
    states: list[list[tuple[int, int]]] = []
    done: list[tuple[int, int]] = []
    for home, away in set_scores:
        h = a = 0
        while (h, a) != (home, away):
            # alternate so the in-play score never passes a win early
            if (h - a < 1 and h < home) or a >= away:
                h += 1
            else:
                a += 1
            states.append([*done, (h, a)])
        done.append((home, away))
    return states
