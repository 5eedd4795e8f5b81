"""The pytest plugin (ttrec.testing.plugin): its fixtures used here directly, and whole test
sessions run with pytester (marker options, record modes, determinism across runs).

Rules: loopback only, port 0, `autojump_clock` for anything timed, a `trio.fail_after` bound
on every network test. The "provider" in the record-mode tests is a local replayer in a
thread (serve_in_thread): nothing here ever touches the real network.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, open_websocket_url

from ttrec.bundled import SAMPLES, sample_path
from ttrec.capture import CaptureReader
from ttrec.feed import ACCEPT_HEADER, auth_message, classify, seq_num
from ttrec.match import parse_frame
from ttrec.records import Frame, Heartbeat
from ttrec.simulated_incidents import Incidents
from ttrec.simulator import SimulatedMatch, simulate_match, write_capture
from ttrec.testing import TrioServer, serve_in_thread

pytest_plugins = ["pytester"]


def sample_truth(name: str) -> SimulatedMatch:
    """A bundled sample's match as the simulator played it (the samples are its output)."""
    spec = SAMPLES[name]
    return simulate_match(spec.seed, best_of=spec.best_of, doubles=spec.doubles)


SINGLES: Final = sample_truth("sample-singles-bo5")
SAMPLE_FIXTURE: Final = SINGLES.fixture_id
SAMPLE_FRAMES: Final = len(SINGLES.frames)
DOUBLES: Final = sample_truth("sample-doubles-bo5-decider")
DOUBLES_FIXTURE: Final = DOUBLES.fixture_id
DOUBLES_SEQS: Final = [seq_num(text) for text in DOUBLES.frames]
# pytest-asyncio (a test extra) warns in every project that leaves its loop scope unset.
# The provider of the record-mode tests: a heartbeat after this long of quiet. The recorder
# lingers after the finished frame until a heartbeat (or FINISHED_LINGER_S, 2 s of the real
# clock): a quick heartbeat ends each recording at once, closed by the recorder as ever.
QUICK_HEARTBEAT_S: Final = 0.1
INI: Final = (
    "[pytest]\ntrio_mode = true\naddopts = -p no:cacheprovider\n"
    "asyncio_default_fixture_loop_scope = function\n"
)


async def test_the_default_server_plays_the_bundled_sample(ttrec_server: TrioServer) -> None:
    assert ttrec_server.fixture_id == SAMPLE_FIXTURE
    assert ttrec_server.fixture_url().startswith("ws://127.0.0.1:")
    assert ttrec_server.ssl_context is None and ttrec_server.ca_file is None
    seqs: list[int | None] = []
    with trio.fail_after(20):
        async with ttrec_server.connect() as ws:
            while len(seqs) < SAMPLE_FRAMES:
                message = await ws.get_message()
                assert isinstance(message, str)
                if classify(message) == "frame":
                    seqs.append(seq_num(message))
        (report,) = await ttrec_server.wait_connections(1)
    assert seqs == [seq_num(text) for text in SINGLES.frames]
    assert report.frames_sent == SAMPLE_FRAMES and report.ended == "client-closed"


async def test_the_headers_go_to_a_trio_websocket_client_as_they_are(ttrec_server: TrioServer) -> None:
    with trio.fail_after(20):
        url, headers = ttrec_server.fixture_url(), ttrec_server.headers
        async with open_websocket_url(url, extra_headers=headers) as ws:  # as a test would write it
            await ws.send_message(auth_message(ttrec_server.token))
            while classify(message := await ws.get_message()) != "frame":
                pass
    assert seq_num(message) == seq_num(SINGLES.frames[0])
    assert dict(headers) == {"Accept": ACCEPT_HEADER}


@pytest.mark.ttrec(start_at="set=3")
async def test_marker_start_at_joins_mid_match(ttrec_server: TrioServer) -> None:
    with trio.fail_after(20):
        async with ttrec_server.connect() as ws:
            while classify(message := await ws.get_message()) != "frame":
                pass
    first = parse_frame(message)
    # Every frame is a full snapshot: the first one received already shows sets 1 and 2 won.
    assert len(first.sets) >= 2 and first.sets[:2] == list(SINGLES.sets[:2])
    assert sum(first.sets_won) == 2 and first.seq_num > 1


