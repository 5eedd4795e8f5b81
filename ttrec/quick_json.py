"""JSON texts read by orjson where the stdlib would read the same, for the hot readers (a
capture's frames inspected, folded into truths, checked and summarised).

Where orjson reads a text, the stdlib reads the same value: both are strict RFC 8259 parsers
keeping the last of duplicate keys, and the stdlib's extras (NaN, lone surrogates, exponents
past a float) orjson refuses. The one difference is an int past 64 bits, which orjson does
not give as the stdlib's int: callers take only ints of sensible size and read any other
text again the stdlib's way. A text with fewer brackets than SHALLOW_BRACKETS is no deeper
than that, so the stdlib would not give up on its depth either (tests/test_match_parse.py,
tests/test_feed_quick.py: the same value or error as the stdlib's).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

# Nesting no deeper than this is within what the stdlib parser reads at any sensible stack
# depth (its limit is the recursion limit, 1,000 frames, less the caller's stack).
SHALLOW_BRACKETS: Final = 400


def quick_loads(text: str) -> Any:
    """`text` read by orjson (some 3-4x quicker than the stdlib on a frame), or None to
    leave it to the stdlib: too many brackets to be sure of its depth, or not what orjson
    reads."""
    if text.count("{") + text.count("[") >= SHALLOW_BRACKETS:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
