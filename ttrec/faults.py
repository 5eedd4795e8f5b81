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
from dataclasses import MISSING, Field, dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self, TypeVar, dataclass_transform

from ttrec.errors import TtrecError
from ttrec.moments import Moment, parse_moment
from ttrec.wire import INTERNAL_ERROR

if TYPE_CHECKING:
    from ttrec.schedule import Timeline

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

DEFAULT_CLOSE_CODE: Final = INTERNAL_ERROR  # what a failing provider would send
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


# --- the keys a kind takes ------------------------------------------------------------------


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}"


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


def _count(spec: str, key: str, value: str) -> int:
    return _int(spec, key, value, minimum=1)


def _close_code(spec: str, key: str, value: str) -> int:
    code = _int(spec, key, value)
    if not _sendable_close_code(code):
        raise FaultSpecError(spec, f"{code} is not a close code a server may send")
    return code


def _close_reason(spec: str, key: str, value: str) -> str:
    if len(value.encode()) > MAX_CLOSE_REASON_BYTES:
        raise FaultSpecError(spec, f"{key} is longer than {MAX_CLOSE_REASON_BYTES} bytes")
    return value


def _http_status(spec: str, key: str, value: str) -> int:
    status = _int(spec, key, value)
    if not 400 <= status <= 599:
        raise FaultSpecError(spec, f"{key} must be an HTTP error status (400-599), got {status}")
    return status


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


_KEY: Final = "ttrec.faults.Key"  # where a field's metadata holds its Key


@dataclass(frozen=True, slots=True)
class Key:
    """A `KEY=VALUE` of a kind, declared on the dataclass field it fills
    (`field(metadata=...)`): a kind's parsing, printing back and grammar row all come from
    the keys of its fields. A field with a default may be left out of a spec."""

    name: str
    placeholder: str  # its value in the grammar row: `for=S`
    read: Callable[[str, str, str], Any]  # (spec, key, text) -> the value, or FaultSpecError
    show: Callable[[Any], str] = str
    missing: str = ""  # the problem when it is not given and its field has no default
    shown_at_default: bool = False  # printed back even at its default (`code=1011`)


def _key(name: str, placeholder: str, read: Callable[[str, str, str], Any], **how: Any) -> Mapping[str, Key]:
    return MappingProxyType({_KEY: Key(name, placeholder, read, **how)})


_FOR: Final = _key("for", "S", _seconds, show=_seconds_text, missing="say how long: for=SECONDS")
_BY: Final = _key("by", "S", _seconds, show=_seconds_text, missing="say how long: by=SECONDS")
_CODE: Final = _key("code", "C", _close_code, shown_at_default=True)
_REASON: Final = _key("reason", "R", _close_reason)
_NEXT: Final = _key("next", "N", _count, missing="say how many attempts: next=N")
_STATUS: Final = _key("status", "S", _http_status, shown_at_default=True)
_FROM: Final = _key("from", "K", _int)


# --- kinds ----------------------------------------------------------------------------------


class _Kind:
    """What every kind shares: reading its keys from a spec, printing them back and its
    grammar row, all from the fields that declare them (see Key)."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    KIND: ClassVar[str]
    GRAMMAR: ClassVar[str]  # its row in docs/faults.md
    EXAMPLE: ClassVar[str]  # its example in `ttrec serve --help`
    LEAD: ClassVar[str] = ""  # the grammar before the keys

    @classmethod
    def _keys(cls) -> list[tuple[Field[Any], Key]]:
        return [(f, f.metadata[_KEY]) for f in fields(cls) if _KEY in f.metadata]

    @classmethod
    def _grammar(cls) -> str:
        text = f"{cls.KIND}:{cls.LEAD}"
        for f, key in cls._keys():
            item = ("," if cls.LEAD or text[-1] != ":" else "") + f"{key.name}={key.placeholder}"
            text += item if f.default is MISSING else f"[{item}]"
        return text

    @classmethod
    def _read_keys(cls, spec: str, params: dict[str, str]) -> dict[str, Any]:
        """The values of the keys given in `params` (taken out of it), by field name."""
        values: dict[str, Any] = {}
        for f, key in cls._keys():
            if key.name in params:
                values[f.name] = key.read(spec, key.name, params.pop(key.name))
            elif f.default is MISSING:
                raise FaultSpecError(spec, key.missing)
        return values

    def _lead(self) -> list[str]:
        return []

    def __str__(self) -> str:
        items = self._lead()
        for f, key in self._keys():
            value = getattr(self, f.name)
            if key.shown_at_default or value != f.default:
                items.append(f"{key.name}={key.show(value)}")
        return f"{self.KIND}:{','.join(items)}"


K = TypeVar("K", bound=_Kind)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def fault_kind(kind: str, *, example: str) -> Callable[[type[K]], type[K]]:
    """Make the class a kind: a frozen dataclass named `kind` in specs, with its `example`
    in `ttrec serve --help` and its grammar row made from its keys."""

    def make(cls: type[K]) -> type[K]:
        made = dataclass(frozen=True, slots=True)(cls)
        made.KIND, made.EXAMPLE = kind, example
        made.GRAMMAR = made._grammar()
        return made

    return make


class FaultTarget(Protocol[T_co]):
    """What a fault can do to a connection's playback (replayer.engine implements it): each
    kind's `apply` says which of these it is, so the engine has no list of kinds."""

    def drop(self) -> T_co: ...
    def close(self, code: int, reason: str) -> T_co: ...
    def stall(self, seconds: float) -> T_co: ...
    def withhold_heartbeats(self, seconds: float | None) -> T_co: ...
    def withhold_data(self, seconds: float | None) -> T_co: ...
    def resend_last_frame(self) -> T_co: ...
    def swap_next_frames(self) -> T_co: ...
    def delay_next_frame(self, seconds: float) -> T_co: ...
    def send_corrupt_frame(self) -> T_co: ...


