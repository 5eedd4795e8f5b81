"""The `ttrec` command line: thin commands over the library (one module per command group).

Every TtrecError and every other OSError becomes one line on stderr and exit status 1;
a usage error (click's, an output path refused by ttrec.outputs, a UsageProblem) becomes one
line (not click's four) and exit status 2, for every command.
When the reader of our output leaves (`ttrec cat x | head`), we stop quietly: exit status 1
if the command had already found a failure (`ttrec check` problems), else 0.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, Final, NoReturn, TypeVar

import click

from ttrec import __version__
from ttrec.cli import logs
from ttrec.errors import OutputRefused, TtrecError, leaves

# Command name -> the module that defines it, and the command's summary in `ttrec --help`.
# Modules load only when their command runs, so `ttrec cat` does not pay for importing trio
# and the websocket stack. The summary is given to the command from here (`command`), so
# that `ttrec --help` lists every command without importing any of them: 0.10 s of CPU
# instead of 0.33 s (it imported trio, the replayer, the simulator and the fuzzer). A summary
# fits on its line beside the names at 80 columns (tests/test_cli_help.py).
COMMANDS: Final[Mapping[str, tuple[str, str]]] = {
    "info": ("ttrec.cli.capture_commands", "Summarise captures: teams, scores, winner, frames, gaps."),
    "check": ("ttrec.cli.capture_commands", "Validate captures: the format and the match invariants."),
    "cat": ("ttrec.cli.capture_commands", "Print a capture as JSON Lines, header first."),
    "simulate": ("ttrec.cli.simulate", "Simulate a table-tennis match and write it as a capture."),
    "record": ("ttrec.cli.record", "Record live fixtures, each into its own new capture file."),
    "serve": ("ttrec.cli.serve", "Serve captures as the provider's websocket, locally."),
    "watch": ("ttrec.cli.watch", "Connect as a consumer and show a live scoreboard."),
    "demo": ("ttrec.cli.watch", "Serve a bundled sample at high speed and watch it."),
    "slice": ("ttrec.cli.derive", "Cut a capture down to a range of its data frames."),
    "splice": ("ttrec.cli.derive", "Join captures' frames one after another into one scenario."),
    "warp": ("ttrec.cli.derive", "Retime a capture: scale its gaps, cap the long ones."),
    "merge": ("ttrec.cli.derive", "Merge recordings of one fixture and feed into one capture."),
    "truth": ("ttrec.cli.verdict", "Print the true match state after every data frame."),
    "verdict": ("ttrec.cli.verdict", "Judge a consumer's beliefs against the truth."),
    "fuzz": ("ttrec.cli.fuzz", "Run a consumer against simulated matches with faults."),
}
COMMAND_MODULES: Final = {name: module for name, (module, _) in COMMANDS.items()}


_FAILED: Final = "ttrec.failed"
# `ttrec` alone shows the help (click >= 8.2 raises this usage error for it): kept as it is.
_HELP_NOT_ERROR: Final[tuple[type[Exception], ...]] = tuple(
    kind for kind in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if kind is not None
)
# Errors of the output itself (`> /dev/full`), as opposed to a file named in the error.
_OUTPUT_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT})


def plural(count: int, noun: str) -> str:
    """`1 data frame`, `2 data frames`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def mark_failed() -> None:
    """Record that the command's exit status will be 1, in case its reader leaves before then."""
    click.get_current_context().find_root().meta[_FAILED] = True


def _problem(error: click.UsageError) -> str:
    """The usage error's message, prefixed by the option or argument it is about."""
    if _EXTRA_ARGUMENTS in error.message and _takes_a_token(error.ctx):
        # What was not expected may be the token itself, given without --token.
        return "got unexpected extra arguments (a token goes after --token, in TTREC_TOKEN or --token-file)"
    if not isinstance(error, click.BadParameter) or isinstance(error, click.MissingParameter):
        return error.format_message()
    hint = error.param_hint
    if hint is None and error.param is not None:
        param = error.param
        hint = param.opts if isinstance(param, click.Option) else param.human_readable_name
    if hint is None:
        return error.message
    return f"{hint if isinstance(hint, str) else ' / '.join(hint)}: {error.message}"


_EXTRA_ARGUMENTS: Final = "unexpected extra argument"  # click's message for them


def _takes_a_token(ctx: click.Context | None) -> bool:
    return ctx is not None and any(param.name in ("token", "tokens") for param in ctx.command.params)


