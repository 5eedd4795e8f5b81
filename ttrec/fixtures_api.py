"""The provider's fixtures REST API (reference/dde-tabletennis-surface.md), as plain functions.

`answer(request, ...)` turns a request (method, target, headers) and the server's elapsed
time into a status, a content type and a body; the HTTP shell (replayer/rest.py) only parses
and frames. Nothing here opens a socket or reads a clock.

Where the provider is silent (SPEC §6, docs/fixtures-api.md): the list is a bare JSON array
paged by `size` (default 20) and `page` (from 0); an unknown parameter *value* gets 400 with
`{"error": ..., "status": 400}` (unknown parameter *names* are ignored, as most HTTP APIs do);
the post-match actions answer 404 with that body until the fixture is completed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from ttrec.errors import InvalidFixtureId
from ttrec.feed import AUTH_INVALID_MESSAGE, MISSING_ACCEPT_BODY, validate_fixture_id
from ttrec.records import Header

DEFAULT_API_URL: Final = "https://dde-api.data.srarena.io"
FIXTURES_PATH: Final = "/v2/tabletennis/fixtures"
DEFAULT_PAGE_SIZE: Final = 20  # sibling sports' default
MAX_PAGE_SIZE: Final = 1000  # not published; big enough for a day, small enough for one answer
JSON_TYPE: Final = "application/json"
# Not published for table tennis: a recorded capture's header may say otherwise ("coverageLevel").
DEFAULT_COVERAGE: Final = "In Venue"

Status = Literal["Scheduled", "Live", "Completed"]
COLLECTION_STATUS: Final[Mapping[Status, str]] = {
    "Scheduled": "CollectionScheduled",
    "Live": "CollectingLive",
    "Completed": "CollectionCompleted",
}
# Query values are lowerCamel, response values display strings (the reference's casing note).
STATUS_VALUES: Final = {
    "scheduled": "Scheduled",
    "live": "Live",
    "completed": "Completed",
    "postponed": "Postponed",
}
TYPE_VALUES: Final = {"official": "Official", "simulation": "Simulation", "training": "Training"}
COVERAGE_VALUES: Final = {
    "nocoverage": "No Coverage",
    "invenue": "In Venue",
    "lowlatencystream": "Low Latency Stream",
    "standardstream": "Standard Stream",
    "video": "Video",
}
SORT_FIELDS: Final = ("name", "starttime")
DEFAULT_SORT: Final = (("starttime", False), ("name", False))  # (field, descending)


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Listing:
    """One fixture as the API lists it; `starts_s` and `plays_s` are on the server's clock
    (seconds after it started): Scheduled before `starts_s`, Live for `plays_s`, then
    Completed."""

    fixture_id: str
    home: Team
    away: Team
    type: str
    coverage_level: str
    starts_s: float
    plays_s: float
    actions: tuple[str, ...] | None = None  # the actions capture's data frames, if one is served

    @property
    def name(self) -> str:
        return f"{self.home.name} v {self.away.name}"

    def status_at(self, elapsed_s: float) -> Status:
        if elapsed_s < self.starts_s:
            return "Scheduled"
        if elapsed_s < self.starts_s + self.plays_s:
            return "Live"
        return "Completed"


def teams_of(header: Header, frames: Iterable[str]) -> tuple[Team, Team]:
    """Home and away: the header's `teams` (simulated captures), else the first frame that
    names a team on each side (`teamActionAggregates[].team` on statistics,
    `fixtureAction.team` on actions), else placeholders."""
    found: dict[bool, Team] = {}
    _collect(header.extra.get("teams"), found)
    for text in frames:
        if len(found) == 2:
            break
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        aggregates = obj.get("teamActionAggregates")
        if isinstance(aggregates, list):
            _collect([a.get("team") for a in aggregates if isinstance(a, dict)], found)
        action = obj.get("fixtureAction")
        if isinstance(action, dict):
            _collect([action.get("team")], found)
    unknown = "00000000-0000-0000-0000-000000000000"
    return found.get(True, Team(unknown, "HOME")), found.get(False, Team(unknown, "AWAY"))


def _collect(teams: object, found: dict[bool, Team]) -> None:
    for team in teams if isinstance(teams, list) else []:
        if not isinstance(team, dict):
            continue
        home, team_id, name = team.get("homeTeam"), team.get("id"), team.get("name")
        if isinstance(home, bool) and isinstance(team_id, str) and isinstance(name, str):
            found.setdefault(home, Team(team_id, name))


def fixture_type(header: Header) -> str:
    """Simulated captures are the provider's "Simulation" fixtures; a header may name its type."""
    named = header.extra.get("fixtureType")
    if isinstance(named, str) and named in TYPE_VALUES.values():
        return named
    return "Simulation" if header.source == "simulated" else "Official"


