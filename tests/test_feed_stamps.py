"""ttrec.feed (and the simulator's clock) write timestamps and heartbeat texts directly,
exactly as strftime, json.dumps and rfc3339 of a shifted datetime wrote them before (the
oracles here), for any moment strftime can write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.feed import default_heartbeat, heartbeat_at, rfc3339, rfc3339_seconds
from ttrec.simulator import _Clock

MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@settings(max_examples=100, deadline=None)
@given(MOMENTS, st.integers(min_value=-23, max_value=23))
def test_stamps_are_what_strftime_and_json_dumps_wrote(moment: datetime, hours: int) -> None:
    assert rfc3339_seconds(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S")
    local = moment.astimezone(timezone(timedelta(hours=hours))) if moment.year > 1 else moment
    expected = {"message": f"Heartbeat sent at {rfc3339(local)}", "level": "INFO"}
    assert default_heartbeat(local) == json.dumps(expected, separators=(",", ":"))
    assert heartbeat_at(rfc3339(local)) == default_heartbeat(local)


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.integers(min_value=0, max_value=10 * 86_400 * 10**9),
)
def test_a_simulated_records_wall_time_is_rfc3339_of_its_moment(
    moment: datetime, minutes: int, t: int
) -> None:
    # The simulator works a record's wall time out from the epoch's microseconds; before,
    # it was rfc3339 of the start (in any timezone) plus the record's time.
    start = moment.astimezone(timezone(timedelta(minutes=minutes)))
    assert _Clock(start).wall(t) == rfc3339(start + timedelta(microseconds=t // 1000))


def test_years_before_1000_are_left_to_strftime() -> None:
    moment = datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert rfc3339_seconds(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S")
    assert rfc3339(datetime(2026, 1, 5, 9, 3, 4, 120, tzinfo=UTC), 9) == "2026-01-05T09:03:04.000120000Z"
