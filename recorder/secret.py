"""Keeping the access token out of everything but the auth message.

The token is held in a `Token` whose str and repr are redacted, so it cannot leak through a
log line, an f-string, an exception message or a traceback's locals by accident; `reveal()`
is called in exactly one place (building the auth message).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from pathlib import Path
from typing import Final

from ttrec.errors import TtrecError
from ttrec.feed import REDACTED

# The environment variable every ttrec entry point reads the token from.
TOKEN_ENV: Final = "TTREC_TOKEN"  # noqa: S105 (the variable's name, not a secret)

# Below this length a "token" is more likely a mistake than a secret, and scrubbing a
# short string out of server messages would mangle unrelated words.
MIN_SCRUB_LENGTH: Final = 4


class Token:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("the token is empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """`text` with every occurrence of the token replaced by a redaction marker.

        Server error bodies and close reasons are logged and stored; our token is never
        sent anywhere but in the auth message, but a server that echoes it must not put
        it into a capture or a log line."""
        if len(self._value) < MIN_SCRUB_LENGTH:
            return text
        return text.replace(self._value, REDACTED)

    def scrub_bytes(self, data: bytes) -> bytes:
        """`scrub` for a binary message (the token's UTF-8 bytes)."""
        if len(self._value) < MIN_SCRUB_LENGTH:
            return data
        return data.replace(self._value.encode(), REDACTED.encode())

    def __repr__(self) -> str:
        return f"Token({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling a Token (e.g. into a subprocess) would copy the secret somewhere we do
        # not control; nothing in ttrec needs it.
        raise TypeError("a Token cannot be pickled")


class TokenProblem(TtrecError):
    """The token cannot be had as asked (a usage error: one line, exit 2)."""


def token_from(value: str | None, file: Path | None, *, on_command_line: bool) -> Token | None:
    """The one way `record`, `watch` and the pytest plugin get the token: `value` (from
    --token or TOKEN_ENV; hidden from `ps` first when it came `on_command_line`), or the
    contents of `file` (--token-file). None when neither is given; the caller decides
    whether a token is needed."""
    if value is not None and on_command_line:
        # Visible to every user through `ps` until now; hide it as early as possible.
        hide_from_process_title(value)
        if file is not None:
            raise TokenProblem("give --token or --token-file, not both")
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise TokenProblem(f"--token-file {file}: {problem}") from None
        if not value.strip():
            raise TokenProblem(f"--token-file {file}: the file holds no token (empty or whitespace)")
    if value is None:
        return None
    try:
        return Token(value)
    except ValueError:
        where = "--token" if on_command_line else f"${TOKEN_ENV}"
        raise TokenProblem(f"{where}: the token is empty") from None


def hide_from_process_title(secret: str) -> bool:
    """Replace `secret` by one `*` where the kernel shows this process's command line (Linux).

    `ttrec record --token T` puts T into /proc/PID/cmdline, which `ps` shows to every user
    of the machine. The kernel reads that text from the process's own memory (the span
    between arg_start and arg_end in /proc/self/stat), so rewriting it there hides it.
    Overwriting T in place with as many `*` would still show its length; instead the
    whole area becomes one title, the arguments joined by spaces with T as a single `*`,
    NUL-padded, with a non-NUL last byte: the kernel then shows the title up to its first
    NUL (the setproctitle convention), and nothing depends on T's length.
    Returns whether the secret is no longer visible.
    """
    if not secret or not sys.platform.startswith("linux"):
        return False
    needle = secret.encode()
    try:
        stat = Path("/proc/self/stat").read_text()
        # The command name (field 2) may contain spaces; fields after it are split on ')'.
        fields = stat.rsplit(")", 1)[1].split()
        # arg_start and arg_end are fields 48 and 49; fields[0] here is field 3.
        arg_start, arg_end = int(fields[45]), int(fields[46])
    except (OSError, IndexError, ValueError):
        return False
    if not 0 < arg_start < arg_end or arg_end - arg_start > 1 << 20:
        return False
    with contextlib.suppress(OSError):
        if needle not in Path("/proc/self/cmdline").read_bytes():
            return True
    size = arg_end - arg_start
    area = ctypes.string_at(arg_start, size)
    args = area.rstrip(b"\0").split(b"\0")
    title = b" ".join(arg.replace(needle, b"*") for arg in args)[: size - 2]
    ctypes.memmove(arg_start, title + b"\0" * (size - len(title) - 1) + b" ", size)
    try:
        return needle not in Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return False
