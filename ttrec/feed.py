"""Facts about the provider's feed (SPEC §1): URLs, headers, the auth message, frame kinds.

Pure functions over strings; nothing here opens a socket or reads a clock.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ttrec.actions import packet_position
from ttrec.errors import InvalidFixtureId
from ttrec.quick_json import quick_loads

# The legacy host dde-streams.data.imgarena.com was decommissioned on 30 Sept 2026.
DEFAULT_BASE_URL: Final = "wss://dde-streams.data.srarena.io"
LEGACY_BASE_URL: Final = "wss://dde-streams.data.imgarena.com"
ACCEPT_HEADER: Final = "application/vnd.imggaming.dde.api+json;version=1"
MISSING_ACCEPT_BODY: Final = "Request is missing required HTTP header 'Accept'"
AUTH_INVALID_MESSAGE: Final = "The supplied authentication is invalid"
AUTH_INVALID_FRAME: Final = json.dumps({"error": AUTH_INVALID_MESSAGE, "status": 401})
REDACTED: Final = "<redacted>"
HEARTBEAT_INTERVAL_S: Final = 10  # documented for sibling DDE feeds; not published for this one
MAX_REQUESTS_PER_S: Final = 5  # the provider's request-rate guideline

Feed = Literal["statistics", "actions"]
FEEDS: Final[tuple[Feed, ...]] = ("statistics", "actions")
FrameKind = Literal["frame", "heartbeat"]

_PATH_RE: Final = re.compile(r"^/v2/tabletennis/fixtures/(?P<fixture>[^/]+)/(?P<feed>statistics|actions)/?$")


def validate_fixture_id(value: str) -> str:
    """Return the canonical (lower-case, hyphenated) form of a fixture UUID."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidFixtureId(value) from None


def feed_path(fixture_id: str, feed: Feed = "statistics") -> str:
    return f"/v2/tabletennis/fixtures/{validate_fixture_id(fixture_id)}/{feed}"


def parse_feed_path(path: str) -> tuple[str, Feed] | None:
    """Split a request path (query string allowed) into (fixture_id, feed), or None."""
    try:
        target = urlsplit(path).path
    except ValueError:  # "//[": urlsplit reads "[" as the start of an IPv6 host
        return None
    match = _PATH_RE.match(target)
    if match is None:
        return None
    try:
        fixture = validate_fixture_id(match["fixture"])
    except InvalidFixtureId:
        return None
    feed: Feed = "statistics" if match["feed"] == "statistics" else "actions"
    return fixture, feed


def feed_of_url(url: str) -> Feed:
    """The feed a websocket URL asks for: its path ends in /actions or /statistics (any
    base path before it; `ttrec watch` is pointed at any feed URL)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return "statistics"
    return "actions" if path.rstrip("/").endswith("/actions") else "statistics"


def feed_url(
    base_url: str,
    fixture_id: str,
    feed: Feed = "statistics",
    *,
    start_position: int | None = None,
    speed: str | None = None,
) -> str:
    """The websocket URL for a fixture; it never carries a token (auth is a message)."""
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"base URL must start with ws:// or wss://, got {base_url!r}")
    query: dict[str, str] = {}
    if start_position:
        query["startPosition"] = str(start_position)
    if speed is not None:
        query["speed"] = speed
    path = parts.path + feed_path(fixture_id, feed)
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def query_params(path: str) -> dict[str, str]:
    """Last value of each query parameter of a request path (blank values kept: an empty
    `startPosition=` is a bad value, not an absent one)."""
    try:
        query = urlsplit(path).query
    except ValueError:
        return {}
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def auth_message(token: str) -> str:
    return json.dumps({"authToken": token})


REDACTED_AUTH_MESSAGE: Final = auth_message(REDACTED)


def parse_auth_message(text: str) -> str | None:
    """The token of a client's auth message, or None when it is not one."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # a few KiB of "[[[[..." overflows the parser
        return None
    if not isinstance(obj, dict):
        return None
    token = obj.get("authToken")
    return token if isinstance(token, str) and token else None


@dataclass(frozen=True, slots=True)
class TextMessage:
    """What a text message from the server is, by the feed's rule (docs/record.md)."""

    kind: FrameKind
    seq: int | None = None  # a data frame's seqNum (always set for a data frame)
    finished: bool = False  # a data frame with `"finished": true`
    # a control frame {"error": ..., "status": N}, e.g. the auth refusal
    error_status: int | None = None


_HEARTBEAT: Final = TextMessage("heartbeat")


def _positive_int(value: object) -> bool:
    # bool is an int subclass: `"seqNum": true` is not a number.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def parse_feeds(names: Iterable[object]) -> tuple[Feed, ...]:
    """Feeds named by the user (`simulate --feeds statistics,actions`, the pytest marker),
    each once, statistics first (its capture takes the name given); ValueError for an
    unknown one or none at all."""
    chosen: list[Feed] = []
    for name in names:
        feed = next((f for f in FEEDS if f == str(name).strip()), None)
        if feed is None:
            raise ValueError(f"unknown feed {str(name).strip()!r}; the feeds are {', '.join(FEEDS)}")
        if feed not in chosen:
            chosen.append(feed)
    if not chosen:
        raise ValueError(f"no feed named; the feeds are {', '.join(FEEDS)}")
    return tuple(sorted(chosen, key=FEEDS.index))


