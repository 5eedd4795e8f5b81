"""What `ttrec serve` sets for its own process before it listens: as many open files as the
system allows it, and trio's complaints about the listener in one line each.

Each client is a file descriptor. The usual soft limit is 1,024 on Linux and 256 on macOS,
below the 1,000 clients ttrec is measured with; past it, every accept fails with EMFILE and
trio logs that failure with a traceback each time it retries (every 0.1 s) while clients
wait. Raising the soft limit up to the hard one needs no privilege.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

# Where the hard limit is "unlimited", ask for this many; macOS refuses more than
# OPEN_MAX (10,240) for its soft limit, the second try.
_WANTED: Final = (1 << 20, 10_240)
# trio's logger for its serve_listeners (accept failures: EMFILE, ENFILE, ENOBUFS, ENOMEM).
TRIO_LISTENER_LOG: Final = "trio.serve_listeners"


def raise_open_files_limit() -> int | None:
    """Raise the soft limit on open files as far as allowed; the new soft limit (None where
    the system has no such limit, as on Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (hard,) if hard != resource.RLIM_INFINITY else _WANTED:
        if soft != resource.RLIM_INFINITY and soft < wanted:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                soft = wanted
    return soft


class _IntoOurLog(logging.Handler):
    """Hands trio's record to `into` (whose handlers say it in ttrec's shape), without the
    traceback trio attaches: the message already says what failed."""

    def __init__(self, into: logging.Logger) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        record.exc_info = record.exc_text = None
        record.stack_info = None
        self.into.handle(record)


def log_listener_errors_to(into: logging.Logger) -> None:
    """Send trio's listener log lines through `into`, one line each (idempotent)."""
    trio_log = logging.getLogger(TRIO_LISTENER_LOG)
    if not any(isinstance(handler, _IntoOurLog) for handler in trio_log.handlers):
        trio_log.addHandler(_IntoOurLog(into))
    trio_log.propagate = False
