"""The reconnect policy, as pure values and functions: no sockets, no clock.

Which failures are worth another attempt, how long to wait before it, and how many
attempts the whole process may make per second (the provider asks for at most 5
requests per second and long-lived connections rather than repeated reconnects).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from ttrec.feed import MAX_REQUESTS_PER_S

Verdict = Literal["transient", "permanent"]

# HTTP answers at the handshake that another attempt cannot change: a malformed request
# (400), a refused token (401/403), an unknown fixture or path (404), a gone host (410).
# 408, 429 and the 5xx family are the server's momentary trouble and worth a retry.
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})

# Close codes after which reconnecting would only repeat the refusal: the replayer and the
# provider close with 1008 (policy violation) after a bad or missing auth message.
PERMANENT_CLOSE_CODES: Final = frozenset({1008})


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


class AttemptWindow:
    """Hands out connection-attempt times so that no one-second window holds more than
    `max_per_window` of them, across every fixture that shares this object.

    `slot(now)` books the earliest allowed time at or after `now`; the caller waits until
    then. Slots never go backwards, so slot i is at least `window_s` after slot i - max.
    """

    def __init__(self, max_per_window: int = MAX_REQUESTS_PER_S, window_s: float = 1.0) -> None:
        if max_per_window < 1 or window_s <= 0:
            raise ValueError("the window must allow at least one attempt in a positive time")
        self.max_per_window = max_per_window
        self.window_s = window_s
        self._slots: deque[float] = deque(maxlen=max_per_window)

    def slot(self, now: float) -> float:
        at = now
        if self._slots:
            at = max(at, self._slots[-1])
            if len(self._slots) == self.max_per_window:
                at = max(at, self._slots[0] + self.window_s)
        self._slots.append(at)
        return at
