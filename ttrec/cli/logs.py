"""Every command's log lines on stderr, under the shared `-v`/`-q`/`--log-format` options.

`log_options` adds the three options to a command (ttrec.cli.command adds it to every one);
before the command runs it sets the style that `say` and the `logging` records of the
replayer and the recorder follow (ttrec.logstyle formats them all). Data on stdout never goes
through here. A text line is the message as the command always wrote it; a json line wraps
it with the time, the level and the command (`subject`). The library loggers' lines are shown
by the commands that want them (`show_library_logs`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import click

from ttrec.logstyle import Level, LogStyle, StyleFormatter, json_line, logging_level, verbosity

# The loggers the libraries under the commands write to (replayer.server, replayer.rest, ...).
LIBRARY_LOGGERS: Final = ("replayer", "recorder")

F = TypeVar("F", bound=Callable[..., Any])


class _Now:
    """The style of this run's lines (one command per process; click's test runner runs
    several in turn, each setting its own)."""

    style = LogStyle()
    subject = "ttrec"


_now = _Now()


class _StderrHandler(logging.Handler):
    """Writes to the stderr of the moment (click's test runner swaps it), not the first one."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # a closed stderr must not end the server
            self.handleError(record)


def current_style() -> LogStyle:
    return _now.style


def use_style(style: LogStyle, subject: str) -> None:
    """Set the style of every line from now on."""
    _now.style, _now.subject = style, subject


def show_library_logs() -> None:
    """Show the library loggers' lines (the replayer's one line per connection) on stderr, in
    the current style: `serve` does; elsewhere they stay quiet (only warnings reach stderr,
    through Python's last-resort handler)."""
    _hide_library_logs()
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        handler = _StderrHandler()
        handler.setFormatter(StyleFormatter(_now.style, _now.subject))
        logger.addHandler(handler)
        logger.setLevel(logging_level(_now.style.min_level))


def _hide_library_logs() -> None:
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)


def say(message: str, level: Level = "info") -> None:
    """One log line on stderr, if the verbosity shows `level`."""
    if not _now.style.shows(level):
        return
    if _now.style.format == "json":
        message = json_line(_now.subject, message, datetime.now(UTC), level)
    click.echo(message, err=True)


def log_options(func: F) -> F:
    """-v/-q/--log-format on a command; they set the style before its body runs."""

    @functools.wraps(func)
    def run(*args: Any, verbose: int, quiet: int, log_format: str, **kwargs: Any) -> Any:
        ctx = click.get_current_context(silent=True)
        subject = ctx.command_path if ctx is not None else "ttrec"
        use_style(LogStyle("json" if log_format == "json" else "text", verbosity(verbose, quiet)), subject)
        try:
            return func(*args, **kwargs)
        finally:  # the next command run in this process (click's test runner) starts clean
            _hide_library_logs()

    options = (
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="json: one JSON object per log line on stderr (time, level, subject, message).",
        ),
        click.option("-v", "--verbose", count=True, help="More log lines on stderr (debug ones too)."),
        click.option(
            "-q",
            "--quiet",
            count=True,
            help="Fewer log lines on stderr (-q: warnings, errors; -qq: errors).",
        ),
    )
    decorated: Any = run
    for option in options:
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def reset() -> None:
    """The default style, before a command's options are read (a usage error shows as text)."""
    _now.style, _now.subject = LogStyle(), "ttrec"
