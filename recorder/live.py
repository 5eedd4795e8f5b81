"""`ttrec record --live`: poll the fixtures REST API and record every fixture that goes live.

One poller and one session per (fixture, feed) being recorded, all under one nursery. The
poller's requests and the sessions' websocket connects share one `AttemptLimiter`, so the
process never makes more than the provider's 5 requests a second in all.

Running for days: an API that fails (unreachable, 5xx, 429, a timeout, a body that is not the
documented list) is polled again after a backoff, and logged once when it starts failing and
once when it answers again; a refusal that another attempt cannot change (401/403, or another
4xx: `recorder.policy.classify_status`) stops everything with one line. Nothing is kept about
a fixture once its captures are closed but its id, and only while the API still lists it as
live (so that a fixture that just ended is not recorded twice): memory follows what is live
now, not how long the recorder has run.
"""

from __future__ import annotations

import os
import random
import ssl
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO

import httpx
import trio

from recorder.connection import Connect, websocket_connect
from recorder.live_options import LiveOptions
from recorder.policy import classify_status
from recorder.recording import Recording
from recorder.run import check_directory, close_capture, open_captures, stop_on_signals
from recorder.secret import Token
from recorder.session import AttemptLimiter, FixtureResult, FixtureSession, RecordOptions
from recorder.status import FixtureStatus, PlainReporter
from recorder.stop import Stop
from ttrec.errors import TtrecError
from ttrec.feed import Feed
from ttrec.fixtures_list import (
    MAX_POLL_PAGES,
    POLL_PAGE_SIZE,
    BadAnswer,
    Listed,
    fixtures_url,
    parse_list,
    poll_query,
    request_headers,
    wanted,
)
from ttrec.logstyle import LogStyle

ERROR_BODY_SHOWN: Final = 200  # characters of a refusal's body in its one line


class ApiRefused(TtrecError):
    """The fixtures API refused us in a way another attempt cannot change."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


class _Trouble(Exception):
    """A failed poll worth another one later; `kind` is what "once per state change" compares."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


