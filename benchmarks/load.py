"""Hold 1,000 clients on one `ttrec serve` process for minutes: memory must stay flat and
frames must stay on schedule.

    .venv/bin/python benchmarks/load.py                  # 1,000 clients, 3 minutes
    .venv/bin/python benchmarks/load.py --clients 200 --minutes 1

The server runs in its own process (this script with --server: `replayer.serve` plus a
sampler), the clients in this one, so that each has a core. Every ~10 s the server prints
one line: its RSS, its CPU time, the connections it has reported as ended, and the
lateness of the paced frames sent in that window (p50, p99, max; server-side, the moment
`send_message` returned minus the moment the schedule said, `replayer.LatenessHistogram`).

Clients connect at random moments within the first `--ramp` seconds (consumers joining
independently), authenticate and read every message until the end. Besides the held
clients, `--churn` clients connect, read a few frames and leave, over and over, so that a
leak in what a finished connection leaves behind shows as growing memory: the last lines
give the RSS growth over the second half of the run, per connection that ended in it
(the first half holds the ramp, whose allocations the rest reuses). The server keeps the
report of each ended connection (the latest 10,000, about 0.5 KiB each) on purpose. The capture is
real frames from a bundled sample on a synthetic rhythm averaging 1.5 s between frames,
several times denser than a real match, long enough for the whole run at `--speed`.

Loopback only; bounded in clients and in time: it stops by itself after `--minutes`.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import trio
from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path
from process_limits import raise_fd_limit, rss_kib
from synthetic import FIXTURE, sample_frames, write_capture
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from replayer import ServeOptions, serve
from replayer.collector import manage_collection
from replayer.report import LatenessHistogram
from ttrec.feed import ACCEPT_HEADER, auth_message

ACCEPT: Final = [(b"Accept", ACCEPT_HEADER.encode())]
SAMPLE_PERIOD_S: Final = 10.0
CHURN_FRAMES: Final = 5  # frames a churning client reads before it leaves
CONNECT_TIMEOUT_S: Final = 60.0  # 1,000 handshakes at once queue behind each other
SPAN_MARGIN_S: Final = 60.0  # the capture outlasts the run, so no client reaches its end


# --- the server process ---------------------------------------------------------------


class WindowedLateness(LatenessHistogram):
    """The window since the last sample (reset each time) plus the whole run in `total`."""

    def __init__(self) -> None:
        super().__init__()
        self.total = LatenessHistogram()

    def add(self, lateness_s: float) -> None:
        super().add(lateness_s)
        self.total.add(lateness_s)


def _figures(h: LatenessHistogram) -> dict[str, float]:
    return {
        "frames": h.count,
        "p50_ms": h.percentile(0.5) * 1000,
        "p99_ms": h.percentile(0.99) * 1000,
        "max_ms": h.max_s * 1000,
    }


async def server_main(capture: Path, speed: float, minutes: float) -> None:
    raise_fd_limit()
    lateness = WindowedLateness()
    async with trio.open_nursery() as nursery:
        options = ServeOptions(speed=speed)
        handle = await nursery.start(lambda task_status: serve([capture], options, task_status=task_status))
        handle.lateness = lateness  # sessions take it when they start: before any client
        await nursery.start(manage_collection, handle)  # as `ttrec serve` does
        print(json.dumps({"url": handle.fixture_url(FIXTURE)}), flush=True)
        started = trio.current_time()
        deadline = started + minutes * 60
        while trio.current_time() < deadline:
            await trio.sleep(SAMPLE_PERIOD_S)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            sample: dict[str, Any] = {
                "t_s": trio.current_time() - started,
                "rss_kib": rss_kib(),
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "ended": handle.ended,
                **_figures(lateness),
            }
            lateness.reset()
            print(json.dumps(sample), flush=True)
        print(json.dumps({"total": _figures(lateness.total), "ended": handle.ended}), flush=True)
        nursery.cancel_scope.cancel()


# --- the client side ------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.connected = 0
        self.messages = 0
        self.churned = 0
        self.failures: list[str] = []


async def held_client(url: str, delay: float, tally: Tally, done: threading.Event) -> None:
    await trio.sleep(delay)
    try:
        async with open_websocket_url(url, extra_headers=ACCEPT, connect_timeout=CONNECT_TIMEOUT_S) as ws:
            await ws.send_message(auth_message("load"))
            tally.connected += 1
            while True:
                await ws.get_message()
                tally.messages += 1
    except (ConnectionClosed, HandshakeError, OSError) as exc:
        if not done.is_set():  # at the end the server closes everyone with 1001
            tally.failures.append(repr(exc))


async def churning_client(url: str, delay: float, tally: Tally, done: threading.Event) -> None:
    await trio.sleep(delay)
    while True:
        try:
            async with open_websocket_url(url, extra_headers=ACCEPT, connect_timeout=CONNECT_TIMEOUT_S) as ws:
                await ws.send_message(auth_message("load"))
                for _ in range(CHURN_FRAMES):
                    await ws.get_message()
            tally.churned += 1
        except (ConnectionClosed, HandshakeError, OSError) as exc:
            if not done.is_set():
                tally.failures.append(repr(exc))
            await trio.sleep(1.0)


def server_lines(process: subprocess.Popen[str], out: list[dict[str, Any]], done: threading.Event) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        out.append(json.loads(line))
        if "total" in out[-1]:
            break
    done.set()


async def clients_main(url: str, args: argparse.Namespace, tally: Tally, done: threading.Event) -> None:
    rng = random.Random(1)
    async with trio.open_nursery() as nursery:
        for _ in range(args.clients):
            nursery.start_soon(held_client, url, rng.uniform(0, args.ramp), tally, done)
        for _ in range(args.churn):
            nursery.start_soon(churning_client, url, rng.uniform(0, args.ramp), tally, done)
        # The server side prints its total and ends after --minutes: that is the end here.
        while not done.is_set():
            await trio.sleep(0.5)
        nursery.cancel_scope.cancel()


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1000, help="clients held for the whole run")
    parser.add_argument(
        "--churn", type=int, default=20, help="clients that connect, read 5 frames, leave, again"
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the clients connect")
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    parser.add_argument("--server", nargs=3, metavar=("CAPTURE", "SPEED", "MINUTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.server:
        capture, speed, minutes = args.server
        trio.run(server_main, Path(capture), float(speed), float(minutes))
        return
    if not (1 <= args.clients <= 5000 and 0 <= args.churn <= 500 and 0 < args.minutes <= 60):
        parser.error("bounded on purpose: 1-5000 clients, 0-500 churning, up to 60 minutes")
    raise_fd_limit()
    found = conditions()
    print_conditions("load", found)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ttrec-load-") as scratch:
        capture = Path(scratch) / "load.jsonl.zst"
        frames = write_capture(capture, sample_frames(), (args.minutes * 60 + SPAN_MARGIN_S) * args.speed)
        command = [sys.executable, __file__, "--server", str(capture), str(args.speed), str(args.minutes)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            url = json.loads(process.stdout.readline())["url"]
            print(
                f"load: {args.clients} held + {args.churn} churning clients for {args.minutes:g} min "
                f"at speed {args.speed:g} ({frames} frames in the capture, mean gap 1.5 s)"
            )
            print("   t_s  RSS_MiB  cpu_s  ended  frames   p50_ms   p99_ms   max_ms  connected  msgs_read")
            samples: list[dict[str, Any]] = []
            done = threading.Event()
            tally = Tally()
            reader = threading.Thread(target=server_lines, args=(process, samples, done), daemon=True)
            reader.start()
            printed = 0

            async def run() -> None:
                nonlocal printed
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(clients_main, url, args, tally, done)
                    while not done.is_set():
                        await trio.sleep(0.5)
                        while printed < len(samples) and "total" not in samples[printed]:
                            s = samples[printed]
                            print(
                                f"{s['t_s']:6.0f} {s['rss_kib'] / 1024:8.1f} {s['cpu_s']:6.1f} "
                                f"{s['ended']:6d} "
                                f"{s['frames']:7d} {s['p50_ms']:8.3f} {s['p99_ms']:8.3f} {s['max_ms']:8.3f} "
                                f"{tally.connected:10d} {tally.messages:10d}",
                                flush=True,
                            )
                            printed += 1

            trio.run(run)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    windows = [s for s in samples if "total" not in s]
    total = samples[-1]["total"] if samples and "total" in samples[-1] else {}
    # Memory after the ramp: the first windows include the handshake storm's allocations.
    steady = [s["rss_kib"] / 1024 for s in windows[2:]] or [0.0]
    print(
        f"whole run: {total.get('frames', 0)} paced frames, p50 {total.get('p50_ms', 0):.3f} ms, "
        f"p99 {total.get('p99_ms', 0):.3f} ms, max {total.get('max_ms', 0):.3f} ms"
    )
    print(
        f"RSS after the ramp: min {min(steady):.1f} MiB, max {max(steady):.1f} MiB, "
        f"median {statistics.median(steady):.1f} MiB, last minus first {steady[-1] - steady[0]:+.1f} MiB"
    )
    # Growth over the second half of the run, per connection ended in it: what a leak in
    # what ended connections leave behind would show as, once the ramp's allocations are
    # reused. Each ended connection's report is kept on purpose (the latest
    # replayer.server.MAX_KEPT_REPORTS, ~0.5 KiB each): that much growth is expected.
    half = windows[len(windows) // 2 :]
    grown_kib = half[-1]["rss_kib"] - half[0]["rss_kib"] if half else 0
    ended_in_half = half[-1]["ended"] - half[0]["ended"] if half else 0
    per_ended_kib = grown_kib / ended_in_half if ended_in_half else None
    if half:
        print(
            f"RSS over the second half ({half[0]['t_s']:.0f}-{half[-1]['t_s']:.0f} s): "
            f"{grown_kib / 1024:+.1f} MiB, "
            f"{ended_in_half} connections ended in it"
            + ("" if per_ended_kib is None else f" ({per_ended_kib:+.2f} KiB each)")
        )
    print(
        f"clients: {tally.connected} held connected, {tally.churned} churn connections completed, "
        f"{len(tally.failures)} failures{': ' + tally.failures[0] if tally.failures else ''}"
    )
    print(f"done in {time.perf_counter() - began:.0f} s")
    figures = {
        "clients": args.clients,
        "churn": args.churn,
        "minutes": args.minutes,
        "speed": args.speed,
        "p50_ms": total.get("p50_ms"),
        "p99_ms": total.get("p99_ms"),
        "max_ms": total.get("max_ms"),
        "rss_first_mib": steady[0],
        "rss_last_mib": steady[-1],
        "rss_max_mib": max(steady),
        "rss_second_half_kib_per_ended": per_ended_kib,
        "churn_completed": tally.churned,
        "failures": len(tally.failures),
    }
    write_results(args.json, "load", found, figures)


if __name__ == "__main__":
    main(sys.argv[1:])
