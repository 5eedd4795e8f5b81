"""-v/-q and --log-format on every command: the log lines on stderr follow them, the data on
stdout never changes, and a token passed in never shows in any output stream or file.

One test per command family: the capture commands and the derivations (click's runner),
simulate, truth and verdict, record and watch against a replayer over loopback, `serve` as a
process with a client and REST requests, and fuzz with a consumer that tells us the token.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
import trio
import zstandard
from click.testing import CliRunner, Result
from recorder_support import all_text, write_match
from replayer_support import FIXTURE, client, receive, wait_ready

from recorder.secret import TOKEN_ENV
from ttrec.cli import COMMAND_MODULES, cli
from ttrec.fixtures_list import request_headers
from ttrec.logstyle import JSON_KEYS, LEVELS
from ttrec.testing import serve_in_thread

TOKEN = "log-secret-0123456789"
JSON_ARGS = ["--log-format", "json", "-v"]


def run(args: Sequence[str]) -> Result:
    return CliRunner(env={TOKEN_ENV: TOKEN}).invoke(cli, list(args))


def json_lines(stderr: str, command: str) -> list[dict[str, str]]:
    """Every stderr line, each one JSON object with exactly the documented keys."""
    lines = [json.loads(line) for line in stderr.splitlines()]
    for line in lines:
        assert tuple(line) == JSON_KEYS, line
        assert line["level"] in LEVELS and line["subject"].endswith(command), line
    return lines


def no_token_in(*texts: str | bytes) -> None:
    for text in texts:
        assert (TOKEN.encode() if isinstance(text, bytes) else TOKEN) not in text


def files_under(directory: Path) -> bytes:
    """Every file's bytes (captures decompressed: all_text), so that a token inside is found."""
    return all_text(directory) + b"".join(
        p.read_bytes() for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".zst")
    )


def torn_copy(capture: Path) -> Path:
    """The capture with half a line after it, as a recorder killed mid-write leaves it."""
    torn = capture.with_name("torn.jsonl.zst")
    text = run(["cat", str(capture)]).stdout
    torn.write_bytes(zstandard.ZstdCompressor().compress((text + '{"t":').encode()))
    return torn


def test_every_command_takes_the_log_options() -> None:
    for name in COMMAND_MODULES:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        for option in ("--log-format [text|json]", "-v, --verbose", "-q, --quiet"):
            assert option in result.output, (name, option)


def test_capture_commands_and_derivations(tmp_path: Path) -> None:
    capture = write_match(tmp_path / "a.jsonl.zst", 12, FIXTURE, step_s=1.0)
    torn = torn_copy(capture)
    missing = tmp_path / "missing.jsonl.zst"
    half = tmp_path / "half.jsonl.zst"
    run(["slice", str(capture), "--seq", "1..6", "-o", str(half)])  # for merge, made again below
    cases: list[tuple[list[str], str]] = [
        (["info", str(capture), str(torn)], "info"),
        (["info", "--json", str(capture)], "info"),
        (["check", str(capture), str(torn)], "check"),
        (["cat", str(torn)], "cat"),
        (["cat", "--frames", str(capture)], "cat"),
        (["slice", str(capture), "--seq", "1..6", "-o", str(half)], "slice"),
        (["merge", str(capture), str(half), "-o", str(tmp_path / "m.jsonl.zst")], "merge"),
        (["truth", str(capture)], "truth"),
        (["info", str(missing)], "info"),  # an error: a json line too, the same exit status
    ]
    for args, name in cases:
        made = Path(args[args.index("-o") + 1]) if "-o" in args else None
        if made is not None:
            made.unlink(missing_ok=True)
        plain = run(args)
        if made is not None:  # written by the first run: the second writes it again
            made.unlink()
        logged = run([*args, *JSON_ARGS])
        assert logged.exit_code == plain.exit_code, (args, logged.stderr)
        assert logged.stdout == plain.stdout, args  # the data never changes
        lines = json_lines(logged.stderr, name)
        # The same lines, each wrapped: the message is what text mode writes.
        assert [line["message"] for line in lines] == plain.stderr.splitlines(), args
        no_token_in(logged.stdout, logged.stderr, plain.stdout, plain.stderr)
    no_token_in(files_under(tmp_path))
    errors = json_lines(run(["info", str(missing), *JSON_ARGS]).stderr, "info")
    assert [e["level"] for e in errors] == ["error"] and str(missing) in errors[0]["message"]


def test_quiet_keeps_warnings_then_only_errors(tmp_path: Path) -> None:
    capture = tmp_path / "a.jsonl.zst"
    run(["simulate", "--seed", "3", "-o", str(capture)])  # a legal match: `check` says ok
    torn = torn_copy(capture)
    args = ["check", str(capture), str(torn)]
    shown = run(args).stderr.splitlines()
    ok_lines = [line for line in shown if line.endswith(" lines)")]
    notes = [line for line in shown if "note:" in line]
    assert ok_lines and notes  # the check itself: one ok (info) and one note (warning)
    assert run([*args, "-q"]).stderr.splitlines() == notes
    assert run([*args, "-qq"]).stderr == ""
    levels = {line["level"] for line in json_lines(run([*args, "--log-format", "json"]).stderr, "check")}
    assert levels == {"info", "warning"}
    # -q hides lines, never data or the exit status.
    assert run([*args, "-qq"]).exit_code == run(args).exit_code
    assert run(["cat", str(capture), "-qq"]).stdout == run(["cat", str(capture)]).stdout


