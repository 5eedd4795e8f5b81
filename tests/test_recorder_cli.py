"""`ttrec record` through click's CliRunner: usage errors, exit statuses, token sources,
and the token appearing nowhere. The replayer runs in a thread on the real clock.

Rules: loopback only, port 0, and a time bound on every network test (the replayer thread
is joined with a timeout; the recorder exits at the finished frame or on refusal).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from recorder_support import (
    FIXTURE,
    FIXTURE_2,
    TOKEN,
    all_text,
    decompressed,
    frames_of,
    read,
    write_match,
)

from ttrec.cli import cli
from ttrec.testing import serve_in_thread
from ttrec.testing.harness import ThreadServer


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["record", *args], env=env or {})


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if result.exit_code == 2:  # a usage error, in the one-line form every command uses
        assert re.fullmatch(r"cli record: .+ \(try 'cli record --help'\)", lines[0]), lines[0]
    else:
        assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["not-a-uuid", "--token", TOKEN], "not a fixture id"),
        ([], "no fixture id"),
        ([FIXTURE], "no token"),
        ([FIXTURE, "--token", "   "], "token is empty"),
        ([FIXTURE, "--token", TOKEN, "--base-url", "http://example.com"], "--base-url"),
        ([FIXTURE, FIXTURE_2, "--token", TOKEN, "--out", "x.jsonl.zst"], "names one file but 2 fixtures"),
    ],
)
def test_usage_errors_are_one_line_with_exit_status_2(args: list[str], problem: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["record", *args], env={"TTREC_TOKEN": ""})
    assert result.exit_code == 2, result.output
    assert problem in one_line_error(result)
    assert TOKEN not in result.output


def test_token_and_token_file_together_is_a_usage_error(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    result = run(FIXTURE, "--token", TOKEN, "--token-file", str(token_file))
    assert result.exit_code == 2 and "not both" in one_line_error(result)
    missing = run(FIXTURE, "--token-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "--token-file" in one_line_error(missing)


def test_click_usage_errors_exit_2() -> None:
    assert run(FIXTURE, "--until", "sometime").exit_code == 2
    assert run(FIXTURE, "--feed", "scores").exit_code == 2


def test_help_and_version() -> None:
    result = run("--help")
    assert result.exit_code == 0 and "Example:" in result.output and "--until" in result.output
    assert run("--version").exit_code == 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ThreadServer]:
    """The harness's server in a thread: its reports are read thread-safely, and
    `wait_connections` waits (bounded) for the server to have seen a connection end, which
    it may do a moment after the recorder has exited. A heartbeat after 0.1 s of quiet ends
    the recorder's linger after a finished frame at once (else FINISHED_LINGER_S, 2 s)."""
    a = write_match(tmp_path / "a.jsonl.zst", 15, FIXTURE)
    b = write_match(tmp_path / "b.jsonl.zst", 9, FIXTURE_2)
    with serve_in_thread([a, b], speed=None, tokens=[TOKEN], heartbeat_interval_s=0.1) as server:
        yield server


def test_records_every_fixture_and_exits_0(served: ThreadServer, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# today\n{FIXTURE_2}\n\n{FIXTURE.upper()}  # shouted\n")
    out = tmp_path / "out"
    result = run(
        "--base-url", served.url, "--fixtures-file", str(ids), "--out", str(out), env={"TTREC_TOKEN": TOKEN}
    )
    assert result.exit_code == 0, result.output
    summary = result.stdout.splitlines()
    assert len(summary) == 2
    assert summary[0].startswith(f"{FIXTURE_2} finished: 9 frames")
    assert summary[1].startswith(f"{FIXTURE} finished: 15 frames")
    files = sorted(out.iterdir())
    assert [p.name[:36] for p in files] == [FIXTURE, FIXTURE_2]  # names sort by fixture
    for path in files:
        _, records = read(path)
        assert frames_of(records)
    # the token is in no file, no log line, no summary
    assert TOKEN.encode() not in all_text(out)
    assert TOKEN not in result.output
    assert "connected" in result.stderr  # not a terminal: plain log lines


def test_out_names_a_file_and_never_overwrites_it(served: ThreadServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    target = tmp_path / "match.jsonl.zst"
    args = [FIXTURE, "--base-url", served.url, "--token-file", str(token_file), "--out", str(target)]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert len(frames_of(read(target)[1])) == 15
    before = target.read_bytes()
    second = run(*args)
    assert second.exit_code == 2  # the path given is refused: a usage error (docs/outputs.md)
    assert "already exists" in one_line_error(second)
    assert target.read_bytes() == before
    assert TOKEN.encode() not in decompressed(target)


def test_wrong_token_exits_1_with_one_clear_line_and_no_retry(served: ThreadServer, tmp_path: Path) -> None:
    wrong = "wrong-token-0123456789"
    out = tmp_path / "out"
    result = run(FIXTURE, "--base-url", served.url, "--token", wrong, "--out", str(out))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    gave_up = [line for line in result.stderr.splitlines() if "will not retry" in line]
    assert len(gave_up) == 1 and "401" in gave_up[0] and FIXTURE in gave_up[0]
    served.wait_connections(1)
    assert len(served.connections) == 1 and served.connections[0].ended == "auth-invalid"
    assert wrong.encode() not in all_text(out)
    assert wrong not in result.output


def test_unknown_fixture_exits_1_without_retry(served: ThreadServer, tmp_path: Path) -> None:
    unknown = "3bd00469-86fa-4f0b-abcc-30cbef80dacc"
    result = run(unknown, FIXTURE, "--base-url", served.url, "--token", TOKEN, "--out", str(tmp_path / "o"))
    assert result.exit_code == 1  # one fixture failed, the other finished
    assert f"{unknown} failed" in result.stdout and f"{FIXTURE} finished" in result.stdout
    assert "HTTP 404" in result.stdout
    # Connections made, and the attempts beside them when some never opened.
    refused, recorded = sorted(result.stdout.splitlines(), key=lambda line: not line.startswith(unknown))
    assert " 0 frames, 0 heartbeats, 0 connections (1 attempt) -> " in refused, refused
    assert " heartbeats, 1 connection -> " in recorded, recorded
    served.wait_connections(2)  # the refused one and the recorded one
    assert [r.code for r in served.connections if r.fixture == unknown] == [404]
