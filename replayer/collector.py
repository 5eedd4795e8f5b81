"""Garbage collection for a long-running server process: `ttrec serve` turns it on.

A full collection of CPython looks at every tracked object; with 1,000 connections that
is a pause of 80-95 ms on a 2-core machine, and every frame due in it is late. The state
of a connection lives as long as the connection, so once connections have settled there
is nothing for the collector to find in it. The policy:

- at start, the captures and everything imported are frozen (`gc.freeze`), and CPython's
  automatic collections are turned off: a collection then runs only here, between two
  sends, never in the middle of a burst of due frames because some allocation crossed a
  threshold;
- every `FREEZE_PERIOD_S` the young generations are collected (a few milliseconds: they
  hold only the last period's objects; objects without cycles are freed by reference
  counting at once anyway), and when connections were accepted since the last look, what
  survives is frozen, so a full collection only ever looks at the last seconds' objects;
- a frozen object is still freed when its last reference goes, but a reference cycle
  among frozen objects (or one that outlived a period) is not: after `THAW_AFTER_ENDED`
  connections have ended (and not more often than every `THAW_MIN_PERIOD_S`), everything
  is unfrozen, collected in full once, and frozen again. That is the only full collection
  of a large heap, at a known rate, and it keeps memory flat however many clients come and
  go (benchmarks/load.py).

Process-wide settings are the process's to choose: the library never calls this; the
CLI does, and so do the benchmarks that stand in for it. `benchmarks/replay.py` prints the
number and length of full collections beside the lateness they cause.
"""

from __future__ import annotations

import gc
from typing import Final, NoReturn

import trio

from replayer.server import ServerHandle

FREEZE_PERIOD_S: Final = 0.25  # short: while 1,000 clients connect the heap grows fast
THAW_AFTER_ENDED: Final = 500  # connections; ~0.1 MB of cycles each at most, bounded memory
THAW_MIN_PERIOD_S: Final = 60.0


async def manage_collection(
    handle: ServerHandle, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Run beside the server in the process that owns it (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    gc.disable()  # every collection from here on is one of ours, between two sends
    frozen_accepted = handle.accepted
    thawed_ended = handle.ended
    thawed_at = trio.current_time()
    task_status.started()
    try:
        while True:
            await trio.sleep(FREEZE_PERIOD_S)
            now = trio.current_time()
            if handle.ended - thawed_ended >= THAW_AFTER_ENDED and now - thawed_at >= THAW_MIN_PERIOD_S:
                gc.unfreeze()
                gc.collect()
                gc.freeze()
                thawed_ended, thawed_at, frozen_accepted = handle.ended, now, handle.accepted
                continue
            gc.collect(1)  # the young generations: what was made in the last period
            if handle.accepted != frozen_accepted:
                gc.freeze()
                frozen_accepted = handle.accepted
    finally:
        gc.enable()
