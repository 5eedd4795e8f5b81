"""Capture I/O: write and read speed and compression ratio, each beside a baseline.

    python benchmarks/capture_io.py [--records 40000]

Match-like frames: the provider's sample frame with counts rising, a fresh traceId and
the periods reshuffled each time (as the provider sends them), one every 8 s of capture
time, with a heartbeat between. Baselines, measured in the same run on the same bytes:
`zstd -19` of the whole JSON Lines for the ratio, `zstd -dc` (the whole process, as `ttrec
cat` is timed) for read speed, and a plain buffered write of the uncompressed lines for
write speed. Every repetition times each baseline beside its subject; the worst is shown,
from wall times and again from CPU times (the process's and its children's user + system
time), which other work on a shared machine disturbs far less. Not so the host: on the
2-core VM of 2026-11-30 the reader's CPU time moved as much as its wall time, 131k-229k
records/s over one run's five reads (146k-244k over twelve in a row, no steal time
counted), and `zstd -dc` took 0.10-0.24 s over one run; so the best read is printed beside
the worst.

What is timed: `read` iterates a CaptureReader over the whole capture, every record built
and checked as any caller gets it; `ttrec cat` and `ttrec cat --frames` are whole processes
(`python -m ttrec`, start-up included) writing all their output to /dev/null. They run as
an installed ttrec does, its modules byte-compiled: each command runs once untimed first,
with bytecode kept in the run's scratch directory. Without that, a checkout run with
PYTHONDONTWRITEBYTECODE set (as the benchmark machine's shell has) recompiled ttrec's modules in
every process, about a tenth of `ttrec cat`'s time, which pip does once at install.

Where reading goes, in instructions per record of this capture (valgrind's callgrind, the
difference between captures of 6,000 and 2,000 records, 2026-11-30): ~45k in all, of which
~13k are python-zstandard decompressing (its checksum and its copy out included; `zstd -dc`
spends ~10k), ~23k orjson parsing the line (nearly all of it unescaping a frame's text: a
~6 KB JSON string with an escaped quote every ~10 bytes), and ~9k the reader's Python
(~3.5k finding the lines, ~5.5k checking the writer's shape, building the record and
handing it out). Decompressing, finding the lines and orjson.loads on each, nothing else,
is ~39k: no change to the checks can take reading below that.
Other C code unescaping a frame's text (codecs.escape_decode, bytes.replace, re, json's
scanstring), and msgspec decoding the line, were as slow as orjson or slower (CPU time).
Decompressing in a second thread while the first parses (python-zstandard lets go of the
GIL while it decompresses) was slower still: 83-140k records/s against 121-185k in
alternating runs (2026-11-30), as each hand-over of the GIL waits out the interpreter's
switch interval while the parsing thread holds it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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


def timed(func: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `func`: its own and its child processes' CPU. On a
    machine shared with other work the CPU time moves far less than the wall time."""
    start, cpu0 = time.perf_counter(), _cpu_s()
    func()
    return time.perf_counter() - start, _cpu_s() - cpu0


def _cpu_s() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


KEYS = ("write", "plain", "read", "cat", "frames", "zstd")


def measure(records: list[Record], work: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    """Each repetition times a baseline and the subject back to back, so both see the same
    load; per figure the worst repetition is reported."""
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in KEYS}
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

    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(work / "bytecode"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def run_to_null(*args: str) -> Callable[[], object]:
        return lambda: subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)

    ttrec = (sys.executable, "-m", "ttrec", "cat")
    write_capture()
    commands = (("zstd", "-dcq", str(capture)), (*ttrec, str(capture)), (*ttrec, "--frames", str(capture)))
    for command in commands:
        run_to_null(*command)()  # untimed: compiles the bytecode (see the docstring)
    for _ in range(runs):
        times["write"].append(timed(write_capture))
        times["plain"].append(timed(write_plain))
        times["zstd"].append(timed(run_to_null("zstd", "-dcq", str(capture))))
        times["cat"].append(timed(run_to_null(*ttrec, str(capture))))
        times["frames"].append(timed(run_to_null(*ttrec, "--frames", str(capture))))
        times["read"].append(timed(read_records))
    return times


