"""`ttrec fuzz --out`: checked before the search, and only a repro folder ttrec wrote is
replaced, file by file as ttrec wrote it (ttrec.outputs.check_own_folder, docs/outputs.md).

Over click's CliRunner with real consumer processes (`false`, `sh -c ...`: an example is
about a second) on real files. A consumer that leaves a trace (`touch`) shows whether the
search ran at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ttrec.cli import cli
from ttrec.errors import OutputRefused
from ttrec.outputs import REPRO_MANIFEST, check_own_folder, write_own_folder
from ttrec.simulator import simulate_match, write_capture

REPRO_NAMES = {
    "match.jsonl.zst",
    "scenario.json",
    "faults.txt",
    "serve.sh",
    "consumer.txt",
    "verdict.txt",
    "consumer-stdout.jsonl",
    "consumer-stderr.txt",
}  # docs/fuzz.md's list of what the folder holds, with the manifest besides


def _fuzz(consumer: str, out: Path) -> Result:
    args = ["fuzz", "--consumer", consumer, "--examples", "1", "--max-faults", "0", "--out", str(out)]
    return CliRunner().invoke(cli, args)


def _failing_consumer_leaving(trace: Path, status: int = 1) -> str:
    """A consumer that exits `status` (a failure, as it prints no belief) and leaves `trace`."""
    return f"sh -c {shlex.quote(f'touch {shlex.quote(str(trace))}; exit {status}')}"


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _assert_refused_before_the_search(result: Result, out: Path, trace: Path) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cli fuzz: {out}: ")  # CliRunner names the program `cli`
    assert not trace.exists()  # the consumer never ran: no example was tried


@pytest.mark.parametrize("name", ["verdict.txt", "match.jsonl.zst", "notes.md", ".hidden"])
def test_a_folder_with_a_file_of_the_users_is_refused_before_any_work(tmp_path: Path, name: str) -> None:
    out = tmp_path / "myrepro"
    out.mkdir()
    if name == "match.jsonl.zst":  # the user's own capture, under the repro's capture name
        write_capture(simulate_match(seed=3, best_of=3), out / name)
    else:
        (out / name).write_text("mine\n")
    before = _contents(out)
    trace = tmp_path / "consumer-ran"
    result = _fuzz(_failing_consumer_leaving(trace), out)
    _assert_refused_before_the_search(result, out, trace)
    assert repr(name) in result.stderr
    assert _contents(out) == before


def test_a_file_given_as_out_is_refused_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "repro"
    out.write_text("mine\n")
    trace = tmp_path / "consumer-ran"
    result = _fuzz(_failing_consumer_leaving(trace), out)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert not trace.exists() and out.read_text() == "mine\n"


def test_a_new_or_empty_folder_gets_the_repro_and_a_later_run_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    first = _fuzz(_failing_consumer_leaving(tmp_path / "ran-1", status=3), out)
    assert first.exit_code == 1 and (tmp_path / "ran-1").exists(), first.output
    assert set(_contents(out)) == REPRO_NAMES | {REPRO_MANIFEST}
    assert "status 3" in (out / "verdict.txt").read_text()
    manifest = json.loads((out / REPRO_MANIFEST).read_text())
    assert next(iter(manifest)) == "written_by" and set(manifest["files"]) == REPRO_NAMES

    second = _fuzz(_failing_consumer_leaving(tmp_path / "ran-2", status=4), out)
    assert second.exit_code == 1, second.output
    assert "status 4" in (out / "verdict.txt").read_text()
    assert set(_contents(out)) == REPRO_NAMES | {REPRO_MANIFEST}

    nested = tmp_path / "new" / "repro"  # a folder that does not exist yet, parents and all
    assert _fuzz("false", nested).exit_code == 1
    assert set(_contents(nested)) == REPRO_NAMES | {REPRO_MANIFEST}


def test_a_repro_file_the_user_changed_or_added_to_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "repro"
    assert _fuzz("false", out).exit_code == 1
    with (out / "verdict.txt").open("a") as verdict:
        verdict.write("my notes on it\n")
    before = _contents(out)
    trace = tmp_path / "consumer-ran"
    result = _fuzz(_failing_consumer_leaving(trace), out)
    _assert_refused_before_the_search(result, out, trace)
    assert "'verdict.txt'" in result.stderr
    assert _contents(out) == before

    (out / "verdict.txt").unlink()  # the changed file gone: the rest is ttrec's again ...
    (out / "notes.md").write_text("mine\n")  # ... but not a file it never wrote
    result = _fuzz(_failing_consumer_leaving(trace), out)
    _assert_refused_before_the_search(result, out, trace)
    assert "'notes.md'" in result.stderr and (out / "notes.md").read_text() == "mine\n"


def test_a_file_that_appears_during_the_search_still_refuses_the_folder(tmp_path: Path) -> None:
    """The consumer itself writes into the (empty, so accepted) folder: at the end the folder
    is refused, the user's file kept, and the failure found is still shown."""
    out = tmp_path / "repro"
    out.mkdir()
    result = _fuzz(_failing_consumer_leaving(out / "notes.md"), out)
    assert result.exit_code == 2
    assert result.stdout.startswith("FAILED after 1 examples")
    assert "'notes.md'" in result.stderr and len(result.stderr.splitlines()) == 2  # progress, refusal
    assert sorted(p.name for p in out.iterdir()) == ["notes.md"]


