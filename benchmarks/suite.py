"""The test suite's time beside the suite of an earlier commit, both run as the README says.

    python benchmarks/suite.py [--base 660e896] [--runs 2]    # ~10 minutes on 2 cores

Issue 13 asked that its restructuring leave the suite "at least as fast as today". This
measures that, as any figure here is measured: beside its baseline, in the same run. Both
trees are cloned from this checkout into a scratch directory (HEAD and `--base`, by default
660e896, the tree the issue describes), each installed as its README says (a venv, `pip
install -e '.[test]'`, the Node test client where it has one), then their suites run in
turns, `.venv/bin/python -m pytest -q` (each README's test command, exactly), base first.
Each run's wall time is printed, and per pair the ratio now / base; the worst pair is the
figure. The environment is this shell's for both (PYTHONDONTWRITEBYTECODE included).

Not part of run_all.py: it takes minutes and installs two trees (from the package index
this machine uses, as CI does).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conditions import conditions, print_conditions, write_results  # benchmarks/ is on sys.path

CHECKOUT = Path(__file__).resolve().parent.parent
ISSUE_13_TREE = "660e896"  # the last commit before the issue's work: its serve.py, two MAX_SEEDs
TEST_COMMAND = (".venv/bin/python", "-m", "pytest", "-q")


def install(rev: str, into: Path) -> Path:
    """A clone of this checkout at `rev`, installed as its README says."""
    quiet(into.parent, "git", "clone", "-q", str(CHECKOUT), str(into))
    quiet(into, "git", "checkout", "-q", rev)
    quiet(into, sys.executable, "-m", "venv", ".venv")
    quiet(into, ".venv/bin/python", "-m", "pip", "install", "-q", "-e", ".[test]")
    if (into / "tests/interop/node/package-lock.json").exists():
        quiet(into, "npm", "ci", "--prefix", "tests/interop/node", "--no-audit", "--no-fund")
    return into


def quiet(cwd: Path, *command: str) -> None:
    """Run a set-up step; its output is shown only if it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{done.stdout}{done.stderr}")


def run_suite(tree: Path) -> tuple[float, str]:
    """(wall seconds, pytest's last line) of one run of the tree's test command."""
    start = time.perf_counter()
    done = subprocess.run(TEST_COMMAND, cwd=tree, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0:
        sys.exit(f"{tree.name}: the suite failed ({last or done.stderr.strip()[-200:]})")
    return wall, last


def passed(line: str) -> int:
    found = re.search(r"(\d+) passed", line)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=ISSUE_13_TREE, help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=2, help="pairs of runs; the worst pair is the figure")
    parser.add_argument("--json", help="also write the figures and conditions to this file")
    args = parser.parse_args()
    found = conditions()
    print_conditions("test suite", found)
    scratch = Path(tempfile.mkdtemp(prefix="ttrec-suite-"))
    try:
        base = install(args.base, scratch / "base")
        now = install("HEAD", scratch / "now")
        pairs = []
        for number in range(1, args.runs + 1):
            (base_s, base_line), (now_s, now_line) = run_suite(base), run_suite(now)
            pairs.append((base_s, now_s))
            print(f"  pair {number}: base {base_s:6.1f} s ({base_line})   now {now_s:6.1f} s ({now_line})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ratio = max(now_s / base_s for base_s, now_s in pairs)
    print(f"  tests: base {passed(base_line)}, now {passed(now_line)}")
    print(f"  wall time now / base, worst pair of {args.runs}: {ratio:.2f}x  (target <= 1.0x)")
    figures = {
        "base": args.base,
        "base_tests": passed(base_line),
        "now_tests": passed(now_line),
        "pairs_s": [[round(b, 1), round(n, 1)] for b, n in pairs],
        "now_vs_base": round(ratio, 3),
    }
    write_results(args.json, "suite", found, figures)


if __name__ == "__main__":
    main()
