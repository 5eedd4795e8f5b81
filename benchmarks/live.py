"""Benchmark `ttrec record --live`: a rehearsed day of staggered fixtures, then shards.

    .venv/bin/python benchmarks/live.py            # 500 fixtures (about 6 minutes)
    .venv/bin/python benchmarks/live.py --short    # 50 fixtures, a quick look

Everything runs as the user would run it, in separate processes over loopback:

0. Baseline: `ttrec record ID...` (a fixed list, no API) records --baseline-fixtures of the
   same captures from a `ttrec serve --no-api`; its CPU per 1,000 frames is what the live
   recorder's is compared with.
1. The day: `ttrec serve DIR --stagger S --speed X -v --log-format json` starts one fixture
   every S seconds, each live for about --play seconds; one `ttrec record --live --until idle`
   records them all. Printed: frames lost and duplicated (counted against the seqNums of the
   served captures; 0 expected), the most requests in any one second as the server saw them
   (its own log: one line per API request, one per websocket connection), the recorder's
   peak RSS and CPU seconds per 1,000 frames (its rusage, from wait4).
2. Shards: the same day again, recorded by 3 `record --live --shard I/3 --replicas 2`; shard 1
   is killed with SIGKILL half way through the day. Afterwards `ttrec merge` (the command,
   run in this process) unions each fixture's captures from the shards; printed: how many of
   the served frames of every fixture are present (all of them expected).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path
from record import _seqs, load_sample, lost_frames, make_captures

from recorder.secret import TOKEN_ENV
from ttrec.cli import cli
from ttrec.records import Frame

TOKEN: Final = "benchmark-live-token"
POLL_S: Final = 2.0  # 1 request a second at most (live, and scheduled for --until idle)
REQUESTS_PER_S: Final = 5  # the provider's budget for the fixtures API and websocket connects
SHARDS: Final = 3


def play_speed(frames: int, play_s: float) -> float:
    """The --speed at which the first `frames` frames of the sample play in `play_s`."""
    _, records = load_sample(frames)
    last_s = max(r.t for r in records if isinstance(r, Frame)) / 1e9
    return last_s / play_s


def start_server(
    served: Path, work: Path, extra: Sequence[str]
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ready = work / "ready.json"
    ready.unlink(missing_ok=True)
    log = (work / "serve.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "ttrec",
        "serve",
        str(served),
        "--token",
        TOKEN,
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen([*command, *extra], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"ttrec serve did not become ready (see {work / 'serve.log'})")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def recorder(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, TOKEN_ENV: TOKEN}
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "ttrec", "record", *args], env=env, stdout=subprocess.DEVNULL, stderr=err
        )


def reap(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for a child: (exit status, CPU seconds, peak RSS in MiB), from wait4's rusage."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def startup_cpu_s(work: Path) -> float:
    """CPU seconds of a recorder process that records nothing (`record --version`: the
    command's imports), subtracted from each run so that runs of different sizes compare."""
    return min(reap(recorder(["--version"], work / f"startup{i}.log"))[1] for i in range(3))


def frames_recorded(out: Path) -> int:
    return sum(len(_seqs(p)) for p in out.glob("*.jsonl.zst"))


def most_in_a_second(times: Sequence[float]) -> int:
    """The most events in any window of one second (sliding, not calendar seconds)."""
    ordered, most, first = sorted(times), 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def server_requests(log: Path) -> tuple[list[float], list[float]]:
    """From `serve -v --log-format json`: when each API request arrived and when each
    websocket connection started (its end line's time less its duration)."""
    api: list[float] = []
    sockets: list[float] = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
        words = entry["message"].split()
        if words[:1] == ["api"]:
            api.append(at)
        elif any(w.startswith("ended=") for w in words):
            after = next(w for w in words if w.startswith("after="))
            sockets.append(at - float(after[len("after=") : -1]))
    return api, sockets


def baseline(
    args: argparse.Namespace, served: Path, work: Path, fixtures: list[str], speed: float, startup: float
) -> float:
    """CPU seconds per 1,000 frames of `ttrec record ID...` on the same captures."""
    base = work / "baseline"
    base.mkdir()
    server, ready = start_server(served, base, ["--speed", f"{speed:g}", "--no-api"])
    try:
        listed = base / "fixtures.txt"
        listed.write_text("\n".join(fixtures[: args.baseline_fixtures]) + "\n")
        out = base / "out"
        proc = recorder(
            ["--base-url", ready["url"], "--fixtures-file", str(listed), "--out", str(out)], base / "log"
        )
        code, cpu, rss = reap(proc)
    finally:
        stop(server)
    frames = frames_recorded(out)
    if code != 0 or not frames:
        raise SystemExit(f"FAILED: the baseline recorder exited {code} (see {base / 'log'})")
    per_1000 = (cpu - startup) / frames * 1000
    print(
        f"baseline `ttrec record ID...`: {args.baseline_fixtures} fixtures, {frames} frames, "
        f"{per_1000:.3f} CPU s per 1,000 frames (start-up excluded), peak RSS {rss:.0f} MiB"
    )
    return per_1000


def live_args(ready: dict[str, Any], out: Path) -> list[str]:
    return [
        "--live",
        "--api-url",
        ready["api_url"],
        "--base-url",
        ready["url"],
        "--poll",
        f"{POLL_S:g}",
        "--until",
        "idle",
        "--out",
        str(out),
        "-q",
    ]


def day(
    args: argparse.Namespace,
    served: Path,
    work: Path,
    fixtures: list[str],
    speed: float,
    base_per_1000: float,
    startup: float,
) -> dict[str, Any]:
    one = work / "day"
    one.mkdir()
    serve = ["--speed", f"{speed:g}", "--stagger", f"{args.stagger:g}", "-v", "--log-format", "json"]
    server, ready = start_server(served, one, serve)
    out = one / "out"
    wall0 = time.monotonic()
    try:
        code, cpu, rss = reap(recorder(live_args(ready, out), one / "log"))
    finally:
        stop(server)
    wall = time.monotonic() - wall0
    lost, dupes = lost_frames(out, served, fixtures)
    frames = frames_recorded(out)
    api, sockets = server_requests(one / "serve.log")
    api_max, all_max = most_in_a_second(api), most_in_a_second(api + sockets)
    per_1000 = (cpu - startup) / frames * 1000 if frames else float("nan")
    print(
        f"day: {len(fixtures)} fixtures, one every {args.stagger:g} s, each live about {args.play:g} s "
        f"(--speed {speed:.0f}); recorder exit {code}, {wall:.0f} s"
    )
    print(f"  frames recorded {frames}: lost {lost}, duplicated {dupes} (against the served captures)")
    print(
        f"  server side: {len(api)} API requests, {len(sockets)} websocket connections; most in one "
        f"second: {api_max} API, {all_max} API + connects (budget {REQUESTS_PER_S})"
    )
    print(
        f"  recorder: peak RSS {rss:.0f} MiB, {per_1000:.3f} CPU s per 1,000 frames "
        f"= {per_1000 / base_per_1000:.2f}x the baseline"
    )
    if code != 0 or lost or dupes or all_max > REQUESTS_PER_S:
        raise SystemExit(f"FAILED: see {one}")
    return {
        "fixtures": len(fixtures),
        "frames": frames,
        "lost": lost,
        "duplicates": dupes,
        "api_requests": len(api),
        "max_api_requests_per_s": api_max,
        "max_requests_per_s": all_max,
        "peak_rss_mib": rss,
        "cpu_s_per_1000_frames": per_1000,
        "cpu_vs_baseline": per_1000 / base_per_1000,
        "wall_s": wall,
    }


def merge_all(outs: Sequence[Path], merged: Path) -> tuple[int, int]:
    """`ttrec merge` per fixture (and feed) over the shards' captures: (merged, single)."""
    by_fixture: dict[str, list[Path]] = {}
    for out in outs:
        for path in out.glob("*.jsonl.zst"):
            by_fixture.setdefault(path.name[:36], []).append(path)
    merged.mkdir()
    done = single = 0
    for fixture, paths in sorted(by_fixture.items()):
        if len(paths) == 1:  # its other replica was on the killed shard and had not started
            os.link(paths[0], merged / f"{fixture}.jsonl.zst")
            single += 1
            continue
        target = merged / f"{fixture}.jsonl.zst"
        argv = ["merge", *map(str, paths), "-o", str(target), "-qq"]
        with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):  # its "wrote ..." line
            cli.main(argv, prog_name="ttrec", standalone_mode=False)
        done += 1
    return done, single


