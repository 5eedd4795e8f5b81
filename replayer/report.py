"""What the server tells about each connection: a frozen report and one log line.

A report never holds a token: the auth message is compared and forgotten. It carries the
truth (ttrec.truth) at the last data frame the connection was sent, and `Positions` gives
the same for the connection of each fixture that is playing now.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from ttrec.feed import Feed
from ttrec.truth import Truth, TruthTable

if TYPE_CHECKING:
    from ttrec.schedule import Playback

# How a connection ended:
#   rejected        the handshake was refused (404 unknown fixture, 400 missing Accept, ...)
#   tls-failed      with TLS: the TLS handshake failed (why in `reason`), no HTTP request came
#   auth-invalid    a bad, malformed or empty token: 401 error frame, close 1008
#   auth-timeout    no auth message in time: close 1008
#   client-closed   the client sent a close frame
#   client-gone     the TCP connection ended without a close frame
#   message-too-big the client sent a message over the server's bound: closed with 1009
#   end-of-capture  `on_end="close"`: closed with 1000 after the last frame
#   fault           a `--fault` ended it (see `faults`)
#   send-timeout    the client stopped reading; dropped after the send timeout
#   shutdown        the server stopped
Ending = Literal[
    "rejected",
    "tls-failed",
    "auth-invalid",
    "auth-timeout",
    "client-closed",
    "client-gone",
    "message-too-big",
    "end-of-capture",
    "fault",
    "send-timeout",
    "shutdown",
]


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    client: str  # "host:port" of the peer
    path: str  # the request target (path and query; a token is never in it)
    fixture: str | None  # None when the path named no fixture served here
    feed: str | None
    ended: Ending
    code: int | None = None  # the close code the client saw (or sent), HTTP status when rejected
    reason: str | None = None  # why the TLS handshake failed, in words ("tls-failed" only)
    start_position: int = 0
    speed: float | None = None
    frames_sent: int = 0
    played_to_end: bool = False  # the capture's last data frame was sent on this connection
    heartbeats_sent: int = 0  # recorded and synthetic text frames that are not data
    synthetic_heartbeats: int = 0
    last_seq: int | None = None
    faults: tuple[str, ...] = ()  # specs of the faults injected on this connection, as they fired
    fault_frames: tuple[int, ...] = ()  # for each: data frames sent on the connection when it fired
    duration_s: float = 0.0
    # The furthest data frame of the capture sent on this connection (1-based, as `frame`
    # in a truth line) and the true match state after it: what a consumer that applied
    # everything it received should believe. None when no data frame was sent.
    last_frame: int | None = None
    # Where `truth` is looked up: the capture's table, folded only when someone asks, so
    # that ending a connection never parses the capture on the server's loop (~80 µs a
    # frame, once per capture).
    truths: TruthTable | None = field(default=None, repr=False, compare=False)

    @property
    def truth(self) -> Truth | None:
        """The true match state after `last_frame` (None: no data frame was sent)."""
        if self.truths is None or self.last_frame is None:
            return None
        return self.truths.at(self.last_frame - 1)

    def to_json(self) -> dict[str, Any]:
        """The report as the --report file holds it, its truth included."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "truths"}
        truth = self.truth
        out["truth"] = None if truth is None else asdict(truth)
        return out

    def log_line(self) -> str:
        speed = "max" if self.speed is None else f"{self.speed:g}"
        if self.ended in ("rejected", "tls-failed"):  # nothing was played: no speed to tell
            speed = "-"
        parts = [
            f"fixture={self.fixture or '-'}",
            f"client={self.client}",
            f"frames={self.frames_sent}",
            f"heartbeats={self.heartbeats_sent}",
            f"last_seq={'-' if self.last_seq is None else self.last_seq}",
            f"start={self.start_position}",
            f"speed={speed}",
            f"ended={self.ended}" + ("" if self.code is None else f"({self.code})"),
            f"after={self.duration_s:.3f}s",
        ]
        if self.faults:
            where = self.fault_frames or (None,) * len(self.faults)
            fired = (f if n is None else f"{f}@{n}" for f, n in zip(self.faults, where, strict=True))
            parts.append("faults=" + ";".join(fired))
        if self.fixture is None and self.path:  # (a failed TLS handshake has no path)
            parts.append(f"path={self.path[:200]}")
        if self.reason is not None:
            parts.append(f'reason="{self.reason}"')
        return " ".join(parts)


# Lateness is kept in logarithmic bins, 2% wide, from 1 µs: constant memory and O(1) per
# message for any number of connections, and percentiles within 2%.
_BIN_BASE: Final = 1.02
_MIN_S: Final = 1e-6
_BINS: Final = 1000  # up to 1e-6 * 1.02**1000 ≈ 400 s


class LatenessHistogram:
    """How late each paced message left, against its schedule, over all connections."""

    def __init__(self) -> None:
        self._bins = [0] * (_BINS + 1)
        self.count = 0
        self.max_s = 0.0
        self._log_base = math.log(_BIN_BASE)

    def add(self, lateness_s: float) -> None:
        self.count += 1
        if lateness_s > self.max_s:
            self.max_s = lateness_s
        if lateness_s <= _MIN_S:
            self._bins[0] += 1
            return
        index = math.ceil(math.log(lateness_s / _MIN_S) / self._log_base)
        self._bins[min(index, _BINS)] += 1

    def percentile(self, fraction: float) -> float:
        """The upper edge of the bin holding that fraction (0..1) of the samples; 0 if none."""
        if self.count == 0:
            return 0.0
        rank = math.ceil(fraction * self.count)
        seen = 0
        for index, n in enumerate(self._bins):
            seen += n
            if seen >= max(rank, 1):
                return min(_MIN_S * _BIN_BASE**index, self.max_s)
        return self.max_s

    def reset(self) -> None:
        self._bins = [0] * (_BINS + 1)
        self.count = 0
        self.max_s = 0.0


class _Reaching(Protocol):
    """What a connection's position is read from (replayer.engine.PlaybackEngine)."""

    @property
    def playback(self) -> Playback: ...

    @property
    def frames_sent(self) -> int: ...


def frame_reached(connection: _Reaching) -> int | None:
    """The 0-based index among the capture's data frames of the furthest one sent on the
    connection. Its playback sends every data frame from where it starts, in order, each
    counted once out (a reordered pair counts once both are out; a duplicate or a corrupt
    copy is not counted), so that is where it started plus what it sent."""
    if not connection.frames_sent:
        return None
    playback = connection.playback
    return playback.timeline.frames - playback.frames + connection.frames_sent - 1


def truth_reached(connection: _Reaching) -> Truth | None:
    """The truth after the furthest data frame sent on the connection (None: none sent)."""
    index = frame_reached(connection)
    return None if index is None else connection.playback.timeline.truth_table().at(index)


class Positions:
    """The latest connection accepted for each fixture and feed, to tell the truth at its
    current position: while it plays, and after it ended (until the next one is accepted)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, Feed], _Reaching] = {}

    def accepted(self, fixture_id: str, feed: Feed, connection: _Reaching) -> None:
        self._latest[(fixture_id, feed)] = connection

    def truth(self, fixture_id: str, feed: Feed = "statistics") -> Truth | None:
        """The truth at the last data frame sent to the fixture's latest connection; None
        before any connection got one."""
        connection = self._latest.get((fixture_id, feed))
        return None if connection is None else truth_reached(connection)
