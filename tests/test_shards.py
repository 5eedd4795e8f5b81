"""--shard I/N and --replicas R: a stable split with no coordination."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrec.shards import Shard, parse_shard, shards_of

ids = st.uuids().map(str)


@settings(deadline=None, max_examples=200)
@given(ids, st.integers(1, 12), st.data())
def test_each_fixture_goes_to_exactly_r_shards(fixture: str, count: int, data: st.DataObject) -> None:
    replicas = data.draw(st.integers(1, count))
    chosen = [i for i in range(count) if Shard(i, count, replicas).records(fixture)]
    assert len(chosen) == replicas
    # The case of the id does not matter: it is canonicalised first.
    assert chosen == [i for i in range(count) if Shard(i, count, replicas).records(fixture.upper())]


def test_stable_across_processes() -> None:
    fixtures = [str(uuid.UUID(int=n * 7919 + 1)) for n in range(50)]
    here = [sorted(shards_of(f, 5, 2)) for f in fixtures]
    code = "import sys, ttrec.shards as s; print([sorted(s.shards_of(f, 5, 2)) for f in sys.argv[1:]])"
    # Another interpreter, with another string-hash salt, agrees.
    out = subprocess.run(
        [sys.executable, "-c", code, *fixtures],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONHASHSEED": "12345"},
    ).stdout
    assert out.strip() == str(here)


def test_roughly_balanced() -> None:
    fixtures = [str(uuid.UUID(int=n)) for n in range(3000)]
    load = [sum(Shard(i, 3).records(f) for f in fixtures) for i in range(3)]
    assert sum(load) == 3000
    assert all(800 < n < 1200 for n in load), load  # 1000 each expected; 6 sigma is ~155


def test_losing_r_minus_1_shards_loses_nothing() -> None:
    fixtures = [str(uuid.UUID(int=n * 31)) for n in range(500)]
    for dead in range(3):
        alive = [i for i in range(3) if i != dead]
        assert all(any(Shard(i, 3, 2).records(f) for i in alive) for f in fixtures)


@pytest.mark.parametrize("value", ["3/3", "-1/3", "1", "a/b", "0/0"])
def test_parse_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(value)


def test_parse_and_replicas_bound() -> None:
    assert parse_shard(" 2/4 ", 3) == Shard(2, 4, 3)
    with pytest.raises(ValueError, match="replicas"):
        parse_shard("0/2", 3)
