"""How well `ttrec serve` keeps its schedule, how fast it sends, and what a client costs.

    .venv/bin/python benchmarks/replay.py            # about two minutes on 2 cores
    BENCH_CLIENTS=1,100 BENCH_SPEEDS=10 .venv/bin/python benchmarks/replay.py --only lateness

Prints, in one run:
  (a) lateness against the schedule (p50, p99, max) for 1, 100 and 1,000 clients at
      speed 1 and 10. Measured server-side: the moment `send_message` returned (the frame
      is in the kernel's socket buffer) minus the moment the schedule said, over every
      paced frame of every connection (replayer.LatenessHistogram, 2% bins). Clients
      joining spread are measured from the first one's handshake, so their rows include
      the frames due while the others connect (handshakes on the same loop); all at once,
      from when every client has its first frame (the storm's p99 is shown apart). Beside
      the lateness: full GCs, and late wakes (`LateWakes`: the OS running the server later
      than the pacer's margin: the machine was busy with other processes, and frames due
      then are late through no work of the server's).
  (b) frames/s at --speed max to 1 and to 100 clients, beside a bare trio-websocket loop
      sending the same frames (accept, read the auth message, send_message in a loop), as
      a ratio; plus the server's CPU time per frame. Client-observed: from the first
      connect to the last of the clients' messages received. The clients are lean readers
      (benchmarks/lean_reader.py): raw receives of up to 1 MiB and a walk over the frame
      headers, a few µs a frame, where a trio-websocket client spends ~100 µs parsing each
      frame and so measured itself (~10,000 frames/s, for both servers alike). Every
      message each client got is checked against the capture after the timed window.
  (c) memory per connected client: the server's RSS with 1,000 idle connected clients
      (authenticated, mid-playback) minus its RSS before they connected.

The server runs in its own process (this script with --server), the clients in this one,
so that each has a core of the two. The lateness clients are trio-websocket ones: lean
readers for them too were tried (2026-11-30) and made no clear difference in 3 alternating
pairs at 1,000 clients at speed 10 (p99 spread 1.6-10.4 ms against 4.1-12.4, at once
3.0-31.5 against 5.4-8.0): what the clients spend parsing is not what sets the tail. Also tried against the
100-client tail on 2026-11-30 and left: a shorter scheduler slice for the server
(sched_setattr, which this kernel allows unprivileged): no change in 3 pairs; a 4 ms pacer
margin at speed 1: spread p99 1.7-3.6 ms against 2.1-6.1, but all at once 31.5 ms twice;
the server and the clients pinned to cores of their own: the waits in the all-at-once rows
fell from 36-43 to 0-6 a run, but that measures a machine users do not have.
Tried on 2026-11-30 in 3 alternating runs of the 100- and 1,000-client rows each, and
left: the clients' process as SCHED_BATCH
(no wake-up of theirs preempts the server): the worst 100-client row 7.4-17.0 ms against
2.3-23.4 ms, the worst 1,000-client row 10.8-20.4 ms against 3.5-6.1 ms; a 15 ms pacer
margin, so that the server spins instead of halting its vCPU before a deadline (the host
wakes a halted vCPU up to tens of ms late, benchmarks/host_wakes.py): the worst 100-client
row 2.4-72.3 ms, the worst 1,000-client row 3.2-11.7 ms, and CPU per paced frame at 100
clients all at once 397-1,013 µs against 242-463 µs. The
frames are real ones from a bundled sample; the timing is synthetic: a gap pattern
averaging 1.5 s, several times denser than a real match.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import trio
from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path
from host_wakes import LateWakeTally, RunQueueWait, lone_sleeper, steal_jiffies, steal_percent
from lean_reader import messages, read_messages
from process_limits import raise_fd_limit, rss_kib
from synthetic import FIXTURE, GAPS_S, frame_texts, sample_frames, write_capture
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

from replayer import ServeOptions, serve
from replayer.collector import manage_collection
from replayer.pacer import WAKE_EARLY_S
from ttrec.feed import ACCEPT_HEADER, auth_message, feed_path

ACCEPT: Final = [("Accept", ACCEPT_HEADER)]
SHORT_S: Final = 12.0  # recorded span played at speed 1
LONG_S: Final = 60.0  # recorded span played at speed 10
CLIENT_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_CLIENTS", "1,100,1000").split(","))
SPEEDS = tuple(float(n) for n in os.environ.get("BENCH_SPEEDS", "1,10").split(","))
MAX_FRAMES_ONE: Final = 20_000  # frames to one client at speed max
MAX_FRAMES_EACH: Final = 400  # frames to each of 100 clients at speed max
SLEEPER_S: Final = 10.0  # the lone sleeper's measure, before and after the lateness rows
SLEEPER_NAPS_S: Final = (0.001, 0.003)  # each nap drawn from this range, as the pacer's vary


# --- the server process ---------------------------------------------------------------


class GcPauses:
    """Durations of CPython's full (generation 2) collections: with 1,000 connections each
    one stops the server for tens of milliseconds, which shows in the lateness tail."""

    def __init__(self) -> None:
        self.full: list[float] = []
        self._started = 0.0

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.full.append(time.perf_counter() - self._started)


GC_PAUSES: Final = GcPauses()


class LateWakes(trio.abc.Instrument):
    """The OS waking the server later than it asked. Between two runs of its ready tasks
    trio waits in epoll with a timeout (rounded up to a whole millisecond); the pacer wakes
    `WAKE_EARLY_S` before a deadline to cover that. A wait that outlasts its timeout by
    more than that margin makes the frames due meanwhile late through no work of the
    server's; each is told apart (benchmarks/host_wakes.py) by what came after the rounded
    timeout the kernel was asked for: the guest's (another process of this machine had the
    core) or the host's (the vCPU itself was run late)."""

    def __init__(self) -> None:
        self.tally = LateWakeTally(WAKE_EARLY_S)
        self._run_queue = RunQueueWait()
        self._started = 0.0
        self._queued: float | None = None

    def before_io_wait(self, timeout: float) -> None:
        self._queued = self._run_queue.seconds()
        self._started = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        slept = time.perf_counter() - self._started
        if slept - timeout > WAKE_EARLY_S:
            queued = self._run_queue.seconds()
            self.tally.add(
                timeout, slept, None if queued is None or self._queued is None else queued - self._queued
            )


