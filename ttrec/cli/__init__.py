"""The `ttrec` command line: thin commands over the library (one module per command group).

Every TtrecError becomes one line on stderr and exit status 1 (an output path refused by
ttrec.outputs: 2, like click's usage errors).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

from ttrec import __version__
from ttrec.errors import OutputRefused, TtrecError

# Command name -> the module that defines it. Modules load only when their command runs,
# so `ttrec cat` does not pay for importing trio and the websocket stack.
COMMAND_MODULES: Final = {
    "info": "ttrec.cli.capture_commands",
    "check": "ttrec.cli.capture_commands",
    "cat": "ttrec.cli.capture_commands",
    "simulate": "ttrec.cli.simulate",
    "record": "ttrec.cli.record",
    "serve": "ttrec.cli.serve",
    "watch": "ttrec.cli.watch",
    "demo": "ttrec.cli.watch",
    "slice": "ttrec.cli.derive",
    "splice": "ttrec.cli.derive",
    "warp": "ttrec.cli.derive",
    "truth": "ttrec.cli.verdict",
    "verdict": "ttrec.cli.verdict",
    "fuzz": "ttrec.cli.fuzz",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)  # its @command decorator registers it on `cli`
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OutputRefused as exc:
            raise UsageProblem(str(exc)) from None
        except TtrecError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            # `ttrec cat x | head`: the reader left; that is not an error worth a traceback.
            sys.stderr.close()
            ctx.exit(0)


class UsageProblem(click.ClickException):
    """A usage error shown as one line (click's own usage errors add the usage text)."""

    exit_code = 2


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ttrec")
def cli() -> None:
    """Record, replay and simulate the table-tennis live statistics websocket.

    \b
    Try:  ttrec simulate -o match.jsonl.zst && ttrec info match.jsonl.zst
    """


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str | None = None) -> Callable[[F], click.Command]:
    """Register a `ttrec` subcommand; every command answers --help and --version."""

    def decorate(func: F) -> click.Command:
        return cli.command(name)(click.version_option(__version__, prog_name="ttrec")(func))

    return decorate


def main() -> None:
    cli(prog_name="ttrec")
