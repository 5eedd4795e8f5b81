"""ttrec.match.parse_frame reads a frame's text with orjson where it can, and gives exactly
what reading it with the stdlib's json gives (the oracle here: the frame, or the same
FrameError), for simulated frames, frames with their numbers pushed past 64 bits, NaN,
lone surrogates, nesting past any parser's depth, and fields of the wrong type."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.match import FrameError, StatsFrame, parse_frame
from ttrec.simulator import simulate_match

FRAMES = simulate_match(4, best_of=3).frames


def stdlib_way(text: str) -> StatsFrame | str:
    """The frame as json.loads reads it (the decoded object takes the unchanged path), or
    the error's message."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    except RecursionError:
        return "not JSON: nested too deeply"
    return outcome(lambda: parse_frame(obj))


def outcome(parse: Any) -> StatsFrame | str:
    try:
        return parse()  # type: ignore[no-any-return]
    except FrameError as exc:
        return str(exc)


def same(text: str) -> None:
    assert outcome(lambda: parse_frame(text)) == stdlib_way(text)


# Replacements of a piece of a frame's text by something the two parsers may read apart.
ODD = [
    "18446744073709551617",  # past 64 bits: orjson reads a float, the stdlib an int
    "-9223372036854775809",
    "1e400",  # the stdlib reads inf, orjson refuses
    "NaN",
    '"\\ud800"',  # a lone surrogate
    "true",
    "null",
    "1.5",
    "[" * 500 + "]" * 500,
    "{}",
    '"x"',
]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FRAMES), st.sampled_from(ODD), st.data())
def test_any_number_or_value_replaced_reads_as_the_stdlib_reads_it(frame: str, odd: str, data: Any) -> None:
    # A value of the frame (after a ':') replaced: a number, a string, a bool.
    starts = [i + 1 for i, c in enumerate(frame) if c == ":"]
    start = data.draw(st.sampled_from(starts))
    end = start
    while frame[end] not in ",}]":
        end += 1
    same(frame[:start] + odd + frame[end:])


def test_simulated_frames_and_odd_texts_read_as_the_stdlib_reads_them() -> None:
    for frame in FRAMES:
        same(frame)
    seq_a_float = FRAMES[0].replace(f'"seqNum":{json.loads(FRAMES[0])["seqNum"]},', '"seqNum":2e0,', 1)
    for text in (
        FRAMES[0].replace('{"seqNum":', '{"seqNum":18446744073709551617,"x":', 1),
        seq_a_float,
        "[" * 2000 + "]" * 2000,
        '{"seqNum":1,"fixtureId":"\\ud800"}',
        '{"seqNum":1,"fixtureId":"f","teamActionAggregates":[' + "[" * 600 + "]" * 600 + "]}",
        "\ufeff{}",
        "",
        "{",
    ):
        same(text)
    big = parse_frame('{"seqNum":18446744073709551617,"fixtureId":"f"}')
    assert big.seq_num == 2**64 + 1


def test_deep_texts_read_as_the_stdlib_reads_them_deep_in_the_stack() -> None:
    # Called 600 frames deep, the stdlib gives up on 450 levels of nesting where orjson
    # would not: parse_frame leaves such a text to the stdlib (a frame with a field that
    # deep is no frame to the stdlib, at this depth).
    def deep(levels: int) -> None:
        if levels:
            return deep(levels - 1)
        assert stdlib_way("[" * 500 + "]" * 500) == "not JSON: nested too deeply"
        same("[" * 500 + "]" * 500)
        deep_field = '{"seqNum":1,"fixtureId":"f","x":' + "[" * 450 + "]" * 450 + "}"
        assert stdlib_way(deep_field) == "not JSON: nested too deeply"
        same(deep_field)
        return None

    deep(600)
