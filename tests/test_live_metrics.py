"""`record --live --metrics`: the Prometheus exporter, scraped over loopback while recording.

Scraping is on the real clock (the exporter's thread is invisible to trio's MockClock: while
the recorder waits for that thread to stop, the MockClock would jump to every deadline), at a
high playback speed. The fixtures by state are counted by the snapshot a scrape is made of,
shown through the exporter's text format without its thread: on the MockClock
(`autojump_clock`). Every wait bounded.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from recorder_support import replayer, write_match
from replayer_support import FIXTURE, OTHER_FIXTURE
from test_record_live import TOKEN, live_options

from recorder.live import LiveRecorder, Snapshot, api_client
from recorder.metrics import _families, parse_address
from recorder.secret import Token
from recorder.session import RecordOptions
from replayer import ServeOptions
from replayer.rest import listings_of, serve_api_tcp
from ttrec.cli import cli

FRAMES = 30


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_while_recording_and_after(tmp_path: Path) -> None:
    served = [
        write_match(tmp_path / "a.jsonl.zst", FRAMES, FIXTURE, step_s=1.0),
        write_match(tmp_path / "b.jsonl.zst", FRAMES, OTHER_FIXTURE, step_s=1.0),
    ]
    out, log = tmp_path / "out", io.StringIO()
    scraped: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = []
    with trio.fail_after(60):
        # Each match is live for 1.4 s (55.5 s of capture at speed 40), scraped every 50 ms.
        async with replayer(served, ServeOptions(speed=40.0)) as handle, trio.open_nursery() as nursery:
            listings = listings_of(handle.served, stagger_s=0.0, speed=40.0)
            api = await nursery.start(
                lambda task_status: serve_api_tcp(listings, frozenset(), task_status=task_status)
            )
            live = live_options(api.url, poll_s=0.2)
            options = RecordOptions(base_url=handle.url, seed=1)
            async with api_client(live) as http:
                recorder = LiveRecorder(Token(TOKEN), out=out, options=options, live=live, http=http, log=log)

                async def scrape_while_running() -> None:
                    while recorder.metrics_port is None:
                        await trio.sleep(0.01)
                    url = f"http://127.0.0.1:{recorder.metrics_port}/metrics"
                    async with httpx.AsyncClient() as scraper:
                        while not scraped or not any(
                            k[0] == "ttrec_seconds_since_last_message" for k in scraped[-1]
                        ):
                            scraped.append(samples((await scraper.get(url)).text))
                            await trio.sleep(0.05)

                nursery.start_soon(scrape_while_running)
                summary = await recorder.run(metrics=("127.0.0.1", 0))
                snap = recorder.snapshot()  # the exporter is gone now: the snapshot itself
            nursery.cancel_scope.cancel()
    assert summary.finished == 2
    during = scraped[-1]
    assert during[("ttrec_api_polls_total", ())] >= 1
    assert ("ttrec_seconds_since_last_message", (("feed", "statistics"), ("fixture", FIXTURE))) in during or (
        "ttrec_seconds_since_last_message",
        (("feed", "statistics"), ("fixture", OTHER_FIXTURE)),
    ) in during
    assert TOKEN not in repr(scraped)
    # After the run: the totals hold every frame written, no open capture is left.
    assert snap.frames == 2 * FRAMES and snap.open == () and snap.connections == 2
    assert (snap.attempts, snap.reconnects) == (2, 0)
    written = sum(p.stat().st_size for p in out.iterdir())
    assert snap.bytes_written == written


def test_a_metrics_port_that_cannot_be_listened_on_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["record", "--live", "--api-url", "http://127.0.0.1:9/x", "--base-url", "ws://127.0.0.1:9"]
        args += ["--metrics", f"127.0.0.1:{port}", "--out", str(tmp_path / "out")]
        result = CliRunner().invoke(cli, args, env={"TTREC_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: --metrics: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    "value, expected",
    [("127.0.0.1:9100", ("127.0.0.1", 9100)), (":9100", ("127.0.0.1", 9100)), ("[::1]:0", ("::1", 0))],
)
def test_parse_address(value: str, expected: tuple[str, int]) -> None:
    assert parse_address(value) == expected


@pytest.mark.parametrize("value", ["9100", "host:", "host:99999", "host:x"])
def test_parse_address_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="ADDR:PORT"):
        parse_address(value)


async def watch_fixture_states(
    tmp_path: Path, serve_options: ServeOptions, stagger_s: float
) -> tuple[list[tuple[int, int, int]], LiveRecorder]:
    """Record two fixtures (the second `stagger_s` after the first), sampling (scheduled,
    live, recording) from the snapshot every 20 ms (on the MockClock: no exporter thread)."""
    served = [
        write_match(tmp_path / "a.jsonl.zst", FRAMES, FIXTURE, step_s=1.0),
        write_match(tmp_path / "b.jsonl.zst", FRAMES, OTHER_FIXTURE, step_s=1.0),
    ]
    seen: list[tuple[int, int, int]] = []
    log = io.StringIO()
    with trio.fail_after(60):
        async with replayer(served, serve_options) as handle, trio.open_nursery() as nursery:
            listings = listings_of(handle.served, stagger_s=stagger_s, speed=serve_options.speed)
            api = await nursery.start(
                lambda task_status: serve_api_tcp(listings, frozenset(), task_status=task_status)
            )
            live = live_options(api.url, poll_s=0.2)
            options = RecordOptions(base_url=handle.url, seed=1)
            async with api_client(live) as http:
                recorder = LiveRecorder(
                    Token(TOKEN),
                    out=tmp_path / "out",
                    options=options,
                    live=live,
                    http=http,
                    log=log,
                )

                async def sample() -> None:
                    while True:
                        snap = recorder.snapshot()
                        seen.append((snap.scheduled, snap.live, snap.fixtures.recording))
                        await trio.sleep(0.02)

                nursery.start_soon(sample)
                await recorder.run()
            nursery.cancel_scope.cancel()
    return seen, recorder


async def test_fixtures_by_state(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    # Each match plays 29 s / 20 = 1.45 s; the second starts 3 s after the first.
    seen, recorder = await watch_fixture_states(tmp_path, ServeOptions(speed=20.0), stagger_s=3.0)
    # One recorded while the other was still scheduled, then the other alone.
    assert (1, 1, 1) in seen and (0, 1, 1) in seen
    end = recorder.snapshot()
    assert (end.scheduled, end.live, end.fixtures.recording) == (0, 0, 0)
    assert (end.fixtures.done, end.fixtures.failed, end.fixtures.stopped) == (2, 0, 0)
    states = {
        labels[0][1]: value for (name, labels), value in _scraped(end).items() if name == "ttrec_fixtures"
    }
    assert states == {
        "scheduled": 0,
        "live": 0,
        "recording": 0,
        "waiting": 0,
        "done": 2,
        "failed": 0,
        "stopped": 0,
    }


async def test_fixtures_refused_on_the_websocket_count_as_failed(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # The API lists them, the websocket refuses our token: each fixture's capture fails.
    options = ServeOptions(speed=20.0, tokens=frozenset({"another-token"}))
    _, recorder = await watch_fixture_states(tmp_path, options, stagger_s=0.0)
    end = recorder.snapshot()
    assert (end.fixtures.done, end.fixtures.failed, end.fixtures.recording) == (0, 2, 0)
    assert end.summary.failed == 2


def _scraped(snap: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The snapshot as a scrape shows it: through the exporter's own text format."""
    registry = CollectorRegistry(auto_describe=False)

    class Fixed(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from _families(snap)

    registry.register(Fixed())
    return samples(generate_latest(registry).decode())
