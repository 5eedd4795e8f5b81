"""The one exception hierarchy of ttrec; the CLI turns each into one line and an exit status.

Every error ttrec raises on purpose derives from TtrecError. The core's classes live here or
beside the code that raises them; the shells' live in their own packages, since the core
imports neither (tests/test_errors.py checks that this tree names every subclass):

TtrecError
 ├── CaptureFormatError(path, line)   a capture that cannot be read as ttrec/1
 ├── CaptureWriteError(path)          the disk refused a write (full, read-only, ...)
 ├── OutputRefused(path)              an output path ttrec must not write (exit 2; ttrec.outputs)
 ├── OutputWriteError(path)           the disk refused a ready file, report or CA file
 ├── InvalidFixtureId(value)          not a UUID
 ├── UpstreamRejected(status, body)   the feed refused the handshake or the token
 ├── DeriveError                      ttrec.derive: a slice/splice/warp that cannot be made
 ├── FaultSpecError(spec)             ttrec.faults: a --fault that does not parse or apply
 │    └── FaultNeverFires            replayer.faults: a fault no served capture can trigger
 ├── StartAtError(start_at)           ttrec.schedule: a --start-at the capture cannot meet
 ├── BeliefError(line)                ttrec.verdict: a consumer's beliefs line that is no belief
 ├── FuzzConfigError                  ttrec.testing.fuzz: a --consumer command that cannot run
 │    └── FuzzUnavailable             ttrec.testing.fuzz: hypothesis (an extra) is not installed
 ├── OutputError                      recorder.run: --out cannot be used as asked
 ├── WatchError                       recorder.watch: no connection, or lost before the end
 ├── TokenProblem                     recorder.secret: no token, or an empty token file
 ├── ApiRefused(status)               recorder.live: the fixtures API refused the token or request
 ├── TlsSetupError                    replayer.tls: a certificate or key that cannot be used
 ├── FixtureConflict(fixture, feed)   replayer.library: two captures offer the same feed
 ├── NoCaptures(where)                replayer.library: nothing to serve
 ├── ControlError                     replayer.control: a step that cannot be taken
 └── ListenError(host, port)          a port cannot be bound (serve; record --live --metrics)

Two ValueErrors stay outside the tree because callers add the context they lack:
RecordError (ttrec.header; the reader adds path and line) and FrameError (ttrec.match; a
data frame without the statistics shape, reported as a problem of that frame).
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


class OutputRefused(TtrecError):
    """An output path that exists and is not ttrec's to replace: a usage error (exit 2)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __repr__(self) -> str:
        return f"OutputRefused(path={str(self.path)!r}, problem={self.problem!r})"


class OutputWriteError(TtrecError):
    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __repr__(self) -> str:
        return f"OutputWriteError(path={str(self.path)!r}, problem={self.problem!r})"


class InvalidFixtureId(TtrecError):
    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(f"not a fixture id (a UUID was expected): {value[:64]!r}")


class UpstreamRejected(TtrecError):
    """The server refused us: an HTTP status at the handshake or an error frame after auth.

    `body` is what the server said; it never contains our token because we never send it
    anywhere but in the auth message.
    """

    def __init__(self, status: int, body: str, *, in_frame: bool = False) -> None:
        self.status = status
        self.body = body
        # An error frame after the handshake is not an HTTP answer: say which it was.
        how = f"an error frame, status {status}:" if in_frame else f"HTTP {status}"
        super().__init__(f"rejected by the server: {how} {body.strip()[:200]}".rstrip())

    def __repr__(self) -> str:
        return f"UpstreamRejected(status={self.status!r}, body={self.body[:200]!r})"


class ListenError(TtrecError):
    """A port that cannot be listened on; `what` names the option it is for, if any."""

    def __init__(self, host: str, port: int, problem: str, what: str = "") -> None:
        self.host = host
        self.port = port
        where = f"{what}: " if what else ""
        super().__init__(f"{where}cannot listen on {host}:{port}: {problem}")
