"""A polite stop for every fixture at once (Ctrl-C, SIGTERM, or a test saying "enough").

Cancelling the whole recorder would abort each connection without a close frame and leave
no `close` record. Instead, only the waits are interruptible: a session wraps each wait
(for a message, a backoff, an attempt slot) in `interruptible()`, and `request()` cancels
those scopes, so the code after the wait closes the connection and records why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio


class Stop:
    def __init__(self) -> None:
        self._requested = False
        self._scopes: set[trio.CancelScope] = set()

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        self._requested = True
        for scope in self._scopes:
            scope.cancel()

    @contextmanager
    def interruptible(self) -> Iterator[trio.CancelScope]:
        """A cancel scope that `request()` cancels (at once if it already happened)."""
        scope = trio.CancelScope()
        if self._requested:
            scope.cancel()
        self._scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    def release(self, scope: trio.CancelScope) -> None:
        """From now on `request()` leaves `scope` alone (a wait it covered is over, and what
        follows inside it answers the stop its own way)."""
        self._scopes.discard(scope)
