"""The `ttrec` command line: thin commands over the library (one module per command group).

Every TtrecError becomes one line on stderr and exit status 1; click's usage errors exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ttrec import __version__
from ttrec.errors import TtrecError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TtrecError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            # `ttrec cat x | head`: the reader left; that is not an error worth a traceback.
            sys.stderr.close()
            ctx.exit(0)


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


# Each module adds its commands to `cli`; imported last so that `cli` exists.
from ttrec.cli import capture_commands  # noqa: E402, F401
from ttrec.cli import simulate as simulate  # noqa: E402
from ttrec.cli import record  # noqa: E402, F401
