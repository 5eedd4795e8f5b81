"""ttrec.verdict compares a belief's field with the truth's structurally (`same_json`), and
that is exactly the comparison of their canonical JSON texts it replaced (kept as
`canonical_json`, the oracle here): lists and tuples alike, key order irrelevant, true is
not 1, 1.0 is not 1, over values drawn from a small domain so that equal pairs are common."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.verdict import canonical_json, same_json

ATOMS = st.sampled_from([0, 1, 2, True, False, None, "", "a", "1", "true", 1.0, 0.0, -0.0, float("nan")])
KEYS = st.sampled_from(["a", "b", "seq"]) | st.sampled_from([1, True, None])  # JSON writes 1 as "1"


def values() -> st.SearchStrategy[Any]:
    return st.recursive(
        ATOMS,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(st.sampled_from(["a", "b", "seq"]), inner, max_size=3)
            | st.dictionaries(KEYS, inner, max_size=2)
        ),
        max_leaves=6,
    )


def reshaped(value: Any) -> Any:
    """The same JSON in another shape: lists as tuples and back, keys in reverse order."""
    if isinstance(value, list | tuple):
        items = [reshaped(v) for v in value]
        return items if isinstance(value, tuple) else tuple(items)
    if isinstance(value, dict):
        return {k: reshaped(value[k]) for k in reversed(list(value))}
    return value


@settings(max_examples=150, deadline=None)
@given(values(), values())
def test_same_json_is_equal_canonical_json(a: Any, b: Any) -> None:
    try:
        expected = canonical_json(a) == canonical_json(b)
    except TypeError:  # keys JSON cannot sort (1 and "a"): not a pair a verdict ever meets
        return
    assert same_json(a, b) is expected
    assert same_json(a, reshaped(a)) and canonical_json(a) == canonical_json(reshaped(a))


def test_the_cases_a_verdict_turns_on() -> None:
    assert same_json([[11, 9], [3, 4]], ((11, 9), (3, 4)))
    assert same_json({"home": "A", "away": "B"}, {"away": "B", "home": "A"})
    assert not same_json(True, 1) and not same_json(1, True) and not same_json(0, False)
    assert not same_json(1.0, 1) and not same_json(None, "null") and not same_json([1], [1, 1])
    assert not same_json({"home": "A"}, {"home": "A", "away": "B"})