def test_simulate(tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl.zst"
    logged = run(["simulate", "--seed", "3", "-o", str(out), *JSON_ARGS])
    assert logged.exit_code == 0, logged.stderr
    json_lines(logged.stderr, "simulate")
    plain = run(["simulate", "--seed", "3", "-o", str(tmp_path / "plain.jsonl.zst")])
    assert logged.stdout.replace(str(out), "X") == plain.stdout.replace(
        str(tmp_path / "plain.jsonl.zst"), "X"
    )
    no_token_in(logged.stdout, logged.stderr, plain.stdout, plain.stderr, files_under(tmp_path))


def test_record_and_watch_over_loopback(tmp_path: Path) -> None:
    (tmp_path / "served").mkdir()
    capture = write_match(tmp_path / "served" / "a.jsonl.zst", 10, FIXTURE, step_s=0.5)
    out = tmp_path / "out"
    with serve_in_thread([capture], tokens={TOKEN}, speed=50.0) as server:
        recorded = run(
            ["record", FIXTURE, "--base-url", server.url, "--token", TOKEN, "--out", str(out), *JSON_ARGS]
        )
        watched = run(["watch", "--plain", server.fixture_url(), "--token", TOKEN, *JSON_ARGS])
        refused = run(
            ["record", FIXTURE, "--base-url", server.url, "--token", TOKEN + "x", "--out", str(out)]
        )
    assert recorded.exit_code == 0, recorded.stderr
    assert watched.exit_code == 0, watched.stderr
    assert refused.exit_code == 1
    assert len(json_lines(recorded.stderr, "")) >= 2  # connecting, recording, finished, ...
    json_lines(watched.stderr, "watch")
    assert len(watched.stdout.splitlines()) == 10  # one line per frame, as without the options
    no_token_in(recorded.stdout, recorded.stderr, watched.stdout, watched.stderr, files_under(out))
    no_token_in(refused.stdout, refused.stderr)


async def test_serve_process(tmp_path: Path) -> None:
    capture = write_match(tmp_path / "a.jsonl.zst", 8, FIXTURE, step_s=0.2)
    ready, report = tmp_path / "ready.json", tmp_path / "report.json"
    args = [sys.executable, "-m", "ttrec", "serve", str(capture), "--ready-file", str(ready)]
    args += ["--speed", "max", "--token", TOKEN, "--report", str(report), *JSON_ARGS]
    out_file, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_file.open("wb") as out, err_file.open("wb") as err, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                lambda task_status: trio.run_process(
                    args, stdout=out, stderr=err, check=False, task_status=task_status
                )
            )
            info = await wait_ready(process, ready)
            ready_text = ready.read_text()
            async with httpx.AsyncClient() as http:
                api = f"{info['api_url']}/v2/tabletennis/fixtures"
                assert (await http.get(api, headers=request_headers(TOKEN))).status_code == 200
                assert (await http.get(api, headers=request_headers(TOKEN[:-1]))).status_code == 401
            url = f"{info['url']}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
            async with client(url, token=TOKEN) as ws:
                assert len(await receive(ws, 8)) == 8
            while "ended=" not in err_file.read_text():
                await trio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    lines = json_lines(err_file.read_text(), "serve")
    messages = [line["message"] for line in lines]
    assert any("listening on" in m for m in messages) and any("ended=" in m for m in messages)
    assert any(m == "SIGTERM, stopping" for m in messages)  # a logging record, in the same shape
    no_token_in(out_file.read_text(), err_file.read_text(), ready_text, report.read_text())


@pytest.mark.skipif(os.name != "posix", reason="the consumer is a POSIX command line")
def test_fuzz_with_a_consumer_that_fails(tmp_path: Path) -> None:
    # fuzz makes its own token and hands it to the consumer only: this one writes it down
    # (so that we can look for it) and then gives up, so that fuzz reports and writes a repro.
    told = tmp_path / "told.txt"
    program = f"import sys; open({str(told)!r}, 'a').write(sys.argv[1] + chr(10))"
    consumer = f"{shlex.quote(sys.executable)} -c {shlex.quote(program)} {{token}}"
    repro = tmp_path / "repro"
    result = CliRunner().invoke(
        cli,
        [
            "fuzz",
            "--consumer",
            consumer,
            "--examples",
            "2",
            "--out",
            str(repro),
            "--timeout",
            "5",
            *JSON_ARGS,
        ],
    )
    assert result.exit_code == 1, result.stderr
    json_lines(result.stderr, "fuzz")
    tokens = set(told.read_text().split())
    assert tokens
    written = files_under(repro)
    for token in tokens:
        assert token not in result.stdout and token not in result.stderr and token.encode() not in written
