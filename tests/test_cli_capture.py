"""`ttrec info`, `check` and `cat` driven through click's CliRunner and as a real process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner
from frame_factory import FIXTURE, match_progression, stats_frame

from ttrec import __version__
from ttrec.capture import CaptureWriter
from ttrec.cli import COMMAND_MODULES, cli
from ttrec.records import Binary, Close, Error, Frame, Header, Heartbeat, Open, encode_header, encode_record

SETS = [(11, 4), (8, 11), (13, 11)]
HEADER = Header(
    FIXTURE,
    f"ws://127.0.0.1:1/v2/tabletennis/fixtures/{FIXTURE}/statistics",
    "recorded",
    "2026-11-24T07:00:00Z",
)


def write_match(path: Path, *, close: bool = True) -> list[str]:
    states = match_progression(SETS)
    datas = [stats_frame(i + 1, s, finished=i == len(states) - 1) for i, s in enumerate(states)]
    writer = CaptureWriter(path, HEADER)
    writer.write(Open(0, "2026-11-24T07:00:00Z", 0, HEADER.url, 0))
    for i, data in enumerate(datas):
        writer.write(Frame((i + 1) * 10**9, "w", 0, data))
        if i % 10 == 0:
            writer.write(Heartbeat((i + 1) * 10**9 + 5, "w", 0, '{"message":"hb","level":"INFO"}'))
    if close:
        writer.close()
    return datas


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_info_json_has_the_contract_keys(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path)
    result = run("info", "--json", str(path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    required = "fixture_id feed source frames heartbeats connections duration_s first_seq last_seq"
    required += " seq_gaps finished teams sets winner torn_tail"
    assert set(required.split()) <= data.keys()
    assert data["frames"] == len(datas) and data["heartbeats"] == 6
    assert (data["first_seq"], data["last_seq"], data["seq_gaps"]) == (1, len(datas), [])
    assert data["sets"] == [list(s) for s in SETS] and data["winner"] == "home"
    assert data["torn_tail"] is False and data["duration_s"] == float(len(datas))


def test_info_for_people(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    result = run("info", str(path))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[2] == "  result      Home 2-1 Away  (winner home)"
    # The per-set table: one frame a second, so each set's first point and the point that
    # decided it give its place on the timeline.
    assert lines[3:7] == [
        "  set  home away  from     to       length",
        "    1    11    4  0m01s    0m15s    0m14s",
        "    2     8   11  0m16s    0m34s    0m18s",
        "    3    13   11  0m35s    0m58s    0m23s",
    ]
    assert "  frames      58  (every 1.0 s on average, longest gap 1.0 s)" in lines
    assert "  heartbeats  6  (every 10.0 s on average, longest gap 10.0 s)" in lines
    assert "  sequence    seqNum 1..58, no gaps" in lines
    assert lines[-1] == "  tail        complete"


def test_info_reads_a_torn_capture_and_says_so(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])
    data = json.loads(run("info", "--json", str(path)).output)
    assert data["torn_tail"] is True
    assert 0 < data["frames"] < 70 and data["winner"] is None


def test_check_passes_a_valid_capture_and_names_lines_of_a_bad_one(tmp_path):
    good = tmp_path / "good.jsonl.zst"
    write_match(good)
    assert run("check", str(good)).exit_code == 0
    bad = tmp_path / "bad.jsonl.zst"
    with CaptureWriter(bad, HEADER) as writer:
        writer.write(Frame(0, "w", 0, stats_frame(1, [(11, 10)], finished=True)))
        writer.write(Frame(1, "w", 0, stats_frame(1, [(11, 10)])))
    result = CliRunner().invoke(cli, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:2: set 1: 11-10 is not a legal completed score",
        f"{bad}:3: data frame after the finished frame on line 2",
        f"{bad}:3: seqNum 1 does not increase (previous 1)",
    ]


def test_cat_prints_json_lines_and_frames_prints_exact_payloads(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path)
    lines = run("cat", str(path)).output.splitlines()
    assert json.loads(lines[0])["format"] == "ttrec/1"
    assert len(lines) == 1 + 1 + len(datas) + 6
    assert run("cat", "--frames", str(path)).output.splitlines() == datas


def test_cat_tolerates_a_torn_tail(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path, close=False)
    raw = path.read_bytes()
    path.write_bytes(raw[:-7])
    result = CliRunner().invoke(cli, ["cat", "--frames", str(path)])
    assert result.exit_code == 0
    printed = result.stdout.splitlines()
    assert printed == datas[: len(printed)] and len(printed) >= len(datas) - 1
    assert "torn tail" in result.stderr


def write_pretty_printed(path: Path) -> list[str]:
    """Three frames, the second pretty-printed as the provider's documentation shows them."""
    states = match_progression(SETS)[:3]
    datas = [stats_frame(i + 1, s) for i, s in enumerate(states)]
    datas[1] = json.dumps(json.loads(datas[1]), indent=2)
    assert datas[1].count("\n") > 10  # the payload itself spans lines
    with CaptureWriter(path, HEADER) as writer:
        for i, data in enumerate(datas):
            writer.write(Frame((i + 1) * 10**9, "w", 0, data))
    return datas


