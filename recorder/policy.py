"""The reconnect policy, as pure values and functions: no sockets, no clock.

Which failures are worth another attempt, how long to wait before it, and how many
attempts the whole process may make per second (the provider asks for at most 5
requests per second and long-lived connections rather than repeated reconnects).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final, Literal

from ttrec.feed import MAX_REQUESTS_PER_S
from ttrec.wire import POLICY_VIOLATION

Verdict = Literal["transient", "permanent"]

# HTTP answers at the handshake that another attempt cannot change: a malformed request
# (400), a refused token (401/403), an unknown fixture or path (404), a gone host (410).
# 408, 429 and the 5xx family are the server's momentary trouble and worth a retry.
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})

# Close codes after which reconnecting would only repeat the refusal: the replayer and the
# provider close with 1008 (policy violation) after a bad or missing auth message.
PERMANENT_CLOSE_CODES: Final = frozenset({POLICY_VIOLATION})


def classify_status(status: int) -> Verdict:
    """A rejected handshake: 4xx means "not like this" and is never retried, except
    the statuses that say "not now"; 5xx and anything odd is the server's trouble."""
    if 400 <= status < 500 and status not in _RETRYABLE_STATUSES:
        return "permanent"
    return "transient"


def classify_close(code: int | None) -> Verdict:
    """A server close. Every code but the policy-violation ones is retried, 1000 included:
    a normal close before `finished` leaves the match unrecorded, and a consumer of the
    feed would reconnect with startPosition to get the rest."""
    return "permanent" if code in PERMANENT_CLOSE_CODES else "transient"


def classify_error_frame(status: int | None) -> Verdict:
    """A text frame `{"error": ..., "status": N}` from the server (the auth refusal)."""
    if status is None:
        return "transient"
    return classify_status(status)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": the n-th consecutive failed attempt waits
    a random time in [d/2, d] where d = min(cap, initial * factor**n).

    Half the delay is fixed so that a flapping server is never hammered; half is random
    so that many fixtures dropped at the same moment (one server restart) do not come
    back in lock step.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0

    def delay_s(self, failures: int, rng: random.Random) -> float:
        if failures < 0:
            raise ValueError("failures must not be negative")
        # min() before the power would overflow for a long outage; clamp the exponent.
        exponent = min(failures, 64)
        ceiling = min(self.cap_s, self.initial_s * self.factor**exponent)
        return ceiling / 2 + rng.random() * ceiling / 2


DEFAULT_BACKOFF: Final = Backoff()


# Clock granularity and rate differences between our clock and the server's: a little
# extra so that "1 s after" on our clock is never "0.999 s after" on the server's.
ATTEMPT_MARGIN_S: Final = 0.02


class AttemptWindow:
    """Books connection attempts so that no one-second window *as the server sees it*
    holds more than `max_per_window` of them, across every fixture that shares this object.

    The server sees an attempt at some moment between our start of it (TCP connect) and
    its end (handshake answered, or failed). So attempt i may start only once every attempt
    up to i - max has ended, and `window_s` (+ a margin) after the latest of those ends:
    then any `max + 1` attempts span more than a window on the server's clock, whatever
    the network's latency. Spacing by our start times alone let a server see 7
    handshakes within 0.998 s (docs/RELIABILITY.md).

    Pure bookkeeping, no clock: the caller passes times in and waits (recorder.session).
    """

    def __init__(
        self,
        max_per_window: int = MAX_REQUESTS_PER_S,
        window_s: float = 1.0,
        margin_s: float = ATTEMPT_MARGIN_S,
    ) -> None:
        if max_per_window < 1 or window_s <= 0 or margin_s < 0:
            raise ValueError("the window must allow at least one attempt in a positive time")
        self.max_per_window = max_per_window
        self.window_s = window_s
        self.margin_s = margin_s
        self._next = 0
        self._ends: dict[int, float | None] = {}  # booked and not yet folded into _horizon
        self._folded = 0  # attempts below this index have ended and are in _horizon
        self._horizon = -math.inf  # the latest end among them

    def book(self) -> int:
        """A place in line; attempts are made in booking order."""
        index = self._next
        self._next += 1
        self._ends[index] = None
        return index

    def earliest_start(self, index: int) -> float | None:
        """When attempt `index` may start; None while an attempt it must wait for is in flight."""
        while self._folded <= index - self.max_per_window:
            end = self._ends.get(self._folded)
            if end is None:
                return None
            self._horizon = max(self._horizon, end)
            del self._ends[self._folded]
            self._folded += 1
        return self._horizon + self.window_s + self.margin_s

    def ended(self, index: int, at: float) -> None:
        """Attempt `index` is over as far as the server's count goes (answered or failed);
        a second call changes nothing."""
        if self._ends.get(index, 0.0) is None:
            self._ends[index] = at