@dataclass(frozen=True, slots=True)
class CaptureGauge:
    """One open capture, as --metrics shows it."""

    fixture_id: str
    feed: Feed
    state: str
    idle_s: float  # since its newest message (or its start)
    open_gaps: int  # resumes that may have skipped frames, not yet repaired


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything --metrics exposes, taken at once on the trio thread (recorder.metrics)."""

    summary: LiveSummary
    open: tuple[CaptureGauge, ...]
    frames: int  # data frames written, closed captures included
    heartbeats: int
    connections: int  # websocket connections opened
    attempts: int  # connection attempts, the failed ones too
    reconnects: int  # connections opened beyond each capture's first
    gaps_closed: int
    bytes_written: int
    polls: int
    poll_failures: int
    live: int  # fixtures the last successful poll listed as live
    scheduled: int  # ... as scheduled (its first page: the next POLL_PAGE_SIZE by start time)
    fixtures: FixtureTally


@dataclass(slots=True)
class FixtureTally:
    """Fixtures (not captures): one is recording until its last feed's capture is closed,
    then done (every capture finished complete), failed (any failed) or stopped."""

    recording: int = 0
    waiting: int = 0  # live, but no capture of theirs could be created yet: tried at each poll
    done: int = 0
    failed: int = 0
    stopped: int = 0


@dataclass(slots=True)
class LiveSummary:
    finished: int = 0  # captures recorded to their finished frame, complete
    failed: int = 0  # captures that failed or may miss frames
    stopped: int = 0  # captures stopped by a signal before their end
    not_created: int = 0  # times a capture could not be created (each retried while live)
    refused: ApiRefused | None = None

    @property
    def recorded(self) -> int:
        return self.finished + self.failed + self.stopped


class LiveRecorder:
    def __init__(
        self,
        token: Token,
        *,
        out: Path,
        options: RecordOptions,
        live: LiveOptions,
        http: httpx.AsyncClient,
        connect: Connect = websocket_connect,
        stop: Stop | None = None,
        log: TextIO | None = None,
        wall_clock: Callable[[], datetime] | None = None,
        style: LogStyle | None = None,
    ) -> None:
        self._token = token
        self._out = out
        self._options = options
        self._live = live
        self._http = http
        self._connect = connect
        self.stop = stop or Stop()
        self._log = log or sys.stderr
        self._now = wall_clock or (lambda: datetime.now(UTC))
        self._reporter = PlainReporter(self._log, self._now, style)
        self._limiter = AttemptLimiter(options.max_attempts_per_s)
        self._rng = random.Random(options.seed)
        self._url = fixtures_url(live.api_url)
        self.summary = LiveSummary()
        self.requests = 0  # API requests made (answered or not)
        self.polls = 0
        self.poll_failures = 0
        self._open: dict[tuple[str, Feed], FixtureSession] = {}  # dropped when closed
        # frames, heartbeats, connections, attempts, reconnects, gaps closed, bytes (_counts)
        self._closed_totals = [0] * 7
        self._listed_live = 0
        self._listed_scheduled = 0
        self._count_scheduled = live.until_idle  # and with --metrics: its gauge
        self._tally = FixtureTally()
        self._worst: dict[str, str] = {}  # fixture id -> the worst outcome of its closed captures
        self.metrics_port: int | None = None  # where --metrics listens, once it does
        self._recording: dict[str, int] = {}  # fixture id -> its captures still open
        self._ended_but_listed: set[str] = set()  # closed, and the API still said Live
        # fixture id -> its feeds whose capture could not be created: tried again at each
        # poll while the API lists the fixture as live (a disk that was full or read-only
        # for a while costs nothing, each capture starting from startPosition 0)
        self._retry: dict[str, set[Feed]] = {}
        self._uncreated: set[str] = set()  # tried again from _retry, no capture created yet
        self._api_state = "ok"
        self._shown_tally: tuple[int, ...] = ()

    async def run(
        self, *, handle_signals: bool = False, metrics: tuple[str, int] | None = None
    ) -> LiveSummary:
        """Until stopped, refused, or idle (`until_idle`); with `metrics`, a Prometheus
        exporter on that address meanwhile (recorder.metrics). An `out` that cannot hold
        the captures is refused first (`check_directory`), before anything is asked."""
        check_directory(self._out, self._options.create_file)
        if metrics is None:
            return await self._run(handle_signals)
        from recorder.metrics import serve_metrics  # the optional dependency, only when asked

        self._count_scheduled = True
        self.metrics_port, stop_exporter = serve_metrics(metrics, self.snapshot)
        self._reporter.say(
            "metrics", f"Prometheus metrics on {metrics[0]} port {self.metrics_port}, path /metrics"
        )
        try:
            return await self._run(handle_signals)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(stop_exporter)

    async def _run(self, handle_signals: bool) -> LiveSummary:
        async with trio.open_nursery() as everything:
            if handle_signals:
                everything.start_soon(stop_on_signals, self.stop, everything.cancel_scope)
            async with trio.open_nursery() as captures:
                await self._poll_loop(captures)
            everything.cancel_scope.cancel()
        return self.summary

    # -- the API

    async def _poll_loop(self, captures: trio.Nursery) -> None:
        failures = 0
        while not self.stop.requested:
            self.polls += 1
            try:
                live, scheduled = await self._poll()
            except ApiRefused as exc:
                self.poll_failures += 1
                self.summary.refused = exc
                self._reporter.say("api", f"refused: {exc.detail}; stopping", "error")
                self.stop.request()
                return
            except _Trouble as trouble:
                if self.stop.requested:
                    return
                self.poll_failures += 1
                failures += 1
                self._api_changed(trouble.kind)
                await self._sleep(self._live.backoff.delay_s(failures - 1, self._rng))
                continue
            if failures:
                self._api_changed("ok", f"answering again after {failures} failed poll(s)")
            failures = 0
            listed = {entry.fixture_id for entry in live}
            self._listed_live, self._listed_scheduled = len(listed), scheduled
            self._reporter.say("api", f"poll: {len(listed)} live, {scheduled} scheduled", "debug")
            for entry in live:
                fixture_id = entry.fixture_id
                if fixture_id in self._retry:
                    self._uncreated.add(fixture_id)  # waiting, not recording, until created
                    self._start(captures, fixture_id, self._retry.pop(fixture_id))
                elif fixture_id not in self._recording and fixture_id not in self._ended_but_listed:
                    self._start(captures, fixture_id, self._live.feeds)
            self._ended_but_listed &= listed  # forget what the API no longer lists as live
            self._give_up(self._retry.keys() - listed)
            self._show_tally(len(listed), scheduled)
            if self._live.until_idle and not listed and not scheduled and not self._recording:
                self._reporter.say(
                    "api", "no fixture scheduled or live and every capture closed (--until idle)"
                )
                return
            await self._sleep(self._live.poll_s)

    async def _sleep(self, seconds: float) -> None:
        with self.stop.interruptible():
            await trio.sleep(seconds)

    async def _poll(self) -> tuple[list[Listed], int]:
        """The live fixtures we want (every page), and how many are scheduled (with --until idle)."""
        live: dict[str, Listed] = {}
        for page in range(MAX_POLL_PAGES):
            entries = await self._get(
                poll_query("live", page, type=self._live.type, coverage=self._live.coverage)
            )
            for entry in entries:
                # A page may shift between two requests: an entry seen twice counts once, one
                # skipped is seen on the next poll. Another shard's fixture is not ours: the
                # hash decides, nothing to coordinate.
                if entry.status == "Live" and self._wants(entry):
                    live.setdefault(entry.fixture_id, entry)
            if len(entries) < POLL_PAGE_SIZE:
                break
        scheduled = 0
        if self._count_scheduled:
            query = poll_query("scheduled", 0, type=self._live.type, coverage=self._live.coverage)
            scheduled = sum(1 for e in await self._get(query) if e.status == "Scheduled" and self._wants(e))
        return list(live.values()), scheduled

    def _wants(self, entry: Listed) -> bool:
        live = self._live
        return live.shard.records(entry.fixture_id) and wanted(entry, type=live.type, coverage=live.coverage)

    async def _get(self, query: str) -> list[Listed]:
        slot: int | None = None
        with self.stop.interruptible():
            slot = await self._limiter.acquire()
        if slot is None or self.stop.requested:
            if slot is not None:
                self._limiter.release(slot)
            raise _Trouble("stopping")
        self.requests += 1
        try:
            # A stop does not wait for the answer (up to request_timeout_s).
            timeout = self._live.request_timeout_s
            with self.stop.interruptible() as stopped, trio.move_on_after(timeout) as timer:
                reply = await self._http.get(
                    f"{self._url}?{query}", headers=request_headers(self._token.reveal())
                )
            if stopped.cancelled_caught:
                raise _Trouble("stopping")
            if timer.cancelled_caught:
                raise _Trouble(f"no answer within {self._live.request_timeout_s:g} s")
        except httpx.TimeoutException:  # httpx's backstop: the same state as ours
            raise _Trouble(f"no answer within {self._live.request_timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise _Trouble(f"unreachable ({type(exc).__name__})") from None
        finally:
            self._limiter.release(slot)
        if reply.status_code == 200:
            try:
                return parse_list(reply.content)
            except BadAnswer as exc:
                raise _Trouble(f"a bad answer: {exc}") from None
        if classify_status(reply.status_code) == "permanent":
            raise ApiRefused(reply.status_code, self._refusal(reply))
        raise _Trouble(f"HTTP {reply.status_code}")

    def _refusal(self, reply: httpx.Response) -> str:
        body = self._token.scrub(reply.text[:ERROR_BODY_SHOWN]).strip().replace("\n", " ")
        if reply.status_code in (401, 403):
            return f"the fixtures API refused the token (HTTP {reply.status_code}): {body}"
        return f"the fixtures API refused the request (HTTP {reply.status_code}): {body}"

    def _api_changed(self, state: str, message: str | None = None) -> None:
        if state != self._api_state:
            self._api_state = state
            if message is None:
                self._reporter.say("api", f"{state}; polling again with backoff", "warning")
            else:
                self._reporter.say("api", message)

    def _show_tally(self, live: int, scheduled: int) -> None:
        """The one status view of all fixtures, logged when it changes. Fixtures, never
        captures (with two feeds a fixture has two): the numbers of `ttrec_fixtures{state}`."""
        t = self._fixtures()
        tally = (live, scheduled, t.recording, t.waiting, t.done, t.failed, t.stopped)
        if tally != self._shown_tally:
            self._shown_tally = tally
            shown_scheduled = f"{scheduled} scheduled, " if self._count_scheduled else ""
            shown_stopped = f", {t.stopped} stopped" if t.stopped else ""
            shown_waiting = f", {t.waiting} waiting for a capture file" if t.waiting else ""
            self._reporter.say(
                "fixtures",
                f"{live} live, {shown_scheduled}{t.recording} recording, "
                f"{t.done} done, {t.failed} failed{shown_stopped}{shown_waiting}",
            )

    def _fixtures(self) -> FixtureTally:
        """The tally with the fixtures open now: recording, or waiting for a capture that
        could not be created (one tried again counts as waiting until it is created)."""
        waiting = self._retry.keys() | self._uncreated
        recording = len(self._recording.keys() - self._uncreated)
        return replace(self._tally, recording=recording, waiting=len(waiting))

    # -- the captures

    def _start(self, captures: trio.Nursery, fixture_id: str, feeds: Iterable[Feed]) -> None:
        for feed in feeds:
            self._recording[fixture_id] = self._recording.get(fixture_id, 0) + 1
            captures.start_soon(self._capture, fixture_id, feed)

    def _give_up(self, fixture_ids: Iterable[str]) -> None:
        """Fixtures no longer live whose capture never could be created: each counts failed,
        now, or when its other feeds' captures close."""
        for fixture_id in list(fixture_ids):
            del self._retry[fixture_id]
            self._uncreated.discard(fixture_id)
            if fixture_id in self._recording:
                self._worst[fixture_id] = "failed"
            else:
                self._worst.pop(fixture_id, None)
                self._tally.failed += 1

    async def _capture(self, fixture_id: str, feed: Feed) -> None:
        try:
            result = await self._record(fixture_id, feed)
        finally:
            left = self._recording[fixture_id] - 1
            if left:
                self._recording[fixture_id] = left
            else:
                del self._recording[fixture_id]
                if fixture_id not in self._retry:
                    self._ended_but_listed.add(fixture_id)
        if result is None:  # not created: tried again at the next poll (_retry)
            self.summary.not_created += 1
            self._show_tally(self._listed_live, self._listed_scheduled)  # now waiting
            return
        if result.outcome == "failed" or (result.outcome == "finished" and not result.complete):
            self.summary.failed += 1
            outcome = "failed"
        elif result.outcome == "stopped":
            self.summary.stopped += 1
            outcome = "stopped"
        else:
            self.summary.finished += 1
            outcome = "done"
        self._fixture_outcome(fixture_id, outcome)

    def _fixture_outcome(self, fixture_id: str, outcome: str) -> None:
        """Fold one closed capture into its fixture's outcome; count the fixture at its last."""
        ranks = ("done", "stopped", "failed")
        worst = max(outcome, self._worst.pop(fixture_id, "done"), key=ranks.index)
        if fixture_id in self._recording or fixture_id in self._retry:
            self._worst[fixture_id] = worst  # other feeds still open or to retry: kept until then
            return
        tally = self._tally
        if worst == "failed":
            tally.failed += 1
        elif worst == "stopped":
            tally.stopped += 1
        else:
            tally.done += 1

    async def _record(self, fixture_id: str, feed: Feed) -> FixtureResult | None:
        options = replace(self._options, feed=feed)
        label = fixture_id if len(self._live.feeds) == 1 else f"{fixture_id}/{feed}"
        try:
            (writer,) = open_captures([fixture_id], self._out, options, self._now())
        except TtrecError as exc:  # the disk, or an --out changed under us: this capture only
            self._retry.setdefault(fixture_id, set()).add(feed)
            self._reporter.say(
                label, f"cannot create the capture: {exc}; trying again at the next poll while live", "error"
            )
            return None
        self._uncreated.discard(fixture_id)
        recording = Recording(writer, token=self._token, feed=feed)
        status = FixtureStatus(label, str(writer.path), recording.counters)
        session = FixtureSession(
            fixture_id,
            recording,
            self._token,
            options,
            status=status,
            reporter=self._reporter,
            limiter=self._limiter,
            stop=self.stop,
            connect=self._connect,
            rng=random.Random(self._rng.random()),
        )
        self._reporter.event(status, f"live: recording {feed} from the start -> {writer.path}")
        self._open[(fixture_id, feed)] = session
        try:
            try:
                result = await session.run()
            except BaseException:
                close_capture(session, session.result("stopped", "interrupted"))
                raise
            return close_capture(session, result)
        finally:  # after the close: its last bytes count too
            self._fold(self._open.pop((fixture_id, feed)))

    def _fold(self, session: FixtureSession) -> None:
        """A closed capture's counts go into the totals; the session itself is let go."""
        for i, value in enumerate(_counts(session)):
            self._closed_totals[i] += value

    def snapshot(self) -> Snapshot:
        """Totals so far and one gauge per open capture (call on the trio thread)."""
        totals = list(self._closed_totals)
        gauges = []
        for (fixture_id, feed), session in self._open.items():
            for i, value in enumerate(_counts(session)):
                totals[i] += value
            recording = session.recording
            gauges.append(
                CaptureGauge(
                    fixture_id, feed, session.status.state, recording.idle_s(), len(recording.mismatches)
                )
            )
        frames, heartbeats, connections, attempts, reconnects, gaps_closed, written = totals
        return Snapshot(
            summary=replace(self.summary),
            open=tuple(gauges),
            frames=frames,
            heartbeats=heartbeats,
            connections=connections,
            attempts=attempts,
            reconnects=reconnects,
            gaps_closed=gaps_closed,
            bytes_written=written,
            polls=self.polls,
            poll_failures=self.poll_failures,
            live=self._listed_live,
            scheduled=self._listed_scheduled,
            fixtures=self._fixtures(),
        )


