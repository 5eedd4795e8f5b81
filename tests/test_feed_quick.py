"""`inspect_text`'s orjson path for statistics data frames against the stdlib's reading.

The reference below is the stdlib rule `inspect_text` had before the quick path, written
out here; the quick path must give the same verdict for every text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ttrec.feed import TextMessage, inspect_text

SAMPLE = json.loads((Path(__file__).parent / "data" / "provider-statistics-frame-final.json").read_text())
_HEARTBEAT = TextMessage("heartbeat")


def legacy_inspect(text: str) -> TextMessage:
    has_seq = '"seqNum"' in text and '"fixtureId"' in text
    has_error = '"error"' in text and '"status"' in text
    if not (has_seq or has_error):
        return _HEARTBEAT
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return _HEARTBEAT
    if not isinstance(obj, dict):
        return _HEARTBEAT
    seq, fixture = obj.get("seqNum"), obj.get("fixtureId")
    if (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and seq >= 1
        and isinstance(fixture, str)
        and fixture
    ):
        return TextMessage("frame", seq=seq, finished=obj.get("finished") is True)
    status = obj.get("status")
    if "error" in obj and isinstance(status, int) and not isinstance(status, bool):
        return TextMessage("heartbeat", error_status=status)
    return _HEARTBEAT


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
any_text = st.text(st.characters(exclude_categories=()) | surrogates, max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=5,
)


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """The provider's frame with its key fields of every type, repeated, dropped or
    added to; sometimes a byte of the text changed or cut."""
    pairs: list[tuple[str, Any]] = list(SAMPLE.items())
    for key in ("seqNum", "fixtureId", "finished", "error", "status"):
        if draw(st.booleans()):
            plausible = {"seqNum": st.integers(-2, 2) | st.integers(), "fixtureId": any_text}
            pairs.append((key, draw(plausible.get(key, values) | values)))
    if draw(st.booleans()):
        pairs = [p for p in pairs if p[0] != draw(st.sampled_from(["seqNum", "fixtureId", "finished"]))]
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from(["", "x", "{", '"', "\\"]))
            + text[at + draw(st.integers(0, 3)) :]
        )
    return text


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_texts())
@example(json.dumps({**SAMPLE, "seqNum": 2**64}))
@example(json.dumps({**SAMPLE, "seqNum": True}))
@example(json.dumps({**SAMPLE, "seqNum": 7, "n": float("nan")}))
@example('{"seqNum":1,"fixtureId":"f","seqNum":0}')
def test_a_text_is_inspected_as_the_stdlib_inspects_it(text):
    assert inspect_text(text) == legacy_inspect(text)


def test_a_frame_deeper_than_the_stdlib_parses_is_a_heartbeat_as_before():
    # Not under hypothesis, which raises the recursion limit while it runs a test.
    deep = json.dumps({**SAMPLE, "seqNum": 7})[:-1] + ',"deep":' + "[" * 1010 + "]" * 1010 + "}"
    assert legacy_inspect(deep) == _HEARTBEAT
    assert inspect_text(deep) == _HEARTBEAT