LATE_WAKES: Final = LateWakes()


async def server_main(mode: str, capture: Path, speed: float | None) -> None:
    """Serve, print {"url"}, then answer commands read from stdin, one JSON line each."""
    raise_fd_limit()
    gc.callbacks.append(GC_PAUSES.observe)
    async with trio.open_nursery() as nursery:
        stats: dict[str, Any] = {}
        if mode == "replay":
            options = ServeOptions(speed=speed, heartbeat_interval_s=60.0)
            handle = await nursery.start(
                lambda task_status: serve([capture], options, task_status=task_status)
            )
            await nursery.start(manage_collection, handle)  # as `ttrec serve` does
            GC_PAUSES.full.clear()  # its start-up collection came before any client
            LATE_WAKES.tally.clear()
            url = handle.fixture_url(FIXTURE)
        else:
            frames = frame_texts(capture)

            async def bare(request: WebSocketRequest) -> None:
                ws = await request.accept()
                try:
                    await ws.get_message()  # the auth message, unchecked
                    for text in frames:
                        await ws.send_message(text)
                    await ws.get_message()  # until the client closes
                except ConnectionClosed:
                    pass

            server = await nursery.start(serve_websocket, bare, "127.0.0.1", 0, None)
            url = f"ws://127.0.0.1:{server.port}{feed_path(FIXTURE)}"
            handle = None
        print(json.dumps({"url": url}), flush=True)
        stdin = trio.wrap_file(sys.stdin)
        async for line in stdin:
            command = line.strip()
            if command == "quit":
                break
            usage = resource.getrusage(resource.RUSAGE_SELF)
            stats = {
                "rss_kib": rss_kib(),
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "full_gc": len(GC_PAUSES.full),
                "full_gc_max": max(GC_PAUSES.full, default=0.0),
                "late_wakes": len(LATE_WAKES.tally.overs),
                "late_wakes_host": LATE_WAKES.tally.from_host,
                "late_wake_max": max(LATE_WAKES.tally.overs, default=0.0),
            }
            if handle is not None:
                lateness = handle.lateness
                stats.update(
                    count=lateness.count,
                    p50=lateness.percentile(0.5),
                    p99=lateness.percentile(0.99),
                    max=lateness.max_s,
                    connections=handle.ended,
                )
                if command == "reset":
                    lateness.reset()
                    GC_PAUSES.full.clear()
                    LATE_WAKES.tally.clear()
            print(json.dumps(stats), flush=True)
        nursery.cancel_scope.cancel()


# --- the client side ------------------------------------------------------------------


