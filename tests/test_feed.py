"""Feed facts: URLs, the auth message, frame classification, heartbeat timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from frame_factory import PROVIDER_SAMPLE
from hypothesis import given
from hypothesis import strategies as st

from ttrec.errors import InvalidFixtureId
from ttrec.feed import (
    DEFAULT_BASE_URL,
    auth_message,
    classify,
    default_heartbeat,
    feed_url,
    parse_auth_message,
    parse_feed_path,
    restamp,
    rfc3339,
    seq_num,
    validate_fixture_id,
)

FIXTURE = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"


def test_default_host_is_the_successor_of_the_decommissioned_one():
    assert feed_url(DEFAULT_BASE_URL, FIXTURE) == (
        f"wss://dde-streams.data.srarena.io/v2/tabletennis/fixtures/{FIXTURE}/statistics"
    )


def test_url_with_start_position_and_a_base_path():
    url = feed_url("ws://127.0.0.1:8080/proxy/", FIXTURE.upper(), "actions", start_position=7)
    assert url == f"ws://127.0.0.1:8080/proxy/v2/tabletennis/fixtures/{FIXTURE}/actions?startPosition=7"
    assert feed_url("ws://h", FIXTURE, start_position=0).endswith("/statistics")


def test_base_url_must_be_a_websocket_url():
    with pytest.raises(ValueError, match="ws:// or wss://"):
        feed_url("https://example.org", FIXTURE)


@pytest.mark.parametrize("bad", ["", "123", "../../etc/passwd", FIXTURE + "x", "1bd00469"])
def test_fixture_ids_are_uuids(bad):
    with pytest.raises(InvalidFixtureId):
        validate_fixture_id(bad)


def test_paths_parse_back_and_hostile_ones_do_not():
    assert parse_feed_path(f"/v2/tabletennis/fixtures/{FIXTURE}/statistics?speed=fast") == (
        FIXTURE,
        "statistics",
    )
    assert parse_feed_path(f"/v2/tabletennis/fixtures/{FIXTURE}/../../x") is None
    assert parse_feed_path("/v2/tabletennis/fixtures/nope/statistics") is None
    assert parse_feed_path(f"/v2/soccer/fixtures/{FIXTURE}/statistics") is None


@given(st.text(min_size=1))
def test_auth_message_round_trips_any_token(token):
    assert parse_auth_message(auth_message(token)) == token


@pytest.mark.parametrize("text", ["", "null", "[]", '{"authToken": 5}', '{"authToken": ""}', "{", '{"a":1}'])
def test_malformed_auth_messages_carry_no_token(text):
    assert parse_auth_message(text) is None


def test_the_providers_sample_is_a_data_frame():
    text = PROVIDER_SAMPLE.read_text()
    assert classify(text) == "frame"
    assert seq_num(text) == 272


@pytest.mark.parametrize(
    "text",
    [
        '{"message":"Heartbeat sent at 2025-02-20T14:47:00.517484Z","level":"INFO"}',
        "ping",
        '{"seqNum": 1}',
        '["seqNum", "fixtureId"]',
        '{"error": "seqNum fixtureId"',
    ],
)
def test_everything_else_is_a_heartbeat_or_control_message(text):
    assert classify(text) == "heartbeat"


def test_heartbeats_get_fresh_timestamps_in_the_recorded_shape():
    moment = datetime(2026, 11, 24, 7, 1, 2, 345678, tzinfo=UTC)
    template = '{"message":"Heartbeat sent at 2025-02-20T14:47:00.517484123Z","level":"INFO"}'
    assert restamp(template, moment) == (
        '{"message":"Heartbeat sent at 2026-11-24T07:01:02.345678000Z","level":"INFO"}'
    )
    assert json.loads(default_heartbeat(moment)) == {
        "message": "Heartbeat sent at 2026-11-24T07:01:02.345678Z",
        "level": "INFO",
    }


def test_rfc3339_converts_to_utc():
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment, 3) == "2026-01-01T10:00:00.000Z"
    with pytest.raises(ValueError, match="timezone"):
        rfc3339(datetime(2026, 1, 1))