@pytest.mark.ttrec(
    capture=[str(sample_path("sample-singles-bo5")), str(sample_path("sample-doubles-bo5-decider"))],
    fixture=DOUBLES_FIXTURE,
    tls=True,
    tokens=["t1", "t2"],
    faults=["close:after=3,code=4001"],
    paused=True,
)
async def test_marker_options(ttrec_server: TrioServer, autojump_clock: trio.testing.MockClock) -> None:
    assert ttrec_server.fixture_id == DOUBLES_FIXTURE
    assert sorted(ttrec_server.fixtures) == sorted([SAMPLE_FIXTURE, DOUBLES_FIXTURE])
    assert ttrec_server.url.startswith("wss://") and ttrec_server.ca_file is not None
    assert ttrec_server.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert ttrec_server.token == "t1"
    got: list[str] = []
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:

            async def consumer() -> None:
                async with ttrec_server.connect() as ws:
                    try:
                        while True:
                            message = await ws.get_message()
                            assert isinstance(message, str)
                            got.append(message)
                    except ConnectionClosed:
                        pass

            nursery.start_soon(consumer)
            await trio.sleep(60)
            assert not [m for m in got if classify(m) == "frame"]  # paused: heartbeats only
            position = await ttrec_server.control.release(2)
            assert position.seq == DOUBLES_SEQS[1]
            await ttrec_server.control.release(5, wait=False)
        (report,) = await ttrec_server.wait_connections(1)
    assert [seq_num(m) for m in got if classify(m) == "frame"] == DOUBLES_SEQS[:3]
    assert report.fixture == DOUBLES_FIXTURE and report.code == 4001
    assert report.faults == ("close:after=3,code=4001",)


@pytest.mark.ttrec(simulate={"seed": 4, "best_of": 3})
async def test_a_simulated_match(ttrec_server: TrioServer) -> None:
    with trio.fail_after(20):
        async with ttrec_server.connect(token="anything") as ws:
            message = await ws.get_message()
    assert isinstance(message, str)
    assert ttrec_server.fixture_id in ttrec_server.fixtures


DETERMINISM: Final = """
import json, time
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed
from ttrec.feed import classify, seq_num
from ttrec.match import parse_frame


@pytest.mark.ttrec(speed=1.0, heartbeat_interval_s=5.0, on_end="close")
@pytest.mark.parametrize("run", [1, 2])
async def test_whole_match(ttrec_server, autojump_clock, run):
    real_start, start = time.perf_counter(), trio.current_time()
    log = []
    with trio.fail_after(10_000):  # virtual seconds: the match lasts about half an hour
        async with ttrec_server.connect() as ws:
            try:
                while True:
                    message = await ws.get_message()
                    kind = classify(message)
                    log.append([round(trio.current_time() - start, 6), kind, seq_num(message)])
            except ConnectionClosed:
                pass
    report = (await ttrec_server.wait_connections(1))[0]
    Path(f"run-{run}.json").write_text(json.dumps({
        "log": log, "real_s": time.perf_counter() - real_start,
        "frames": report.frames_sent, "heartbeats": report.heartbeats_sent,
        "synthetic": report.synthetic_heartbeats, "ended": report.ended,
    }))
"""


def test_a_whole_match_replays_in_virtual_time_identically_every_run(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_determinism=DETERMINISM)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    first = json.loads((pytester.path / "run-1.json").read_text())
    second = json.loads((pytester.path / "run-2.json").read_text())
    assert first["log"] == second["log"]  # same messages, same order, same virtual times
    assert first["frames"] == SAMPLE_FRAMES and first["ended"] == "end-of-capture"
    assert first["synthetic"] > 0  # made-up heartbeats (5 s interval) are in the same places too
    recorded_beats = sum(isinstance(r, Heartbeat) for r in SINGLES.records)
    assert first["heartbeats"] == recorded_beats + first["synthetic"]
    kinds = [kind for _, kind, _ in first["log"]]
    assert kinds.count("frame") == SAMPLE_FRAMES and kinds.count("heartbeat") == first["heartbeats"]
    first_to_last_frame_s = (SINGLES.actions[-1].t - SINGLES.actions[0].t) / 1e9
    assert first["log"][-1][0] >= first_to_last_frame_s  # the whole match, in virtual time
    assert first["real_s"] < 10 and second["real_s"] < 10


RECORDED: Final = """
import pytest
from ttrec.feed import classify


@pytest.mark.ttrec(fixture="{fixture}", capture="captures/final.jsonl.zst", on_end="close")
async def test_consumer(ttrec_server):
    frames = 0
    async with ttrec_server.connect() as ws:
        while frames < {frames}:
            if classify(await ws.get_message()) == "frame":
                frames += 1
    assert ttrec_server.fixture_id == "{fixture}"
"""


