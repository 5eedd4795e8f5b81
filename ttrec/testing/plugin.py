"""The pytest plugin (entry point `pytest11: ttrec`): a replayer per test, record modes.

    @pytest.mark.ttrec(capture="tests/captures/final.jsonl.zst", speed=1.0)
    async def test_scoreboard(ttrec_server, autojump_clock):
        async with ttrec_server.connect() as ws:   # Accept header and auth message sent
            ...
        await ttrec_server.wait_connections(1)
        assert ttrec_server.connections[0].frames_sent == 220

Fixtures (trio tests, pytest-trio):
  ttrec_server     a running server (ttrec.testing.TrioServer) configured by the marker
  ttrec_capture    the capture path the marker names, recorded first when the record mode
                   says so (None: the bundled sample)
Fixture (asyncio tests, only when pytest-asyncio is installed; ttrec.testing.asyncio_plugin):
  ttrec_asyncio_server   the same server in a thread (ttrec.testing.AsyncioServer), awaitable

Importing this module imports pytest and nothing else of note: it is loaded in every test
run of a project that has ttrec installed, including projects that never use it.

Marker `ttrec` keywords: capture (path, relative to the rootdir, or a list, or
{"statistics": path, "actions": path}: both feeds, each recorded from its own), fixture (the
fixture id to record, and the default one), simulate (a seed, or simulate_match keywords),
speed (default None: as fast as the client reads), tokens, faults (specs or Fault values),
seed, on_end, heartbeat_interval_s, tls, paused, start_at (a `--start-at` spec).

Record modes (`--ttrec-record-mode`), for a marker naming `fixture` and `capture`:
  none     (default) never touches the network; a missing capture fails the test
  once     records a missing capture from `--ttrec-base-url` with TTREC_TOKEN, then serves it
  rewrite  records the capture again, replacing it once the new recording is complete
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import io
import math
import os
import signal
import threading
from collections.abc import AsyncIterator, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:  # imported when used: the plugin loads in every pytest run once installed
    import trio

    from recorder.secret import Token
    from recorder.session import RecordOptions
    from replayer import ServeOptions
    from ttrec.testing.harness import TrioServer

RECORD_MODES: Final = ("none", "once", "rewrite")
# Long enough for a recorded match served at speed or a short live one, short enough that
# an unreachable provider (retried with backoff, never given up) fails a CI run quickly.
DEFAULT_RECORD_TIMEOUT_S: Final = 600.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ttrec", "ttrec: replay recorded matches to consumers under test")
    group.addoption(
        "--ttrec-record-mode",
        choices=RECORD_MODES,
        default="none",
        help="none (default): only replay, never touch the network; once: record missing "
        "captures; rewrite: record captures again. Recording needs TTREC_TOKEN.",
    )
    group.addoption(
        "--ttrec-record-timeout",
        type=_record_timeout,
        default=DEFAULT_RECORD_TIMEOUT_S,
        metavar="SECONDS",
        help=f"A recording (record modes once/rewrite) that has not reached the match's finished "
        f"frame after this long fails the test (default {DEFAULT_RECORD_TIMEOUT_S:g}; 0: no limit).",
    )
    group.addoption(
        "--ttrec-base-url",
        default=None,
        help="Where recordings are made from (default: the provider's feed host).",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("asyncio"):
        # pytest-asyncio is loaded: offer ttrec_asyncio_server too (its module imports
        # pytest_asyncio, so only then).
        from ttrec.testing import asyncio_plugin

        config.pluginmanager.register(asyncio_plugin, "ttrec-asyncio")
    config.addinivalue_line(
        "markers",
        "ttrec(capture=None, fixture=None, simulate=None, speed=None, tokens=(), faults=(), "
        "seed=0, on_end='stay', heartbeat_interval_s=10, tls=False, paused=False, start_at=None): "
        "what the ttrec_server fixture serves, and how",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A fixture's `pytest.fail(..., pytrace=False)` ("capture X does not exist") or a
    marker keyword it refuses (pytest.UsageError) reported as its one line: run in trio's
    loop (pytest-trio), it comes out wrapped in an exception group, which pytest shows with
    every frame of the nursery."""
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if error is None:
        return report
    leaves = _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    if leaves and all(_one_line(leaf) for leaf in leaves):
        report.longrepr = "\n".join(str(leaf) for leaf in leaves)
    return report


