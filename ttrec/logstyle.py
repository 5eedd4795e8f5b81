"""How every command's log lines look (`--log-format text|json`) and which are shown (`-v`/`-q`).

One rule for every command: `ttrec record`'s reporters, the other commands' stderr lines
(ttrec.cli.logs) and the replayer's `logging` records all format through `format_line`.
A json line is one object with the stable keys of `JSON_KEYS`; a text line is the message
itself (with `record`'s and the servers' time and subject in front). Pure: the time is passed in.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from ttrec.feed import rfc3339

Level = Literal["debug", "info", "warning", "error"]
LEVELS: Final[tuple[Level, ...]] = ("debug", "info", "warning", "error")
LogFormat = Literal["text", "json"]
JSON_KEYS: Final = ("time", "level", "subject", "message")  # documented in docs/logging.md


@dataclass(frozen=True, slots=True)
class LogStyle:
    """--log-format and -v/-q: how lines look and which are shown (default: info and up)."""

    format: LogFormat = "text"
    min_level: Level = "info"

    def shows(self, level: Level) -> bool:
        return LEVELS.index(level) >= LEVELS.index(self.min_level)


def verbosity(verbose: int, quiet: int) -> Level:
    """-v shows debug lines, -q only warnings, -qq only errors."""
    return LEVELS[max(0, min(len(LEVELS) - 1, 1 - verbose + quiet))]


def text_line(subject: str, message: str, now: datetime) -> str:
    return f"{rfc3339(now, 3)} {subject} {message}"


def json_line(subject: str, message: str, now: datetime, level: Level) -> str:
    """One JSON object per line for log aggregators (every message is token-scrubbed already)."""
    return json.dumps(dict(zip(JSON_KEYS, (rfc3339(now, 3), level, subject, message), strict=True)))


def level_of_record(record: logging.LogRecord) -> Level:
    if record.levelno >= logging.ERROR:
        return "error"
    if record.levelno >= logging.WARNING:
        return "warning"
    return "info" if record.levelno >= logging.INFO else "debug"


def logging_level(level: Level) -> int:
    """The `logging` level that shows what `level` shows."""
    return {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}.get(
        level, logging.ERROR
    )


class StyleFormatter(logging.Formatter):
    """`logging` records (the replayer's) as the other log lines: `subject` names the command."""

    def __init__(self, style: LogStyle, subject: str) -> None:
        super().__init__()
        self.style = style
        self.subject = subject

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if self.style.format == "json":
            now = datetime.fromtimestamp(record.created, UTC)
            return json_line(self.subject, message, now, level_of_record(record))
        return f"{self.formatTime(record)} {self.subject}: {message}"  # as `serve` always wrote them
