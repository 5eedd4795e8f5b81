"""Fault specs for the mock server (`ttrec serve --fault SPEC`): parsing and pure decisions.

A spec is `KIND[:KEY=VALUE,...]`: what goes wrong, then when and how. Values cannot contain
`,` or `=`. Every kind but `reject` takes exactly one trigger:

    after=N          once N data frames have been sent on the connection (0: right after
                     authentication); once per connection
    p=P              after each data frame, with probability P (0 < P <= 1), drawn from the
                     connection's own random generator (see `connection_rng`)
    at=MOMENT[#K]    after the data frame that shows MOMENT (game-point, match-point, set-end,
                     final; see ttrec.moments): every one the connection sends, or only the
                     K-th of the capture

and, with any trigger, how often the fault may fire on a fixture over the server's life:

    times=N          at most N times in all, over every connection to the fixture and feed
                     (default: 1 for after= and at=, so a client that recovers and is served
                     the same frames again is not failed at the same point forever)
    times=always     no limit (the default for p=, whose draws already vary per connection)

A fault happens at that point, right after the triggering frame has left:

    drop                              the TCP connection ends with no close frame
    close[,code=C][,reason=R]         a close frame, code C (default 1011), reason R
    stall,for=S                       nothing at all for S seconds (no data, no heartbeats);
                                      then playback resumes where it was, S seconds later
    no-heartbeats[,for=S]             heartbeats (recorded and made up) are withheld for S
                                      seconds, or for the rest of the connection; data goes on
    heartbeats-only[,for=S]           data is withheld for S seconds (then resumes where it
                                      was, S seconds later) or for good; heartbeats go on
    duplicate                         the data frame just sent is sent again (needs a frame:
                                      not with after=0)
    reorder                           the next two data frames are swapped
    delay,by=S                        the next data frame leaves S seconds late; the frames
                                      after it keep their schedule (but never overtake it)
    corrupt                           a text frame that is not JSON (the first half of the
                                      last data frame) is sent

and one kind acts at the HTTP handshake instead, on the connection attempts to a fixture:

    reject:next=N[,status=S][,from=K] attempts K, K+1, ... K+N-1 (0-based, default K=0) are
                                      refused with HTTP status S (default 503)

Durations are seconds: `5`, `2.5`, `5s` or `250ms`. Several faults compose: all that fire
at one point happen in the order given (a drop or close ends the list).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, get_args

from ttrec.errors import TtrecError
from ttrec.moments import MOMENTS, Moment

DEFAULT_CLOSE_CODE: Final = 1011  # "internal error": what a failing provider would send
DEFAULT_REJECT_STATUS: Final = 503  # "service unavailable": a provider's momentary trouble
MAX_CLOSE_REASON_BYTES: Final = 123  # a close frame's payload is at most 125 bytes, 2 for the code
# Sent as the corrupt frame when no data frame has been sent yet: a torn data frame.
TORN_FRAME: Final = '{"seqNum":'


class FaultSpecError(TtrecError):
    def __init__(self, spec: str, problem: str) -> None:
        self.spec = spec
        self.problem = problem
        super().__init__(f"bad fault spec {spec!r}: {problem}")

    def __repr__(self) -> str:
        return f"FaultSpecError(spec={self.spec!r}, problem={self.problem!r})"


# --- triggers -------------------------------------------------------------------------------


# How many times a fault may fire per fixture and feed (None: no limit), unless `times=` says.
# Triggers keyed to a frame count or a match moment fire once: a consumer that reconnects and
# is served those frames again must get past them (real networks do not fail at the same
# frame forever). A probability is drawn afresh on every connection, so it has no limit.
DEFAULT_TIMES_KEYED: Final = 1
ALWAYS: Final = "always"


def _times_text(times: int | None, default: int | None) -> str:
    if times == default:
        return ""
    return f",times={ALWAYS if times is None else times}"


@dataclass(frozen=True, slots=True)
class AfterFrames:
    """Fires once the connection has sent `frames` data frames (0: right after auth); at
    most `times` times per fixture (None: on every connection)."""

    frames: int
    times: int | None = DEFAULT_TIMES_KEYED

    def __str__(self) -> str:
        return f"after={self.frames}" + _times_text(self.times, DEFAULT_TIMES_KEYED)


@dataclass(frozen=True, slots=True)
class WithProbability:
    """Fires after each data frame with probability `p`; at most `times` times per fixture
    (None: no limit)."""

    p: float
    times: int | None = None

    def __str__(self) -> str:
        return f"p={self.p!r}" + _times_text(self.times, None)


@dataclass(frozen=True, slots=True)
class AtMoment:
    """Fires after the frame that shows `moment`: each one, or the `nth` of the capture; at
    most `times` times per fixture (None: no limit)."""

    moment: Moment
    nth: int | None = None
    times: int | None = DEFAULT_TIMES_KEYED

    def __str__(self) -> str:
        nth = "" if self.nth is None else f"#{self.nth}"
        return f"at={self.moment}{nth}" + _times_text(self.times, DEFAULT_TIMES_KEYED)


Trigger = AfterFrames | WithProbability | AtMoment


# --- faults on a connection -----------------------------------------------------------------


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}"


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


@dataclass(frozen=True, slots=True)
class StallFault:
    """Send nothing at all for `duration_s`, then go on where playback was."""

    trigger: Trigger
    duration_s: float

    def __str__(self) -> str:
        return f"stall:{self.trigger},for={_seconds_text(self.duration_s)}"


@dataclass(frozen=True, slots=True)
class NoHeartbeatsFault:
    """Withhold heartbeats for `duration_s` (None: for good) while data goes on."""

    trigger: Trigger
    duration_s: float | None = None

    def __str__(self) -> str:
        duration = "" if self.duration_s is None else f",for={_seconds_text(self.duration_s)}"
        return f"no-heartbeats:{self.trigger}{duration}"


@dataclass(frozen=True, slots=True)
class HeartbeatsOnlyFault:
    """Withhold data for `duration_s` (None: for good) while heartbeats go on."""

    trigger: Trigger
    duration_s: float | None = None

    def __str__(self) -> str:
        duration = "" if self.duration_s is None else f",for={_seconds_text(self.duration_s)}"
        return f"heartbeats-only:{self.trigger}{duration}"


@dataclass(frozen=True, slots=True)
class DuplicateFault:
    """Send the data frame just sent once more."""

    trigger: Trigger

    def __str__(self) -> str:
        return f"duplicate:{self.trigger}"


@dataclass(frozen=True, slots=True)
class ReorderFault:
    """Swap the next two data frames."""

    trigger: Trigger

    def __str__(self) -> str:
        return f"reorder:{self.trigger}"


@dataclass(frozen=True, slots=True)
class DelayFault:
    """Hold the next data frame `by_s` seconds past its due time."""

    trigger: Trigger
    by_s: float

    def __str__(self) -> str:
        return f"delay:{self.trigger},by={_seconds_text(self.by_s)}"


@dataclass(frozen=True, slots=True)
class CorruptFault:
    """Send a text frame that is not JSON."""

    trigger: Trigger

    def __str__(self) -> str:
        return f"corrupt:{self.trigger}"


ConnectionFault = (
    DropFault
    | CloseFault
    | StallFault
    | NoHeartbeatsFault
    | HeartbeatsOnlyFault
    | DuplicateFault
    | ReorderFault
    | DelayFault
    | CorruptFault
)


# --- the fault at the handshake -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RejectFault:
    """Refuse connection attempts `first` .. `first + count - 1` with HTTP `status`."""

    count: int
    status: int = DEFAULT_REJECT_STATUS
    first: int = 0

    def __str__(self) -> str:
        first = f",from={self.first}" if self.first else ""
        return f"reject:next={self.count},status={self.status}{first}"

    def rejects(self, attempt: int) -> bool:
        return self.first <= attempt < self.first + self.count


Fault = ConnectionFault | RejectFault
KINDS: Final = (
    "drop",
    "close",
    "stall",
    "no-heartbeats",
    "heartbeats-only",
    "duplicate",
    "reorder",
    "delay",
    "corrupt",
    "reject",
)
_TRIGGER_KEYS: Final = ("after", "p", "at")
TIMES_KEY: Final = "times"
ENDING_FAULTS: Final = (DropFault, CloseFault)

# --- parsing --------------------------------------------------------------------------------


def _sendable_close_code(code: int) -> bool:
    # 1004-1006 and 1015 are reserved for reporting, never sent; 1016-2999 are unassigned.
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _int(spec: str, key: str, value: str, *, minimum: int = 0) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise FaultSpecError(spec, f"{key} must be an integer, got {value!r}") from None
    if number < minimum:
        raise FaultSpecError(
            spec, f"{key} must be at least {minimum}" if minimum else f"{key} must not be negative"
        )
    return number


def parse_seconds(text: str) -> float:
    """`5`, `2.5`, `5s` or `250ms` as seconds; ValueError for anything else (or < 0, inf, nan)."""
    raw = text.strip().lower()
    scale = 1.0
    if raw.endswith("ms"):
        raw, scale = raw[:-2], 0.001
    elif raw.endswith("s"):
        raw = raw[:-1]
    seconds = float(raw) * scale
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {text!r}")
    return seconds


def _seconds(spec: str, key: str, value: str) -> float:
    try:
        seconds = parse_seconds(value)
    except ValueError:
        raise FaultSpecError(spec, f"{key} must be seconds (5, 2.5, 5s, 250ms), got {value!r}") from None
    if seconds <= 0:
        raise FaultSpecError(spec, f"{key} must be more than 0 seconds")
    return seconds


def parse_moment(text: str, *, what: str = "moment") -> tuple[Moment, int | None]:
    """`game-point` or `game-point#2` (the 2nd of the capture); ValueError with the reason."""
    name, hash_, nth_text = text.strip().partition("#")
    name = name.strip()
    if name not in MOMENTS:
        raise ValueError(f"unknown {what} {name!r} (known: {', '.join(MOMENTS)})")
    moment: Moment = next(m for m in get_args(Moment) if m == name)
    if not hash_:
        return moment, None
    if not nth_text.strip().isdigit() or int(nth_text) < 1:
        raise ValueError(f"the occurrence after # must be a whole number from 1, got {nth_text!r}")
    return moment, int(nth_text)


def _params(spec: str, rest: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in rest.split(",") if rest.strip() else ():
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise FaultSpecError(spec, f"expected KEY=VALUE, got {item!r}")
        if key in params:
            raise FaultSpecError(spec, f"{key} is given twice")
        params[key] = value.strip()
    return params


def _trigger(spec: str, params: dict[str, str]) -> Trigger:
    given = [key for key in _TRIGGER_KEYS if key in params]
    if not given:
        raise FaultSpecError(spec, "say when: after=N (data frames), p=P (chance per frame) or at=MOMENT")
    if len(given) > 1:
        raise FaultSpecError(spec, f"give one trigger, not {' and '.join(given)}")
    key = given[0]
    value = params.pop(key)
    times = _times(spec, params.pop(TIMES_KEY, None), None if key == "p" else DEFAULT_TIMES_KEYED)
    if key == "after":
        return AfterFrames(_int(spec, "after", value), times)
    if key == "p":
        try:
            p = float(value)
        except ValueError:
            raise FaultSpecError(spec, f"p must be a probability, got {value!r}") from None
        if not 0 < p <= 1:
            raise FaultSpecError(spec, f"p must be more than 0 and at most 1, got {value}")
        return WithProbability(p, times)
    try:
        moment, nth = parse_moment(value)
    except ValueError as exc:
        raise FaultSpecError(spec, str(exc)) from None
    return AtMoment(moment, nth, times)


def _times(spec: str, value: str | None, default: int | None) -> int | None:
    if value is None:
        return default
    if value == ALWAYS:
        return None
    if not value.isdigit() or int(value) < 1:
        raise FaultSpecError(spec, f"times must be a whole number from 1, or {ALWAYS}, got {value!r}")
    return int(value)


def _duration(spec: str, params: dict[str, str], key: str, *, required: bool) -> float | None:
    if key not in params:
        if required:
            raise FaultSpecError(spec, f"say how long: {key}=SECONDS")
        return None
    return _seconds(spec, key, params.pop(key))


def _reject(spec: str, params: dict[str, str]) -> RejectFault:
    for key in (*_TRIGGER_KEYS, TIMES_KEY):
        if key in params:
            raise FaultSpecError(spec, f"reject acts on connection attempts: use next=N[,from=K], not {key}")
    if "next" not in params:
        raise FaultSpecError(spec, "say how many attempts: next=N")
    count = _int(spec, "next", params.pop("next"), minimum=1)
    status = _int(spec, "status", params.pop("status", str(DEFAULT_REJECT_STATUS)))
    if not 400 <= status <= 599:
        raise FaultSpecError(spec, f"status must be an HTTP error status (400-599), got {status}")
    first = _int(spec, "from", params.pop("from", "0"))
    return RejectFault(count, status, first)


def parse_fault(spec: str) -> Fault:
    """Parse `KIND[:KEY=VALUE,...]` into a fault; a FaultSpecError says what is wrong."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip()
    if kind not in KINDS:
        raise FaultSpecError(spec, f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    params = _params(spec, rest)
    fault: Fault
    if kind == "reject":
        fault = _reject(spec, params)
    else:
        fault = _connection_fault(spec, kind, _trigger(spec, params), params)
    if params:
        raise FaultSpecError(spec, f"unknown key {sorted(params)[0]!r} for {kind}")
    return fault


def _connection_fault(spec: str, kind: str, trigger: Trigger, params: dict[str, str]) -> ConnectionFault:
    match kind:
        case "drop":
            return DropFault(trigger)
        case "close":
            code = _int(spec, "code", params.pop("code", str(DEFAULT_CLOSE_CODE)))
            if not _sendable_close_code(code):
                raise FaultSpecError(spec, f"{code} is not a close code a server may send")
            reason = params.pop("reason", "")
            if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
                raise FaultSpecError(spec, f"reason is longer than {MAX_CLOSE_REASON_BYTES} bytes")
            return CloseFault(trigger, code, reason)
        case "stall":
            duration = _duration(spec, params, "for", required=True)
            assert duration is not None
            return StallFault(trigger, duration)
        case "no-heartbeats":
            return NoHeartbeatsFault(trigger, _duration(spec, params, "for", required=False))
        case "heartbeats-only":
            return HeartbeatsOnlyFault(trigger, _duration(spec, params, "for", required=False))
        case "duplicate":
            if trigger == AfterFrames(0):
                raise FaultSpecError(spec, "duplicate repeats the frame just sent: after must be at least 1")
            return DuplicateFault(trigger)
        case "reorder":
            return ReorderFault(trigger)
        case "delay":
            by = _duration(spec, params, "by", required=True)
            assert by is not None
            return DelayFault(trigger, by)
        case _:
            return CorruptFault(trigger)


# --- decisions ------------------------------------------------------------------------------


def connection_rng(seed: int, fixture_id: str, feed: str, index: int) -> random.Random:
    """The random generator of one connection: the `index`-th attempt (0-based, in arrival
    order) on that fixture and feed since the server started. Seeded from a string, which
    Python hashes with SHA-512: the same on every run and platform, whatever PYTHONHASHSEED."""
    return random.Random(f"ttrec-faults/{seed}/{fixture_id}/{feed}/{index}")


class FiringBudget:
    """How many more times each fault may fire on one fixture and feed (its trigger's
    `times`), shared by every connection to it while the server runs."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        self._left: list[int | None] = [
            None if isinstance(f, RejectFault) else f.trigger.times for f in faults
        ]

    def take(self, index: int) -> bool:
        """Spend one firing of fault `index`; False when it has none left."""
        left = self._left[index]
        if left is None:
            return True
        if left <= 0:
            return False
        self._left[index] = left - 1
        return True


def faults_due(
    faults: Sequence[Fault],
    *,
    frames_sent: int,
    after_frame: bool,
    moments: Mapping[Moment, int],
    draw: Callable[[], float],
    budget: FiringBudget | None = None,
) -> list[ConnectionFault]:
    """The faults that fire at one point of a connection, in the order given.

    `after_frame` is False right after authentication, True right after a data frame was
    sent; `frames_sent` counts the capture's data frames sent so far on the connection;
    `moments` maps each moment the frame just sent shows to its occurrence (1 = the first
    of the capture). `draw` is called once for every probability trigger after every data
    frame, whether or not it or another fault fires, so the draws line up run after run.
    A fault that would fire but has spent its `budget` (None: no limits) does not.
    """
    due: list[ConnectionFault] = []
    for number, fault in enumerate(faults):
        if isinstance(fault, RejectFault):
            continue
        trigger = fault.trigger
        match trigger:
            case AfterFrames(frames=frames):
                fired = frames == frames_sent and (after_frame or frames == 0)
            case WithProbability(p=p):
                fired = after_frame and draw() < p
            case AtMoment(moment=moment, nth=nth):
                occurrence = moments.get(moment)
                fired = occurrence is not None and (nth is None or nth == occurrence)
        if fired and (budget is None or budget.take(number)):
            due.append(fault)
    return due


def rejection(faults: Sequence[Fault], attempt: int) -> RejectFault | None:
    """The reject fault that refuses connection attempt `attempt` (0-based), if any."""
    for fault in faults:
        if isinstance(fault, RejectFault) and fault.rejects(attempt):
            return fault
    return None


def needs_moments(faults: Sequence[Fault]) -> bool:
    return any(not isinstance(f, RejectFault) and isinstance(f.trigger, AtMoment) for f in faults)


def corrupt_text(last_frame: str | None) -> str:
    """A text frame that is not JSON: the first half of the last data frame (a torn frame,
    as a broken proxy would pass on), or a torn opening when none was sent yet."""
    if last_frame:
        torn = last_frame[: len(last_frame) // 2]
        try:
            json.loads(torn)
        except ValueError:
            return torn
    return TORN_FRAME
