"""Hypothesis strategies for ttrec/1 records (the capture format's own tests)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from ttrec.records import Binary, Close, Error, Frame, Header, Heartbeat, Open, Record, Sent

FIXTURE = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
walls = st.text(min_size=1, max_size=40)
texts = st.text(max_size=300)  # any Unicode text but lone surrogates, as a websocket delivers
conns = st.integers(min_value=0, max_value=50)


# Every kind of record at t = 0; record_lists sets each one's `t`. One strategy built once:
# building seven `builds` per record drawn was most of the time of the tests that use it.
_records_at_0: st.SearchStrategy[Record] = st.one_of(
    st.builds(Frame, st.just(0), walls, conns, texts),
    st.builds(Heartbeat, st.just(0), walls, conns, texts),
    st.builds(Sent, st.just(0), walls, conns, texts),
    st.builds(Binary, st.just(0), walls, conns, st.binary(max_size=200)),
    st.builds(Open, st.just(0), walls, conns, texts, st.integers(min_value=0, max_value=10**6)),
    st.builds(
        Close,
        st.just(0),
        walls,
        conns,
        st.none() | st.integers(min_value=1000, max_value=4999),
        texts,
        st.sampled_from(["server", "client", "network"]),
    ),
    st.builds(
        Error,
        st.just(0),
        walls,
        conns,
        st.none() | st.integers(min_value=100, max_value=599),
        st.none() | texts,
        st.none() | texts,
    ),
)


@st.composite
def record_lists(draw: st.DrawFn, max_size: int = 30) -> list[Record]:
    """Records with non-decreasing `t`, as every capture has them."""
    steps = draw(st.lists(st.integers(min_value=0, max_value=10**12), max_size=max_size))
    t, records = 0, []
    for step in steps:
        t += step
        records.append(replace(draw(_records_at_0), t=t))
    return records


def one_record(max_t: int) -> st.SearchStrategy[Record]:
    """Any one record, at a time from 0 to `max_t`."""
    return st.builds(lambda record, t: replace(record, t=t), _records_at_0, st.integers(0, max_t))


headers = st.builds(
    Header,
    fixture_id=st.just(FIXTURE),
    url=st.just(f"ws://127.0.0.1:1/v2/tabletennis/fixtures/{FIXTURE}/statistics"),
    source=st.sampled_from(["recorded", "simulated", "derived"]),
    created=st.just("2026-11-24T07:00:00Z"),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(
            lambda k: k not in {"type", "format", "fixture_id", "feed", "url", "source", "created", "tool"}
        ),
        st.integers() | st.text(max_size=20) | st.booleans(),
        max_size=3,
    ),
)