def sample_frames(path: Path) -> list[str]:
    with CaptureReader(path) as reader:
        return [r.data for r in reader if isinstance(r, Frame)]


def test_record_mode_none_never_records(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*captures/final.jsonl.zst does not exist (record it: --ttrec-record-mode=once*"]
    )
    # its one line, not the trio nursery's exception group around it
    assert "Traceback" not in result.stdout.str() and "ExceptionGroup" not in result.stdout.str()
    assert not (pytester.path / "captures").exists()


def test_record_mode_once_records_a_missing_capture_then_replays_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    capture = pytester.path / "captures" / "final.jsonl.zst"
    monkeypatch.delenv("TTREC_TOKEN", raising=False)
    with serve_in_thread(tokens=["provider-token"], heartbeat_interval_s=QUICK_HEARTBEAT_S) as provider:
        base = f"--ttrec-base-url={provider.url}"
        result = pytester.runpytest("--ttrec-record-mode=once", base)
        result.assert_outcomes(failed=1)  # no token: a clear failure, nothing written
        result.stdout.fnmatch_lines(["*needs the feed token in $TTREC_TOKEN*"])
        assert not capture.parent.exists() or not list(capture.parent.iterdir())

        monkeypatch.setenv("TTREC_TOKEN", "provider-token")
        result = pytester.runpytest("--ttrec-record-mode=once", base)
        result.assert_outcomes(passed=1)
        assert sample_frames(capture) == sample_frames(sample_path("sample-singles-bo5"))
        assert [c.ended for c in provider.wait_connections(1)] == ["client-closed"]
        assert list(capture.parent.iterdir()) == [capture]  # no partial file left behind
        recorded = capture.read_bytes()

        result = pytester.runpytest("--ttrec-record-mode=once", base)
        result.assert_outcomes(passed=1)
        assert len(provider.connections) == 1  # the capture exists: not recorded again

        result = pytester.runpytest("--ttrec-record-mode=rewrite", base)
        result.assert_outcomes(passed=1)
        assert len(provider.wait_connections(2)) == 2  # recorded again, file replaced
        assert capture.read_bytes() != recorded  # a new session: new header time and stamps
        assert sample_frames(capture) == sample_frames(sample_path("sample-singles-bo5"))

    # The provider is gone: the default mode replays the capture without the network.
    monkeypatch.delenv("TTREC_TOKEN")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "mode, what",
    [("rewrite", "a user's file"), ("rewrite", "a link to a user's file"), ("once", "a link to nothing")],
)
def test_recording_never_replaces_what_is_not_a_capture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, what: str
) -> None:
    """A mistyped capture path in a marker, and a user's file there: the test fails, the
    file stays, and nothing is recorded (the provider sees no connection)."""
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    capture = pytester.path / "captures" / "final.jsonl.zst"
    capture.parent.mkdir()
    victim = pytester.path / "notes.txt"
    victim.write_text("my notes - not a capture\n")
    if what == "a user's file":
        capture.write_text(victim.read_text())
    elif what == "a link to a user's file":
        capture.symlink_to(victim)
    else:
        capture.symlink_to(pytester.path / "nothing-here")
    before = os.readlink(capture) if capture.is_symlink() else capture.read_bytes()
    monkeypatch.setenv("TTREC_TOKEN", "provider-token")
    with serve_in_thread(tokens=["provider-token"], heartbeat_interval_s=QUICK_HEARTBEAT_S) as provider:
        result = pytester.runpytest(f"--ttrec-record-mode={mode}", f"--ttrec-base-url={provider.url}")
        assert provider.connections == []
    result.assert_outcomes(failed=1)
    why = "is not a ttrec capture" if what == "a user's file" else "is a symbolic link"
    result.stdout.fnmatch_lines([f"*ttrec: *captures/final.jsonl.zst: *{why}*"])
    assert (os.readlink(capture) if capture.is_symlink() else capture.read_bytes()) == before
    assert victim.read_text() == "my notes - not a capture\n"
    assert sorted(p.name for p in capture.parent.iterdir()) == ["final.jsonl.zst"]


TWO_FEEDS: Final = """
import pytest


@pytest.mark.ttrec(fixture="{fixture}", capture={capture})
async def test_consumer(ttrec_server):
    pass
"""