class Server:
    def __init__(self, mode: str, capture: Path, speed: float | None) -> None:
        args = [
            sys.executable,
            __file__,
            "--server",
            mode,
            str(capture),
            "max" if speed is None else str(speed),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url: str = json.loads(self.process.stdout.readline())["url"]

    def ask(self, command: str = "stats") -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert isinstance(answer, dict)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


async def clients(url: str, n: int, count: int, expected: Sequence[str]) -> float:
    """Connect n lean readers at once (benchmarks/lean_reader.py), each reading `count`
    messages; wall seconds taken. Then, outside the timed window, every message each
    reader got is checked against `expected` (the capture's frames, in order)."""
    got: list[bytearray] = []

    async def one() -> None:
        got.append(await read_messages(url, auth_message("benchmark"), count, ACCEPT))

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(one)
    wall = time.perf_counter() - start
    want = [text.encode() for text in expected[:count]]
    for raw in got:
        if messages(raw)[:count] != want:
            raise SystemExit(f"replay benchmark: a client got other frames than {url} should send")
    return wall


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f}"


async def paced_clients(
    server: Server, n: int, count: int, spread_s: float
) -> tuple[dict[str, Any], dict[str, Any], float | None]:
    """n clients read `count` frames each, connecting at random moments within `spread_s`.
    With spread_s = 0 they connect together, and the lateness histogram is reset once all of
    them have their first frame, so the figures are those of playback, not of the storm of
    n simultaneous handshakes (whose figures are returned here, first). Second: the server's
    figures once every client has read its frames, before any of them closes; third, the
    host's steal share of the CPU time over the same measure."""
    connected = read = 0
    all_connected, all_read = trio.Event(), trio.Event()
    stats: dict[str, Any] = {}
    delays = random.Random(n).sample(range(1_000_000), n)

    async def one(delay: float) -> None:
        nonlocal connected, read
        await trio.sleep(delay)
        async with open_websocket_url(server.url, extra_headers=ACCEPT, connect_timeout=60) as ws:
            await ws.send_message(auth_message("benchmark"))
            await ws.get_message()
            connected += 1
            if connected == n:
                all_connected.set()
            for _ in range(count - 1):
                await ws.get_message()
            read += 1
            if read == n:
                all_read.set()
            await all_read.wait()

    stolen = steal_jiffies()
    async with trio.open_nursery() as nursery:
        for d in delays:
            nursery.start_soon(one, d / 1_000_000 * spread_s)
        await all_connected.wait()
        if spread_s == 0:
            stats = await trio.to_thread.run_sync(server.ask, "reset")
            stolen = steal_jiffies()
        await all_read.wait()
        played = await trio.to_thread.run_sync(server.ask)
    return stats, played, steal_percent(stolen, steal_jiffies())


