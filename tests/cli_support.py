"""A `ttrec` command run in this process on trio's MockClock (autojump): a command that
waits (the demo's 20 s, a server that would listen for a client) costs no real time, and
every wait is bounded by a deadline the MockClock jumps to, should the command ever wait
on nothing. Each claim also keeps one run as a real process (its module says which)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar
from unittest import mock

import trio
import trio.testing
from click.testing import CliRunner, Result

from ttrec.cat import main
from ttrec.cli import cli

T = TypeVar("T")


def _bounded_run(
    real_run: Callable[..., T],
    clock: trio.abc.Clock,
    bound_s: float,
    fn: Callable[..., Awaitable[T]],
    *args: object,
    **kwargs: Any,
) -> T:
    """trio.run on `clock`, failing (trio.TooSlowError) after `bound_s` of its time."""

    async def bounded() -> T:
        with trio.fail_after(bound_s):
            return await fn(*args)

    return real_run(bounded, clock=clock, **kwargs)


def invoke_on_mock_clock(args: list[str], *, bound_s: float) -> tuple[Result, trio.testing.MockClock]:
    """`ttrec ARGS` through click's runner, every trio.run of it on one autojumping MockClock;
    returns the result and the clock (its time is how long the command waited)."""
    clock = trio.testing.MockClock(autojump_threshold=0)
    with mock.patch.object(trio, "run", partial(_bounded_run, trio.run, clock, bound_s)):
        result = CliRunner().invoke(cli, args, prog_name="ttrec")
    return result, clock


def run_console_script(args: list[str]) -> tuple[int, str, str]:
    """`ttrec ARGS` as the installed script runs it, its entry point (ttrec.cat:main: a plain
    `cat` itself, the rest through click), in this process: (exit status, stdout, stderr).
    For the many runs of a claim whose wiring one real process run already proves."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _), mock.patch.object(sys, "argv", ["ttrec", *args]):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()
