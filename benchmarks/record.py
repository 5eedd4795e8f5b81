"""Benchmark `ttrec record`: many fixtures recorded concurrently by one process.

    .venv/bin/python benchmarks/record.py                 # 1,000 fixtures (a few minutes)
    .venv/bin/python benchmarks/record.py --fixtures 50   # a quick run

What it does, in one run:
1. Makes N captures from the first --frames data frames of a bundled sample match (each with
   its own fixture id; the last frame is marked finished) and serves them with
   `ttrec serve --speed 10` in a separate process, so the recorder's figures are its own.
2. Records all N fixtures in this process with `recorder.run.record` and prints: frames
   lost (must be 0), CPU seconds per 1,000 frames, peak RSS, wall time.
3. Times the per-record path from "message received" to "record flushed" (stamp, classify,
   dedupe, encode, zstd block flush, write) beside the bare CaptureWriter on the same
   frames, and prints both and their ratio.

The provider asks for at most 5 connection attempts per second, and the recorder obeys
that by default; against this local replayer the benchmark lifts it (--attempts-per-s,
default 50) so that all fixtures are connected within seconds and actually overlap.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio
from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path

from recorder.recording import Recording
from recorder.run import record
from recorder.secret import Token
from recorder.session import RecordOptions
from recorder.status import PlainReporter
from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.feed import seq_num
from ttrec.records import Frame, Header, Heartbeat, Record

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "captures" / "sample-singles-bo5.jsonl.zst"
WALL = "2026-01-05T09:00:00.000000Z"


def load_sample(frames: int) -> tuple[Header, list[Record]]:
    """The sample's records up to its `frames`-th data frame, that one marked finished."""
    with CaptureReader(SAMPLE) as reader:
        header = reader.header
        kept: list[Record] = []
        count = 0
        for rec in reader:
            if isinstance(rec, Frame):
                count += 1
                if count == frames:
                    kept.append(replace(rec, data=rec.data.replace('"finished":false', '"finished":true', 1)))
                    break
            if isinstance(rec, Frame | Heartbeat):
                kept.append(rec)
    return header, kept


def make_captures(directory: Path, n: int, frames: int) -> list[str]:
    header, records = load_sample(frames)
    old = header.fixture_id
    fixtures = []
    for i in range(n):
        fixture = str(uuid.UUID(int=(i + 1) << 64 | 0x4000_8000_0000_0000))
        fixtures.append(fixture)
        new_header = header._replace(fixture_id=fixture, url=header.url.replace(old, fixture))
        with CaptureWriter(directory / f"{fixture}.jsonl.zst", new_header) as writer:
            for rec in records:
                if isinstance(rec, Frame):
                    rec = replace(rec, data=rec.data.replace(old, fixture), conn=0)
                elif isinstance(rec, Heartbeat):
                    rec = replace(rec, conn=0)
                writer.write(rec)
    return fixtures


