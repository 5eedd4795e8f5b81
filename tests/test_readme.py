"""README.md's commands, run as written: a newcomer must be able to copy them.

The demo runs as the installed `ttrec` script in a shell, as a newcomer runs it (the script
on PATH, its entry point, a real process); the commands of "Simulating matches" and
"Reading captures" run through that same entry point (ttrec.cat:main) in this process, split
into words and globbed as a shell would (`words_of`, which refuses any other shell syntax),
so that ten process starts are not paid for what the one already proves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import invoke_on_mock_clock, run_console_script

from ttrec.bundled import SAMPLES
from ttrec.cli.watch import DEMO_SECONDS
from ttrec.simulator import simulate_match

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent  # where `pip install -e .` put the `ttrec` script


def block_after(heading: str) -> list[str]:
    """The commands of the first ```sh block under a README heading, comments dropped."""
    section = README.split(f"## {heading}\n", 1)[1]
    body = re.search(r"```sh\n(.*?)```", section, re.S)
    assert body is not None, f"no sh block under {heading!r}"
    lines = [line.split("  #")[0].strip() for line in body[1].splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def run(command: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TTREC_TOKEN", None)
    return subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_two_commands_install_demo_and_test() -> None:
    setup, tests = block_after("Two commands")
    assert setup.startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && ")
    assert tests == ".ci/run"
    # The test command README names is the one .ci/run runs, last.
    named = re.search(r"The test command itself is `([^`]+)`", README)
    assert named is not None
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == named[1]
    # The main job, exactly as written after the install (this environment is installed).
    demo = setup.split(" && ")[-1]
    assert demo == ".venv/bin/ttrec demo"
    # The demo plays the bundled singles sample: what the simulator played for its seed.
    spec = SAMPLES["sample-singles-bo5"]
    truth = simulate_match(spec.seed, best_of=spec.best_of, doubles=spec.doubles)
    winner, finished = f"FINISHED winner {truth.winner}", f"finished: {len(truth.frames)} frames"
    # The installed script, as a process, to the end of the match; told to take 1 s instead
    # of its DEMO_SECONDS, which the in-process run below spends on trio's MockClock.
    result = run(demo.replace(".venv/bin/", "") + " --seconds 1", ROOT, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(winner)
    assert finished in result.stderr
    # The exact words, defaults and all: the whole DEMO_SECONDS pass on the MockClock.
    exact, clock = invoke_on_mock_clock(demo.split()[1:], bound_s=3 * DEMO_SECONDS)
    assert exact.exit_code == 0, exact.stderr
    assert exact.stdout.splitlines()[-1].endswith(winner)
    assert finished in exact.stderr
    assert DEMO_SECONDS - 1 <= clock.current_time() <= DEMO_SECONDS + 1


# Shell syntax beyond words and `*`/`?`/`[` globs: a command with any of it is not run by
# `words_of` (it would need a shell), and the test says so.
_NEEDS_A_SHELL = re.compile(r"""[|&;<>()$`\\"'~{}]""")


def words_of(command: str, cwd: Path) -> list[str]:
    """The argument list a POSIX shell runs for a README command in `cwd`: its words, each
    glob replaced by the names it matches, sorted (or left as written if none match)."""
    assert not _NEEDS_A_SHELL.search(command), f"needs a shell to run: {command}"
    words: list[str] = []
    for word in command.split():
        matches = sorted(str(p.relative_to(cwd)) for p in cwd.glob(word)) if set(word) & set("*?[") else []
        words += matches or [word]
    return words


def test_words_of_splits_and_globs_as_a_shell_does(tmp_path: Path) -> None:
    for name in ["b.jsonl.zst", "a.jsonl.zst", "c.txt"]:
        (tmp_path / name).touch()
    expanded = run(f"printf '%s\\n' {' '.join(words_of('x  *.jsonl.zst  none*', tmp_path))}", tmp_path)
    shell = run("printf '%s\\n' x  *.jsonl.zst  none*", tmp_path)
    assert expanded.stdout == shell.stdout == "x\na.jsonl.zst\nb.jsonl.zst\nnone*\n"
    for command in ["ttrec cat x | head", "ttrec info $F", "ttrec cat 'a b'", "ttrec cat x > y"]:
        with pytest.raises(AssertionError, match="needs a shell"):
            words_of(command, tmp_path)


def test_simulate_and_read_commands_work_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "captures", tmp_path / "captures")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TTREC_TOKEN", raising=False)
    for command in [*block_after("Simulating matches"), *block_after("Reading captures")]:
        program, *args = words_of(command, tmp_path)
        assert program == "ttrec", command
        code, out, err = run_console_script(args)
        assert code == 0, (command, err)
        assert out or err, command  # every command says something
    assert (tmp_path / "match.jsonl.zst").is_file() and (tmp_path / "doubles.jsonl.zst").is_file()