@pytest.mark.parametrize("mode", ["once", "rewrite"])
def test_a_two_feed_marker_records_nothing_when_one_path_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    pytester.makeini(INI)
    capture = {"statistics": "captures/s.jsonl.zst", "actions": "captures/s.actions.jsonl.zst"}
    pytester.makepyfile(test_two=TWO_FEEDS.format(fixture=SAMPLE_FIXTURE, capture=capture))
    folder = pytester.path / "captures"
    folder.mkdir()
    (folder / "s.actions.jsonl.zst").symlink_to(pytester.path / "nothing-here")
    monkeypatch.setenv("TTREC_TOKEN", "provider-token")
    with serve_in_thread(tokens=["provider-token"], heartbeat_interval_s=QUICK_HEARTBEAT_S) as provider:
        result = pytester.runpytest(f"--ttrec-record-mode={mode}", f"--ttrec-base-url={provider.url}")
        assert provider.connections == []  # the statistics feed was not recorded either
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ttrec: *captures/s.actions.jsonl.zst: *is a symbolic link*"])
    assert sorted(p.name for p in folder.iterdir()) == ["s.actions.jsonl.zst"]


def test_one_path_for_both_feeds_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    capture = {"statistics": "captures/s.jsonl.zst", "actions": "captures/s.jsonl.zst"}
    pytester.makepyfile(test_two=TWO_FEEDS.format(fixture=SAMPLE_FIXTURE, capture=capture))
    result = pytester.runpytest("--ttrec-record-mode=once")
    assert result.ret != pytest.ExitCode.OK
    assert "one capture path for two feeds" in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "captures").exists()


def test_a_recording_that_does_not_finish_fails_and_leaves_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    monkeypatch.setenv("TTREC_TOKEN", "wrong")
    with serve_in_thread(tokens=["provider-token"], heartbeat_interval_s=QUICK_HEARTBEAT_S) as provider:
        result = pytester.runpytest("--ttrec-record-mode=once", f"--ttrec-base-url={provider.url}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*recording fixture * did not complete (failed*"])
    assert not list((pytester.path / "captures").iterdir())


def test_a_bad_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.ttrec(captures="x.jsonl.zst")
async def test_it(ttrec_server):
    pass
