"""The examples under examples/ run as CI runs them: their pytest suites (trio and asyncio
consumers) in a pytest of their own, and the Node consumer's shell script over
`ttrec serve --ready-file --report --fault drop:at=match-point --exit-when played`. Each
folder has a reconnect-after-fault example that resumes by frames received.

The Node example needs node and the `ws` package (`npm ci --prefix tests/interop/node`,
done by .ci/run; run.sh finds it through NODE_PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

from ttrec.bundled import SAMPLES
from ttrec.simulator import simulate_match

ROOT: Final = Path(__file__).resolve().parent.parent
EXAMPLES: Final = ROOT / "examples"
TIMEOUT_S: Final = 120


def _pytest_in(folder: str) -> subprocess.CompletedProcess[str]:
    """The example folder's own test suite, as its project would run it. In one process
    (`-n 0`): under this repository's addopts its few tests would start a worker per core
    first, three times the work."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", f"examples/{folder}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_the_trio_example_passes_its_own_tests() -> None:
    """pytest-trio with the ttrec_server fixture (this repository's trio_mode settings)."""
    result = _pytest_in("trio_consumer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
    assert (
        "test_reconnect_after_a_fault_resumes_by_frames_received"
        in (EXAMPLES / "trio_consumer" / "test_trio_scoreboard.py").read_text()
    )


def test_the_asyncio_example_passes_its_own_tests() -> None:
    """A project of its own (its pytest.ini): pytest-asyncio, strict warnings, ttrec's
    asyncio API only (serve_asyncio, ttrec_asyncio_server), no thread of the test's own."""
    result = _pytest_in("asyncio_consumer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    source = (EXAMPLES / "asyncio_consumer" / "test_asyncio_scoreboard.py").read_text()
    assert "test_reconnect_after_a_fault_resumes_by_frames_received" in source
    assert "threading" not in source and "serve_in_thread" not in source


def test_the_node_example_script() -> None:
    assert shutil.which("node") is not None, "node is needed for the Node example"
    assert (ROOT / "tests" / "interop" / "node" / "node_modules" / "ws").is_dir(), (
        "run: npm ci --prefix tests/interop/node"
    )
    env = {**os.environ, "TTREC": f"{sys.executable} -m ttrec"}
    env.pop("NODE_PATH", None)
    result = subprocess.run(
        ["bash", str(EXAMPLES / "node_consumer" / "run.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # run.sh serves the bundled singles sample: the simulator's match for its seed.
    spec = SAMPLES["sample-singles-bo5"]
    frames = len(simulate_match(spec.seed, best_of=spec.best_of, doubles=spec.doubles).frames)
    assert f"node consumer ok: {frames} frames over 2 connections" in result.stdout