def coverage_level(header: Header) -> str:
    named = header.extra.get("coverageLevel")
    return named if isinstance(named, str) and named in COVERAGE_VALUES.values() else DEFAULT_COVERAGE


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = JSON_TYPE


def error(status: int, reason: str) -> Answer:
    return Answer(status, json.dumps({"error": reason, "status": status}).encode())


class _BadQuery(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Query:
    live: bool = False
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    type: str | None = None
    coverage_level: str | None = None
    sort: tuple[tuple[str, bool], ...] = DEFAULT_SORT
    size: int = DEFAULT_PAGE_SIZE
    page: int = 0


def parse_query(query: str) -> Query:
    """The documented parameters; _BadQuery names the first value that is not one."""
    values: dict[str, str] = {}
    sorts: list[tuple[str, bool]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "sort":
            sorts.append(_sort(value))
        else:
            values[name] = value  # the last one wins, as for the websocket's parameters
    return Query(
        live=_boolean("live", values.get("live", "false")),
        status=_choice("status", values.get("status"), STATUS_VALUES),
        date_from=_date("dateFrom", values.get("dateFrom")),
        date_to=_date("dateTo", values.get("dateTo")),
        type=_choice("type", values.get("type"), TYPE_VALUES),
        coverage_level=_choice("coverageLevel", values.get("coverageLevel"), COVERAGE_VALUES),
        sort=tuple(sorts) or DEFAULT_SORT,
        size=_integer("size", values.get("size"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        page=_integer("page", values.get("page"), 0, 0, None),
    )


def _shown(value: str) -> str:
    return repr(value[:40])


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise _BadQuery(f"{name} must be true or false, got {_shown(value)}")
    return value.lower() == "true"


def _choice(name: str, value: str | None, allowed: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    shown = allowed.get(value.lower())
    if shown is None:
        raise _BadQuery(f"{name} must be one of {', '.join(_camel(allowed))}, got {_shown(value)}")
    return shown


def camel(shown: str) -> str:
    """A display value as the query writes it: "Low Latency Stream" -> "lowLatencyStream"."""
    joined = shown.replace(" ", "")
    return joined[0].lower() + joined[1:]


def _camel(allowed: Mapping[str, str]) -> list[str]:
    return [camel(shown) for shown in allowed.values()]


def _date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _BadQuery(f"{name} must be a date like 2023-01-01, got {_shown(value)}") from None


def _integer(name: str, value: str | None, default: int, low: int, high: int | None) -> int:
    if value is None:
        return default
    if (
        not (value.isascii() and value.isdigit())
        or int(value) < low
        or (high is not None and int(value) > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _BadQuery(f"{name} must be an integer {bound}, got {_shown(value)}")
    return int(value)


def _sort(value: str) -> tuple[str, bool]:
    field, _, direction = value.partition(",")
    if field.lower() not in SORT_FIELDS or direction.lower() not in ("", "asc", "desc"):
        raise _BadQuery(f"sort must be name or startTime, then optionally ,asc or ,desc; got {_shown(value)}")
    return field.lower(), direction.lower() == "desc"


def start_date(started: datetime, listing: Listing) -> str:
    """RFC 3339 without a zone suffix, as in the provider's example; the time is UTC."""
    return (started + timedelta(seconds=listing.starts_s)).strftime("%Y-%m-%dT%H:%M:%S")


def fixture_object(listing: Listing, status: Status, started: datetime) -> dict[str, Any]:
    return {
        "id": listing.fixture_id,
        "name": listing.name,
        "startDateUTC": start_date(started, listing),
        "status": status,
        "type": listing.type,
        "coverageLevel": listing.coverage_level,
        "collectionStatus": COLLECTION_STATUS[status],
        "teams": [
            {"id": listing.home.id, "name": listing.home.name, "homeTeam": True},
            {"id": listing.away.id, "name": listing.away.name, "homeTeam": False},
        ],
        "sport": {"name": "Table Tennis"},
        "fixtureDeleted": False,
        "updateCount": 0,
    }


def list_fixtures(
    listings: Sequence[Listing], query: Query, elapsed_s: float, started: datetime
) -> list[dict[str, Any]]:
    chosen: list[tuple[Listing, Status]] = []
    for listing in listings:
        status = listing.status_at(elapsed_s)
        day = (started + timedelta(seconds=listing.starts_s)).date()
        if query.live and status != "Live":
            continue
        if query.status is not None and status != query.status:
            continue
        if query.type is not None and listing.type != query.type:
            continue
        if query.coverage_level is not None and listing.coverage_level != query.coverage_level:
            continue
        if (query.date_from is not None and day < query.date_from) or (
            query.date_to is not None and day > query.date_to
        ):
            continue
        chosen.append((listing, status))
    # Stable sorts, last key first: the first `sort` parameter is the main order.
    chosen.sort(key=lambda pair: pair[0].fixture_id)
    for field, descending in reversed(query.sort):
        if field == "name":
            chosen.sort(key=lambda pair: pair[0].name, reverse=descending)
        else:
            chosen.sort(key=lambda pair: pair[0].starts_s, reverse=descending)
    first = query.page * query.size
    return [
        fixture_object(listing, status, started) for listing, status in chosen[first : first + query.size]
    ]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str
    headers: Sequence[tuple[str, str]]  # names in any case

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


BEARER: Final = "Bearer "


def bearer_token(request: Request) -> str | None:
    value = request.header("authorization")
    if value is None or not value.startswith(BEARER):
        return None
    return value[len(BEARER) :].strip() or None


def answer(
    request: Request,
    listings: Mapping[str, Listing],
    *,
    elapsed_s: float,
    started: datetime,
    token_ok: Callable[[str | None], bool],
) -> Answer:
    """The API's answer: Accept checked first, then the token, then the route."""
    accept = request.header("accept")
    if accept is None or not accept.strip():
        return error(400, MISSING_ACCEPT_BODY)
    if not token_ok(bearer_token(request)):
        return error(401, AUTH_INVALID_MESSAGE)
    try:
        parts = urlsplit(request.target)
    except ValueError:
        return error(404, "Not found")
    path = parts.path.rstrip("/")
    if request.method not in ("GET", "HEAD"):
        return error(405, f"Method {request.method[:20]} is not allowed")
    if path == FIXTURES_PATH:
        try:
            query = parse_query(parts.query)
        except _BadQuery as exc:
            return error(400, str(exc))
        ordered = list(listings.values())
        body = list_fixtures(ordered, query, elapsed_s, started)
        return Answer(200, json.dumps(body).encode())
    prefix, _, rest = path.partition(FIXTURES_PATH + "/")
    fixture_part, _, tail = rest.partition("/")
    if prefix or tail != "actions":
        return error(404, f"Not found: {path[:200]}")
    try:
        fixture_id = validate_fixture_id(fixture_part)
    except InvalidFixtureId:
        return error(404, f"Not found: {path[:200]}")
    return _actions(listings.get(fixture_id), fixture_id, elapsed_s)


def _actions(listing: Listing | None, fixture_id: str, elapsed_s: float) -> Answer:
    if listing is None:
        return error(404, f"Fixture {fixture_id} is not served here")
    if listing.actions is None:
        return error(404, f"Fixture {fixture_id} has no actions served here")
    if listing.status_at(elapsed_s) != "Completed":
        return error(404, f"Actions of fixture {fixture_id} are delivered at the end of the fixture")
    # The frames are JSON texts already: joined, not parsed and dumped again.
    return Answer(200, b"[" + ",".join(listing.actions).encode() + b"]")
