"""The --token / --token-file options of `record` and `watch`, resolved in one place
(`recorder.secret.token_from`): flag, env TTREC_TOKEN, or file; hidden from `ps`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from recorder.secret import TOKEN_ENV, Token, TokenProblem, token_from

F = TypeVar("F", bound=Callable[..., object])


class UsageProblem(click.ClickException):
    """A usage error shown as one line (click's own usage errors add the usage text)."""

    exit_code = 2


def token_options(func: F) -> F:
    func = click.option(
        "--token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read the access token from this file (keeps it out of `ps` and shell history).",
    )(func)
    return click.option(
        "--token",
        envvar=TOKEN_ENV,
        metavar="TOKEN",
        help=f"Access token (or env {TOKEN_ENV}, or --token-file); hidden from `ps` at start-up.",
    )(func)


def resolve_token(token: str | None, token_file: Path | None) -> Token | None:
    """The token the options give, or None; a problem is one line, exit 2."""
    ctx = click.get_current_context()
    on_command_line = ctx.get_parameter_source("token") == click.core.ParameterSource.COMMANDLINE
    try:
        return token_from(token, token_file, on_command_line=on_command_line)
    except TokenProblem as exc:
        raise UsageProblem(str(exc)) from None
