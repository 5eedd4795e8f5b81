"""The actions feed's packets: the provider's own example parses, the vocabulary is the
documented one, and anything else is refused as a PacketError, never another exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from frame_factory import PROVIDER_SAMPLE
from hypothesis import given
from hypothesis import strategies as st

from ttrec.actions import ACTION_TYPES, SEND_TYPES, PacketError, is_action_packet, parse_packet

EXAMPLE = Path(__file__).parent / "data" / "provider-action-packet-lineups.json"


def test_the_providers_example_packet() -> None:
    packet = parse_packet(EXAMPLE.read_text())
    assert packet.seq == 1 and packet.type_id == 3 and packet.type_name == ACTION_TYPES[3] == "Lineups"
    assert packet.send_type == "Confirmed" and SEND_TYPES["Confirmed"] == 5
    assert packet.side == "home" and packet.period == 0 and not packet.counted
    assert packet.summary is not None and packet.summary.collection_status == "CollectionScheduled"
    assert packet.summary.periods == () and (packet.summary.home_score, packet.summary.away_score) == (0, 0)
    assert is_action_packet(json.loads(EXAMPLE.read_text()))
    assert not is_action_packet(json.loads(PROVIDER_SAMPLE.read_text()))  # a statistics frame


def test_send_type_ids_are_the_documented_ones() -> None:
    # "1 Pending, 2 Updated, 3 Cancelled, 4 Deleted, 5 Confirmed, 6 Restored"
    assert list(SEND_TYPES.items()) == [
        ("Pending", 1),
        ("Updated", 2),
        ("Cancelled", 3),
        ("Deleted", 4),
        ("Confirmed", 5),
        ("Restored", 6),
    ]


def test_summary_periods_in_period_order_whatever_the_order_sent() -> None:
    obj = json.loads(EXAMPLE.read_text())
    obj["fixtureSummary"]["periods"] = [
        {"period": 2, "homeTeamScore": 3, "awayTeamScore": 5},
        {"period": 1, "homeTeamScore": 11, "awayTeamScore": 7},
    ]
    summary = parse_packet(obj).summary
    assert summary is not None and summary.periods == ((11, 7), (3, 5))


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"fixtureAction": {"fixtureSeqNum": true}}',
        '{"seqNum": 1, "fixtureId": "x"}',
        "[" * 100_000,
    ],
)
def test_what_is_not_a_packet(text: str) -> None:
    with pytest.raises(PacketError):
        parse_packet(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=20), c, max_size=4),
    )
)
def test_any_team_or_summary_value_is_read_or_refused_cleanly(value: object) -> None:
    obj = json.loads(EXAMPLE.read_text())
    obj["fixtureAction"]["team"] = value
    obj["fixtureSummary"] = value
    if not isinstance(value, dict):
        # Not objects: no side and no summary, the packet itself still reads.
        packet = parse_packet(obj)
        assert packet.side is None and packet.summary is None and packet.seq == 1
        return
    try:
        packet = parse_packet(obj)
    except PacketError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert packet.side == (
        {True: "home", False: "away"}.get(value.get("homeTeam"))
        if isinstance(value.get("homeTeam"), bool)
        else None
    )
    assert packet.summary is not None
