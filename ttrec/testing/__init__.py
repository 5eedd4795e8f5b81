"""Helpers for testing consumers of the feed against ttrec: the replayer in a test
(`open_server` for trio, `serve_asyncio` for asyncio, `serve_in_thread` for synchronous
code), `check_consumer` (a Python consumer judged over many scenarios, ttrec.testing.check),
and the pytest plugin (`ttrec.testing.plugin`, active once ttrec is installed).

The names are imported on first use, not with the package: the pytest plugin lives in this
package and loads in every test run of a project that has ttrec installed, so loading it
must not import trio, the replayer or hypothesis for a project that never uses them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ttrec.testing.asyncio_harness import AsyncioServer, serve_asyncio
    from ttrec.testing.check import ConsumerDiverged, check_consumer
    from ttrec.testing.harness import (
        DEFAULT_TOKEN,
        ThreadServer,
        TrioServer,
        open_server,
        serve_in_thread,
        serve_options,
    )

# name -> the module that defines it
_WHERE: Final = {
    "DEFAULT_TOKEN": "ttrec.testing.harness",
    "ThreadServer": "ttrec.testing.harness",
    "TrioServer": "ttrec.testing.harness",
    "open_server": "ttrec.testing.harness",
    "serve_in_thread": "ttrec.testing.harness",
    "serve_options": "ttrec.testing.harness",
    "AsyncioServer": "ttrec.testing.asyncio_harness",
    "serve_asyncio": "ttrec.testing.asyncio_harness",
    "ConsumerDiverged": "ttrec.testing.check",
    "check_consumer": "ttrec.testing.check",
}

__all__ = [
    "DEFAULT_TOKEN",
    "AsyncioServer",
    "ConsumerDiverged",
    "ThreadServer",
    "TrioServer",
    "check_consumer",
    "open_server",
    "serve_asyncio",
    "serve_in_thread",
    "serve_options",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value
