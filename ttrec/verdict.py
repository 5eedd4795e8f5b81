"""Judge a consumer: compare what it believes with the truth, at the same seqNum.

A consumer reports beliefs as JSON Lines, each `{"seq": N, <field>: <value>, ...}` with only
the fields of the truth schema (ttrec.truth) that it tracks. It may lag (report seldom, or
skip seqNums); it must never be wrong about a state it reports: every reported field must
equal the truth after the frame with that seqNum. Where a seqNum was sent more than once,
the state after its last frame counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ttrec.errors import TtrecError
from ttrec.truth import COMPARABLE

BELIEF_FIELDS: Final = frozenset({*COMPARABLE, "teams"})
IGNORED_FIELDS: Final = frozenset({"schema", "frame"})  # describe a truth line, not a state
CONTEXT_LINES: Final = 2  # truth lines shown before and after a divergence


class BeliefError(TtrecError):
    """A beliefs line that is not a belief (not JSON, no integer seq, an unknown field)."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"beliefs line {line}: {problem}")


@dataclass(frozen=True, slots=True)
class Divergence:
    line: int  # of the belief, 1-based
    belief: Mapping[str, Any]
    truth: Mapping[str, Any] | None  # None: the feed never sent that seqNum
    fields: tuple[str, ...]  # the fields that differ
    before: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    after: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def describe(self) -> list[str]:
        """The divergence for people: one headline, then the context."""
        seq = self.belief["seq"]
        if self.truth is None:
            head = f"beliefs line {self.line}: seq {seq} was never sent by the feed"
        else:
            wrong = ", ".join(
                f"{name} believed {_show(self.belief[name])}, true {_show(self.truth.get(name))}"
                for name in self.fields
            )
            head = f"beliefs line {self.line}: at seq {seq} (data frame {self.truth['frame']}): {wrong}"
        lines = [head]
        if self.truth is not None:
            # Always all three labels: at the first (last) data frame there is nothing before
            # (after) it, said so, rather than a context that looks shifted.
            lines += [f"  truth before: {_show(t)}" for t in self.before] or [
                "  truth before: none (the first data frame)"
            ]
            lines.append(f"  truth at:     {_show(self.truth)}")
            lines += [f"  truth after:  {_show(t)}" for t in self.after] or [
                "  truth after:  none (the last data frame)"
            ]
        lines.append(f"  belief:       {_show(self.belief)}")
        return lines


def parse_beliefs(lines: Iterable[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, belief) for each non-blank line; a bad line raises BeliefError."""
    beliefs = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            belief = json.loads(text)
        except (ValueError, RecursionError):
            raise BeliefError(number, "not a JSON object") from None
        if not isinstance(belief, dict):
            raise BeliefError(number, "not a JSON object")
        seq = belief.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise BeliefError(number, "no integer 'seq'")
        unknown = sorted(set(belief) - BELIEF_FIELDS - IGNORED_FIELDS - {"seq"})
        if unknown:
            raise BeliefError(
                number, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(BELIEF_FIELDS))})"
            )
        beliefs.append((number, belief))
    return beliefs


def first_divergence(
    truth: Sequence[Mapping[str, Any]], beliefs: Iterable[tuple[int, Mapping[str, Any]]]
) -> Divergence | None:
    """The first belief (in the consumer's order) that contradicts the truth, or None."""
    by_seq = {line["seq"]: index for index, line in enumerate(truth)}  # the last frame wins
    for number, belief in beliefs:
        index = by_seq.get(belief["seq"])
        if index is None:
            return Divergence(number, belief, None, ())
        state = truth[index]
        wrong = tuple(
            name for name in belief if name in BELIEF_FIELDS and not same_json(belief[name], state.get(name))
        )
        if wrong:
            before = truth[max(0, index - CONTEXT_LINES) : index]
            after = truth[index + 1 : index + 1 + CONTEXT_LINES]
            return Divergence(number, belief, state, wrong, tuple(before), tuple(after))
    return None


# The types `same_json` compares with ==: for them JSON texts are equal exactly when the
# values are (a bool is not an int here, as the exact type is checked first).
_PLAIN: Final = (str, int, bool, type(None))


def same_json(a: Any, b: Any) -> bool:
    """Whether `a` and `b` have the same canonical JSON (`canonical_json`): tuples and lists
    alike, key order irrelevant, and true is not 1. Compared structurally, without writing
    the JSON out (a search judges some hundred thousand fields); anything but plain values,
    lists and string-keyed objects (a float, a subclass) is compared by its JSON text."""
    kind = type(a)
    if kind is type(b) and kind in _PLAIN:
        return bool(a == b)
    if kind in (list, tuple) and type(b) in (list, tuple):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if kind is dict and type(b) is dict and all(type(k) is str for k in (*a, *b)):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return canonical_json(a) == canonical_json(b)


def canonical_json(value: Any) -> str:
    """Canonical JSON: tuples and lists alike, key order irrelevant, and true is not 1."""
    return json.dumps(value, sort_keys=True)


def _show(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
