"""The client's side of the fixtures REST API: the request a poll makes and what it makes of
the answer. Pure: bytes in, values out (recorder/live.py does the I/O).

An answer is trusted only as far as it parses: a body that is not a JSON array, or an entry
without a valid `id` and `status`, is a bad answer to retry later, never a reason to stop or
to record a fixture nobody asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit

from ttrec.errors import InvalidFixtureId
from ttrec.feed import ACCEPT_HEADER, validate_fixture_id
from ttrec.fixtures_api import COVERAGE_VALUES, FIXTURES_PATH, TYPE_VALUES

POLL_PAGE_SIZE: Final = 100
MAX_POLL_PAGES: Final = 50  # 5,000 fixtures live at once; more is a server that never ends a list


class BadAnswer(ValueError):
    """A 200 answer whose body is not the documented list."""


@dataclass(frozen=True, slots=True)
class Listed:
    fixture_id: str
    status: str
    type: str | None
    coverage_level: str | None


def fixtures_url(api_url: str) -> str:
    """The list's URL under a base URL (http:// or https://, a path prefix allowed)."""
    parts = urlsplit(api_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must start with http:// or https:// and name a host, got {api_url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path}{FIXTURES_PATH}"


def request_headers(token: str) -> dict[str, str]:
    """The documented headers; the caller keeps the result out of every log line."""
    return {"Accept": ACCEPT_HEADER, "Authorization": f"Bearer {token}"}


def poll_query(status: str, page: int, *, type: str | None = None, coverage: str | None = None) -> str:
    """One page of fixtures in `status` (lowerCamel), filtered on the server's side too."""
    params = {"status": status, "size": str(POLL_PAGE_SIZE), "page": str(page), "sort": "startTime,asc"}
    if type is not None:
        params["type"] = type
    if coverage is not None:
        params["coverageLevel"] = coverage
    return urlencode(params)


def parse_list(body: bytes) -> list[Listed]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadAnswer(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, list):
        raise BadAnswer(f"a JSON {type(data).__name__}, not a list")
    listed: list[Listed] = []
    for entry in data:
        if not isinstance(entry, dict):
            raise BadAnswer("an entry that is not an object")
        status, given_id = entry.get("status"), entry.get("id")
        no_id = BadAnswer("an entry without a valid fixture id")
        if not isinstance(given_id, str):  # missing, null or a number: not even text
            raise no_id
        try:
            fixture_id = validate_fixture_id(given_id)
        except InvalidFixtureId:
            raise no_id from None
        if not isinstance(status, str):
            raise BadAnswer(f"fixture {fixture_id} without a status")
        kind, coverage = entry.get("type"), entry.get("coverageLevel")
        listed.append(
            Listed(
                fixture_id,
                status,
                kind if isinstance(kind, str) else None,
                coverage if isinstance(coverage, str) else None,
            )
        )
    return listed


def wanted(entry: Listed, *, type: str | None, coverage: str | None) -> bool:
    """Checked again on our side: a server that ignores a filter must not widen the recording."""
    if type is not None and entry.type != TYPE_VALUES[type.lower()]:
        return False
    return coverage is None or entry.coverage_level == COVERAGE_VALUES[coverage.lower()]
