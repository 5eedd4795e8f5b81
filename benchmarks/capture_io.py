"""Capture I/O: write and read speed and compression ratio, each beside a baseline.

    python benchmarks/capture_io.py [--records 40000]

Match-like frames: the provider's sample frame with counts rising, a fresh traceId and
the periods reshuffled each time (as the provider sends them), one every 8 s of capture
time, with a heartbeat between. Baselines, measured in the same run on the same bytes:
`zstd -19` of the whole JSON Lines for the ratio, `zstd -dc` for read speed, and a plain
buffered write of the uncompressed lines for write speed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.records import Frame, Header, Heartbeat, Record, encode_header, encode_record

SAMPLE = Path(__file__).parent.parent / "tests" / "data" / "provider-statistics-frame-final.json"
FIXTURE = "1bd00469-86fa-4f0b-abcc-30cbef80dacc"
HEADER = Header(
    FIXTURE, f"wss://x/v2/tabletennis/fixtures/{FIXTURE}/statistics", "derived", "2026-11-24T00:00:00Z"
)
STEP_NS = 8_000_000_000


def match_like_records(count: int, seed: int = 1) -> list[Record]:
    rng = random.Random(seed)
    frame = json.loads(SAMPLE.read_text())
    records: list[Record] = []
    for i in range(count // 2):
        frame["seqNum"] = i + 1
        frame["traceId"] = uuid.UUID(int=rng.getrandbits(128)).hex
        for team in frame["teamActionAggregates"]:
            for agg in team["gameActionAggregates"]:
                agg["actionAggregate"] += rng.random() < 0.3
            rng.shuffle(team["periodActionAggregates"])
        t = i * STEP_NS
        records.append(Frame(t, "2026-11-24T07:00:00.000000Z", 0, json.dumps(frame, separators=(",", ":"))))
        heartbeat = '{"message":"Heartbeat sent at 2026-11-24T07:00:05.123456Z","level":"INFO"}'
        records.append(Heartbeat(t + STEP_NS // 2, "2026-11-24T07:00:05.123456Z", 0, heartbeat))
    return records


def best_of(runs: int, func) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3, help="best of N for each timing")
    args = parser.parse_args()
    if shutil.which("zstd") is None:
        sys.exit("the zstd command-line tool is needed for the baselines")

    records = match_like_records(args.records)
    jsonl = encode_header(HEADER) + b"".join(encode_record(r) for r in records)
    mb = len(jsonl) / 1e6
    work = Path(tempfile.mkdtemp(prefix="ttrec-bench-"))
    try:
        capture = work / "c.jsonl.zst"

        def write_capture() -> None:
            capture.unlink(missing_ok=True)
            with CaptureWriter(capture, HEADER) as writer:
                for record in records:
                    writer.write(record)

        def write_plain() -> None:
            with open(work / "plain.jsonl", "wb") as f:
                for record in records:
                    f.write(encode_record(record))
                    f.flush()

        t_write = best_of(args.runs, write_capture)
        t_plain = best_of(args.runs, write_plain)
        (work / "all.jsonl").write_bytes(jsonl)
        subprocess.run(
            ["zstd", "-q", "-19", "-f", str(work / "all.jsonl"), "-o", str(work / "z19.zst")], check=True
        )
        ratio = len(jsonl) / capture.stat().st_size
        ratio_19 = len(jsonl) / (work / "z19.zst").stat().st_size

        def read_records() -> None:
            with CaptureReader(capture) as reader:
                for _ in reader:
                    pass

        def run_to_null(cmd: list[str]) -> None:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

        t_read = best_of(args.runs, read_records)
        t_cat = best_of(args.runs, lambda: run_to_null([sys.executable, "-m", "ttrec", "cat", str(capture)]))
        t_zstd = best_of(args.runs, lambda: run_to_null(["zstd", "-dcq", str(capture)]))
    finally:
        shutil.rmtree(work)

    n = len(records)
    print(f"capture I/O: {n} records, {mb:.1f} MB of JSON Lines (match-like frames + heartbeats)")
    print(f"  write, zstd block flushed per record : {n / t_write:10,.0f} rec/s  {mb / t_write:7.1f} MB/s")
    print(f"  baseline: plain write + flush        : {n / t_plain:10,.0f} rec/s  {mb / t_plain:7.1f} MB/s")
    print(f"  read records (CaptureReader)         : {n / t_read:10,.0f} rec/s  {mb / t_read:7.1f} MB/s")
    print(f"  ttrec cat (whole process)            : {n / t_cat:10,.0f} rec/s  {mb / t_cat:7.1f} MB/s")
    print(f"  baseline: zstd -dc                   : {n / t_zstd:10,.0f} rec/s  {mb / t_zstd:7.1f} MB/s")
    print(f"  ttrec cat / zstd -dc speed           : {t_zstd / t_cat:10.2f}x   (target >= 0.7x)")
    print(f"  compression ratio, per-record flush  : {ratio:10.1f}x  (target >= 30x)")
    print(f"  baseline: zstd -19 of the whole file : {ratio_19:10.1f}x")
    print(f"  ratio / zstd -19                     : {ratio / ratio_19:10.2f}")


if __name__ == "__main__":
    main()
