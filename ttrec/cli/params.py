"""The click parameter types every command shares, so one rule holds for every option.

`CaptureInput` is every capture argument: a file, or a bundled sample's name.

`click.FloatRange` lets `nan` through (every comparison with nan is false) and, without an
upper bound, numbers so large that the arithmetic they feed overflows: `Finite` refuses both.
"""

from __future__ import annotations

import ipaddress
import math
import os
from pathlib import Path
from typing import Any, Final

import click

from ttrec.bundled import resolve
from ttrec.errors import InvalidFixtureId
from ttrec.feed import validate_fixture_id

# Generous bounds that keep every sum of seconds, nanoseconds and dates far from overflow:
# nothing ttrec waits for, or puts between two records, is longer than a week.
MAX_SECONDS: Final = 7 * 24 * 3600.0
MAX_SCALE: Final = 1000.0  # warp: a gap made a thousand times longer is already absurd


class Finite(click.FloatRange):
    """A finite float within [min, max] (ends open or closed, as click.FloatRange)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


class CaptureInput(click.Path):
    """A capture a command reads: a file, or a bundled sample's name (`ttrec.bundled.resolve`:
    `ttrec cat sample-singles-bo5` from any directory). A directory is a usage error (exit 2).
    A file that does not exist is not refused here: opening it fails like any capture that
    cannot be read, one line `Error: PATH: No such file or directory` and exit 1, the same
    for every command (and `ttrec check a missing b` still checks a and b)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return resolve(Path(os.fsdecode(super().convert(value, param, ctx))))


def checked_fixture_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --fixture-id option's callback: a UUID, or a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return validate_fixture_id(value)
    except InvalidFixtureId as exc:
        raise click.BadParameter(str(exc)) from None


def given_once(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """The callback of an option declared `multiple=True` so that giving it twice is a usage
    error: click alone keeps the last value and says nothing."""
    if len(values) > 1:
        raise click.BadParameter(f"given {len(values)} times ({', '.join(map(repr, values))}); give it once")
    return values[0] if values else None


def seconds(min: float = 0.0, *, min_open: bool = False, max: float = MAX_SECONDS) -> Finite:
    """A duration option: finite, at least `min` (or above it), at most a week by default."""
    return Finite(min=min, max=max, min_open=min_open)


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address; a name is not (it may resolve to anything)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
