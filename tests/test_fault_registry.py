"""The fault registry (ttrec.faults.REGISTRY) is the one list of kinds: every registered kind
parses from its own example, prints back to a spec that parses to the same fault, and is
documented in docs/faults.md (its grammar row) and in `ttrec serve --help` (its example);
a kind missing from any of them fails here, not silently at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttrec.cli import cli
from ttrec.faults import KINDS, REGISTRY, FaultSpecError, parse_fault

DOCS = Path(__file__).resolve().parents[1] / "docs" / "faults.md"


def serve_help() -> str:
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # click rewraps; compare word by word


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_parses_from_its_example_and_prints_back(kind: str) -> None:
    cls = REGISTRY[kind]
    assert kind == cls.KIND and cls.EXAMPLE.startswith(f"{kind}:")
    fault = parse_fault(cls.EXAMPLE)
    assert type(fault) is cls
    assert parse_fault(str(fault)) == fault


def test_each_kind_is_in_the_docs_and_in_serve_help() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([^`]+)` \|", docs, flags=re.M))
    helptext = serve_help()
    for kind, cls in REGISTRY.items():
        assert cls.GRAMMAR in rows, f"docs/faults.md has no row for {cls.GRAMMAR}"
        assert f"--fault {cls.EXAMPLE}" in helptext, f"serve --help shows no {kind} example"


def test_documented_kinds_are_registered() -> None:
    """The other way round: a kind in the docs' table that nothing implements."""
    docs = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+):(?:TRIGGER|next)", docs, flags=re.M))
    assert documented == set(KINDS)


def test_an_unknown_kind_names_every_registered_one() -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault("explode:after=1")
    assert all(kind in str(caught.value) for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_needs_the_keys_its_grammar_row_needs_and_no_others(kind: str) -> None:
    """The grammar row is made from the kind's declared keys, and so is its parsing: a key
    the row shows bare must be given, one in brackets may be left out, and any other is
    refused."""
    cls = REGISTRY[kind]
    row = cls.GRAMMAR.split(":", 1)[1]
    optional = set(re.findall(r"\[,(\w+)=", row))
    required = {key for key in re.findall(r"(\w+)=", row) if key not in optional}
    example = dict(item.split("=", 1) for item in cls.EXAMPLE.split(":", 1)[1].split(","))
    for key in required:
        without = ",".join(f"{k}={v}" for k, v in example.items() if k != key)
        with pytest.raises(FaultSpecError, match=f"{key}="):
            parse_fault(f"{kind}:{without}")
    for key in optional & set(example):
        without = ",".join(f"{k}={v}" for k, v in example.items() if k != key)
        assert type(parse_fault(f"{kind}:{without}")) is cls
    with pytest.raises(FaultSpecError, match="unknown key 'nonsense'"):
        parse_fault(f"{cls.EXAMPLE},nonsense=1")
