"""The decision at the HTTP handshake: which fixture a request asks for, or why not.

Pure: a request path and headers in, an Accept or a Reject out; the server does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from replayer.library import Fixture
from ttrec.feed import MISSING_ACCEPT_BODY, Feed, parse_feed_path, query_params

JSON_TYPE: Final = b"application/json"
TEXT_TYPE: Final = b"text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Accept:
    fixture: Fixture
    start_position: int
    speed: float | None  # None: as fast as the client reads


@dataclass(frozen=True, slots=True)
class Reject:
    status: int
    body: bytes
    content_type: bytes

    @classmethod
    def json(cls, status: int, error: str) -> Reject:
        return cls(status, json.dumps({"error": error, "status": status}).encode(), JSON_TYPE)

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        # A fresh list each time: trio-websocket appends Content-length to the one it gets.
        return [(b"Content-Type", self.content_type)]


def decide(
    path: str,
    headers: Sequence[tuple[bytes, bytes]],
    fixtures: Mapping[tuple[str, Feed], Fixture],
    default_speed: float | None,
) -> Accept | Reject:
    """404 for a path naming no fixture served here; 400 without an Accept header (its
    presence is what the provider checks, so any value passes) or with a bad startPosition;
    else the fixture and this connection's start and speed.

    `speed=fast` in the query plays as fast as the client reads and `speed=normal` at the
    recorded pace; without it (or with another value) the server's --speed applies.
    """
    routed = parse_feed_path(path)
    if routed is None:
        return Reject.json(404, f"Not found: {path.partition('?')[0][:200]}")
    fixture = fixtures.get(routed)
    if fixture is None:
        fixture_id, feed = routed
        return Reject.json(404, f"Fixture {fixture_id} ({feed}) is not served here")
    if not any(name.lower() == b"accept" and value.strip() for name, value in headers):
        return Reject(400, MISSING_ACCEPT_BODY.encode(), TEXT_TYPE)
    params = query_params(path)
    start = asked_start_position(path)
    if start is None:
        raw_start = params["startPosition"]
        return Reject.json(400, f"startPosition must be a non-negative integer, got {raw_start[:40]!r}")
    speed = {"fast": None, "normal": 1.0}.get(params.get("speed", ""), default_speed)
    return Accept(fixture, start, speed)


def asked_start_position(path: str) -> int | None:
    """The startPosition the request target asks for: 0 without one, None when it is not a
    non-negative integer (a 400). Read apart from the rest of the decision, so that the
    report of a refused request says what it asked for too."""
    raw_start = query_params(path).get("startPosition", "0")
    if not raw_start.isdigit() or not raw_start.isascii():
        return None
    return int(raw_start)
