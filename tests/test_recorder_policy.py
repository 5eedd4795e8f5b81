"""The recorder's pure parts: reconnect policy, attempt limit, file names, the token's
hiding, message inspection and status lines. No sockets, no clock."""

from __future__ import annotations

import json
import math
import pickle
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from frame_factory import stats_frame
from hypothesis import given
from hypothesis import strategies as st
from recorder_support import documented_backoff_ceiling_s
from rich.console import Console

from recorder.naming import candidate_paths, capture_name
from recorder.policy import AttemptWindow, Backoff, classify_close, classify_error_frame, classify_status
from recorder.recording import inspect_text
from recorder.secret import Token
from recorder.status import (
    STATUS_COLUMNS,
    FixtureStatus,
    LiveReporter,
    PlainReporter,
    score_text,
    status_cells,
)
from ttrec.errors import InvalidFixtureId
from ttrec.feed import AUTH_INVALID_FRAME, REDACTED, classify, seq_num

FIXTURE = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
OTHER = "0bd00469-86fa-4f0b-abcc-30cbef80dacc"


# --- reconnect policy -------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_refusals_that_another_attempt_cannot_change_are_permanent(status: int) -> None:
    assert classify_status(status) == "permanent"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_momentary_server_trouble_is_retried(status: int) -> None:
    assert classify_status(status) == "transient"


def test_close_codes() -> None:
    assert classify_close(1008) == "permanent"  # policy violation: the auth refusal
    # 1000 before finished:true is retried: the rest of the match is still to come
    for code in (1000, 1001, 1006, 1011, 1012, 1013, 4000, None):
        assert classify_close(code) == "transient"
    assert classify_error_frame(401) == "permanent"
    assert classify_error_frame(503) == "transient"
    assert classify_error_frame(None) == "transient"


def test_backoff_doubles_with_jitter_within_half_and_full_and_is_capped() -> None:
    backoff = Backoff(initial_s=0.5, factor=2.0, cap_s=30.0)
    rng = random.Random(1)
    for failures in range(0, 200):
        ceiling = documented_backoff_ceiling_s(failures)
        for _ in range(20):
            delay = backoff.delay_s(failures, rng)
            assert ceiling / 2 <= delay <= ceiling
    # jitter: many fixtures failing together do not come back in lock step
    assert len({round(backoff.delay_s(3, rng), 6) for _ in range(50)}) > 40
    with pytest.raises(ValueError):
        backoff.delay_s(-1, rng)


@given(
    st.lists(
        st.tuples(st.floats(0, 0.5), st.floats(0, 2.0), st.floats(0, 1)),  # gap, latency, where seen
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 7),
)
def test_attempt_window_never_lets_the_server_see_more_than_max_in_any_second(
    attempts: list[tuple[float, float, float]], limit: int
) -> None:
    # Each attempt takes `latency` from its start to its end, and the server sees it at
    # any moment in between: the count must hold on the server's clock, not ours.
    window = AttemptWindow(limit, 1.0)
    now = 0.0
    seen = []
    for gap, latency, where in attempts:
        now += gap
        index = window.book()
        at = window.earliest_start(index)
        assert at is not None  # every earlier attempt has ended in this sequential replay
        start = max(now, at)
        seen.append(start + where * latency)
        window.ended(index, start + latency)
    seen.sort()
    for i in range(len(seen) - limit):
        assert seen[i + limit] - seen[i] > 1.0  # so no closed one-second window holds limit + 1


def test_attempt_window_waits_for_attempts_in_flight_and_spares_a_calm_caller() -> None:
    calm = AttemptWindow(5, 1.0, margin_s=0.0)
    for _ in range(5):
        assert calm.earliest_start(calm.book()) == -math.inf  # the first five: at once
    sixth = calm.book()
    assert calm.earliest_start(sixth) is None  # the first is still in flight
    calm.ended(0, 0.3)
    assert calm.earliest_start(sixth) == 1.3
    calm.ended(0, 9.0)  # a second end changes nothing
    assert calm.earliest_start(sixth) == 1.3


# --- file names --------------------------------------------------------------------------


def test_names_sort_by_fixture_then_time() -> None:
    t0 = datetime(2026, 11, 24, 7, 0, 0, tzinfo=UTC)
    sessions = [
        (FIXTURE, t0 + timedelta(hours=3), 0),
        (OTHER, t0 + timedelta(days=2), 0),
        (FIXTURE, t0, 0),
        (FIXTURE, t0, 1),
        (FIXTURE, t0, 10),
        (FIXTURE, t0, 2),
        (OTHER, t0, 0),
        (FIXTURE, t0 + timedelta(seconds=1), 0),
    ]
    by_name = sorted(sessions, key=lambda s: capture_name(s[0], "statistics", s[1], s[2]))
    assert by_name == sorted(sessions)  # fixture, then start time, then same-second number
    assert capture_name(FIXTURE, "statistics", t0) == f"{FIXTURE}_20261124T070000Z.jsonl.zst"
    assert capture_name(FIXTURE, "actions", t0, 1) == f"{FIXTURE}_20261124T070000Z_01.actions.jsonl.zst"


def test_names_take_a_canonical_fixture_id_and_an_aware_time(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 24, 7, 0, 0, tzinfo=UTC)
    assert capture_name(FIXTURE.upper(), "statistics", t0).startswith(FIXTURE)
    with pytest.raises(InvalidFixtureId):
        capture_name("../../etc/passwd", "statistics", t0)
    with pytest.raises(ValueError):
        capture_name(FIXTURE, "statistics", datetime(2026, 1, 1))
    paths = candidate_paths(tmp_path, FIXTURE, "statistics", t0)
    assert len(set(paths)) == len(paths) == 100
    assert all(p.parent == tmp_path for p in paths)


