"""The mock side of ttrec: a websocket server replaying captures as the provider would.

handle = await nursery.start(serve, [capture_path], ServeOptions(speed=None))
url = handle.fixture_url(handle.fixtures[0])
"""

from __future__ import annotations

from replayer.options import ServeOptions
from replayer.report import ConnectionReport, LatenessHistogram
from replayer.server import ServerHandle, serve, serve_listeners

__all__ = [
    "ConnectionReport",
    "LatenessHistogram",
    "ServeOptions",
    "ServerHandle",
    "serve",
    "serve_listeners",
]
