"""The connection options `record` and `watch` share: --token / --token-file, resolved in
one place (`recorder.secret.token_from`: flag, env TTREC_TOKEN, or file; hidden from
`ps`), and --ca-file (the CA to trust for wss://)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import click

from recorder.connection import Connect, client_tls_context, websocket_connect
from recorder.secret import TOKEN_ENV, Token, TokenProblem, token_from
from ttrec.cli import UsageProblem

F = TypeVar("F", bound=Callable[..., object])


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


def ca_file_option(func: F) -> F:
    return click.option(
        "--ca-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Trust only the CA certificates in this PEM file for wss:// (e.g. `ttrec serve --tls`).",
    )(func)


def resolve_connect(ca_file: Path | None) -> Connect:
    """`websocket_connect` trusting `ca_file`; an unreadable or non-PEM file is one line, exit 2."""
    if ca_file is None:
        return websocket_connect
    try:
        client_tls_context(ca_file)
    except ssl.SSLError:  # an OSError too: first
        raise UsageProblem(f"--ca-file {ca_file}: not a PEM certificate") from None
    except OSError as exc:
        raise UsageProblem(f"--ca-file {ca_file}: {exc.strerror or exc}") from None
    return partial(websocket_connect, ca_file=ca_file)
