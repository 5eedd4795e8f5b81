"""`--metrics ADDR:PORT`: Prometheus metrics of `ttrec record --live`, with the official client.

prometheus_client serves scrapes from a thread of its own. Nothing is counted on the hot path:
a scrape asks the trio thread for one `Snapshot` (`trio.from_thread.run_sync`), so the numbers
are consistent with each other and no recorder state is read from another thread. No label
or value carries a token: fixtures are labelled by id and feed only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Final

import trio

from recorder.live import Snapshot
from ttrec.errors import ListenError

try:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError:  # the `metrics` extra is not installed
    Collector = object  # type: ignore[assignment,misc]
    AVAILABLE = False
else:
    AVAILABLE = True

INSTALL_HINT: Final = "--metrics needs prometheus-client: pip install 'ttrec[metrics]'"


class MetricsUnavailable(RuntimeError):
    pass


def parse_address(value: str) -> tuple[str, int]:
    """ADDR:PORT ([v6]:PORT too); ValueError names what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected ADDR:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class LiveCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot], trio_token: trio.lowlevel.TrioToken) -> None:
        self._snapshot = snapshot
        self._token = trio_token

    def collect(self) -> Iterator[Metric]:
        try:
            snap = trio.from_thread.run_sync(self._snapshot, trio_token=self._token)
        except trio.RunFinishedError:
            return
        yield from _families(snap)


def _families(snap: Snapshot) -> Iterator[Any]:
    yield from _state_families(snap)
    yield from _counter_families(snap)
    yield from _open_capture_families(snap)


def _state_families(snap: Snapshot) -> Iterator[Any]:
    """Captures and fixtures by state."""
    states = GaugeMetricFamily(
        "ttrec_captures", "Captures by state (open ones by session state)", labels=["state"]
    )
    by_state = Counter(g.state for g in snap.open)
    for state, count in sorted(by_state.items()):
        states.add_metric([state], count)
    states.add_metric(["finished"], snap.summary.finished)
    states.add_metric(["failed"], snap.summary.failed)
    states.add_metric(["stopped"], snap.summary.stopped)
    yield states
    live = GaugeMetricFamily("ttrec_fixtures_live", "Fixtures the last successful poll listed as live")
    live.add_metric([], snap.live)
    yield live
    fixtures = GaugeMetricFamily(
        "ttrec_fixtures",
        "Fixtures by state: scheduled and live as the last poll said (scheduled: its first page), "
        "recording now, waiting for a capture file that could not be created yet, and since the "
        "start done, failed or stopped",
        labels=["state"],
    )
    tally = snap.fixtures
    for state, count in (
        ("scheduled", snap.scheduled),
        ("live", snap.live),
        ("recording", tally.recording),
        ("waiting", tally.waiting),
        ("done", tally.done),
        ("failed", tally.failed),
        ("stopped", tally.stopped),
    ):
        fixtures.add_metric([state], count)
    yield fixtures


def _counter_families(snap: Snapshot) -> Iterator[Any]:
    """Totals since the recorder started."""
    for name, help_text, value in (
        ("ttrec_frames", "Data frames written", snap.frames),
        ("ttrec_heartbeats", "Heartbeats and other non-data messages written", snap.heartbeats),
        ("ttrec_connections", "Websocket connections opened", snap.connections),
        ("ttrec_connection_attempts", "Websocket connection attempts, the failed ones too", snap.attempts),
        ("ttrec_reconnects", "Connections opened beyond each capture's first", snap.reconnects),
        ("ttrec_gaps_closed", "Possible gaps a resend from the start repaired", snap.gaps_closed),
        ("ttrec_bytes_written", "Bytes of capture files written", snap.bytes_written),
        (
            "ttrec_captures_not_created",
            "Captures that could not be created (each tried again at the next poll while live)",
            snap.summary.not_created,
        ),
        ("ttrec_api_polls", "Polls of the fixtures API", snap.polls),
        ("ttrec_api_poll_failures", "Polls of the fixtures API that failed", snap.poll_failures),
    ):
        counter = CounterMetricFamily(name, help_text)
        counter.add_metric([], value)
        yield counter


def _open_capture_families(snap: Snapshot) -> Iterator[Any]:
    """Per open capture: gaps not yet repaired, and how long since its last message."""
    gaps = GaugeMetricFamily(
        "ttrec_gaps_open", "Possible gaps not yet repaired, per open capture", labels=["fixture", "feed"]
    )
    idle = GaugeMetricFamily(
        "ttrec_seconds_since_last_message", "Per open capture", labels=["fixture", "feed"]
    )
    for gauge in snap.open:
        gaps.add_metric([gauge.fixture_id, gauge.feed], gauge.open_gaps)
        idle.add_metric([gauge.fixture_id, gauge.feed], gauge.idle_s)
    yield gaps
    yield idle


def serve_metrics(
    address: tuple[str, int], snapshot: Callable[[], Snapshot]
) -> tuple[int, Callable[[], None]]:
    """Start the exporter thread (call on the trio thread); returns its port (port 0 picks
    one) and how to stop it."""
    if not AVAILABLE:
        raise MetricsUnavailable(INSTALL_HINT)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(snapshot, trio.lowlevel.current_trio_token()))
    try:
        server, thread = start_http_server(address[1], addr=address[0], registry=registry)
    except OSError as exc:  # the port taken, a name that does not resolve
        raise ListenError(*address, exc.strerror or str(exc), "--metrics") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return int(server.server_port), stop