def feed_named(name: str) -> Feed:
    """A capture header's `feed` as a Feed; a header that names no known feed is statistics
    (the only feed captures had before the actions feed)."""
    return "actions" if name == "actions" else "statistics"


def inspect_text(text: str, feed: Feed = "statistics") -> TextMessage:
    """The one place that decides what a text message is (recorder, watch, readers).

    The rule depends on the feed being read. On the actions feed a data frame is an action
    packet and its position is `fixtureAction.fixtureSeqNum` (ttrec.actions.packet_position
    states that rule); what follows is the statistics feed's rule.

    A data frame is a JSON object whose `seqNum` is a positive integer and whose
    `fixtureId` is a non-empty string (SPEC §1 names the two keys; their types are what
    the provider's frames carry). Everything else is a heartbeat or control message and is
    kept as such: `{"seqNum": null, ...}` or `{"seqNum": "7", ...}` is not a position in the
    feed and must never count towards startPosition. The rule looks at the text alone, so
    every reader of a capture agrees with the recorder without knowing the fixture.
    The cheap substring test skips parsing heartbeats; anything else is parsed once.
    """
    seq_key = '"fixtureSeqNum"' if feed == "actions" else '"seqNum"'
    has_seq = seq_key in text and '"fixtureId"' in text
    has_error = '"error"' in text and '"status"' in text
    if not (has_seq or has_error):
        return _HEARTBEAT
    if feed == "statistics":
        quick = _quick_data_frame(text)
        if quick is not None:
            return quick
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # nesting deeper than the parser's recursion limit
        return _HEARTBEAT
    if not isinstance(obj, dict):
        return _HEARTBEAT
    if feed == "actions":
        position = packet_position(obj)
        if position is not None:
            return TextMessage("frame", seq=position[0], finished=position[1])
    else:
        seq = obj.get("seqNum")
        fixture = obj.get("fixtureId")
        if _positive_int(seq) and isinstance(fixture, str) and fixture:
            return TextMessage("frame", seq=seq, finished=obj.get("finished") is True)
    status = obj.get("status")
    if "error" in obj and isinstance(status, int) and not isinstance(status, bool):
        return TextMessage("heartbeat", error_status=status)
    return _HEARTBEAT


def _quick_data_frame(text: str) -> TextMessage | None:
    """`inspect_text`'s verdict on a statistics data frame read the quick way (see
    ttrec.quick_json; a seqNum must be an int of sensible size); None for anything else,
    which is then read the stdlib's way."""
    obj: Any = quick_loads(text)
    if type(obj) is not dict:
        return None
    seq, fixture = obj.get("seqNum"), obj.get("fixtureId")
    if type(seq) is int and seq >= 1 and type(fixture) is str and fixture:
        return TextMessage("frame", seq=seq, finished=obj.get("finished") is True)
    return None


def classify(text: str, feed: Feed = "statistics") -> FrameKind:
    """ "frame" for a data frame, "heartbeat" for any other text (see `inspect_text`)."""
    return inspect_text(text, feed).kind


def seq_num(text: str, feed: Feed = "statistics") -> int | None:
    """The position of a data frame's text (`seqNum`, or `fixtureSeqNum` on the actions
    feed), or None."""
    return inspect_text(text, feed).seq


def rfc3339(moment: datetime, digits: int = 6) -> str:
    """UTC RFC 3339 with `digits` fractional digits and a Z, as the provider writes them."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    utc = moment.astimezone(UTC)
    base = rfc3339_seconds(utc)
    frac = f"{utc.microsecond:06d}".ljust(digits, "0")[:digits]
    return f"{base}.{frac}Z" if digits else f"{base}Z"


def rfc3339_seconds(utc: datetime) -> str:
    """`utc` to the second as strftime("%Y-%m-%dT%H:%M:%S") writes it, formatted directly
    (a simulated match stamps some thousand records; strftime was a tenth of its time)."""
    if utc.year < 1000:  # strftime does not pad such a year (glibc): leave it to strftime
        return utc.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{utc.year}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"


def default_heartbeat(moment: datetime) -> str:
    """The heartbeat shape other DDE feeds send; this feed's own shape is not published."""
    return heartbeat_at(rfc3339(moment))


def heartbeat_at(stamp: str) -> str:
    """`default_heartbeat` of the moment `rfc3339` wrote as `stamp`. Written out directly:
    such a stamp has nothing JSON escapes, so this is the text of
    json.dumps({"message": ..., "level": "INFO"}, separators=(",", ":"))."""
    return f'{{"message":"Heartbeat sent at {stamp}","level":"INFO"}}'


_TIMESTAMP_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?Z")


def restamp(template: str, moment: datetime) -> str:
    """A recorded heartbeat with each RFC 3339 timestamp in it replaced by `moment`,
    keeping the template's number of fractional digits."""

    def fresh(match: re.Match[str]) -> str:
        return rfc3339(moment, len(match[1] or ""))

    return _TIMESTAMP_RE.sub(fresh, template)
