"""The examples under examples/ run as CI runs them: their pytest suites (trio and asyncio
consumers) in a pytest of their own, and the Node consumer's shell script over
`ttrec serve --ready-file --report --exit-after`.

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


def test_the_python_examples_pass_their_own_tests() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "examples/trio_consumer",
            "examples/asyncio_consumer",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout


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
    assert f"node consumer ok: {frames} frames" in result.stdout
