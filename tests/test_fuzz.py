"""`ttrec fuzz` finds the scenario that breaks a consumer, and only then.

Real consumers in real processes over loopback: the example consumers in
examples/fuzz_consumers (Python with trio-websocket, Node with ws), correct and with each of
their plantable bugs, and throwaway consumers that crash, print nothing or print noise. The
correct consumers pass scenarios with every fault kind and every collection ending; each bug
of both consumers is found within a bounded number of examples and shrunk to a small
scenario (match seed 0, best of 3, at most one fault); the same seed draws the same
scenarios; the repro folder replays the failure. Every run is bounded: per example
(--timeout) and per search (--budget). TTREC_FUZZ_EXAMPLES=200 runs the correct consumers
over that many examples (docs/fuzz.md has the figures of such a run); by default, 5.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
import trio

import ttrec.testing.fuzz as fuzz_module
from ttrec.faults import parse_fault
from ttrec.testing.fuzz import (
    FuzzConfigError,
    Outcome,
    Scenario,
    consumer_argv,
    fuzz,
    run_scenario,
    write_repro,
)
from ttrec.testing.strategies import OFTEN_CORRECTED_PPM

ROOT: Final = Path(__file__).resolve().parent.parent
CONSUMERS: Final = ROOT / "examples" / "fuzz_consumers"
PYTHON_CONSUMER: Final = f"{shlex.quote(sys.executable)} {CONSUMERS / 'consumer.py'} {{url}} {{token}}"
NODE_CONSUMER: Final = f"node {CONSUMERS / 'consumer.js'} {{url}} {{token}}"
NODE_MODULES: Final = ROOT / "tests" / "interop" / "node" / "node_modules"
CONSUMER_OF: Final = {"python": PYTHON_CONSUMER, "node": NODE_CONSUMER}
EXAMPLE_TIMEOUT_S: Final = 20.0
MANY_EXAMPLES: Final = int(os.environ.get("TTREC_FUZZ_EXAMPLES", "5"))
SAME_SEED_EXAMPLES: Final = 6
# Scenarios that together use every fault kind the fuzzer draws (docs/fuzz.md).
EVERY_KIND: Final = (
    ("drop:after=5", "duplicate:p=0.1", "corrupt:at=game-point"),
    ("close:after=9,code=1011", "reorder:at=set-end", "delay:p=0.05,by=0.05"),
    ("stall:after=20,for=0.2", "no-heartbeats:after=1,for=0.2", "heartbeats-only:at=match-point,for=0.2"),
)


@pytest.fixture
def node_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shutil.which("node") is not None, "node is needed for the Node consumer"
    assert NODE_MODULES.is_dir(), "run: npm ci --prefix tests/interop/node"
    monkeypatch.setenv("NODE_PATH", str(NODE_MODULES))


def _scenario(*faults: str, join_permille: int = 0, seed: int = 3, collection: str = "completed") -> Scenario:
    return Scenario(seed, 3, False, faults, 7, join_permille, collection)  # type: ignore[arg-type]


def _run(scenario: Scenario, consumer: str, workdir: Path) -> Outcome:
    return trio.run(run_scenario, scenario, consumer, workdir, EXAMPLE_TIMEOUT_S)


def test_placeholders_are_filled_word_by_word() -> None:
    values = {"url": "ws://h:1/p?startPosition=3&x=1", "base_url": "ws://h:1", "fixture": "f", "token": "t"}
    values["ca_file"] = ""
    argv = consumer_argv("node 'my consumer.js' {url} --token={token} {fixture}", values)
    assert argv == ["node", "my consumer.js", "ws://h:1/p?startPosition=3&x=1", "--token=t", "f"]
    with pytest.raises(FuzzConfigError, match=r"unknown placeholder 'uri'"):
        consumer_argv("node c.js {uri}", values)
    with pytest.raises(FuzzConfigError, match="empty command"):
        consumer_argv("  ", values)


def test_every_fault_the_fuzzer_draws_parses() -> None:
    for faults in EVERY_KIND:
        for spec in faults:
            parse_fault(spec)


def test_the_same_seed_draws_the_same_scenarios(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    drawn: list[Scenario] = []

    async def record_only(scenario: Scenario, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
        drawn.append(scenario)
        return Outcome(None)

    monkeypatch.setattr(fuzz_module, "run_scenario", record_only)
    fuzz("unused", examples=25, seed=4, workdir=tmp_path)
    first = list(drawn)
    drawn.clear()
    fuzz("unused", examples=25, seed=4, workdir=tmp_path)
    assert first == drawn and len(first) == 25
    fuzz("unused", examples=25, seed=5, workdir=tmp_path)
    assert drawn[25:] != first
    assert any(s.faults for s in first) and any(s.join_permille for s in first)


def _import_constants_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import a module of the kind hypothesis reads literals from (outside site-packages and
    the standard library), as pytest's earlier tests, the CLI or a consumer's own code do: its
    integers lie in every range a scenario draws from."""
    name = f"fuzz_constants_{tmp_path.name.replace('-', '_')}"
    values = [*range(101, 951, 7), *(10**k + 3 for k in range(3, 19))]
    (tmp_path / f"{name}.py").write_text(f"VALUES = {tuple(values)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)  # it stays imported (a name of its own): as a real import would


def test_the_same_seed_draws_the_same_scenarios_whatever_the_process_imported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Hypothesis draws now and then a literal of an imported local module: without the
    # search emptying that pool, this seed drew another scenario from example 7 on.
    drawn: list[Scenario] = []

    async def record_only(scenario: Scenario, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
        drawn.append(scenario)
        return Outcome(None)

    monkeypatch.setattr(fuzz_module, "run_scenario", record_only)
    fuzz("unused", examples=40, seed=1, workdir=tmp_path, best_of=3, max_faults=1)
    first = list(drawn)
    _import_constants_module(tmp_path, monkeypatch)
    drawn.clear()
    fuzz("unused", examples=40, seed=1, workdir=tmp_path, best_of=3, max_faults=1)
    assert drawn == first and len(first) == 40


def test_two_searches_with_a_real_consumer_draw_the_same_scenarios(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The correct Python consumer in its own process, every example served over loopback:
    # the same seed, the same scenarios and the same verdicts, though the process imported
    # a module between the searches (without the fix: another scenario from example 4 on).
    runs: list[list[tuple[Scenario, str | None]]] = []
    real = fuzz_module.run_scenario

    async def recorded(scenario: Scenario, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
        outcome = await real(scenario, consumer, workdir, timeout_s)
        runs[-1].append((scenario, outcome.kind))
        return outcome

    monkeypatch.setattr(fuzz_module, "run_scenario", recorded)
    for run in range(2):
        runs.append([])
        result = fuzz(PYTHON_CONSUMER, examples=SAME_SEED_EXAMPLES, seed=5, workdir=tmp_path, timeout_s=20)
        assert result.failure is None and result.examples_run == SAME_SEED_EXAMPLES, result.failure
        if run == 0:
            _import_constants_module(tmp_path, monkeypatch)
    assert runs[0] == runs[1] and len(runs[0]) == SAME_SEED_EXAMPLES


@pytest.mark.parametrize(
    ("program", "kind", "words"),
    [
        ("import sys; sys.exit(3)", "crashed", "exited with status 3"),
        ("pass", "gave-up", "never reported the final frame"),
        ("print('connecting...')", "not-beliefs", "beliefs line 1: not a JSON object"),
    ],
)
def test_what_fails_an_example(tmp_path: Path, program: str, kind: str, words: str) -> None:
    consumer = f"{shlex.quote(sys.executable)} -c {shlex.quote(program)} {{url}}"
    outcome = _run(_scenario(), consumer, tmp_path)
    assert outcome.kind == kind and outcome.problem is not None and words in outcome.problem


@pytest.mark.parametrize("faults", EVERY_KIND)
def test_the_correct_python_consumer_survives_every_fault_kind(
    tmp_path: Path, faults: tuple[str, ...]
) -> None:
    outcome = _run(_scenario(*faults, join_permille=300), PYTHON_CONSUMER, tmp_path)
    assert outcome.problem is None, (outcome.problem, outcome.stderr)
    beliefs = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert beliefs[-1]["finished"] is True and beliefs[-1]["winner"] in ("home", "away")


@pytest.mark.parametrize("language", ["python", "node"])
def test_the_correct_consumers_know_a_dropped_match_has_no_winner(
    tmp_path: Path, node_path: None, language: str
) -> None:
    outcome = _run(_scenario("drop:at=set-end", collection="dropped"), CONSUMER_OF[language], tmp_path)
    assert outcome.problem is None, (outcome.problem, outcome.stderr)
    last = json.loads(outcome.stdout.splitlines()[-1])
    assert last["finished"] is True and last["winner"] is None
    suspended = _run(_scenario(collection="suspended"), CONSUMER_OF[language], tmp_path)
    assert suspended.problem is None, (suspended.problem, suspended.stderr)


@pytest.mark.parametrize("faults", EVERY_KIND)
def test_the_correct_node_consumer_survives_every_fault_kind(
    tmp_path: Path, node_path: None, faults: tuple[str, ...]
) -> None:
    outcome = _run(_scenario(*faults, join_permille=300), NODE_CONSUMER, tmp_path)
    assert outcome.problem is None, (outcome.problem, outcome.stderr)


# Each bug, the examples within which seed 1 finds it in both consumers, and the kind of
# failure it is found as. Seed 1 meets them at examples 4, 3, 6, 1 and 7 in both consumers,
# in every process (docs/fuzz.md, hypothesis 6.170); the bounds are those set before the
# search was made deterministic (then 4, 3, 7, 1 and 19-21), kept: another hypothesis
# version draws another sequence from the same seed. `period-order` shows only when the
# consumer joins mid-match on a frame whose periods are out of order; it is also proven on
# its shrunk scenario below.
BUGS: Final = [
    ("winner-on-drop", 30, "diverged"),
    ("no-corrections", 30, "diverged"),
    ("forgets-position", 40, "diverged"),
    ("gap-is-loss", 10, "crashed"),
    ("period-order", 40, "diverged"),
]


@pytest.mark.parametrize("language", ["python", "node"])
def test_period_order_is_caught_where_it_shows(tmp_path: Path, node_path: None, language: str) -> None:
    # The scenario the search shrank it to (docs/fuzz.md): joining 54.8 % into match seed 0,
    # on a frame that lists set 2 before set 1.
    scenario = Scenario(0, 3, False, (), 0, 548)
    buggy = _run(scenario, f"{CONSUMER_OF[language]} --bug period-order", tmp_path)
    assert buggy.kind == "diverged" and buggy.divergence is not None
    assert buggy.divergence.fields == ("sets",) and buggy.divergence.line == 1
    assert _run(scenario, CONSUMER_OF[language], tmp_path).problem is None


@pytest.mark.parametrize(("bug", "within", "kind"), BUGS)
@pytest.mark.parametrize("language", ["python", "node"])
def test_fuzz_finds_each_bug_and_shrinks_it(
    tmp_path: Path,
    node_path: None,
    request: pytest.FixtureRequest,
    language: str,
    bug: str,
    within: int,
    kind: str,
) -> None:
    result = fuzz(
        f"{CONSUMER_OF[language]} --bug {bug}",
        examples=within,
        seed=1,
        workdir=tmp_path,
        timeout_s=EXAMPLE_TIMEOUT_S,
        budget_s=240,
        best_of=3,
        max_faults=1,
    )
    assert result.failure is not None, f"{bug} not found in {within} examples"
    request.node.user_properties.append(("found_at_example", result.first_failure_at))  # --junitxml
    scenario, outcome = result.failure
    assert outcome.kind == kind, outcome.problem
    assert scenario.best_of == 3 and len(scenario.faults) <= 1 and scenario.match_seed == 0
    if bug == "winner-on-drop":  # it shows only where there is no result
        assert scenario.collection == "dropped" and outcome.divergence is not None
        assert outcome.divergence.fields == ("winner",) and outcome.divergence.belief["winner"] is not None
    if bug == "no-corrections":  # it shows only where a point is taken back
        assert scenario.correction_ppm == OFTEN_CORRECTED_PPM and outcome.divergence is not None
        assert outcome.divergence.truth is not None and outcome.divergence.truth["corrections"] >= 1
    if bug == "period-order":  # it shows only on joining mid-match, in the order of the sets
        assert scenario.join_permille > 0 and outcome.divergence is not None
        assert outcome.divergence.fields == ("sets",)


@pytest.mark.parametrize("language", ["python", "node"])
def test_the_correct_consumers_pass_many_examples(tmp_path: Path, node_path: None, language: str) -> None:
    result = fuzz(CONSUMER_OF[language], examples=MANY_EXAMPLES, seed=2, workdir=tmp_path, budget_s=3600)
    assert result.failure is None, result.failure
    assert result.examples_run == MANY_EXAMPLES and not result.stopped_by_budget


def test_ttrec_fuzz_on_the_node_consumers(tmp_path: Path, node_path: None) -> None:
    def ttrec_fuzz(consumer: str, examples: int, out: Path) -> subprocess.CompletedProcess[str]:
        args = ["fuzz", "--consumer", consumer, "--examples", str(examples), "--seed", "1"]
        args += [
            "--best-of",
            "3",
            "--max-faults",
            "1",
            "--out",
            str(out),
            "--timeout",
            str(EXAMPLE_TIMEOUT_S),
        ]
        return subprocess.run(
            [sys.executable, "-m", "ttrec", *args], capture_output=True, text=True, timeout=600, check=False
        )

    good = ttrec_fuzz(NODE_CONSUMER, 3, tmp_path / "good")
    assert good.returncode == 0 and "3 examples, every belief held" in good.stderr, good.stderr
    assert not (tmp_path / "good").exists()

    repro = tmp_path / "repro"
    bad = ttrec_fuzz(f"{NODE_CONSUMER} --bug winner-on-drop", 30, repro)
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.startswith("FAILED after ") and "Traceback" not in bad.stderr
    scenario = json.loads((repro / "scenario.json").read_text())
    assert scenario["best_of"] == 3 and len(scenario["faults"]) <= 1
    assert (repro / "faults.txt").read_text().splitlines() == scenario["faults"]
    serve = shlex.split((repro / "serve.sh").read_text())
    assert serve[:3] == ["ttrec", "serve", "match.jsonl.zst"] and "--on-end" in serve
    assert (repro / "verdict.txt").read_text().startswith("beliefs line ")
    # The capture in the folder is the scenario's match: it replays the failure.
    check = subprocess.run(
        [sys.executable, "-m", "ttrec", "check", str(repro / "match.jsonl.zst")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_repro_folder_never_replaces_what_ttrec_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FuzzConfigError, match=r"notes\.txt"):
        write_repro(tmp_path, _scenario(), Outcome("x", "crashed"), "c")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    again = tmp_path / "repro"
    for _ in range(2):  # an earlier repro of ttrec's own is replaced
        written = write_repro(again, _scenario("drop:after=3"), Outcome("x", "crashed"), "c")
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in written)
    assert os.path.getsize(again / "match.jsonl.zst") > 0


def test_without_hypothesis_ttrec_fuzz_says_which_extra_to_install() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; from ttrec.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "fuzz", "--consumer", "true", "--examples", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: ttrec fuzz needs hypothesis: pip install 'ttrec[strategies]'"
    ]
