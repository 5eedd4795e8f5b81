"""Garbage collection for a long-running server process: `ttrec serve` turns it on.

A full collection of CPython looks at every tracked object; with 1,000 connections that
is a pause of 80-95 ms on a 2-core machine, and every frame due in it is late. The state
of a connection lives as long as the connection, so once connections have settled there
is nothing for the collector to find in it. The policy:

- at start, the captures and everything imported are frozen (`gc.freeze`): out of reach,
  and the oldest generation is looked at ten times less often than CPython's default;
- every `FREEZE_PERIOD_S`, when connections were accepted since the last look, the young
  generations are collected (a few milliseconds: they hold only recent objects) and what
  survives is frozen, so full collections only ever look at the last seconds' objects;
- a frozen object is still freed when its last reference goes, but a reference cycle
  among frozen objects is not: after `THAW_AFTER_ENDED` connections have ended (and not
  more often than every `THAW_MIN_PERIOD_S`), everything is unfrozen, collected in full
  once, and frozen again. That is the only full collection of a large heap, at a known
  rate, and it keeps memory flat however many clients come and go (benchmarks/load.py).

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
# gen2 looked at after 100 gen1 collections instead of CPython's 10: with settled state
# frozen, and the thaw below for cycles, a full collection has little left to find.
FULL_COLLECTION_THRESHOLD: Final = 100
THAW_AFTER_ENDED: Final = 500  # connections; ~0.1 MB of cycles each at most, bounded memory
THAW_MIN_PERIOD_S: Final = 60.0


async def manage_collection(
    handle: ServerHandle, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Run beside the server in the process that owns it (see the module's docstring)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
    gc.collect()
    gc.freeze()
    frozen_accepted = handle.accepted
    thawed_ended = handle.ended
    thawed_at = trio.current_time()
    task_status.started()
    while True:
        await trio.sleep(FREEZE_PERIOD_S)
        now = trio.current_time()
        if handle.ended - thawed_ended >= THAW_AFTER_ENDED and now - thawed_at >= THAW_MIN_PERIOD_S:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            thawed_ended, thawed_at, frozen_accepted = handle.ended, now, handle.accepted
        elif handle.accepted != frozen_accepted:
            gc.collect(1)
            gc.freeze()
            frozen_accepted = handle.accepted
