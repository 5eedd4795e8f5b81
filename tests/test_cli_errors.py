"""Every bad value is one line and exit 2; every output error one line and exit 1; a reader
that leaves early is no traceback (issue 12 §5). Real processes where the shell matters."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import zstandard
from cli_support import invoke_on_mock_clock
from click.testing import CliRunner
from frame_factory import FIXTURE, match_progression, stats_frame

from ttrec.capture import CaptureReader, CaptureWriter
from ttrec.cli import COMMANDS, cli
from ttrec.cli.params import Finite
from ttrec.derive import DeriveError, warp
from ttrec.records import Frame, Header, Heartbeat, Open, encode_header, encode_record

HEADER = Header(
    FIXTURE,
    f"ws://127.0.0.1:1/v2/tabletennis/fixtures/{FIXTURE}/statistics",
    "recorded",
    "2026-11-24T07:00:00Z",
)
START = datetime(2026, 11, 24, 7, tzinfo=UTC)
TIMEOUT_S = 60


def wall(t_ns: int) -> str:
    return (START + timedelta(microseconds=t_ns // 1000)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_match(path: Path, sets: list[tuple[int, int]] | None = None) -> Path:
    states = match_progression(sets or [(11, 4), (11, 8), (11, 9)])
    with CaptureWriter(path, HEADER) as writer:
        writer.write(Open(0, wall(0), 0, HEADER.url))
        for i, state in enumerate(states):
            t = (i + 1) * 10**9
            writer.write(Frame(t, wall(t), 0, stats_frame(i + 1, state, finished=i == len(states) - 1)))
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="ttrec")


def ttrec(*args: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "ttrec", *args], stderr=subprocess.PIPE, timeout=TIMEOUT_S, **kwargs
    )


def assert_one_usage_line(result, command: str, *words: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ttrec {command}: ") and lines[0].endswith(f"(try 'ttrec {command} --help')")
    for word in words:
        assert word in lines[0], (word, lines[0])


# --- numbers: nan, inf and values whose arithmetic overflows -----------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
@pytest.mark.parametrize(
    "command, option",
    [
        ("record", "--heartbeat-interval"),
        ("serve", "--heartbeat-interval"),
        ("serve", "--auth-timeout"),
        ("serve", "--send-timeout"),
        ("demo", "--seconds"),
        ("splice", "--gap"),
        ("warp", "--scale"),
        ("warp", "--cap"),
        ("simulate", "--point-prob"),
        ("simulate", "--strength-spread"),
        ("simulate", "--serve-advantage"),
        ("simulate", "--corrections"),
        ("fuzz", "--timeout"),
        ("fuzz", "--budget"),
    ],
)
def test_non_finite_numbers_are_one_usage_line(tmp_path, command, option, value):
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    # Arguments chosen so that, were the value let through, the command would fail fast
    # instead of running (a fixture id that is no UUID, a capture that does not exist).
    positional = {
        "record": ["not-a-uuid", "--token", "t"],
        "serve": [str(tmp_path / "missing.jsonl.zst")],
        "demo": [],
        "splice": [capture, capture, "-o", str(tmp_path / "o.jsonl.zst")],
        "warp": [capture, "-o", str(tmp_path / "o.jsonl.zst")],
        "simulate": ["-o", str(tmp_path / "o.jsonl.zst")],
        "fuzz": ["--consumer", "true", "--examples", "1", "--out", capture],  # --out: a file, refused
    }[command]
    if command == "demo" and value == "nan":  # nothing to make it fail fast: a process with a deadline
        proc = ttrec(command, f"{option}={value}")
        result = SimpleNamespace(exit_code=proc.returncode, stderr=proc.stderr.decode(), output="")
    elif command == "demo":  # the same, in this process: on the MockClock, with a bound
        result, _ = invoke_on_mock_clock([command, f"{option}={value}"], bound_s=600)
    else:
        result = invoke(command, f"{option}={value}", *positional)  # click checks in this order
    assert_one_usage_line(result, command, option)
    assert not (tmp_path / "o.jsonl.zst").exists()


@pytest.mark.parametrize(
    "args, option, words",
    [
        (["fuzz", "--consumer", "python consumer.py {nope}"], "--consumer", ["unknown placeholder {nope}"]),
        (["fuzz", "--consumer", "python consumer.py {url.x}"], "--consumer", ["unknown placeholder {url.x}"]),
        (["fuzz", "--consumer", "python consumer.py {url"], "--consumer", ["expected '}'", "{url}"]),
        (["fuzz", "--consumer", ""], "--consumer", ["empty command"]),
        (["fuzz", "--consumer", "python 'consumer.py"], "--consumer", ["No closing quotation"]),
        (["splice", "{c}", "{c}", "-o", "{o}", "--fixture-id", "not-a-uuid"], "--fixture-id", ["UUID"]),
        (["simulate", "-o", "{o}", "--fixture-id", "not-a-uuid"], "--fixture-id", ["UUID"]),
    ],
)
def test_an_option_value_that_cannot_be_used_is_a_usage_error(tmp_path, args, option, words):
    """Found while parsing (exit 2), before any work: no example runs, nothing is written."""
    capture, out = str(write_match(tmp_path / "m.jsonl.zst")), tmp_path / "o.jsonl.zst"
    args = [a.replace("{c}", capture).replace("{o}", str(out)) if a in ("{c}", "{o}") else a for a in args]
    result = invoke(*args, "--out", str(tmp_path / "repro")) if args[0] == "fuzz" else invoke(*args)
    assert_one_usage_line(result, args[0], option, *words)
    assert not out.exists() and not (tmp_path / "repro").exists()


def test_every_number_option_of_every_command_refuses_non_finite_values():
    """The list above names the options as they were when it was written; this finds any
    number option added since that takes click's own float types, which let nan through."""
    context = click.Context(cli)
    loose = []
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None, name
        for param in command.params:
            if param.type is click.FLOAT or (
                isinstance(param.type, click.FloatRange) and not isinstance(param.type, Finite)
            ):
                loose.append(f"{name} {param.opts[0]}")
    assert loose == []


