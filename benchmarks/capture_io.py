"""Capture I/O: write and read speed and compression ratio, each beside a baseline.

    python benchmarks/capture_io.py [--records 40000]

Match-like frames: the provider's sample frame with counts rising, a fresh traceId and
the periods reshuffled each time (as the provider sends them), one every 8 s of capture
time, with a heartbeat between. Baselines, measured in the same run on the same bytes:
`zstd -19` of the whole JSON Lines for the ratio, `zstd -dc` (the whole process, as `ttrec
cat` is timed) for read speed, and a plain buffered write of the uncompressed lines for
write speed. Every repetition times each baseline beside its subject; the worst is shown.
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
from collections.abc import Callable
from pathlib import Path

from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path

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


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=5, help="repetitions; the worst is reported")
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    args = parser.parse_args()
    if shutil.which("zstd") is None:
        sys.exit("the zstd command-line tool is needed for the baselines")
    found = conditions()
    print_conditions("capture I/O", found)

    records = match_like_records(args.records)
    jsonl = encode_header(HEADER) + b"".join(encode_record(r) for r in records)
    mb = len(jsonl) / 1e6
    work = Path(tempfile.mkdtemp(prefix="ttrec-bench-"))
    # Each repetition times a baseline and the subject back to back, so both see the same
    # load; per figure the worst repetition is reported.
    runs: dict[str, list[float]] = {k: [] for k in ("write", "plain", "read", "cat", "frames", "zstd")}
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

        def read_records() -> None:
            with CaptureReader(capture) as reader:
                for _ in reader:
                    pass

        def run_to_null(cmd: list[str]) -> None:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

        ttrec = [sys.executable, "-m", "ttrec", "cat"]
        for _ in range(args.runs):
            runs["write"].append(timed(write_capture))
            runs["plain"].append(timed(write_plain))
            runs["zstd"].append(timed(lambda: run_to_null(["zstd", "-dcq", str(capture)])))
            runs["cat"].append(timed(lambda: run_to_null([*ttrec, str(capture)])))
            runs["frames"].append(timed(lambda: run_to_null([*ttrec, "--frames", str(capture)])))
            runs["read"].append(timed(read_records))
        (work / "all.jsonl").write_bytes(jsonl)
        subprocess.run(
            ["zstd", "-q", "-19", "-f", str(work / "all.jsonl"), "-o", str(work / "z19.zst")], check=True
        )
        ratio = len(jsonl) / capture.stat().st_size
        ratio_19 = len(jsonl) / (work / "z19.zst").stat().st_size
    finally:
        shutil.rmtree(work)

    n = len(records)
    zstd = runs["zstd"]

    def vs_zstd(key: str) -> list[float]:
        return [z / t for z, t in zip(zstd, runs[key], strict=True)]

    figures = {
        "records": n,
        "megabytes": round(mb, 1),
        "runs": args.runs,
        "write_rec_per_s": n / max(runs["write"]),
        "write_vs_plain": min(p / w for p, w in zip(runs["plain"], runs["write"], strict=True)),
        "reader_rec_per_s": n / max(runs["read"]),
        "reader_vs_zstd": min(vs_zstd("read")),
        "cat_vs_zstd": min(vs_zstd("cat")),
        "cat_frames_vs_zstd": min(vs_zstd("frames")),
        "zstd_mb_per_s": mb / max(zstd),
        "compression_ratio": ratio,
        "ratio_vs_zstd19": ratio / ratio_19,
    }
    worst = f"worst of {args.runs}"
    print(f"{n} records, {mb:.1f} MB of JSON Lines (match-like frames + heartbeats); each figure the {worst}")
    slowest = max(runs["write"])
    print(f"  write, zstd block flushed per record : {n / slowest:10,.0f} rec/s  {mb / slowest:7.1f} MB/s")
    print(f"  baseline: plain write + flush        : {n / max(runs['plain']):10,.0f} rec/s")
    print(f"  write / plain write speed            : {figures['write_vs_plain']:10.2f}x")
    print(f"  read records (CaptureReader)         : {figures['reader_rec_per_s']:10,.0f} rec/s  (150k)")
    print(f"  baseline: zstd -dc (whole process)   : {figures['zstd_mb_per_s']:10.1f} MB/s")
    print(f"  CaptureReader / zstd -dc speed       : {figures['reader_vs_zstd']:10.2f}x")
    print(f"  ttrec cat / zstd -dc speed           : {figures['cat_vs_zstd']:10.2f}x   (target >= 0.7x)")
    print(
        f"  ttrec cat --frames / zstd -dc speed  : {figures['cat_frames_vs_zstd']:10.2f}x   (target >= 0.3x)"
    )
    print(f"  compression ratio, per-record flush  : {ratio:10.1f}x  (target >= 30x)")
    print(f"  baseline: zstd -19 of the whole file : {ratio_19:10.1f}x")
    print(f"  ratio / zstd -19                     : {ratio / ratio_19:10.2f}")
    write_results(args.json, "capture_io", found, figures)


if __name__ == "__main__":
    main()
