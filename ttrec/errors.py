"""The one exception hierarchy of ttrec; the CLI turns each into one line and an exit status.

TtrecError
 ├── CaptureFormatError(path, line)   a capture that cannot be read as ttrec/1
 ├── CaptureWriteError(path)          the disk refused a write (full, read-only, ...)
 ├── InvalidFixtureId(value)
 └── UpstreamRejected(status, body)   the feed refused the handshake or the token
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The errors inside (nested) exception groups, as trio's nurseries wrap them; the
    error itself when it is not a group."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


class TtrecError(Exception):
    """Base of every error ttrec raises on purpose."""


class CaptureFormatError(TtrecError):
    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}" if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {problem}")

    def __repr__(self) -> str:
        return f"CaptureFormatError(path={str(self.path)!r}, line={self.line!r}, problem={self.problem!r})"


class CaptureWriteError(TtrecError):
    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __repr__(self) -> str:
        return f"CaptureWriteError(path={str(self.path)!r}, problem={self.problem!r})"


class InvalidFixtureId(TtrecError):
    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(f"not a fixture id (a UUID was expected): {value[:64]!r}")


class UpstreamRejected(TtrecError):
    """The server refused us: an HTTP status at the handshake or an error frame after auth.

    `body` is what the server said; it never contains our token because we never send it
    anywhere but in the auth message.
    """

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"rejected by the server: HTTP {status} {body.strip()[:200]}".rstrip())

    def __repr__(self) -> str:
        return f"UpstreamRejected(status={self.status!r}, body={self.body[:200]!r})"
