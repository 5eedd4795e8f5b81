"""The ttrec/1 line encoding: round-trips, forward compatibility, malformed records."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from record_strategies import headers, record_lists

from ttrec.records import (
    Frame,
    RecordError,
    decode_header,
    decode_record,
    encode_header,
    encode_record,
)


@given(record_lists())
def test_every_record_round_trips(records):
    for record in records:
        line = encode_record(record)
        assert line.endswith(b"\n") and line.count(b"\n") == 1  # one record, one line
        assert decode_record(json.loads(line)) == record


@given(headers)
def test_header_round_trips_with_extra_keys(header):
    assert decode_header(json.loads(encode_header(header))) == header


def test_unknown_keys_are_ignored_and_unknown_types_skipped():
    obj = {"type": "frame", "t": 5, "wall": "w", "conn": 0, "data": "x", "future": [1, 2]}
    assert decode_record(obj) == Frame(5, "w", 0, "x")
    assert decode_record({"type": "annotation", "t": 1, "anything": True}) is None


def test_data_text_is_kept_exactly():
    text = '{ "seqNum" : 1,\n\t"fixtureId":"é\\u00e9" }  '
    line = encode_record(Frame(0, "w", 0, text))
    assert decode_record(json.loads(line)).data == text


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"type": "frame", "t": "5", "wall": "w", "conn": 0, "data": "x"}, "'t' must be int"),
        ({"type": "frame", "t": True, "wall": "w", "conn": 0, "data": "x"}, "'t' must be int"),
        ({"type": "frame", "t": -1, "wall": "w", "conn": 0, "data": "x"}, "negative"),
        ({"type": "frame", "t": 1, "wall": "w", "conn": 0}, "'data' must be str"),
        ({"type": "binary", "t": 1, "wall": "w", "conn": 0, "data_b64": "!!"}, "not base64"),
        ({"type": "close", "t": 1, "wall": "w", "conn": 0, "code": 1, "reason": "", "by": "x"}, "'by'"),
        ({"type": 7}, "bad record type"),
        ({"type": "header", "format": "ttrec/1"}, "bad record type"),
        ([1, 2], "JSON object"),
    ],
)
def test_malformed_records_are_refused(obj, problem):
    with pytest.raises(RecordError, match=problem):
        decode_record(obj)


def test_unknown_format_is_refused_by_name():
    with pytest.raises(RecordError, match="unknown capture format 'ttrec/9'"):
        decode_header({"type": "header", "format": "ttrec/9"})