def ratios(times: dict[str, list[tuple[float, float]]], n: int, which: int) -> dict[str, float]:
    """The figures from wall times (`which` 0) or CPU times (1), each the worst run's."""
    t = {k: [run[which] for run in v] for k, v in times.items()}

    def vs_zstd(key: str) -> float:
        return min(z / x for z, x in zip(t["zstd"], t[key], strict=True))

    return {
        "write_rec_per_s": n / max(t["write"]),
        "plain_rec_per_s": n / max(t["plain"]),
        "write_vs_plain": min(p / w for p, w in zip(t["plain"], t["write"], strict=True)),
        "reader_rec_per_s": n / max(t["read"]),
        "reader_best_rec_per_s": n / min(t["read"]),
        "reader_vs_zstd": vs_zstd("read"),
        "cat_vs_zstd": vs_zstd("cat"),
        "cat_frames_vs_zstd": vs_zstd("frames"),
        "zstd_s": max(t["zstd"]),
    }


def compression(jsonl: bytes, work: Path) -> tuple[float, float]:
    """(the capture's ratio, zstd -19's ratio of the whole JSON Lines)."""
    (work / "all.jsonl").write_bytes(jsonl)
    subprocess.run(
        ["zstd", "-q", "-19", "-f", str(work / "all.jsonl"), "-o", str(work / "z19.zst")], check=True
    )
    return len(jsonl) / (work / "c.jsonl.zst").stat().st_size, len(jsonl) / (work / "z19.zst").stat().st_size


def report(wall: dict[str, float], cpu: dict[str, float], mb: float) -> None:
    print(f"  {'':37s}  {'wall':>10s}  {'CPU time':>10s}")

    def line(label: str, key: str, unit: str, target: str = "") -> None:
        spec = ",.0f" if unit == " " else ".2f"
        print(f"  {label:37s}: {wall[key]:10{spec}}{unit} {cpu[key]:10{spec}}{unit}  {target}".rstrip())

    line("write, zstd block flushed per record", "write_rec_per_s", " ", "rec/s")
    line("baseline: plain write + flush", "plain_rec_per_s", " ", "rec/s")
    line("write / plain write speed", "write_vs_plain", "x")
    line("read records (CaptureReader)", "reader_rec_per_s", " ", "rec/s (target >= 150,000)")
    line("  the same, best of the runs", "reader_best_rec_per_s", " ", "rec/s")
    line("CaptureReader / zstd -dc speed", "reader_vs_zstd", "x")
    line("ttrec cat / zstd -dc speed", "cat_vs_zstd", "x", "(target >= 0.7x)")
    line("ttrec cat --frames / zstd -dc speed", "cat_frames_vs_zstd", "x", "(target >= 0.3x)")
    print(f"  baseline: zstd -dc (whole process)   : {mb / wall['zstd_s']:10.1f} MB/s")


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
    try:
        times = measure(records, work, args.runs)
        ratio, ratio_19 = compression(jsonl, work)
    finally:
        shutil.rmtree(work)
    n = len(records)
    wall, cpu = ratios(times, n, 0), ratios(times, n, 1)
    what = "match-like frames + heartbeats"
    print(f"{n} records, {mb:.1f} MB of JSON Lines ({what}); each figure the worst of {args.runs}")
    report(wall, cpu, mb)
    print(f"  compression ratio, per-record flush  : {ratio:10.1f}x  (target >= 30x)")
    print(f"  baseline: zstd -19 of the whole file : {ratio_19:10.1f}x")
    print(f"  ratio / zstd -19                     : {ratio / ratio_19:10.2f}")
    figures = {"records": n, "megabytes": round(mb, 1), "runs": args.runs}
    figures |= {k: v for k, v in wall.items() if k not in ("zstd_s", "plain_rec_per_s")}
    figures |= {
        "zstd_mb_per_s": mb / wall["zstd_s"],
        "compression_ratio": ratio,
        "ratio_vs_zstd19": ratio / ratio_19,
    }
    figures["cpu"] = {k: v for k, v in cpu.items() if k != "zstd_s"}
    write_results(args.json, "capture_io", found, figures)


if __name__ == "__main__":
    main()