@pytest.mark.parametrize("fast", [False, True], ids=["click", "console-entry"])
def test_cat_frames_prints_payloads_that_hold_newlines_exactly_and_says_so(tmp_path, fast):
    path = tmp_path / "pretty.jsonl.zst"
    datas = write_pretty_printed(path)
    if fast:  # `ttrec cat --frames FILE` is answered without click (ttrec.cat.main)
        done = subprocess.run(
            [sys.executable, "-m", "ttrec", "cat", "--frames", str(path)], capture_output=True
        )
        code, out, err = done.returncode, done.stdout, done.stderr.decode()
    else:
        result = CliRunner().invoke(cli, ["cat", "--frames", str(path)])
        code, out, err = result.exit_code, result.stdout_bytes, result.stderr
    assert code == 0
    assert out == "".join(d + "\n" for d in datas).encode()
    [note] = err.splitlines()
    assert "1 payload holds newlines" in note and "--null" in note


def test_cat_frames_null_ends_each_payload_with_nul(tmp_path):
    path = tmp_path / "pretty.jsonl.zst"
    datas = write_pretty_printed(path)
    result = CliRunner().invoke(cli, ["cat", "--frames", "--null", str(path)])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout_bytes.split(b"\0") == [d.encode() for d in datas] + [b""]
    refused = CliRunner().invoke(cli, ["cat", "-z", str(path)])
    assert refused.exit_code == 2 and "--null separates payloads: it needs --frames" in refused.stderr
    assert refused.stdout_bytes == b""


def test_cat_frames_of_one_line_payloads_says_nothing(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path)
    result = CliRunner().invoke(cli, ["cat", "--frames", str(path)])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == datas