def start_server(directory: Path, speed: float) -> tuple[subprocess.Popen[bytes], str]:
    ready = directory.parent / "ready.json"
    command = [sys.executable, "-m", "ttrec", "serve", str(directory), "--speed", str(speed)]
    proc = subprocess.Popen(
        [*command, "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("ttrec serve did not become ready")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())["url"]


def _seqs(path: Path) -> list[int | None]:
    with CaptureReader(path) as reader:
        return [seq_num(r.data) for r in reader if isinstance(r, Frame)]


def lost_frames(out: Path, served: Path, fixtures: list[str]) -> tuple[int, int]:
    """(frames missing, frames duplicated) over every recorded capture, against the seqNums
    of the capture served (they have gaps where the match had uncounted actions)."""
    lost = dupes = 0
    files = {p.name[:36]: p for p in out.glob("*.jsonl.zst")}
    for fixture in fixtures:
        expected = set(_seqs(served / f"{fixture}.jsonl.zst"))
        path = files.get(fixture)
        seqs = _seqs(path) if path is not None else []
        lost += len(expected - set(seqs))
        dupes += len(seqs) - len(set(seqs))
    return lost, dupes


def live_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    captures = work / "served"
    captures.mkdir()
    t0 = time.monotonic()
    fixtures = make_captures(captures, args.fixtures, args.frames)
    print(f"made {len(fixtures)} captures of {args.frames} frames in {time.monotonic() - t0:.1f} s")
    server, url = start_server(captures, args.speed)
    try:
        out = work / "out"
        options = RecordOptions(base_url=url, max_attempts_per_s=args.attempts_per_s, seed=1)
        log = io.StringIO()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu0 = time.process_time()
        wall0 = time.monotonic()
        results = trio.run(
            lambda: record(
                fixtures, Token("benchmark"), out=out, options=options, reporter=PlainReporter(log)
            )
        )
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        server.terminate()
        server.wait(30)
    total = sum(r.frames for r in results)
    finished = sum(r.complete for r in results)
    connections = sum(r.connections for r in results)
    lost, dupes = lost_frames(out, captures, fixtures)
    print(f"fixtures recorded concurrently: {len(results)} ({finished} to their finished frame)")
    print(f"connections: {connections}; wall time: {wall:.1f} s at speed {args.speed:g}")
    print(f"frames recorded: {total}; frames lost: {lost}; duplicates: {dupes}")
    print(f"recorder CPU: {cpu:.1f} s = {cpu / total * 1000:.3f} CPU s per 1,000 frames")
    print(f"peak RSS: {rss_peak / 1024:.0f} MiB (before recording: {rss_before / 1024:.0f} MiB)")
    figures = {
        "fixtures": len(results),
        "finished": finished,
        "frames": total,
        "lost": lost,
        "duplicates": dupes,
        "cpu_s_per_1000_frames": cpu / total * 1000,
        "peak_rss_mib": rss_peak / 1024,
    }
    if lost or dupes or finished != len(results):
        raise SystemExit("FAILED: frames lost or fixtures unfinished")
    return figures


def per_record_costs(n: int, work: Path) -> dict[str, Any]:
    _, records = load_sample(220)
    texts = [r.data for r in records if isinstance(r, Frame)]
    # distinct seqNums, so that dedupe keeps every one (it would drop repeats)
    frames = [re.sub(r'"seqNum":\d+', f'"seqNum":{i + 1}', texts[i % len(texts)], count=1) for i in range(n)]
    header = Header("14a03569-d26b-4496-92e5-dfe8cb1855fe", "ws://x/", "recorded", WALL)

    writer = CaptureWriter(work / "recording.jsonl.zst", header)
    recording = Recording(writer, clock=time.monotonic)
    start = time.perf_counter()
    for text in frames:
        recording.text(recording.stamp(), 0, text)  # what the receive loop does per message
    recorder_us = (time.perf_counter() - start) / n * 1e6
    writer.close()

    bare = CaptureWriter(work / "bare.jsonl.zst", header)
    t0 = time.monotonic_ns()
    start = time.perf_counter()
    for text in frames:
        bare.write(Frame(time.monotonic_ns() - t0, WALL, 0, text))
    bare_us = (time.perf_counter() - start) / n * 1e6
    bare.close()
    size = sum(len(t) for t in frames) / n
    print(f"per record ({n} frames of {size:.0f} bytes on average):")
    print(f"  receive-to-flushed (stamp, classify, dedupe, write, flush): {recorder_us:.1f} µs")
    print(f"  bare CaptureWriter.write (encode, write, flush):             {bare_us:.1f} µs")
    print(f"  ratio: {recorder_us / bare_us:.2f}")
    return {
        "receive_to_flushed_us": recorder_us,
        "bare_write_us": bare_us,
        "vs_bare_write": recorder_us / bare_us,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fixtures", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=120, help="data frames per fixture (sample has 220)")
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--attempts-per-s", type=int, default=50)
    parser.add_argument("--micro-records", type=int, default=20_000)
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # one socket and one capture file per fixture, in each process
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.fixtures + 256)), hard))
    found = conditions()
    print_conditions("record", found)
    with tempfile.TemporaryDirectory(prefix="ttrec-bench-") as tmp:
        work = Path(tmp)
        figures = {"per_record": per_record_costs(args.micro_records, work), "live": live_run(args, work)}
    write_results(args.json, "record", found, figures)


if __name__ == "__main__":
    main()
