"""`--shard I/N` and `--replicas R`: which recorders record a fixture, with no coordination.

A fixture's home shard is a stable hash of its canonical id (SHA-256, so every machine,
Python version and process agrees: Python's own `hash` of a string is salted per process);
it is recorded by its home shard and the R - 1 shards after it, so losing up to R - 1
machines loses no fixture.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from ttrec.feed import validate_fixture_id

_SHARD_RE: Final = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  # from 0
    count: int
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: need 0 <= I < N")
        if not 1 <= self.replicas <= self.count:
            raise ValueError(f"replicas must be between 1 and the number of shards ({self.count})")

    def records(self, fixture_id: str) -> bool:
        return self.index in shards_of(fixture_id, self.count, self.replicas)


ALL: Final = Shard(0, 1)


def home_shard(fixture_id: str, count: int) -> int:
    digest = hashlib.sha256(validate_fixture_id(fixture_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def shards_of(fixture_id: str, count: int, replicas: int = 1) -> frozenset[int]:
    home = home_shard(fixture_id, count)
    return frozenset((home + k) % count for k in range(replicas))


def parse_shard(value: str, replicas: int = 1) -> Shard:
    """`I/N` with I from 0; ValueError says what is wrong."""
    match = _SHARD_RE.match(value.strip())
    if match is None:
        raise ValueError(f"expected I/N (e.g. 0/3), got {value!r}")
    return Shard(int(match[1]), int(match[2]), replicas)
