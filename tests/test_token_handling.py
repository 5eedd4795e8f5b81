"""One token path for `record`, `watch` and the pytest plugin: --token, TTREC_TOKEN or
--token-file; hidden from `ps` without revealing its length (and so are the tokens `serve`
accepts); a file without a token is one line and exit 2.

The `ps` tests run real `ttrec` processes against a loopback listener that accepts TCP
connections and never answers (so each process sits in its handshake) and read
/proc/PID/cmdline, exactly what `ps` shows.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from click.testing import CliRunner
from recorder_support import FIXTURE

from recorder.secret import TOKEN_ENV
from ttrec.cli import cli

SHORT: Final = "tok-short"
LONG: Final = "tok-" + "x" * 60
WAIT_S: Final = 20.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _shown_cmdline(args: list[str]) -> bytes:
    """/proc/PID/cmdline of `ttrec ARGS` once it no longer shows any of its tokens (bounded)."""
    tokens = [args[i + 1].encode() for i, arg in enumerate(args) if arg == "--token"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttrec", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + WAIT_S
        shown = b""
        while time.monotonic() < deadline and proc.poll() is None:
            shown = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            if b"--token" in shown and not any(token in shown for token in tokens):
                return shown
            time.sleep(0.02)
        raise AssertionError(f"token still shown (or exited {proc.poll()}): {shown!r}")
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=WAIT_S)
        assert not any(token in err for token in tokens)


def _record_args(port: int, token: str, out: Path) -> list[str]:
    return ["record", FIXTURE, "--base-url", f"ws://127.0.0.1:{port}", "--out", str(out), "--token", token]


def _watch_args(port: int, token: str) -> list[str]:
    url = f"ws://127.0.0.1:{port}/v2/tabletennis/fixtures/{FIXTURE}/statistics"
    return ["watch", "--plain", url, "--token", token]


@pytest.mark.parametrize("command", ["record", "watch"])
def test_the_token_is_hidden_from_ps_and_so_is_its_length(
    command: str, silent_port: int, tmp_path: Path
) -> None:
    shown = []
    for i, token in enumerate((SHORT, LONG)):
        if command == "record":
            args = _record_args(silent_port, token, tmp_path / f"{i}.jsonl.zst")
        else:
            args = _watch_args(silent_port, token)
        shown.append(_shown_cmdline(args))
    for cmdline in shown:
        assert b"--token *" in cmdline
    # Same command line but for the token: what `ps` shows does not depend on its length.
    assert len(shown[0]) == len(shown[1])
    assert shown[0].replace(b"0.jsonl", b"1.jsonl") == shown[1]


def test_the_tokens_ttrec_serve_accepts_are_hidden_from_ps_too() -> None:
    # serve is a server: it sits listening, so no silent peer is needed.
    args = ["serve", "sample-singles-bo5", "--port", "0", "--token", SHORT, "--token", LONG]
    shown = _shown_cmdline(args)
    assert shown.count(b"--token *") == 2


def _invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env or {})
    return result.exit_code, result.output


@pytest.mark.parametrize("contents", ["", "  \n\t \n"])
@pytest.mark.parametrize("command", ["record", "watch"])
def test_a_token_file_without_a_token_is_one_line_and_exit_2(
    command: str, contents: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(contents)
    target = [FIXTURE, "--out", str(tmp_path / "o.jsonl.zst")] if command == "record" else [FIXTURE]
    code, output = _invoke([command, *target, "--token-file", str(token_file)])
    assert code == 2
    assert output.count("\n") == 1 and "holds no token" in output and "Traceback" not in output
    assert not (tmp_path / "o.jsonl.zst").exists()


@pytest.mark.parametrize("command", ["record", "watch"])
def test_token_problems_are_the_same_one_line_for_record_and_watch(command: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret-from-file\n")
    both = [command, FIXTURE, "--token", "x-token-x", "--token-file", str(token_file)]
    usage = f"(try 'cli {command} --help')"  # the one-line usage error of every command
    assert _invoke(both) == (2, f"cli {command}: give --token or --token-file, not both {usage}\n")
    missing = [command, FIXTURE, "--token-file", str(tmp_path / "absent")]
    code, output = _invoke(missing)
    assert code == 2 and output.count("\n") == 1 and "No such file" in output
    code, output = _invoke([command, FIXTURE], env={TOKEN_ENV: "   "})
    assert (code, output) == (2, f"cli {command}: ${TOKEN_ENV}: the token is empty {usage}\n")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["watch", "ws://127.0.0.1:1/x", "SECRET-TOKEN-42"], {}),  # the token given without --token
        (["record", "--base-url", "--token", "SECRET-TOKEN-42", FIXTURE], {}),  # --token taken as a URL
        (["record", "--base-url=ws://127.0.0.1:1", "--token=SECRET-TOKEN-42", "SECRET-TOKEN-42"], {}),
        (["record", "SECRET-TOKEN-42"], {TOKEN_ENV: "SECRET-TOKEN-42"}),  # the env's token as an id
    ],
    ids=["extra-argument", "after-a-flag-missing-its-value", "as-the-fixture-id", "env-token-as-the-id"],
)
def test_a_mistyped_command_line_never_echoes_the_token(args: list[str], env: dict[str, str]) -> None:
    """The error about a command line quotes what it could not use, and that may be the
    token: it is redacted, as the whole process that runs it shows it (a subprocess, as
    users run it)."""
    result = subprocess.run(
        [sys.executable, "-m", "ttrec", *args],
        capture_output=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert b"SECRET-TOKEN-42" not in result.stdout + result.stderr
    assert len(result.stderr.decode().splitlines()) == 1, result.stderr
