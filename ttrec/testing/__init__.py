"""Helpers for testing consumers of the feed against ttrec: the replayer in a test
(`open_server` for trio, `serve_in_thread` for asyncio and synchronous code), and the
pytest plugin (`ttrec.testing.plugin`, active once ttrec is installed)."""

from __future__ import annotations

from ttrec.testing.harness import (
    DEFAULT_TOKEN,
    ThreadServer,
    TrioServer,
    open_server,
    serve_in_thread,
    serve_options,
)

__all__ = ["DEFAULT_TOKEN", "ThreadServer", "TrioServer", "open_server", "serve_in_thread", "serve_options"]
