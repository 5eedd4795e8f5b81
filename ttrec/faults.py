"""Fault specs for the mock server (`ttrec serve --fault SPEC`): parsing and pure decisions.

A spec is `KIND[:KEY=VALUE,...]`: what goes wrong, then when and how. Today:

    drop:after=N                      after N data frames on a connection, the TCP
                                      connection ends with no websocket close frame
    close:after=N[,code=C][,reason=R] after N data frames, a close frame with code C
                                      (default 1011) and reason R (default empty)

`after=N` counts the data frames sent on that connection (after its startPosition skip);
every new connection starts counting again, so `drop:after=40` makes a reconnecting
client reconnect repeatedly until the end. Values cannot contain `,` or `=`.
The grammar grows by adding kinds and triggers (probability, match moments); the replayer
applies whatever `due_fault` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ttrec.errors import TtrecError

DEFAULT_CLOSE_CODE: Final = 1011  # "internal error": what a failing provider would send
MAX_CLOSE_REASON_BYTES: Final = 123  # a close frame's payload is at most 125 bytes, 2 for the code


class FaultSpecError(TtrecError):
    def __init__(self, spec: str, problem: str) -> None:
        self.spec = spec
        self.problem = problem
        super().__init__(f"bad fault spec {spec!r}: {problem}")

    def __repr__(self) -> str:
        return f"FaultSpecError(spec={self.spec!r}, problem={self.problem!r})"


@dataclass(frozen=True, slots=True)
class AfterFrames:
    """Fires once the connection has sent `frames` data frames (0: right after auth)."""

    frames: int

    def __str__(self) -> str:
        return f"after={self.frames}"


Trigger = AfterFrames


@dataclass(frozen=True, slots=True)
class DropFault:
    """End the TCP connection with no close frame: the client sees an abnormal closure."""

    trigger: Trigger

    def __str__(self) -> str:
        return f"drop:{self.trigger}"


@dataclass(frozen=True, slots=True)
class CloseFault:
    """Close the websocket with a chosen code and reason."""

    trigger: Trigger
    code: int = DEFAULT_CLOSE_CODE
    reason: str = ""

    def __str__(self) -> str:
        reason = f",reason={self.reason}" if self.reason else ""
        return f"close:{self.trigger},code={self.code}{reason}"


Fault = DropFault | CloseFault
KINDS: Final = ("drop", "close")


def _sendable_close_code(code: int) -> bool:
    # 1004-1006 and 1015 are reserved for reporting, never sent; 1016-2999 are unassigned.
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _int(spec: str, key: str, value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise FaultSpecError(spec, f"{key} must be an integer, got {value!r}") from None


def parse_fault(spec: str) -> Fault:
    """Parse `KIND[:KEY=VALUE,...]` into a fault; a FaultSpecError says what is wrong."""
    kind, _, rest = spec.strip().partition(":")
    if kind not in KINDS:
        raise FaultSpecError(spec, f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    params: dict[str, str] = {}
    for item in rest.split(",") if rest else ():
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise FaultSpecError(spec, f"expected KEY=VALUE, got {item!r}")
        if key in params:
            raise FaultSpecError(spec, f"{key} is given twice")
        params[key] = value.strip()
    if "after" not in params:
        raise FaultSpecError(spec, "say when: after=N (data frames on the connection)")
    after = _int(spec, "after", params.pop("after"))
    if after < 0:
        raise FaultSpecError(spec, "after must not be negative")
    trigger = AfterFrames(after)
    fault: Fault
    if kind == "drop":
        fault = DropFault(trigger)
    else:
        code = _int(spec, "code", params.pop("code", str(DEFAULT_CLOSE_CODE)))
        if not _sendable_close_code(code):
            raise FaultSpecError(spec, f"{code} is not a close code a server may send")
        reason = params.pop("reason", "")
        if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
            raise FaultSpecError(spec, f"reason is longer than {MAX_CLOSE_REASON_BYTES} bytes")
        fault = CloseFault(trigger, code, reason)
    if params:
        raise FaultSpecError(spec, f"unknown key {sorted(params)[0]!r} for {kind}")
    return fault


def due_fault(faults: Sequence[Fault], frames_sent: int) -> Fault | None:
    """The fault that fires once a connection has sent `frames_sent` data frames; the first
    listed wins when several fire together (each of today's faults ends the connection)."""
    for fault in faults:
        if fault.trigger.frames == frames_sent:
            return fault
    return None
