"""The match model on the provider's own sample frame, in any order of periods."""

from __future__ import annotations

import copy
import json
import random

import pytest
from frame_factory import PROVIDER_SAMPLE
from hypothesis import given
from hypothesis import strategies as st

from ttrec.match import (
    ACTION_NAMES,
    GAME_POINT,
    POINT_SCORED,
    FrameError,
    is_legal_set_score,
    parse_frame,
    set_winner,
)

SAMPLE_TEXT = PROVIDER_SAMPLE.read_text()
SAMPLE = json.loads(SAMPLE_TEXT)


def test_sample_frame_home_wins_three_two():
    frame = parse_frame(SAMPLE_TEXT)
    assert frame.sets == [(4, 11), (11, 9), (10, 12), (11, 9), (11, 7)]
    assert frame.sets_won == (3, 2)
    assert frame.winner == "home"
    assert frame.finished and frame.seq_num == 272 and frame.version == 3
    assert frame.home is not None and frame.home.count(GAME_POINT) == 5
    assert frame.away is not None and frame.away.team.name == "SIM_V2 - YILMAZ Ozge/HARAC Ece"


@given(st.randoms(use_true_random=False))
def test_order_of_teams_periods_and_aggregates_does_not_matter(rng: random.Random):
    shuffled = copy.deepcopy(SAMPLE)
    rng.shuffle(shuffled["teamActionAggregates"])
    for team in shuffled["teamActionAggregates"]:
        rng.shuffle(team["gameActionAggregates"])
        rng.shuffle(team["periodActionAggregates"])
        for period in team["periodActionAggregates"]:
            rng.shuffle(period["aggregates"])
    frame = parse_frame(shuffled)
    assert frame.sets == [(4, 11), (11, 9), (10, 12), (11, 9), (11, 7)]
    assert frame.winner == "home"


def test_unfinished_frame_has_no_winner_yet():
    obj = copy.deepcopy(SAMPLE)
    obj["finished"] = False
    assert parse_frame(obj).winner is None


def test_a_frame_with_no_teams_yet_is_empty_not_an_error():
    frame = parse_frame({"seqNum": 1, "fixtureId": "x", "teamActionAggregates": []})
    assert frame.sets == [] and frame.sets_won == (0, 0) and frame.winner is None


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda o: o.pop("seqNum"), "missing 'seqNum'"),
        (lambda o: o.update(seqNum="1"), "'seqNum' must be int"),
        (lambda o: o.update(finished="yes"), "'finished' must be bool"),
        (lambda o: o["teamActionAggregates"][1]["team"].update(homeTeam=True), "two home teams"),
        (lambda o: o["teamActionAggregates"][0].update(periodActionAggregates=[1]), "must be an object"),
        (
            lambda o: o["teamActionAggregates"][0]["gameActionAggregates"][0].update(actionAggregate=True),
            "'actionAggregate' must be int",
        ),
    ],
)
def test_malformed_frames_are_refused(mutate, problem):
    obj = copy.deepcopy(SAMPLE)
    mutate(obj)
    with pytest.raises(FrameError, match=problem):
        parse_frame(obj)


def test_not_json_is_a_frame_error():
    with pytest.raises(FrameError, match="not JSON"):
        parse_frame("{")


@pytest.mark.parametrize(
    ("score", "finished", "legal"),
    [
        ((11, 9), True, True),
        ((11, 0), True, True),
        ((12, 10), True, True),
        ((16, 14), True, True),
        ((11, 10), True, False),
        ((12, 9), True, False),
        ((10, 8), True, False),
        ((10, 10), False, True),
        ((11, 10), False, True),
        ((14, 13), False, True),
        ((11, 9), False, False),
        ((13, 9), False, False),
    ],
)
def test_table_tennis_set_scores(score, finished, legal):
    assert is_legal_set_score(score, finished=finished) is legal


def test_set_winner():
    assert set_winner((11, 9)) == "home"
    assert set_winner((12, 14)) == "away"
    assert set_winner((10, 11)) is None


def test_action_ids_and_names_are_the_providers() -> None:
    """Every (actionId, action) pair in the provider's own frame is the one ttrec knows."""
    seen: set[tuple[int, str]] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if "actionId" in value:
                seen.add((value["actionId"], value["action"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(PROVIDER_SAMPLE.read_text()))
    assert seen and seen <= set(ACTION_NAMES.items())
    assert {action_id for action_id, _ in seen} >= {POINT_SCORED, GAME_POINT}