@pytest.mark.parametrize(
    "args, option",
    [
        (["warp", "{c}", "-o", "{o}", "--scale", "1e300"], "--scale"),
        (["splice", "{c}", "{c}", "-o", "{o}", "--gap", "1e300"], "--gap"),
        (["warp", "{c}", "-o", "{o}", "--cap", "1e300"], "--cap"),
        (["simulate", "-o", "{o}", "--start", "9999-12-31T23:59:00Z"], "--start"),
        (["simulate", "-o", "{o}", "--start", "9999-12-31T20:00:00-05:00"], "--start"),
    ],
)
def test_values_that_overflow_are_refused_before_any_work(tmp_path, args, option):
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    out = tmp_path / "o.jsonl.zst"
    result = invoke(*(a.format(c=capture, o=out) for a in args))
    assert_one_usage_line(result, args[0], option)
    assert not out.exists()


def test_warp_of_a_capture_whose_times_overflow_is_a_derive_error():
    # A hand-made capture 10**300 ns long: no scale the CLI allows may turn it into an
    # OverflowError from deep inside the arithmetic.
    records = [Frame(0, wall(0), 0, "{}"), Frame(10**300, wall(0), 0, "{}")]
    with pytest.raises(DeriveError, match="year 9999"):
        warp(records, scale=2.0)


