"""Facts of the websocket wire that the recorder and the replayer share (RFC 6455 §7.4.1
close codes, and how long either end waits for the other)."""

from __future__ import annotations

from typing import Final

NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001  # the server (or the recorder) is stopping
ABNORMAL_CLOSURE: Final = 1006  # no close frame: the TCP connection just ended; never sent
POLICY_VIOLATION: Final = 1008  # the provider's answer to a bad or missing token
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011  # what a failing provider would send

# A websocket handshake (TCP + TLS + HTTP upgrade) takes at most this long; a healthy
# peer needs well under 1 s.
HANDSHAKE_TIMEOUT_S: Final = 10.0
# After sending a close frame, wait this long for the peer's answer, then drop the TCP.
CLOSE_TIMEOUT_S: Final = 5.0