def _counts(session: FixtureSession) -> tuple[int, ...]:
    """What one capture adds to the totals, in `Snapshot`'s order."""
    status = session.status
    try:
        written = os.stat(session.recording.writer.path).st_size
    except OSError:
        written = 0
    reconnects = max(status.connections - 1, 0)
    gaps_closed = session.recording.gaps_closed
    return (
        status.frames,
        status.heartbeats,
        status.connections,
        status.attempts,
        reconnects,
        gaps_closed,
        written,
    )


def api_client(live: LiveOptions, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The HTTP client of the poller. The timeout that counts is ours (trio's clock,
    `LiveOptions.request_timeout_s`); httpx's is a backstop only. No redirects: a token is
    sent to the host named, nowhere else."""
    backstop = httpx.Timeout(2 * live.request_timeout_s)
    return httpx.AsyncClient(timeout=backstop, verify=verify, follow_redirects=False)


async def record_live(
    token: Token,
    *,
    out: Path,
    options: RecordOptions,
    live: LiveOptions,
    connect: Connect = websocket_connect,
    stop: Stop | None = None,
    log: TextIO | None = None,
    verify: ssl.SSLContext | bool = True,
    handle_signals: bool = False,
    metrics: tuple[str, int] | None = None,
    style: LogStyle | None = None,
) -> LiveSummary:
    """Record every live fixture the API lists until stopped (or idle, with `until_idle`)."""
    async with api_client(live, verify) as http:
        recorder = LiveRecorder(
            token,
            out=out,
            options=options,
            live=live,
            http=http,
            connect=connect,
            stop=stop,
            log=log,
            style=style,
        )
        return await recorder.run(handle_signals=handle_signals, metrics=metrics)


def describe(summary: LiveSummary) -> Sequence[str]:
    return [
        f"record --live: {summary.recorded} capture(s): {summary.finished} finished, "
        f"{summary.failed} failed, {summary.stopped} stopped"
        + (f"; {summary.not_created} could not be created" if summary.not_created else "")
    ]