@pytest.mark.parametrize("command", ["info", "check", "cat"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage", "not a zstd file"),
        (zstandard.compress(b'{"type":"header","format":"ttrec/0"}\n'), "unknown capture format"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(tmp_path, command, content, message):
    path = tmp_path / "x.jsonl.zst"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, [command, str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_missing_file_and_usage_errors(tmp_path):
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "nope.jsonl.zst")])
    assert result.exit_code == 1 and "No such file" in result.stderr
    assert CliRunner().invoke(cli, ["info"]).exit_code == 2
    assert CliRunner().invoke(cli, ["cat", "--bogus", "x"]).exit_code == 2


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_every_command_has_help_with_an_example_and_a_version(command):
    helped = run(command, "--help")
    assert helped.exit_code == 0 and re.search(r"Examples?:", helped.output)
    assert run(command, "--version").output.strip() == f"ttrec, version {__version__}"


def test_python_dash_m_and_a_broken_pipe(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    write_match(path)
    version = subprocess.run([sys.executable, "-m", "ttrec", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and __version__ in version.stdout
    piped = subprocess.run(
        f"{sys.executable} -m ttrec cat {path} | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert piped.stdout == '{"type":"h' and "Traceback" not in piped.stderr


def test_the_group_lists_every_command_and_loads_only_what_runs():
    listed = run("--help").output
    assert all(f"  {name}" in listed for name in COMMAND_MODULES)
    # `ttrec cat` must not pay for the websocket stack (it is benchmarked against zstd -dc).
    probe = "import sys; from ttrec.cli import main; sys.argv=['ttrec','--version']; " + (
        "import contextlib\nwith contextlib.suppress(SystemExit): main()\nprint('trio' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().endswith("False")


def test_check_reads_on_past_a_bad_line_and_never_says_ok(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    datas = write_match(path)
    lines = zstandard.ZstdDecompressor().stream_reader(path.read_bytes(), read_across_frames=True).read()
    text = lines.decode().splitlines()
    # Line 5 (a data frame) is cut short; line 9 says "finished": null: both are reported.
    text[4] = text[4][:-7]
    bad = json.loads(text[8])
    bad["data"] = json.dumps({**json.loads(bad["data"]), "finished": None})
    text[8] = json.dumps(bad)
    path.write_bytes(zstandard.compress(("\n".join(text) + "\n").encode()))
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    problem_lines = result.stdout.splitlines()
    assert problem_lines[0].startswith(f"{path}:5: line is not JSON")
    assert problem_lines[1] == f"{path}:9: 'finished' must be true or false, got null"
    assert len(problem_lines) == 2, result.stdout
    assert "ok" not in result.stderr and len(datas) > 9


def _info(path) -> str:
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_info_shows_how_many_closes_it_leaves_out_and_errors_and_binary(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    with CaptureWriter(path, HEADER) as writer:
        for conn in range(7):
            writer.write(Open(conn * 10, "w", conn, HEADER.url))
            writer.write(Frame(conn * 10 + 1, "w", conn, stats_frame(conn + 1, [(conn, 0)])))
            writer.write(Close(conn * 10 + 2, "w", conn, 1011, "", "server"))
        writer.write(Error(80, "w", 7, status=503, body="busy"))
        writer.write(Binary(81, "w", 7, b"\x00"))
        writer.write(Binary(82, "w", 7, b"\x01"))
    text = _info(path)
    assert "(closes: " + ", ".join(["1011 by server"] * 5) + ", … 2 more)" in text
    assert "  binary      2 binary message(s)" in text.splitlines()
    assert "  errors      1 failed connection attempt(s)" in text.splitlines()


def test_info_counts_the_connections_opened_not_the_refused_attempts(tmp_path):
    # What a recorder writes against `reject:next=2` then a drop: attempts 0 and 3 opened,
    # 1 and 2 were refused at the handshake (an Error each, nothing else).
    path = tmp_path / "m.jsonl.zst"
    with CaptureWriter(path, HEADER) as writer:
        writer.write(Open(0, "w", 0, HEADER.url))
        writer.write(Frame(1, "w", 0, stats_frame(1, [(1, 0)])))
        writer.write(Error(2, "w", 1, status=503, body="busy"))
        writer.write(Error(3, "w", 2, status=503, body="busy"))
        writer.write(Open(4, "w", 3, HEADER.url, 1))
        writer.write(Frame(5, "w", 3, stats_frame(2, [(2, 0)])))
    result = CliRunner().invoke(cli, ["info", "--json", str(path)])
    assert result.exit_code == 0 and json.loads(result.stdout)["connections"] == 2


def test_info_says_time_goes_backwards_instead_of_a_negative_cadence(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    # The writer refuses such a capture; a hand-edited or foreign one has it.
    frames = [Frame(t * 10**9, "w", 0, stats_frame(i + 1, [(i, 0)])) for i, t in enumerate([10, 7, 4, 1])]
    path.write_bytes(zstandard.compress(encode_header(HEADER) + b"".join(map(encode_record, frames))))
    frames_line = next(line for line in _info(path).splitlines() if line.startswith("  frames"))
    assert "-" not in frames_line and "time goes backwards 3 time(s)" in frames_line


def test_info_of_a_header_only_capture_names_the_teams_its_header_names(tmp_path):
    teams = [
        {"id": "h", "name": "HOME Ann", "homeTeam": True},
        {"id": "a", "name": "AWAY Bo", "homeTeam": False},
    ]
    header = Header(FIXTURE, HEADER.url, "simulated", HEADER.created, extra={"teams": teams})
    path = tmp_path / "m.jsonl.zst"
    CaptureWriter(path, header).close()
    result_line = next(line for line in _info(path).splitlines() if "result" in line)
    assert result_line.split(None, 1)[1] == "HOME Ann 0-0 AWAY Bo  (no data frame yet)"


@pytest.mark.parametrize("gaps", [3, 10, 13])
def test_info_names_the_first_gaps_and_says_how_many_more(tmp_path, gaps):
    """Every other frame of the first 2 * gaps dropped: `gaps` one-frame gaps."""
    path = tmp_path / "m.jsonl.zst"
    states = match_progression(SETS)
    datas = [stats_frame(i + 1, s, finished=i == len(states) - 1) for i, s in enumerate(states)]
    kept = [d for i, d in enumerate(datas) if not (i % 2 == 1 and i < 2 * gaps)]
    with CaptureWriter(path, HEADER) as writer:
        for i, data in enumerate(kept):
            writer.write(Frame((i + 1) * 10**9, "w", 0, data))
    line = next(x for x in run("info", str(path)).output.splitlines() if x.strip().startswith("sequence"))
    named = [f"{2 * k + 2}-{2 * k + 2}" for k in range(gaps)]
    assert f"{gaps} gap(s): {', '.join(named[:10])}" in line
    assert line.endswith(f", ... ({gaps - 10} more: --json lists them all)") == (gaps > 10), line