def _one_line(error: BaseException) -> bool:
    return isinstance(error, pytest.UsageError) or (
        isinstance(error, pytest.fail.Exception) and not error.pytrace
    )


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for error in group.exceptions:
        out.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return out


_MARKER_KEYS: Final = frozenset(
    {
        "capture",
        "fixture",
        "simulate",
        "speed",
        "tokens",
        "faults",
        "seed",
        "on_end",
        "heartbeat_interval_s",
        "tls",
        "paused",
        "start_at",
    }
)


def _marker(request: pytest.FixtureRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    # Closest last: a function's marker overrides its class's and module's.
    for mark in reversed(list(request.node.iter_markers("ttrec"))):
        unknown = set(mark.kwargs) - _MARKER_KEYS
        if unknown or mark.args:
            raise pytest.UsageError(
                f"@pytest.mark.ttrec takes keywords only, among {sorted(_MARKER_KEYS)}; "
                f"got {sorted(unknown) or list(mark.args)}"
            )
        settings.update(mark.kwargs)
    return settings


@pytest.fixture
async def ttrec_capture(request: pytest.FixtureRequest, tmp_path: Path) -> list[Path] | None:
    """The captures the marker names (recorded first if the record mode says so); a
    simulated match with `simulate=`; None when neither is named (the bundled sample)."""
    return await resolve_captures(request, tmp_path)


async def resolve_captures(request: pytest.FixtureRequest, tmp_path: Path) -> list[Path] | None:
    """What `ttrec_capture` gives (a trio function: recording runs in trio)."""
    settings = _marker(request)
    simulate = settings.get("simulate")
    capture = settings.get("capture")
    if simulate is not None:
        if capture is not None:
            raise pytest.UsageError("@pytest.mark.ttrec: give capture or simulate, not both")
        return _simulated(simulate, tmp_path)
    if capture is None:
        if settings.get("fixture") is not None and request.config.getoption("--ttrec-record-mode") != "none":
            raise pytest.UsageError("@pytest.mark.ttrec(fixture=...) needs capture=PATH to record into")
        return None
    pairs = _capture_feeds(capture)
    root = request.config.rootpath
    resolved = [Path(p) if Path(p).is_absolute() else root / p for _, p in pairs]
    mode = request.config.getoption("--ttrec-record-mode")
    fixture = settings.get("fixture")
    if len(set(resolved)) != len(resolved):
        raise pytest.UsageError(f"@pytest.mark.ttrec: one capture path for two feeds: {capture!r}")
    to_record = [
        fixture is not None and (mode == "rewrite" or (mode == "once" and not path.exists()))
        for path in resolved
    ]
    for path, recording in zip(resolved, to_record, strict=True):
        if recording:  # every path checked before any feed is recorded
            _check_recordable(path)
    served: list[Path] = []
    for (feed, given), path, recording in zip(pairs, resolved, to_record, strict=True):
        if recording and fixture is not None:
            config = request.config
            timeout = config.getoption("--ttrec-record-timeout")
            await _record(fixture, path, config.getoption("--ttrec-base-url"), timeout, feed)
        elif not path.exists():
            if samples := _bundled(given, path):  # as every command takes a sample's name
                served += samples
                continue
            hint = " (record it: --ttrec-record-mode=once, with TTREC_TOKEN set)" if fixture else ""
            pytest.fail(f"ttrec: capture {path} does not exist{hint}", pytrace=False)
        served.append(path)
    return served


def _bundled(given: Any, path: Path) -> list[Path]:
    """The bundled sample files a capture keyword names by the sample's name (both feeds of a
    pair), when no file of that name is there; else none."""
    from ttrec.bundled import resolve_served

    name = Path(given)
    return [] if path.exists() or name.is_absolute() else [p for p in resolve_served(name) if p != name]


def _record_timeout(text: str) -> float:
    """--ttrec-record-timeout: seconds, finite and not negative (0: no limit); pytest says
    what is wrong in one line, as for its own options."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0: no limit)")
    return seconds


def _capture_feeds(capture: Any) -> list[tuple[str, Any]]:
    """(feed, path) of each capture the marker names: a path or a list of paths (recorded
    from the statistics feed), or {"statistics": path, "actions": path} for both feeds."""
    from ttrec.feed import FEEDS

    if isinstance(capture, dict):
        unknown = sorted(str(feed) for feed in capture if feed not in FEEDS)
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.ttrec(capture={{...}}): unknown feed {unknown[0]!r}"
                f" (known: {', '.join(FEEDS)})"
            )
        return [(str(feed), path) for feed, path in capture.items()]
    paths = [capture] if isinstance(capture, str | os.PathLike) else list(capture)
    return [("statistics", path) for path in paths]


# Beside simulate_match's own keywords, as `ttrec simulate` has them: --scenario, --feeds.
_SIMULATE_EXTRAS: Final = ("scenario", "feeds")


def _simulated(simulate: Any, directory: Path) -> list[Path]:
    """The captures of a simulated match, one per feed asked for (statistics by default)."""
    from ttrec.capture import CAPTURE_SUFFIX
    from ttrec.feed import parse_feeds
    from ttrec.outputs import feed_file
    from ttrec.simulated_incidents import Incidents
    from ttrec.simulator import simulate_match, write_capture

    kwargs: dict[str, Any] = {"seed": simulate} if isinstance(simulate, int) else dict(simulate)
    known = sorted({*inspect.signature(simulate_match).parameters, *_SIMULATE_EXTRAS})
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.ttrec(simulate=...): unknown keyword {unknown[0]!r}; known: {known}"
        )
    given = kwargs.pop("feeds", "statistics")
    try:  # as `ttrec simulate --feeds` reads them: "statistics,actions" or a list
        feeds = parse_feeds(given.split(",") if isinstance(given, str) else given)
    except ValueError as exc:
        raise pytest.UsageError(f"@pytest.mark.ttrec(simulate=...): feeds: {exc}") from None
    incidents = kwargs.get("incidents", Incidents())
    if not isinstance(incidents, Incidents):
        raise pytest.UsageError(
            "@pytest.mark.ttrec(simulate=...): incidents must be a ttrec.simulated_incidents.Incidents"
        )
    try:
        if "scenario" in kwargs:  # on top of the incidents given, as --scenario with --correction-at
            kwargs["incidents"] = dataclasses.replace(incidents, scenario=kwargs.pop("scenario"))
        match = simulate_match(**kwargs)
    except (TypeError, ValueError, OverflowError) as exc:
        raise pytest.UsageError(f"@pytest.mark.ttrec(simulate=...): {exc}") from None
    statistics = directory / f"simulated-{match.fixture_id}{CAPTURE_SUFFIX}"
    return [write_capture(match, feed_file(statistics, feed), feed) for feed in feeds]


async def _record(
    fixture_id: str, path: Path, base_url: str | None, timeout_s: float, feed: str = "statistics"
) -> None:
    """Record `fixture_id`'s `feed` until its finished frame into `path` (replaced only once complete:
    an interrupted recording never leaves a half capture where a test would replay it).

    Within `timeout_s` (0: no limit), else the recording is stopped and the test fails with
    what the recorder was last doing. SIGTERM (a CI job cancelled) stops it too: the
    temporary file is removed, then the process ends as SIGTERM asks."""
    import trio

    from recorder.run import record
    from ttrec.capture import CAPTURE_SUFFIX

    _check_recordable(path)
    token = _recording_token(path)
    options = _record_options(feed, base_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.recording{CAPTURE_SUFFIX}")
    partial.unlink(missing_ok=True)
    log = io.StringIO()
    stopper = _Stopper()
    try:
        async with trio.open_nursery() as nursery:
            await stopper.watch(nursery, timeout_s)  # SIGTERM is caught before the file exists
            results = await record(
                [fixture_id], token, out=partial, options=options, log=log, stop=stopper.stop
            )
            nursery.cancel_scope.cancel()
        result = results[0]
        if stopper.why or not result.complete:
            last = _last_event(log.getvalue()) or result.detail
            reason = stopper.why[0] if stopper.why else f"{result.outcome}: {result.detail}"
            pytest.fail(
                f"ttrec: recording fixture {fixture_id} did not complete ({reason}; last: {last})",
                pytrace=False,
            )
        _check_recordable(path)  # again: the recording took minutes
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
        if stopper.why and stopper.why[0] == "SIGTERM":
            signal.raise_signal(signal.SIGTERM)  # the default action again: end as asked


def _check_recordable(path: Path) -> None:
    """The test fails, and nothing is recorded, where the capture would replace something
    that is not a capture (a mistyped path in a marker must not destroy a user's file)."""
    from ttrec.errors import OutputRefused
    from ttrec.outputs import check_recordable_again

    try:
        check_recordable_again(path)
    except OutputRefused as exc:
        pytest.fail(f"ttrec: {exc}", pytrace=False)


def _recording_token(path: Path) -> Token:
    """The feed token from the environment; the test fails (without the token) when it is missing or bad."""
    from recorder.secret import TOKEN_ENV, TokenProblem, token_from

    try:
        token = token_from(os.environ.get(TOKEN_ENV), None, on_command_line=False)
    except TokenProblem as exc:
        pytest.fail(f"ttrec: recording {path.name}: {exc}", pytrace=False)
    if token is None:
        pytest.fail(f"ttrec: recording {path.name} needs the feed token in ${TOKEN_ENV}", pytrace=False)
    return token


def _record_options(feed: str, base_url: str | None) -> RecordOptions:
    from dataclasses import replace

    from recorder.session import RecordOptions

    options = RecordOptions(feed="actions" if feed == "actions" else "statistics")
    return options if base_url is None else replace(options, base_url=base_url)


class _Stopper:
    """Stops a recording after its time limit or on SIGTERM, and says which (`why`)."""

    def __init__(self) -> None:
        from recorder.stop import Stop

        self.stop = Stop()
        self.why: list[str] = []  # what stopped the recording, if anything did

    async def watch(self, nursery: trio.Nursery, timeout_s: float) -> None:
        """Start watching; returns once SIGTERM is caught (a task merely started would
        catch it only from its first run, after the recording had made its file)."""
        if timeout_s > 0:
            nursery.start_soon(self._stop_after, timeout_s)
        if threading.current_thread() is threading.main_thread():
            await nursery.start(self._stop_on_sigterm)

    async def _stop_after(self, seconds: float) -> None:
        import trio

        await trio.sleep(seconds)
        self.why.append(f"it did not complete within {seconds:g} s (--ttrec-record-timeout)")
        self.stop.request()

    async def _stop_on_sigterm(self, *, task_status: trio.TaskStatus[None]) -> None:
        import trio

        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                self.why.append("SIGTERM")
                self.stop.request()
                return


def _last_event(log: str) -> str:
    """The recorder's last status event before the stop, without its time and fixture."""
    lines = [line for line in log.splitlines() if "stopped" not in line]
    return lines[-1].split(" ", 2)[-1] if lines else ""


@pytest.fixture
async def ttrec_server(
    request: pytest.FixtureRequest, ttrec_capture: list[Path] | None, tmp_path: Path
) -> AsyncIterator[TrioServer]:
    """A replayer on 127.0.0.1, port 0, in this test's trio run (ttrec.testing.TrioServer):
    `.fixture_url()`, `.token`, `.connect()`, `.ssl_context` / `.ca_file` (tls=True),
    `.connections`, `.wait_connections(n)`, `.control` (step control)."""
    from ttrec.errors import TtrecError
    from ttrec.testing.harness import open_server

    settings = _marker(request)
    options, tls, fixture = marker_options(settings)
    async with contextlib.AsyncExitStack() as stack:
        try:  # what serving finds (a --start-at the capture lacks, a fault that never fires)
            server = await stack.enter_async_context(
                open_server(ttrec_capture, options, tls=tls, ca_dir=tmp_path, fixture=fixture)
            )
        except* TtrecError as found:
            problems = "; ".join(str(leaf) for leaf in _leaves(found))
            pytest.fail(f"@pytest.mark.ttrec: {problems}", pytrace=False)
        yield server


def marker_options(settings: dict[str, Any]) -> tuple[ServeOptions, bool, str | None]:
    """The server options, tls and default fixture the marker's keywords ask for; a value
    that cannot be used fails the test with one line naming it (pytest.UsageError)."""
    from ttrec.errors import TtrecError
    from ttrec.testing.harness import serve_options

    try:
        options = serve_options(
            speed=settings.get("speed"),
            tokens=_strings(settings.get("tokens", ())),
            faults=settings.get("faults", ()),
            seed=settings.get("seed", 0),
            on_end=settings.get("on_end", "stay"),
            heartbeat_interval_s=float(settings.get("heartbeat_interval_s", 10.0)),
            paused=bool(settings.get("paused", False)),
            start_at=settings.get("start_at"),
        )
    except (ValueError, TypeError, TtrecError) as exc:  # the test's mistake, not a traceback of ours
        raise pytest.UsageError(f"@pytest.mark.ttrec: {exc}") from None
    return options, bool(settings.get("tls", False)), settings.get("fixture")


def _strings(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