# --- the token ----------------------------------------------------------------------------

SECRET = "s3cr3t-T0KEN-abc"


def test_token_never_shows_itself() -> None:
    token = Token(f"  {SECRET}\n")
    assert token.reveal() == SECRET
    for text in (str(token), repr(token), f"{token}", f"{token!r}", repr([token]), repr({"t": token})):
        assert SECRET not in text
        assert REDACTED in text
    with pytest.raises(TypeError):
        pickle.dumps(token)
    with pytest.raises(ValueError):
        Token(" \n")


def test_token_scrubs_itself_out_of_server_text() -> None:
    token = Token(SECRET)
    assert token.scrub(f"bad token {SECRET}!") == f"bad token {REDACTED}!"
    assert Token("ab").scrub("abc") == "abc"  # too short to scrub safely


def test_token_is_hidden_from_the_process_title() -> None:
    code = (
        "import sys, pathlib\n"
        "from recorder.secret import hide_from_process_title\n"
        "assert hide_from_process_title(sys.argv[2])\n"
        "cmdline = pathlib.Path('/proc/self/cmdline').read_bytes()\n"
        "assert sys.argv[2].encode() not in cmdline, cmdline\n"
        "assert sys.argv[2] == " + repr(SECRET) + "\n"  # Python's own copy is untouched
    )
    done = subprocess.run([sys.executable, "-c", code, "--token", SECRET], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()


# --- message inspection -------------------------------------------------------------------


def test_inspect_reads_seq_and_finished_of_a_data_frame() -> None:
    arrival = inspect_text(stats_frame(7, [(11, 5), (3, 2)]))
    assert (arrival.kind, arrival.seq, arrival.finished, arrival.error_status) == ("frame", 7, False, None)
    assert inspect_text(stats_frame(9, [(11, 5)], finished=True)).finished


def test_inspect_recognises_the_auth_refusal_as_a_control_frame() -> None:
    arrival = inspect_text(AUTH_INVALID_FRAME)
    assert (arrival.kind, arrival.error_status) == ("heartbeat", 401)
    hb = inspect_text('{"message":"Heartbeat sent at 2025-02-20T14:47:00.517484Z","level":"INFO"}')
    assert (hb.kind, hb.error_status) == ("heartbeat", None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.one_of(
        st.text(max_size=40),
        json_values.map(json.dumps),
        st.fixed_dictionaries(
            {"seqNum": json_values, "fixtureId": json_values},
            optional={"finished": json_values, "error": json_values, "status": json_values},
        ).map(json.dumps),
        st.fixed_dictionaries({"error": json_values, "status": json_values}).map(json.dumps),
    )
)
def test_inspect_agrees_with_the_feed_rules(text: str) -> None:
    arrival = inspect_text(text)
    assert arrival.kind == classify(text)
    if arrival.kind == "frame":
        assert arrival.seq == seq_num(text)
        assert arrival.finished == (json.loads(text).get("finished") is True)


# --- status lines ----------------------------------------------------------------------------


def test_status_cells_show_state_counts_seq_and_score() -> None:
    status = FixtureStatus(FIXTURE, "captures/x.jsonl.zst")
    status.state = "recording"
    status.counters.frames, status.counters.heartbeats, status.counters.last_seq = 42, 3, 42
    status.counters.last_frame = stats_frame(42, [(11, 5), (9, 11), (4, 2)])
    cells = dict(zip(STATUS_COLUMNS, status_cells(status), strict=True))
    # Sets 1-1 (one won each), the current set 4-2.
    assert cells == {
        "fixture": FIXTURE[:8],
        "state": "recording",
        "frames": "42",
        "hb": "3",
        "seq": "42",
        "score": "1-1 (4-2)",
        "conn": "",
        "detail": "",
    }
    status.counters.connections = 2
    assert status_cells(status)[STATUS_COLUMNS.index("conn")] == "2"
    assert score_text("not json") == ""


def test_plain_reporter_writes_one_timestamped_line_per_event() -> None:
    import io

    stream = io.StringIO()
    reporter = PlainReporter(stream, lambda: datetime(2026, 11, 24, 7, 0, 0, tzinfo=UTC))
    reporter.event(FixtureStatus(FIXTURE), "connected (connection 1)")
    assert stream.getvalue() == f"2026-11-24T07:00:00.000Z {FIXTURE} connected (connection 1)\n"


def test_live_reporter_fits_many_fixtures_into_the_terminal() -> None:
    import io

    statuses = [FixtureStatus(f"{i:08d}-86fa-4f0b-abcc-30cbef80dacc") for i in range(50)]
    for s in statuses[:30]:
        s.state = "recording"
    statuses[0].detail = "a long message from the server " * 10
    reporter = LiveReporter(io.StringIO(), statuses)
    shown, tally = reporter.fit(9)
    assert len(shown) == 8 and tally is not None
    assert tally.startswith("… 42 more") and "30 recording" in tally and "20 waiting" in tally
    assert reporter.fit(50) == (statuses, None)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(reporter.view(80, 10))
    lines = out.getvalue().splitlines()
    # A header, 8 fixtures and the tally: 10 lines, none wider than the terminal.
    assert len(lines) == 10 and all(len(line) <= 80 for line in lines)
    assert lines[0].split() == list(STATUS_COLUMNS)
    assert lines[1].startswith("00000000") and lines[1].rstrip().endswith("…")
    assert lines[-1].startswith("… 42 more")
