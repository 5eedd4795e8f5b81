"""The socket side of faults: what ttrec.faults decides, done to a connection."""

from __future__ import annotations

import trio


async def drop_connection(stream: trio.abc.Stream) -> None:
    """End the TCP connection with no websocket close frame (and, under TLS, no
    close_notify either): to the client it looks like the network went away."""
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    await trio.aclose_forcefully(raw)