"""
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*@pytest.mark.ttrec takes keywords only*'captures'*"])


def test_the_plugin_is_registered_by_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--ttrec-record-mode=*", "*--ttrec-base-url*"])
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.ttrec(*"])


def _closed_port() -> int:
    """A loopback port nothing listens on: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_recording_from_an_unreachable_provider_fails_at_the_deadline(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    base = f"--ttrec-base-url=ws://127.0.0.1:{_closed_port()}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TTREC_TOKEN", "provider-token")
        # Bounded: before the deadline existed this run never ended.
        result = pytester.runpytest_subprocess(
            "--ttrec-record-mode=once", base, "--ttrec-record-timeout=1", timeout=60
        )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*recording fixture * did not complete (it did not complete within 1 s (--ttrec-record-timeout);"
            " last: cannot connect*"
        ]
    )
    assert not list((pytester.path / "captures").iterdir())


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_a_record_timeout_that_is_no_number_of_seconds_is_a_usage_error(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    result = pytester.runpytest_subprocess(f"--ttrec-record-timeout={value}", timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--ttrec-record-timeout: '{value}' is not a number of seconds (0: no limit)"]
    )
    assert "Traceback" not in result.stderr.str()


def test_sigterm_during_a_recording_removes_its_temporary_file(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=RECORDED.format(fixture=SAMPLE_FIXTURE, frames=SAMPLE_FRAMES))
    captures = pytester.path / "captures"
    env = {**os.environ, "TTREC_TOKEN": "provider-token"}
    args = [sys.executable, "-m", "pytest", "--ttrec-record-mode=once"]
    proc = subprocess.Popen(  # our own pytest run; ended by the pid we started
        [*args, f"--ttrec-base-url=ws://127.0.0.1:{_closed_port()}", "--ttrec-record-timeout=0"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (captures.exists() and list(captures.glob(".final.jsonl.zst.*"))):
            assert proc.poll() is None and time.monotonic() < deadline, "no recording started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert list(captures.iterdir()) == []


# --- the plugin in a strict consumer project -----------------------------------------------
STRICT_PROJECT: Final = """
[tool.pytest.ini_options]
filterwarnings = ["error"]
asyncio_default_fixture_loop_scope = "function"
"""
LIGHT_LOAD: Final = """
import sys


def test_the_plugin_is_loaded_and_imported_nothing_it_was_not_asked_for(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("ttrec")
    loaded = [m for m in ("hypothesis", "trio", "ttrec.testing.harness", "replayer") if m in sys.modules]
    assert loaded == []
"""
STRATEGIES_WHEN_USED: Final = """
from hypothesis import given, settings

from ttrec.testing.strategies import statistics_frames


@settings(deadline=None, max_examples=3)
@given(statistics_frames())
def test_frames_are_json_objects(text):
    assert text.startswith("{")
"""


def test_a_strict_consumer_project_passes_and_the_plugin_loads_nothing_heavy(
    pytester: pytest.Pytester,
) -> None:
    """`filterwarnings = error` (warnings are failures) in a project that has ttrec installed
    but does not use it: the plugin imports neither hypothesis nor trio. pytest-trio, when
    installed, imports both itself, so it is left out of the first run."""
    pytester.makepyprojecttoml(STRICT_PROJECT)
    pytester.makepyfile(test_light=LIGHT_LOAD)
    # anyio's plugin (anyio comes with httpx, in the `live` and `test` extras) imports trio too.
    result = pytester.runpytest_subprocess("-p", "no:trio", "-p", "no:anyio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == 0


def test_a_strict_consumer_project_with_every_plugin_and_the_strategies_passes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(STRICT_PROJECT)
    pytester.makepyfile(test_strategies=STRATEGIES_WHEN_USED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == 0


def test_without_hypothesis_the_strategies_say_which_extra_to_install() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['hypothesis'] = None; import ttrec.testing.strategies"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "pip install 'ttrec[strategies]'" in result.stderr.splitlines()[-1]


README_CONSUMER: Final = '''
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, open_websocket_url

from ttrec.feed import ACCEPT_HEADER, auth_message, classify
from ttrec.match import parse_frame


class State:
    sets_won = (0, 0)


my_state = State()


async def my_consumer(url, token):
    """A scoreboard that takes every frame as it comes, and stops when the connection does."""
    async with open_websocket_url(url, extra_headers=[("Accept", ACCEPT_HEADER)]) as ws:
        await ws.send_message(auth_message(token))
        try:
            while True:
                message = await ws.get_message()
                if classify(message) == "frame":
                    my_state.sets_won = parse_frame(message).sets_won
        except ConnectionClosed:
            pass
'''


def _readme_step_example() -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    (example,) = [block.split("```")[0] for block in blocks if 'run_to("set-end")' in block]
    return example


def _home_wins_the_first_set() -> SimulatedMatch:
    """A simulated match whose first set the home side wins, found from its frames."""
    for seed in range(100):
        match = simulate_match(seed)
        firsts = [parse_frame(text).sets_won for text in match.frames if sum(parse_frame(text).sets_won) == 1]
        if firsts[0] == (1, 0):
            return match
    raise AssertionError("no seed below 100 gives the home side the first set")


def test_the_readmes_step_control_example_passes_as_written(pytester: pytest.Pytester) -> None:
    """The README's first plugin example, verbatim, with a consumer and a capture it names."""
    (pytester.path / "tests" / "captures").mkdir(parents=True)
    write_capture(_home_wins_the_first_set(), pytester.path / "tests" / "captures" / "final.jsonl.zst")
    pytester.makeini(INI)
    pytester.makepyfile(test_readme_step_example=README_CONSUMER + "\n\n" + _readme_step_example())
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


async def _frames_until_closed(ws: Any) -> tuple[list[str], int | None]:
    got: list[str] = []
    try:
        while True:
            message = await ws.get_message()
            if classify(message) == "frame":
                got.append(message)
    except ConnectionClosed as closed:
        return got, closed.reason.code


@pytest.mark.ttrec(capture="sample-doubles-bo5-decider", faults="close:after=2,code=4001", speed="max")
async def test_a_sample_by_name_one_fault_as_a_string_and_speed_max(ttrec_server: TrioServer) -> None:
    """As the commands take them: a bundled sample's name, one --fault spec, --speed max."""
    assert ttrec_server.fixtures == [DOUBLES_FIXTURE] and ttrec_server.options.speed is None
    with trio.fail_after(20):
        async with ttrec_server.connect() as ws:
            frames, code = await _frames_until_closed(ws)
    assert [seq_num(text) for text in frames] == DOUBLES_SEQS[:2] and code == 4001


@pytest.mark.ttrec(simulate={"seed": 4, "scenario": "dropped", "feeds": ["statistics", "actions"]})
async def test_a_simulated_scenario_on_both_feeds(ttrec_server: TrioServer) -> None:
    from ttrec.simulated_incidents import Incidents

    dropped = simulate_match(4, incidents=Incidents(scenario="dropped"))
    assert dropped.winner is None  # the collection was dropped: no result, as asked
    got = {}
    with trio.fail_after(20):
        for feed in ("statistics", "actions"):
            async with ttrec_server.connect(feed=feed) as ws:
                got[feed] = (await ws.get_message(), feed)
    assert ttrec_server.fixtures == [dropped.fixture_id]
    assert classify(got["statistics"][0]) == "frame" and got["statistics"][0] == dropped.frames[0]
    assert sorted(report.path for report in ttrec_server.connections) == sorted(
        [
            f"/v2/tabletennis/fixtures/{dropped.fixture_id}/statistics",
            f"/v2/tabletennis/fixtures/{dropped.fixture_id}/actions",
        ]
    )


MARKER_MISTAKES: Final = """
import pytest


@pytest.mark.ttrec({keywords})
async def test_it(ttrec_server):
    pass
"""


@pytest.mark.parametrize(
    ("keywords", "line"),
    [
        ('speed="fast"', "*@pytest.mark.ttrec: 'fast' is neither a number nor 'max'*"),
        ("speed=0", "*@pytest.mark.ttrec: 0 must be a positive number or 'max'*"),
        ('faults="nope:after=1"', "*@pytest.mark.ttrec: *nope*"),
        (
            'simulate={"seed": 4, "nope": 1}',
            "*@pytest.mark.ttrec(simulate=...): unknown keyword 'nope'; known: *",
        ),
        (
            'simulate={"seed": 4, "scenario": "lost"}',
            "*@pytest.mark.ttrec(simulate=...): scenario must be one of*",
        ),
        (
            'simulate={"seed": 4, "feeds": ["stats"]}',
            "*feeds: unknown feed 'stats'; the feeds are statistics, actions",
        ),
        (
            'simulate={"seed": 4, "incidents": "x"}',
            "*incidents must be a ttrec.simulated_incidents.Incidents",
        ),
        ("speed=10**400", "*@pytest.mark.ttrec: * must be a positive number or 'max'"),
        ('start_at="set=9"', "*@pytest.mark.ttrec: *set=9*"),
    ],
)
def test_a_marker_value_that_cannot_be_used_is_one_line(
    pytester: pytest.Pytester, keywords: str, line: str
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_mistake=MARKER_MISTAKES.format(keywords=keywords))
    result = pytester.runpytest()
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([line])
    assert "Traceback" not in result.stdout.str() and "TypeError" not in result.stdout.str()


def test_marker_speeds_as_serve_takes_them() -> None:
    from ttrec.testing.plugin import marker_options

    assert marker_options({"speed": "2.5"})[0].speed == 2.5
    assert marker_options({"speed": 10})[0].speed == 10.0
    assert marker_options({"speed": "max"})[0].speed is None
    assert marker_options({"speed": 1.0})[0].speed == 1.0  # not the default (max): given, kept


@pytest.mark.ttrec(
    simulate={
        "seed": 7,
        "incidents": Incidents(correction_at="match-point"),
        "scenario": "suspended",
        "feeds": "statistics,actions,statistics",
    }
)
async def test_a_scenario_goes_on_top_of_the_incidents_given(ttrec_server: TrioServer) -> None:
    """As `ttrec simulate --scenario suspended --correction-at match-point`: both kept."""
    match = simulate_match(7, incidents=Incidents(correction_at="match-point", scenario="suspended"))
    without = simulate_match(7, incidents=Incidents(scenario="suspended"))
    assert len(match.frames) != len(without.frames)  # the correction is a frame of its own
    got: list[str] = []
    with trio.fail_after(30):
        async with ttrec_server.connect() as ws:
            while len(got) < len(match.frames):
                message = await ws.get_message()
                if classify(message) == "frame":
                    got.append(message)
    assert got == list(match.frames)
    assert sorted(ttrec_server.server.feeds) == [
        (match.fixture_id, "actions"),
        (match.fixture_id, "statistics"),
    ]