def lateness(frames: list[str], work: Path, runs: int) -> list[dict[str, Any]]:
    cycle_s = sum(GAPS_S)
    print("(a) lateness against the schedule, server-side, in ms. Clients connect either at")
    print(f"    random moments within one {cycle_s:g} s rhythm cycle of the capture (as consumers joining")
    print("    independently would), or all at once, so that their frames fall due together")
    print("    (the worst case; measured after the handshake storm, whose own p99 is shown last).")
    print("    Spread, the measure includes the frames due while the others still connect. Then")
    print("    CPython's full garbage collections during the measure, and the longest; the times the OS")
    print("    woke the server later than the pacer's margin allows (another process had the core, or")
    print("    the host ran the machine's vCPU late; frames due then are late through no work of the")
    print("    server's), and the latest; last, the server's CPU time per paced frame between the")
    print("    handshakes and the clients' closes (at once only). 'host': the late wakes with under half")
    print("    of their delay past the kernel's timeout in this machine's run queue (the host ran the")
    print("    vCPU late, see the lone sleeper's lines); 'steal': the host's share of the CPU time over")
    print("    the same measure.")
    print(f"    Each row is the worst (highest p99) of {runs} run(s).")
    print(
        "    speed  clients  connect   frames      p50      p99      max  storm p99  full GCs  longest"
        "  late wakes  host   latest  CPU µs  steal %"
    )
    rows: list[dict[str, Any]] = []
    for speed, span in ((1.0, SHORT_S), (10.0, LONG_S)):
        if speed not in SPEEDS:
            continue
        capture = work / f"paced-{speed:g}.jsonl.zst"
        count = write_capture(capture, frames, span)
        for n in CLIENT_COUNTS:
            for spread in (cycle_s / speed, 0.0) if n > 1 else (0.0,):
                worst: dict[str, Any] | None = None
                for _ in range(runs):
                    server = Server("replay", capture, speed)
                    try:
                        storm, stats, steal = trio.run(paced_clients, server, n, count, spread)
                    finally:
                        server.close()
                    stats["steal_pct"] = steal
                    stats["storm_p99"] = storm["p99"] if storm and n > 1 else None
                    # Server CPU per paced frame, from the end of the handshakes to the last
                    # frame read, before the clients close (at once only).
                    played_s = stats["cpu_s"] - storm["cpu_s"] if storm else None
                    stats["cpu_us"] = None if played_s is None else played_s / stats["count"] * 1e6
                    if worst is None or stats["p99"] > worst["p99"]:
                        worst = stats
                assert worst is not None
                how = "spread" if spread else "at once"
                storm_p99 = ms(worst["storm_p99"]) if worst["storm_p99"] is not None else " " * 8
                cpu_us = f"{worst['cpu_us']:7.1f}" if worst["cpu_us"] is not None else " " * 7
                steal = f"{worst['steal_pct']:7.1f}" if worst["steal_pct"] is not None else ""
                print(
                    f"    {speed:5g}  {n:7d}  {how:8s} {worst['count']:7d}  {ms(worst['p50'])} "
                    f"{ms(worst['p99'])} {ms(worst['max'])}  {storm_p99}  {worst['full_gc']:8d} "
                    f"{ms(worst['full_gc_max'])}  {worst['late_wakes']:10d} {worst['late_wakes_host']:5d} "
                    f"{ms(worst['late_wake_max'])} {cpu_us}  {steal}",
                    flush=True,
                )
                rows.append(
                    {
                        "speed": speed,
                        "clients": n,
                        "connect": how,
                        "frames": worst["count"],
                        "p50_ms": worst["p50"] * 1000,
                        "p99_ms": worst["p99"] * 1000,
                        "max_ms": worst["max"] * 1000,
                        "storm_p99_ms": None if worst["storm_p99"] is None else worst["storm_p99"] * 1000,
                        "full_gcs": worst["full_gc"],
                        "full_gc_max_ms": worst["full_gc_max"] * 1000,
                        "late_wakes": worst["late_wakes"],
                        "late_wakes_host": worst["late_wakes_host"],
                        "steal_pct": worst["steal_pct"],
                        "late_wake_max_ms": worst["late_wake_max"] * 1000,
                        "cpu_us_per_frame": worst["cpu_us"],
                    }
                )
    return rows


def sleeper_baseline(when: str) -> dict[str, Any]:
    """The machine's own late wakes, measured here (benchmarks/host_wakes.py): what the
    server's late wakes compare with."""
    naps, tally = lone_sleeper(SLEEPER_S, SLEEPER_NAPS_S, WAKE_EARLY_S)
    latest = max(tally.overs, default=0.0)
    shortest, longest = (n * 1000 for n in SLEEPER_NAPS_S)
    print(
        f"    lone sleeper {when} the rows: this process alone, {naps:,} naps of {shortest:g}-{longest:g} ms "
        f"in {SLEEPER_S:g} s: {len(tally.overs)} woke more than {WAKE_EARLY_S * 1000:g} ms late, "
        f"{tally.from_host} of them the host's (under half of the delay in this machine's run queue); "
        f"the latest {ms(latest).strip()} ms",
        flush=True,
    )
    return {
        "naps": naps,
        "nap_ms": [n * 1000 for n in SLEEPER_NAPS_S],
        "late_wakes": len(tally.overs),
        "late_wakes_host": tally.from_host,
        "late_wake_max_ms": latest * 1000,
    }