def test_warp_moves_wall_with_t(tmp_path):
    capture = write_match(tmp_path / "m.jsonl.zst")
    out = tmp_path / "fast.jsonl.zst"
    assert invoke("warp", str(capture), "-o", str(out), "--scale", "0.25").exit_code == 0
    with CaptureReader(capture) as before, CaptureReader(out) as after:
        pairs = list(zip(before, after, strict=True))
    first = datetime.fromisoformat(pairs[0][0].wall)
    for old, new in pairs:
        assert new.t == round(old.t * 0.25)  # every gap here is a whole second
        assert datetime.fromisoformat(new.wall) - first == timedelta(microseconds=new.t // 1000)


# --- usage errors: one line, exit 2, the same for every command --------------------------


@pytest.mark.parametrize(
    "args, command, words",
    [
        (["slice", "{c}", "-o", "{o}", "--seq", "abc"], "slice", ["--seq", "'abc'"]),
        (["slice", "{c}", "-o", "{o}", "--from", "deuce"], "slice", ["deuce"]),
        (["slice", "{c}", "-o", "{o}"], "slice", ["say where to cut"]),
        (["serve", "{c}", "--start-at", "deuce"], "serve", ["--start-at", "deuce"]),
        (["warp", "{c}", "-o", "{o}", "--scale", "0"], "warp", ["--scale"]),
        (["warp", "{c}", "-o", "{o}"], "warp", ["say how to warp"]),
        (["info"], "info", ["CAPTURES"]),
        (["cat", "{c}", "--no-such-option"], "cat", ["--no-such-option"]),
        (["simulate", "--best-of", "4"], "simulate", ["--best-of"]),
        (["watch", "not-a-url"], "watch", ["not-a-url", "nor"]),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args, command, words):
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    result = invoke(*(a.format(c=capture, o=tmp_path / "o.jsonl.zst") for a in args))
    assert_one_usage_line(result, command, *words)


def test_unknown_command_is_one_line_exit_2():
    result = invoke("nosuch")
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        "ttrec: No such command 'nosuch' (try 'ttrec --help')"
    ]


def test_a_moment_the_capture_lacks_is_bad_data_for_slice_exit_1(tmp_path):
    # Well-formed but not in this match: the same status (1) as any other bad-data error.
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    result = invoke("slice", capture, "-o", str(tmp_path / "o.jsonl.zst"), "--from", "set-end#9")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.output


def test_one_data_frame_is_singular(tmp_path):
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    result = invoke("slice", capture, "-o", str(tmp_path / "one.jsonl.zst"), "--seq", "3..3")
    assert result.exit_code == 0, result.output
    assert "1 data frame," in result.stdout and "frames" not in result.stdout


# --- the reader leaves: `| head` ----------------------------------------------------------


def read_then_leave(args: list[str], lines: int) -> tuple[int, list[bytes], str]:
    """Run ttrec with stdout into a pipe we close after `lines` lines, as `| head -N` does."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttrec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    got = [proc.stdout.readline() for _ in range(lines)]
    proc.stdout.close()
    try:
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=TIMEOUT_S)
    finally:
        proc.kill()
    return code, got, stderr


def test_demo_into_head_is_no_traceback():
    code, got, stderr = read_then_leave(["demo", "--plain", "--seconds", "2"], 2)
    assert all(line.startswith(b"seq ") for line in got)
    assert "Traceback" not in stderr and "ExceptionGroup" not in stderr, stderr
    assert code == 0


def test_check_into_head_still_exits_1_when_problems_were_found(tmp_path):
    path = tmp_path / "bad.jsonl.zst"
    lines = [encode_header(HEADER)]
    lines += [encode_record(Frame(i, wall(i), 0, "not json")) for i in range(5000)]
    path.write_bytes(zstandard.compress(b"".join(lines)))
    code, got, stderr = read_then_leave(["check", str(path)], 1)
    assert b"not a statistics frame" in got[0]
    assert "Traceback" not in stderr and code == 1, stderr


def test_verdict_into_a_reader_gone_still_exits_1_on_a_divergence(tmp_path):
    capture = write_match(tmp_path / "m.jsonl.zst")
    beliefs = tmp_path / "beliefs.jsonl"
    beliefs.write_text('{"seq": 7, "sets": [[9, 9]]}\n')  # no frame of the match says 9-9
    # The reader is gone before the verdict is printed: its first line meets the closed pipe.
    code, _, stderr = read_then_leave(["verdict", str(capture), str(beliefs)], 0)
    assert "Traceback" not in stderr and code == 1, stderr


def test_cat_into_head_exits_0(tmp_path):
    path = tmp_path / "long.jsonl.zst"
    with CaptureWriter(path, HEADER) as writer:
        for i in range(20000):
            writer.write(Heartbeat(i, wall(i), 0, '{"message":"hb"}'))
    code, got, stderr = read_then_leave(["cat", str(path)], 1)
    assert got[0].startswith(b'{"type":"header"') and code == 0 and stderr == ""


# --- output errors and a piped input ------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["cat", "info", "info-json", "simulate"])
def test_output_to_a_full_device_is_one_line_exit_1(tmp_path, command):
    capture = str(write_match(tmp_path / "m.jsonl.zst"))
    args = {
        "cat": ["cat", capture],
        "info": ["info", capture],
        "info-json": ["info", "--json", capture],
        "simulate": ["simulate", "--seed", "3", "-o", str(tmp_path / "s.jsonl.zst")],
    }[command]
    with open("/dev/full", "wb") as full:
        proc = ttrec(*args, stdout=full)
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert stderr.splitlines() == ["Error: cannot write the output: No space left on device"]
    if command == "simulate":  # what was written before the report failed is kept
        with CaptureReader(tmp_path / "s.jsonl.zst") as reader:
            assert sum(isinstance(r, Frame) for r in reader) > 0


def test_info_reads_a_capture_from_a_pipe(tmp_path):
    capture = write_match(tmp_path / "m.jsonl.zst")
    from_file = ttrec("info", "--json", str(capture))
    from_pipe = ttrec("info", "--json", "/dev/stdin", input=capture.read_bytes())
    assert from_pipe.returncode == 0, from_pipe.stderr
    expected = json.loads(from_file.stdout)
    got = json.loads(from_pipe.stdout)
    assert got.pop("path") == "/dev/stdin" and expected.pop("path") == str(capture)
    assert got == expected


def test_ttrec_alone_still_shows_the_help():
    result = invoke()
    assert "Usage: ttrec [OPTIONS] COMMAND" in result.output and "Commands:" in result.output
    assert "(try 'ttrec --help')" not in result.output