def test_a_folder_left_half_written_is_still_recognised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between two files of a rewrite: every file is the old or the new content,
    both of which the manifest lists, so the next run replaces the folder."""
    out = tmp_path / "repro"
    write_own_folder(out, {"a.txt": b"old a", "b.txt": b"old b", "gone.txt": b"not written again"})
    import ttrec.outputs as outputs

    replace = outputs._replace_file
    files_written: list[Path] = []

    def dies_after_one(path: Path, data: bytes, purpose: outputs.Purpose) -> None:
        if path.name != REPRO_MANIFEST:
            if files_written:
                raise KeyboardInterrupt
            files_written.append(path)
        replace(path, data, purpose)

    monkeypatch.setattr(outputs, "_replace_file", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        write_own_folder(out, {"a.txt": b"new a", "b.txt": b"new b"})
    monkeypatch.undo()
    assert (out / "a.txt").read_bytes() == b"new a" and (out / "b.txt").read_bytes() == b"old b"
    check_own_folder(out)  # not refused
    write_own_folder(out, {"a.txt": b"newer a", "b.txt": b"newer b"})
    assert _contents(out).keys() == {"a.txt", "b.txt", REPRO_MANIFEST}
    assert (out / "b.txt").read_bytes() == b"newer b"


def test_a_manifest_of_another_purpose_or_not_ttrecs_is_no_licence(tmp_path: Path) -> None:
    out = tmp_path / "repro"
    out.mkdir()
    (out / "verdict.txt").write_text("mine\n")
    digest = "0" * 64
    forged = {"files": {"verdict.txt": [digest]}}  # no marker: a JSON file of the user's
    (out / REPRO_MANIFEST).write_text(json.dumps(forged))
    with pytest.raises(OutputRefused, match=r"no ttrec-repro\.json"):
        check_own_folder(out)
    (out / REPRO_MANIFEST).write_text(json.dumps({"written_by": "ttrec fuzz --out", **forged}))
    with pytest.raises(OutputRefused, match=r"'verdict\.txt' is not what ttrec wrote"):
        check_own_folder(out)
    assert (out / "verdict.txt").read_text() == "mine\n"


def test_a_reader_that_leaves_after_the_first_line_changes_neither_the_status_nor_the_repro(
    tmp_path: Path,
) -> None:
    """`ttrec fuzz ... | head -1` in CI: the failure found still exits 1 and is written."""
    out, trace = tmp_path / "repro", tmp_path / "ran"
    consumer = _failing_consumer_leaving(trace)
    args = ["fuzz", "--consumer", consumer, "--examples", "1", "--max-faults", "0", "--out", str(out)]
    with subprocess.Popen(
        [sys.executable, "-m", "ttrec", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as fuzz:
        assert fuzz.stdout is not None
        first = fuzz.stdout.readline()
        fuzz.stdout.close()  # as `head -1` does
        status = fuzz.wait(timeout=120)
    assert first.startswith(b"FAILED after 1 examples")
    assert status == 1
    assert trace.exists() and {p.name for p in out.iterdir()} >= REPRO_NAMES


def _processes_running(marker: str) -> list[int]:
    """The pids whose command line holds `marker` (from /proc: Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_a_consumer_out_of_time_is_ended_with_the_processes_it_started(tmp_path: Path) -> None:
    marker = f"{300 + os.getpid() % 1000}.{time.time_ns() % 10**6}"  # a sleep no one else runs
    consumer = f"sh -c {shlex.quote(f'sleep {marker} & sleep {marker}')}"
    args = ["fuzz", "--consumer", consumer, "--examples", "1", "--max-faults", "0"]
    try:
        result = CliRunner().invoke(cli, [*args, "--timeout", "1", "--out", str(tmp_path / "repro")])
        assert result.exit_code == 1, result.output
        assert "did not finish within 1 s" in result.stdout
        deadline = time.monotonic() + 10  # SIGKILL is delivered at once; the kernel reaps soon after
        while (left := _processes_running(marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == []
    finally:
        for pid in _processes_running(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_ends_the_consumer_s_processes_then_ttrec(tmp_path: Path, stop: signal.Signals) -> None:
    """A CI job cancelled while a consumer runs: the consumer and what it started end, the
    scratch directory goes, and ttrec ends as the signal asks (Ctrl-C: click's one line
    "Aborted!" and exit 1, no traceback)."""
    marker = f"{400 + os.getpid() % 1000}.{time.time_ns() % 10**6}"
    consumer = f"sh -c {shlex.quote(f'sleep {marker} & sleep {marker}')}"
    args = ["fuzz", "--consumer", consumer, "--examples", "1", "--max-faults", "0", "--timeout", "600"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    fuzz = subprocess.Popen(
        [sys.executable, "-m", "ttrec", *args, "--out", str(tmp_path / "repro")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_processes_running(marker)) < 2:  # the consumer is under way
            assert fuzz.poll() is None and time.monotonic() < deadline, "the consumer never started"
            time.sleep(0.05)
        fuzz.send_signal(stop)
        _, stderr = fuzz.communicate(timeout=30)
        if stop == signal.SIGINT:
            assert (fuzz.returncode, stderr.decode().strip()) == (1, "Aborted!")
        else:
            assert (fuzz.returncode, stderr) == (-stop, b"")
        deadline = time.monotonic() + 10
        while (left := _processes_running(marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == []
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("ttrec-fuzz-")] == []
    finally:
        fuzz.kill()
        fuzz.wait(timeout=30)
        for pid in _processes_running(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
