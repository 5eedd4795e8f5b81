"""The sample captures shipped with ttrec (what `ttrec serve` and `ttrec demo` play when no
capture is named).

Each sample is `ttrec simulate` output for a fixed seed and options, so it can be
regenerated at any time (tests/test_samples.py checks that it is, byte for byte). In a
wheel the files are package data of `ttrec.samples` (pyproject maps `captures/` to that
package); in a source checkout they are read from `captures/` directly.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ttrec.capture import CAPTURE_SUFFIX

_CHECKOUT_DIR: Final = Path(__file__).resolve().parent.parent / "captures"


@dataclass(frozen=True, slots=True)
class SampleSpec:
    seed: int
    best_of: int
    doubles: bool
    # A pair writes the actions feed too, as NAME.actions.jsonl.zst (ttrec.outputs.feed_file).
    pair: bool = False
    scenario: str = "completed"
    correction_at: str | None = None

    def simulate_args(self) -> list[str]:
        """The `ttrec simulate` arguments that make this sample (add `-o FILE`)."""
        kind = "--doubles" if self.doubles else "--singles"
        args = ["--seed", str(self.seed), "--best-of", str(self.best_of), kind]
        if self.pair:
            args += ["--feeds", "statistics,actions"]
        if self.scenario != "completed":
            args += ["--scenario", self.scenario]
        if self.correction_at is not None:
            args += ["--correction-at", self.correction_at]
        return args


# Seeds found by searching (docs/simulator.md): each shows what its name promises, and
# no two share a fixture or a player, so `ttrec serve` can serve them all at once.
SAMPLES: Final[Mapping[str, SampleSpec]] = {
    # men's singles, 3-1 in games, one of them past 10-10 (13-11)
    "sample-singles-bo5": SampleSpec(seed=6, best_of=5, doubles=False),
    # women's doubles, 3-2 in games after losing the first two, with a 14-12 third game
    "sample-doubles-bo5-decider": SampleSpec(seed=22, best_of=5, doubles=True),
    # women's singles, 4-0 (the most common best-of-7 result) with a 16-14 fourth game
    "sample-bo7-long-deuce": SampleSpec(seed=7, best_of=7, doubles=False),
    # both feeds of one match, 3-2 after losing the first two games, with what a clean
    # stream never shows: a time-out, the collection suspended in game 2 (heartbeats only)
    # and resumed, and the deciding point first given to the loser, then corrected
    "sample-pair-messy": SampleSpec(
        seed=101, best_of=5, doubles=False, pair=True, scenario="suspended", correction_at="match-point"
    ),
}


def samples_dir() -> Path:
    """Where the bundled samples are: the installed package data, else the checkout's
    `captures/` (an editable install does not make `ttrec.samples` importable)."""
    try:
        installed = importlib.resources.files("ttrec.samples")
    except ModuleNotFoundError:
        return _CHECKOUT_DIR
    # `ttrec.samples` has no __init__.py: a namespace package, whose files() is not a
    # Path, but joining a file name onto it gives one.
    probe = installed.joinpath(_file_name(next(iter(SAMPLES))))
    if isinstance(probe, Path) and probe.is_file():
        return probe.parent
    return _CHECKOUT_DIR


def _file_name(name: str) -> str:
    return name + CAPTURE_SUFFIX


def sample_paths() -> list[Path]:
    """The bundled sample captures, in the order of `SAMPLES`. Only these are listed:
    `captures/` of a checkout is also where `ttrec record` puts the user's recordings."""
    directory = samples_dir()
    return [directory / _file_name(name) for name in SAMPLES]


def actions_sample_paths() -> list[Path]:
    """The actions captures of the bundled pairs (each beside its statistics capture)."""
    return [_actions_file(name) for name, spec in SAMPLES.items() if spec.pair]


def every_sample_file() -> list[Path]:
    """Every bundled capture: each sample's, and for a pair its actions capture after it
    (what `ttrec serve` serves when no capture is named)."""
    return [path for name in SAMPLES for path in sample_files(name)]


def sample_files(name: str) -> list[Path]:
    """The captures of one bundled sample: its statistics capture, and for a pair (both
    feeds of one match) its actions capture too."""
    path = sample_path(name)
    return [path, _actions_file(name)] if SAMPLES[name].pair else [path]


def _actions_file(name: str) -> Path:
    return samples_dir() / f"{name}.actions{CAPTURE_SUFFIX}"


def sample_path(name: str) -> Path:
    """One bundled sample by its name in `SAMPLES`."""
    if name not in SAMPLES:
        raise KeyError(f"no bundled sample {name!r}; there are {', '.join(SAMPLES)}")
    return samples_dir() / _file_name(name)


def resolve_served(path: Path) -> list[Path]:
    """A capture argument of `ttrec serve`: as `resolve`, but a pair's name serves both of
    its feeds (the match, as a consumer of both feeds sees it)."""
    name = _sample_named(path)
    return [path] if name is None else sample_files(name)


def resolve(path: Path) -> Path:
    """A capture argument: the file itself when it exists, else the bundled sample of that
    name (`ttrec info sample-singles-bo5` works from any directory, from a wheel too)."""
    name = _sample_named(path)
    return path if name is None else sample_path(name)


def _sample_named(path: Path) -> str | None:
    """The bundled sample a capture argument names: a sample's name that is not a file here
    (a user's own file of that name wins)."""
    name = str(path)
    return name if name in SAMPLES and not path.exists() else None