def _without_secrets(message: str) -> str:
    """`message` without any token the command line or TTREC_TOKEN gave: a mistyped command
    line can make the value after --token the value of something else, which the error
    about it then quotes."""
    from recorder.secret import MIN_SCRUB_LENGTH, TOKEN_ENV  # only when there is an error to say
    from ttrec.feed import REDACTED

    argv = sys.argv[1:]
    secrets = [os.environ.get(TOKEN_ENV, "")]
    for before, arg in zip(["", *argv], argv, strict=False):
        if before == "--token":
            secrets.append(arg)
        elif arg.startswith("--token="):
            secrets.append(arg.partition("=")[2])
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret.strip()) >= MIN_SCRUB_LENGTH:
            message = message.replace(secret, REDACTED)
    return message


class UsageLine(click.UsageError):
    """A usage error shown as one line: `ttrec slice: --seq: ... (try 'ttrec slice --help')`."""

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(_problem(error), error.ctx or click.get_current_context(silent=True))

    def show(self, file: IO[Any] | None = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "ttrec"
        if self.ctx is not None and self.ctx.invoked_subcommand:  # raised after the command ran
            where = f"{where} {self.ctx.invoked_subcommand}"
        message = _without_secrets(self.message.rstrip("."))
        logs.say(f"{where}: {message} (try '{where} --help')", "error")


class ErrorLine(click.ClickException):
    """A command's failure: `Error: ...` on stderr, a json line under --log-format json."""

    def show(self, file: IO[Any] | None = None) -> None:
        logs.say(f"Error: {_without_secrets(self.format_message())}", "error")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush cannot fail again (the
    Python documentation's recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real descriptor (click's test runner)
        pass


@contextlib.contextmanager
def reader_may_leave() -> Iterator[None]:
    """Output whose reader may leave (`| head -1`) before the work after it is done: the
    rest of the output goes nowhere, and the work goes on (call `mark_failed` first, for
    the exit status)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _exit_for(ctx: click.Context, exc: BaseException) -> NoReturn:
    """Turn what escaped a command into one line and an exit status."""
    if isinstance(exc, click.UsageError) and not isinstance(exc, (UsageLine, *_HELP_NOT_ERROR)):
        raise UsageLine(exc) from None
    if isinstance(exc, OutputRefused):
        raise UsageLine(UsageProblem(str(exc), ctx)) from None
    if isinstance(exc, TtrecError):
        raise ErrorLine(str(exc)) from None
    if isinstance(exc, click.ClickException) and not isinstance(exc, click.UsageError | ErrorLine):
        raise ErrorLine(exc.format_message()) from None
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()
        before = exc.__context__  # a sys.exit(1) whose final flush met the closed pipe
        failed = isinstance(before, SystemExit) and before.code not in (0, None)
        ctx.exit(1 if failed or ctx.find_root().meta.get(_FAILED) else 0)
    if isinstance(exc, OSError):
        if exc.filename is not None:
            raise ErrorLine(f"{exc.filename}: {exc.strerror}") from None
        if exc.errno in _OUTPUT_ERRNOS:
            _silence_stdout()
            raise ErrorLine(f"cannot write the output: {exc.strerror}") from None
        raise ErrorLine(exc.strerror or str(exc)) from None
    raise exc


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their summaries, as click lists them, from COMMANDS alone."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)  # its @command decorator registers it on `cli`
        return super().get_command(ctx, cmd_name)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # `ttrec --no-such-option`
            if isinstance(exc, _HELP_NOT_ERROR):
                raise
            raise UsageLine(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # an output error surfaces here, not at interpreter exit
        except (click.ClickException, TtrecError, OSError) as exc:
            _exit_for(ctx, exc)
        except BaseExceptionGroup as group:  # from inside trio.run (watch, demo, serve)
            found = list(leaves(group))
            for leaf in found:
                if isinstance(leaf, click.ClickException | TtrecError | OSError):
                    _exit_for(ctx, leaf)
            if found and all(isinstance(leaf, KeyboardInterrupt) for leaf in found):
                raise KeyboardInterrupt from None  # Ctrl-C: click's one line, "Aborted!", exit 1
            raise


class UsageProblem(click.UsageError):
    """A usage error a command finds itself (no token, a --base-url that is not ws://):
    shown as one line like click's own, exit status 2."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ttrec")
def cli() -> None:
    """Record, replay and simulate the table-tennis live statistics websocket.

    \b
    Try:  ttrec simulate -o match.jsonl.zst && ttrec info match.jsonl.zst
    """
    logs.reset()


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str, **attrs: Any) -> Callable[[F], click.Command]:
    """Register the `ttrec` subcommand `name` of COMMANDS, with its summary from there; every
    command answers --help and --version and takes the log options (-v/-q/--log-format:
    ttrec.cli.logs). `attrs` are click's (`help=` where the help is too long to be the
    function's docstring)."""

    def decorate(func: F) -> click.Command:
        with_options = click.version_option(__version__, prog_name="ttrec")(logs.log_options(func))
        return cli.command(name, short_help=COMMANDS[name][1], **attrs)(with_options)

    return decorate


def main() -> None:
    cli(prog_name="ttrec")