def shards(
    args: argparse.Namespace, served: Path, work: Path, fixtures: list[str], speed: float
) -> dict[str, Any]:
    many = work / "shards"
    many.mkdir()
    serve = ["--speed", f"{speed:g}", "--stagger", f"{args.stagger:g}"]
    server, ready = start_server(served, many, serve)
    outs = [many / f"out{i}" for i in range(SHARDS)]
    procs = [
        recorder(
            [*live_args(ready, outs[i]), "--shard", f"{i}/{SHARDS}", "--replicas", "2"], many / f"log{i}"
        )
        for i in range(SHARDS)
    ]
    half_day = len(fixtures) * args.stagger / 2
    time.sleep(half_day)
    procs[1].send_signal(signal.SIGKILL)
    codes = [reap(p)[0] for p in procs]
    stop(server)
    killed_frames = frames_recorded(outs[1])
    t0 = time.monotonic()
    merged, single = merge_all(outs, many / "merged")
    merge_s = time.monotonic() - t0
    expected = present = complete = 0
    for fixture in fixtures:
        want = set(_seqs(served / f"{fixture}.jsonl.zst"))
        path = many / "merged" / f"{fixture}.jsonl.zst"
        have = set(_seqs(path)) if path.exists() else set()
        expected += len(want)
        present += len(want & have)
        complete += want <= have
    print(
        f"shards: {SHARDS} x `record --live --shard I/{SHARDS} --replicas 2`; shard 1 SIGKILLed after "
        f"{half_day:.0f} s with {killed_frames} frames written; exits {codes}"
    )
    print(
        f"  `ttrec merge` of {merged} fixtures ({single} had one capture) in {merge_s:.1f} s: "
        f"{present} of {expected} served frames present; {complete} of {len(fixtures)} fixtures complete"
    )
    if present != expected or codes[0] != 0 or codes[2] != 0:
        raise SystemExit(f"FAILED: see {many}")
    return {
        "merged": merged,
        "single": single,
        "frames_expected": expected,
        "frames_present": present,
        "fixtures_complete": complete,
        "killed_shard_frames": killed_frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="50 fixtures, a quick look")
    parser.add_argument("--fixtures", type=int, help="fixtures in the day (default 500; --short 50)")
    parser.add_argument("--frames", type=int, default=60, help="data frames per fixture (sample has 220)")
    parser.add_argument("--stagger", type=float, default=0.3, help="seconds between two fixtures' starts")
    parser.add_argument("--play", type=float, default=8.0, help="seconds each fixture is live")
    parser.add_argument(
        "--baseline-fixtures", type=int, help="fixtures of the baseline (default 50; --short 10)"
    )
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    args = parser.parse_args()
    args.fixtures = args.fixtures or (50 if args.short else 500)
    args.baseline_fixtures = args.baseline_fixtures or (10 if args.short else 50)
    found = conditions()
    print_conditions("live", found)
    speed = play_speed(args.frames, args.play)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ttrec-bench-live-") as tmp:
        work = Path(tmp)
        served = work / "served"
        served.mkdir()
        fixtures = make_captures(served, args.fixtures, args.frames)
        startup = startup_cpu_s(work)
        print(f"a recorder process's start-up: {startup:.2f} CPU s (taken off the figures below)")
        base = baseline(args, served, work, fixtures, speed, startup)
        figures: dict[str, Any] = {"startup_cpu_s": startup, "baseline_cpu_s_per_1000_frames": base}
        figures["day"] = day(args, served, work, fixtures, speed, base, startup)
        figures["shards"] = shards(args, served, work, fixtures, speed)
    print(f"whole run: {time.monotonic() - started:.0f} s")
    write_results(args.json, "live", found, figures)


if __name__ == "__main__":
    main()
