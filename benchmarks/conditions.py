"""The conditions a benchmark ran in, printed with its figures and kept in its results.

Figures from a shared 2-core machine move with the load on it: every benchmark prints
the load average at its start beside ratios against a baseline measured in the same run,
and repeats each measure, reporting the worst repetition.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio
import trio_websocket
import zstandard


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _zstd_cli() -> str | None:
    if shutil.which("zstd") is None:
        return None
    out = subprocess.run(["zstd", "--version"], capture_output=True, text=True, check=False).stdout
    words = [w for w in out.split() if w.startswith("v") and w[1:2].isdigit()]
    return words[0].rstrip(",") if words else out.strip()


def conditions() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "load_1m_at_start": round(load[0], 2),
        "load_5m_at_start": round(load[1], 2),
        "python": sys.version.split()[0],
        "zstandard": zstandard.__version__,
        "libzstd": ".".join(map(str, zstandard.ZSTD_VERSION)),
        "zstd_cli": _zstd_cli(),
        "trio": trio.__version__,
        "trio_websocket": trio_websocket.__version__,
    }


def print_conditions(name: str, found: dict[str, Any]) -> None:
    print(
        f"{name}: {found['cores']} cores ({found['cpu']}), load average {found['load_1m_at_start']:.2f} "
        f"(1 min) {found['load_5m_at_start']:.2f} (5 min) at start; Python {found['python']}, "
        f"zstandard {found['zstandard']} (libzstd {found['libzstd']}), zstd CLI {found['zstd_cli']}, "
        f"trio {found['trio']}, trio-websocket {found['trio_websocket']}"
    )


def write_results(path: str | None, name: str, found: dict[str, Any], figures: dict[str, Any]) -> None:
    """With --json PATH: the benchmark's figures and conditions, for benchmarks/run_all.py."""
    if path:
        Path(path).write_text(
            json.dumps({"benchmark": name, "conditions": found, "figures": figures}, indent=1)
        )


def worst(values: list[float], *, higher_is_better: bool = True) -> float:
    return min(values) if higher_is_better else max(values)