@dataclass(frozen=True, slots=True)
class _OnConnection(_Kind):
    """What every kind acting on a playing connection shares: its trigger, and when that
    trigger can never be met on a capture."""

    LEAD: ClassVar = "TRIGGER"
    trigger: Trigger

    @classmethod
    def from_params(cls, spec: str, params: dict[str, str]) -> Self:
        fault = cls(_trigger(spec, params), **cls._read_keys(spec, params))
        problem = fault._refusal()
        if problem:
            raise FaultSpecError(spec, problem)
        return fault

    def _refusal(self) -> str | None:
        """Why this fault cannot be as given, or None."""
        return None

    @property
    def ends_playback(self) -> bool:
        """Whether nothing after it happens on the connection: the faults after it at the
        same point neither fire nor spend their `times`."""
        return False

    def _lead(self) -> list[str]:
        return [str(self.trigger)]

    def why_never(self, timeline: Timeline, start: int, name: str) -> str | None:
        """Why this fault can never fire on a playback of `timeline` (called `name`) from its
        data frame `start` on, or None when it can. A client's startPosition only skips
        more, so what cannot fire from there never does."""
        trigger = self.trigger
        if isinstance(trigger, AfterFrames) and trigger.frames > timeline.frames - start:
            return f"{name} plays {timeline.frames - start} data frame(s)"
        if isinstance(trigger, AtMoment):
            found = timeline.moment_index().occurrences.get(trigger.moment, ())
            playable = [i for i in found if i >= start]
            if trigger.nth is None and not playable:
                return f"{name} has no {trigger.moment}" + (" from --start-at on" if found else "")
            if trigger.nth is not None and (len(found) < trigger.nth or found[trigger.nth - 1] < start):
                return f"{name} has {len(found)} {trigger.moment}(s)" + (
                    "" if len(found) < trigger.nth else f", the #{trigger.nth} before --start-at"
                )
        return None


@fault_kind("drop", example="drop:at=match-point")
class DropFault(_OnConnection):
    """End the TCP connection with no close frame: the client sees an abnormal closure."""

    def apply(self, target: FaultTarget[T]) -> T:
        return target.drop()

    @property
    def ends_playback(self) -> bool:
        return True


@fault_kind("close", example="close:after=40,code=1011,reason=overloaded")
class CloseFault(_OnConnection):
    """Close the websocket with a chosen code and reason."""

    code: int = field(default=DEFAULT_CLOSE_CODE, metadata=_CODE)
    reason: str = field(default="", metadata=_REASON)

    def apply(self, target: FaultTarget[T]) -> T:
        return target.close(self.code, self.reason)

    @property
    def ends_playback(self) -> bool:
        return True


@fault_kind("stall", example="stall:after=10,for=25")
class StallFault(_OnConnection):
    """Send nothing at all for `duration_s`, then go on where playback was."""

    duration_s: float = field(metadata=_FOR)

    def apply(self, target: FaultTarget[T]) -> T:
        return target.stall(self.duration_s)


@fault_kind("no-heartbeats", example="no-heartbeats:after=0")
class NoHeartbeatsFault(_OnConnection):
    """Withhold heartbeats for `duration_s` (None: for good) while data goes on."""

    duration_s: float | None = field(default=None, metadata=_FOR)

    def apply(self, target: FaultTarget[T]) -> T:
        return target.withhold_heartbeats(self.duration_s)


