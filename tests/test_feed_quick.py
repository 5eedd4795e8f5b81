"""`inspect_text`'s orjson path for statistics data frames against the stdlib's reading.

The reference below is the stdlib rule `inspect_text` had before the quick path, written
out here; the quick path must give the same verdict for every text.
"""

from __future__ import annotations

import json
from pathlib import Path

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


# The strategies frame_texts draws from, built once (a strategy built anew for every draw
# cost more than the draw), and the sample's own pairs written out once.
_PLAUSIBLE = {"seqNum": st.integers(-2, 2) | st.integers(), "fixtureId": any_text}
_ADDED = {
    key: _PLAUSIBLE.get(key, values) | values
    for key in ("seqNum", "fixtureId", "finished", "error", "status")
}
_DROPPABLE = ("seqNum", "fixtureId", "finished")
_DROPPED = st.sampled_from(_DROPPABLE)
_INSERTED = st.sampled_from(["", "x", "{", '"', "\\"])
_SAMPLE_PAIRS = [(key, f"{json.dumps(key)}:{json.dumps(value)}") for key, value in SAMPLE.items()]


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """The provider's frame with its key fields of every type, repeated, dropped or
    added to; sometimes a byte of the text changed or cut."""
    pairs = list(_SAMPLE_PAIRS)
    for key, added in _ADDED.items():
        if draw(st.booleans()):
            pairs.append((key, f"{json.dumps(key)}:{json.dumps(draw(added))}"))
    if draw(st.booleans()):
        # each pair of a droppable key dropped when a key drawn for it is its own (a pair of
        # another key never is: nothing is drawn for it)
        pairs = [p for p in pairs if p[0] not in _DROPPABLE or p[0] != draw(_DROPPED)]
    text = "{" + ",".join(pair for _, pair in pairs) + "}"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_INSERTED) + text[at + draw(st.integers(0, 3)) :]
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
