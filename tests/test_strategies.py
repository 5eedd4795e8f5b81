"""The hypothesis strategies users get from ttrec.testing.strategies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.feed import classify
from ttrec.match import parse_frame
from ttrec.simulator import SimulatedMatch
from ttrec.testing.strategies import feed_messages, heartbeats, matches, seeds, statistics_frames

PROPERTY = settings(max_examples=15, deadline=None)


@PROPERTY
@given(matches())
def test_matches_are_whole_simulated_matches(match: SimulatedMatch) -> None:
    final = parse_frame(match.frames[-1])
    assert final.finished and final.winner == match.winner and final.sets == list(match.sets)
    assert match.best_of in (3, 5, 7)


@PROPERTY
@given(matches(best_of=3, doubles=True))
def test_matches_honour_fixed_options(match: SimulatedMatch) -> None:
    assert match.best_of == 3 and match.doubles and "/" in match.home.name
    assert len(match.sets) in (2, 3)


@PROPERTY
@given(statistics_frames())
def test_statistics_frames_are_data_frames(text: str) -> None:
    assert classify(text) == "frame"
    frame = parse_frame(text)
    assert frame.seq_num >= 1 and frame.home is not None and frame.away is not None


@PROPERTY
@given(statistics_frames(finished=True))
def test_finished_frames_are_final(text: str) -> None:
    frame = parse_frame(text)
    assert frame.finished and frame.winner is not None


@PROPERTY
@given(statistics_frames(finished=False))
def test_unfinished_frames_are_not_final(text: str) -> None:
    frame = parse_frame(text)
    assert not frame.finished and frame.winner is None


@PROPERTY
@given(feed_messages(best_of=3))
def test_feed_messages_interleave_frames_and_heartbeats(messages: list[str]) -> None:
    kinds = [classify(text) for text in messages]
    frames = [text for text, kind in zip(messages, kinds, strict=True) if kind == "frame"]
    seqs = [parse_frame(text).seq_num for text in frames]
    assert seqs == sorted(set(seqs)) and seqs[0] >= 1  # increasing, with gaps (SPEC §6)
    assert "heartbeat" in kinds  # there is always a break between games
    assert parse_frame(frames[-1]).finished


@PROPERTY
@given(heartbeats())
def test_heartbeats_are_not_data_frames(text: str) -> None:
    assert classify(text) == "heartbeat"
    message = json.loads(text)
    assert message["level"] == "INFO" and message["message"].startswith("Heartbeat sent at ")


@PROPERTY
@given(st.data())
def test_seeds_fit_the_cli(data: st.DataObject) -> None:
    assert 0 <= data.draw(seeds()) < 2**63


def test_impossible_best_of_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="best_of"):
        matches(best_of=4)