def throughput(frames: list[str], work: Path, runs: int) -> list[dict[str, Any]]:
    print("(b) throughput at speed max, client-observed frames/s and server CPU per frame, beside a")
    print("    bare trio-websocket send loop measured right before in each repetition; worst of", runs)
    print("    clients   bare frames/s  replay frames/s  ratio   bare µs/frame  replay µs/frame  ratio")
    rows: list[dict[str, Any]] = []
    for n, each in ((1, MAX_FRAMES_ONE), (100, MAX_FRAMES_EACH)):
        capture = work / f"max-{n}.jsonl.zst"
        write_capture(capture, frames, None, each)
        expected = frame_texts(capture)
        servers = {mode: Server(mode, capture, None) for mode in ("bare", "replay")}
        got: dict[str, list[tuple[float, float]]] = {"bare": [], "replay": []}
        try:
            for _ in range(runs):
                for mode, server in servers.items():
                    cpu0 = server.ask()["cpu_s"]
                    wall = trio.run(clients, server.url, n, each, expected)
                    got[mode].append((n * each / wall, (server.ask()["cpu_s"] - cpu0) / (n * each)))
        finally:
            for server in servers.values():
                server.close()
        pairs = list(zip(got["bare"], got["replay"], strict=True))
        rate_ratio = min(r[0] / b[0] for b, r in pairs)
        cpu_ratio = max(r[1] / b[1] for b, r in pairs)  # replay CPU / bare CPU: lower is better
        bare_rate, rate = min(r for r, _ in got["bare"]), min(r for r, _ in got["replay"])
        print(
            f"    {n:7d}   {bare_rate:13,.0f}  {rate:15,.0f}  {rate_ratio:5.2f}   "
            f"{max(c for _, c in got['bare']) * 1e6:13.1f}  {max(c for _, c in got['replay']) * 1e6:15.1f}  "
            f"{cpu_ratio:5.2f}",
            flush=True,
        )
        rows.append(
            {
                "clients": n,
                "throughput_vs_bare": rate_ratio,
                "cpu_per_frame_vs_bare": cpu_ratio,
                "replay_frames_per_s": min(r for r, _ in got["replay"]),
                "replay_us_per_frame": max(c for _, c in got["replay"]) * 1e6,
            }
        )
    print("    (ratios: replay/bare per repetition, the worst shown; CPU ratio below 1 = less CPU)")
    return rows


async def hold(url: str, n: int, ready: trio.Event, release: trio.Event) -> None:
    connected = 0

    async def one() -> None:
        nonlocal connected
        async with open_websocket_url(url, extra_headers=ACCEPT, connect_timeout=60) as ws:
            await ws.send_message(auth_message("benchmark"))
            await ws.get_message()  # the first frame: authenticated and playing
            connected += 1
            if connected == n:
                ready.set()
            await release.wait()

    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(one)


def memory(frames: list[str], work: Path) -> dict[str, Any]:
    capture = work / "memory.jsonl.zst"
    write_capture(capture, frames, LONG_S)
    server = Server("replay", capture, 1.0)
    n = 1000
    try:
        before = server.ask()["rss_kib"]

        async def run() -> int:
            ready, release = trio.Event(), trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hold, server.url, n, ready, release)
                await ready.wait()
                await trio.sleep(0.5)
                rss = await trio.to_thread.run_sync(server.ask)
                release.set()
            return int(rss["rss_kib"])

        after = trio.run(run)
    finally:
        server.close()
    print(
        f"(c) memory: server RSS {before / 1024:.1f} MiB idle, {after / 1024:.1f} MiB with {n} clients: "
        f"{(after - before) / n:.1f} KiB per connected client"
    )
    return {"clients": n, "kib_per_client": (after - before) / n}


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", nargs=3, metavar=("MODE", "CAPTURE", "SPEED"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["lateness", "throughput", "memory"])
    parser.add_argument("--runs", type=int, default=2, help="repetitions; the worst is reported")
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    args = parser.parse_args(argv)
    if args.server:
        mode, capture, speed = args.server
        if os.environ.get("BENCH_PROFILE"):  # a CPU-time profile of the server, to this file
            import cProfile

            profile = cProfile.Profile(time.process_time)
            profile.runctx(
                "trio.run(server_main, mode, Path(capture), None if speed == 'max' else float(speed),"
                " instruments=[LATE_WAKES])",
                globals(),
                locals(),
            )
            profile.dump_stats(os.environ["BENCH_PROFILE"])
            return
        speed_or_max = None if speed == "max" else float(speed)
        trio.run(server_main, mode, Path(capture), speed_or_max, instruments=[LATE_WAKES])
        return
    raise_fd_limit()
    found = conditions()
    print_conditions("replay benchmark", found)
    frames = sample_frames()
    print(
        f"frames of {min(map(len, frames))}-{max(map(len, frames))} "
        f"characters (median {statistics.median(map(len, frames)):.0f}) from a bundled sample"
    )
    started = time.perf_counter()
    figures: dict[str, Any] = {"runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="ttrec-bench-") as scratch:
        work = Path(scratch)
        if args.only in (None, "lateness"):
            figures["lone_sleeper"] = [sleeper_baseline("before")]
            figures["lateness"] = lateness(frames, work, args.runs)
            figures["lone_sleeper"].append(sleeper_baseline("after"))
        if args.only in (None, "throughput"):
            figures["throughput"] = throughput(frames, work, max(args.runs, 3))
        if args.only in (None, "memory"):
            figures["memory"] = memory(frames, work)
    print(f"done in {time.perf_counter() - started:.0f} s")
    write_results(args.json, "replay", found, figures)


if __name__ == "__main__":
    main(sys.argv[1:])
