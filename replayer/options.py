"""How `serve` behaves: one frozen value, shared by every connection."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

from replayer.control import StepControl
from ttrec.faults import Fault
from ttrec.feed import HEARTBEAT_INTERVAL_S
from ttrec.schedule import StartAt

AUTH_TIMEOUT_S: Final = 10.0
# A client that has not taken a message off the socket for this long (both kernel buffers
# full) is dropped, so it holds no memory and no task hostage; its report says "send-timeout".
SEND_TIMEOUT_S: Final = 10.0

OnEnd = Literal["stay", "close"]
MAX_SPEED: Final = "max"  # as fast as the client reads: speed None


def parse_speed(value: object) -> float | None:
    """A playback speed as `--speed` and the pytest marker take it: a positive finite number,
    or "max" (None); ValueError names what is wrong."""
    if value is None or (isinstance(value, str) and value.strip().lower() == MAX_SPEED):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        speed = math.nan  # True is no speed, though float() takes it
    else:
        try:
            speed = float(value)
        except OverflowError:  # an int past any float: no finite speed either
            speed = math.inf
        except ValueError:
            raise ValueError(f"{value!r} is neither a number nor {MAX_SPEED!r}") from None
    if not 0 < speed < math.inf:
        raise ValueError(f"{value!r} must be a positive number or {MAX_SPEED!r}")
    return speed


@dataclass(frozen=True, slots=True)
class ServeOptions:
    speed: float | None = 1.0  # None = max (as fast as the client reads)
    heartbeat_interval_s: float = float(HEARTBEAT_INTERVAL_S)
    # Empty: any non-empty token is accepted. Out of the repr, so that a log line, an
    # f-string or a traceback showing its locals never prints the secrets.
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    auth_timeout_s: float = AUTH_TIMEOUT_S
    on_end: OnEnd = "stay"
    faults: tuple[Fault, ...] = ()
    seed: int = 0  # seeds each connection's fault generator (ttrec.faults.connection_rng)
    send_timeout_s: float = SEND_TIMEOUT_S
    # Step control (not a plain value: the live gates a test drives); None: free-running.
    control: StepControl | None = None
    start_at: StartAt | None = None  # --start-at: where every playback begins

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"speed must be positive or None (max), got {self.speed}")
        for name in ("heartbeat_interval_s", "auth_timeout_s", "send_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.on_end not in ("stay", "close"):
            raise ValueError(f"on_end must be 'stay' or 'close', got {self.on_end!r}")