@fault_kind("heartbeats-only", example="heartbeats-only:at=set-end#1,for=60")
class HeartbeatsOnlyFault(_OnConnection):
    """Withhold data for `duration_s` (None: for good) while heartbeats go on."""

    duration_s: float | None = field(default=None, metadata=_FOR)

    def apply(self, target: FaultTarget[T]) -> T:
        return target.withhold_data(self.duration_s)

    @property
    def ends_playback(self) -> bool:
        return self.duration_s is None  # for good


@fault_kind("duplicate", example="duplicate:p=0.05")
class DuplicateFault(_OnConnection):
    """Send the data frame just sent once more."""

    def _refusal(self) -> str | None:
        if self.trigger == AfterFrames(0):
            return "duplicate repeats the frame just sent: after must be at least 1"
        return None

    def apply(self, target: FaultTarget[T]) -> T:
        return target.resend_last_frame()


@fault_kind("reorder", example="reorder:at=game-point")
class ReorderFault(_OnConnection):
    """Swap the next two data frames."""

    def apply(self, target: FaultTarget[T]) -> T:
        return target.swap_next_frames()


@fault_kind("delay", example="delay:after=5,by=3")
class DelayFault(_OnConnection):
    """Hold the next data frame `by_s` seconds past its due time."""

    by_s: float = field(metadata=_BY)

    def apply(self, target: FaultTarget[T]) -> T:
        return target.delay_next_frame(self.by_s)


@fault_kind("corrupt", example="corrupt:after=20")
class CorruptFault(_OnConnection):
    """Send a text frame that is not JSON."""

    def apply(self, target: FaultTarget[T]) -> T:
        return target.send_corrupt_frame()


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


@fault_kind("reject", example="reject:next=2,status=503")
class RejectFault(_Kind):
    """Refuse connection attempts `first` .. `first + count - 1` with HTTP `status`."""

    count: int = field(metadata=_NEXT)
    status: int = field(default=DEFAULT_REJECT_STATUS, metadata=_STATUS)
    first: int = field(default=0, metadata=_FROM)

    @classmethod
    def from_params(cls, spec: str, params: dict[str, str]) -> Self:
        for key in (*_TRIGGER_KEYS, TIMES_KEY):
            if key in params:
                raise FaultSpecError(
                    spec, f"reject acts on connection attempts: use next=N[,from=K], not {key}"
                )
        return cls(**cls._read_keys(spec, params))

    def rejects(self, attempt: int) -> bool:
        return self.first <= attempt < self.first + self.count

    def why_never(self, timeline: Timeline, start: int, name: str) -> str | None:
        return None  # it acts at the handshake, whatever the capture


Fault = ConnectionFault | RejectFault
# The registry: every kind, in the order --help and docs/faults.md list them. A kind is one
# class here (grammar, str, validation, effect); nothing else lists the kinds.
CONNECTION_KINDS: Final[Mapping[str, type[ConnectionFault]]] = MappingProxyType(
    {
        cls.KIND: cls
        for cls in (
            DropFault,
            CloseFault,
            StallFault,
            NoHeartbeatsFault,
            HeartbeatsOnlyFault,
            DuplicateFault,
            ReorderFault,
            DelayFault,
            CorruptFault,
        )
    }
)
REGISTRY: Final[Mapping[str, type[Fault]]] = MappingProxyType(
    {**CONNECTION_KINDS, RejectFault.KIND: RejectFault}
)
KINDS: Final = tuple(REGISTRY)
_TRIGGER_KEYS: Final = ("after", "p", "at")
TIMES_KEY: Final = "times"
ENDING_FAULTS: Final = (DropFault, CloseFault)

# --- parsing --------------------------------------------------------------------------------


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


def parse_fault(spec: str) -> Fault:
    """Parse `KIND[:KEY=VALUE,...]` into a fault; a FaultSpecError says what is wrong."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip()
    if kind not in KINDS:
        raise FaultSpecError(spec, f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    params = _params(spec, rest)
    fault = REGISTRY[kind].from_params(spec, params)
    if params:
        raise FaultSpecError(spec, f"unknown key {sorted(params)[0]!r} for {kind}")
    return fault


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
    A fault that would fire but has spent its `budget` (None: no limits) does not. After
    one that ends playback (a drop, a close, heartbeats-only for good) the list ends: the
    faults after it do not fire and keep their budget (the draws after it are not made
    either; the connection ends).
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
            if fault.ends_playback:
                break  # "a drop or close ends the list" (docs/faults.md): the rest never happen
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
