"""`ttrec fuzz` finds the scenario that breaks a consumer, and only then.

Real consumers in real processes over loopback: the example consumers in
examples/fuzz_consumers (Python with trio-websocket, Node with ws), correct and with each of
their plantable bugs, and throwaway consumers that crash, print nothing or print noise. The
correct consumers pass scenarios with every fault kind and every collection ending. Each bug
is found within a bounded number of examples and shrunk to a small scenario (match seed 0,
best of 3, at most one fault) by `fuzz`'s own search, each example judged with the
consumers' logic in this process (consumer.py on trio's virtual time: a whole search costs
about what three consumer processes do); each consumer as a process, bug planted, gives the
same verdict word for word on the search's first failing example (so a search with it finds
the bug there or sooner) and on the shrunk scenario, and passes that one without the bug;
`ttrec fuzz` through real Node processes shrinks a bug to the very scenario the in-process
search does. An example that serves what an earlier one served is judged once, and the
search is the same for it. The same seed draws the same scenarios; the repro folder holds
the failing match. Every run is bounded: per example (--timeout) and per search (--budget).
TTREC_FUZZ_EXAMPLES=200 runs the correct consumers over that many examples (docs/fuzz.md has
the figures of such a run); by default, 5.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import pytest
import trio
from fuzz_support import judge_logic

import ttrec.testing.fuzz as fuzz_module
from ttrec.capture import read_capture
from ttrec.errors import OutputRefused
from ttrec.faults import parse_fault
from ttrec.outputs import REPRO_MANIFEST
from ttrec.testing.fuzz import (
    FuzzConfigError,
    FuzzResult,
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
    with pytest.raises(FuzzConfigError, match=r"unknown placeholder \{uri\}"):
        consumer_argv("node c.js {uri}", values)
    # Only bare names: Python's formatting (attributes, indexes, conversions) is not let in.
    for word in ("{url.upper}", "{url.x}", "{url[0]}", "{}", "{0}", "{url!r}", "{url:>40}"):
        with pytest.raises(
            FuzzConfigError, match="unknown placeholder " + word.replace("[", r"\[").replace("{", r"\{")
        ):
            consumer_argv(f"node c.js {word}", values)
    assert consumer_argv("node c.js {{url}}={url}", values) == ["node", "c.js", "{url}=" + values["url"]]
    with pytest.raises(FuzzConfigError, match="empty command"):
        consumer_argv("  ", values)


def test_every_fault_the_fuzzer_draws_parses() -> None:
    for faults in EVERY_KIND:
        for spec in faults:
            parse_fault(spec)


def _drawn(monkeypatch: pytest.MonkeyPatch, **options: int) -> list[Scenario]:
    """Every scenario a search with `options` draws, each judged a pass. Each is handed to
    the judge, even one that serves what an earlier one served (the search judges such a
    repeat once: test_a_search_judges_what_it_served_before_once)."""
    monkeypatch.setattr(Scenario, "served", lambda self: object())  # no two alike
    drawn: list[Scenario] = []

    def record_only(scenario: Scenario) -> Outcome:
        drawn.append(scenario)
        return Outcome(None)

    result = fuzz("unused", workdir=ROOT, judge=record_only, **options)  # type: ignore[arg-type]
    assert result.examples_run == result.consumer_runs == len(drawn)
    return drawn


def test_the_same_seed_draws_the_same_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _drawn(monkeypatch, examples=25, seed=4)
    assert _drawn(monkeypatch, examples=25, seed=4) == first and len(first) == 25
    assert _drawn(monkeypatch, examples=25, seed=5) != first
    assert any(s.faults for s in first) and any(s.join_permille for s in first)


def test_what_a_scenario_serves() -> None:
    base = Scenario(3, 3, False, ("drop:after=5",), 7, 0)
    assert base.served() == replace(base, fault_seed=8).served()  # no fault draws from the seed
    assert base.served() != replace(base, faults=("drop:after=6",)).served()
    drawing = replace(base, faults=("drop:p=0.1",))
    assert drawing.served() != replace(drawing, fault_seed=8).served()
    # The first join position that starts past frame 0, and the one before it, which does not.
    frames = len(base.match().frames)
    first = -(-1000 // frames)
    assert frames * first // 1000 == 1 and frames * (first - 1) // 1000 == 0
    assert replace(base, join_permille=first - 1).served() == base.served()
    assert replace(base, join_permille=first).served() != base.served()
    assert replace(base, collection="dropped").served() != base.served()


def test_a_search_judges_what_it_served_before_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real_served = Scenario.served

    def search() -> tuple[FuzzResult, list[object]]:
        judged: list[object] = []

        def judge(scenario: Scenario) -> Outcome:
            judged.append(real_served(scenario))
            return Outcome("no result" if scenario.collection == "dropped" else None, "diverged")

        options = {"examples": 30, "seed": 1, "best_of": 3, "max_faults": 1}
        return fuzz("unused", workdir=ROOT, judge=judge, **options), judged  # type: ignore[arg-type]

    examples: list[object] = []  # what each example served, in the order judged
    monkeypatch.setattr(Scenario, "served", lambda self: examples.append(real_served(self)) or examples[-1])
    cached, judged = search()
    assert cached.failure is not None and cached.failure[0].collection == "dropped"
    assert len(examples) == cached.examples_run
    assert judged == list(dict.fromkeys(examples))  # each served value once, when first met
    assert cached.consumer_runs == len(judged) < cached.examples_run
    # The same search judging every example afresh: the same examples, the same result.
    monkeypatch.setattr(Scenario, "served", lambda self: object())
    fresh, _ = search()
    assert fresh.consumer_runs == fresh.examples_run == cached.examples_run
    assert fresh.failure is not None and fresh.failure[0] == cached.failure[0]
    assert fresh.first_failure_at == cached.first_failure_at


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
    first = _drawn(monkeypatch, examples=40, seed=1, best_of=3, max_faults=1)
    _import_constants_module(tmp_path, monkeypatch)
    assert _drawn(monkeypatch, examples=40, seed=1, best_of=3, max_faults=1) == first and len(first) == 40


def test_two_searches_with_a_real_consumer_draw_the_same_scenarios(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, node_path: None
) -> None:
    # The correct Node consumer in its own process (the cheaper to start of the two), every
    # example served over loopback: the same seed, the same scenarios and the same
    # verdicts, though the searching process imported a module between the searches
    # (without the fix, in this test's own worker: another scenario from example 5 on).
    runs: list[list[tuple[Scenario, str | None]]] = []
    real = fuzz_module.run_scenario

    async def recorded(scenario: Scenario, consumer: str, workdir: Path, timeout_s: float) -> Outcome:
        outcome = await real(scenario, consumer, workdir, timeout_s)
        runs[-1].append((scenario, outcome.kind))
        return outcome

    monkeypatch.setattr(fuzz_module, "run_scenario", recorded)
    for run in range(2):
        runs.append([])
        options = {"seed": 1, "best_of": 3, "max_faults": 1, "timeout_s": 20}
        result = fuzz(NODE_CONSUMER, examples=SAME_SEED_EXAMPLES, workdir=tmp_path, **options)  # type: ignore[arg-type]
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


# Each bug, the examples within which seed 1 finds it, and the kind of failure it is found
# as. Seed 1 meets them at examples 4, 3, 6, 1 and 7, with the consumers' logic in-process
# and with either consumer as a process, in every process (docs/fuzz.md, hypothesis 6.170);
# the bounds are those set before the search was made deterministic (then 4, 3, 7, 1 and
# 19-21), kept: another hypothesis version draws another sequence from the same seed.
BUGS: Final = [
    ("winner-on-drop", 30, "diverged"),
    ("no-corrections", 30, "diverged"),
    ("forgets-position", 40, "diverged"),
    ("gap-is-loss", 10, "crashed"),
    ("period-order", 40, "diverged"),
]
WITHIN: Final = {bug: within for bug, within, _ in BUGS}


@dataclass(frozen=True)
class Search:
    result: FuzzResult
    first: tuple[Scenario, Outcome]  # the first failing example, before shrinking


@functools.cache  # the tests of a search run on one xdist worker (conftest.SAME_WORKER)
def _search_for(bug: str) -> Search:
    """Seed 1's search for `bug` (the settings of the tests below), each example judged with
    consumer.py's own logic in this process on trio's virtual time: the whole search with
    its shrinking costs about as much as three consumer processes. The search itself is
    `fuzz`'s, as `ttrec fuzz` runs it; only how an example is judged differs."""
    failed: list[tuple[Scenario, Outcome]] = []

    def judge(scenario: Scenario) -> Outcome:
        outcome = judge_logic(scenario, bug)
        if outcome.problem is not None and not failed:
            failed.append((scenario, outcome))
        return outcome

    result = fuzz(
        f"consumer.py's logic --bug {bug}",
        examples=WITHIN[bug],
        seed=1,
        workdir=ROOT,  # unused: the judge serves each match from a folder of its own
        budget_s=240,
        best_of=3,
        max_faults=1,
        judge=judge,
    )
    assert failed, f"{bug} not found in {WITHIN[bug]} examples"
    return Search(result, failed[0])


@pytest.mark.parametrize(("bug", "within", "kind"), BUGS)
def test_fuzz_finds_each_bug_and_shrinks_it(
    request: pytest.FixtureRequest, bug: str, within: int, kind: str
) -> None:
    result = _search_for(bug).result
    assert result.failure is not None, f"{bug} not found in {within} examples"
    assert result.first_failure_at is not None and result.first_failure_at <= within
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
        assert outcome.divergence.fields == ("sets",) and outcome.divergence.line == 1


@pytest.mark.parametrize(("bug", "within", "kind"), BUGS)
@pytest.mark.parametrize("language", ["python", "node"])
def test_each_consumer_process_fails_where_the_search_found_its_bug(
    tmp_path: Path, node_path: None, language: str, bug: str, within: int, kind: str
) -> None:
    # The search's first failing example and the scenario it shrank that to, each served to
    # the consumer as a process with the bug planted: the same verdict, word for word, as its
    # logic in-process. Before its first failure a search draws the same examples whatever
    # the consumer (every one passed), so the process fails the search at that example or
    # earlier: within the bound. Without the bug, it passes the shrunk scenario.
    search = _search_for(bug)
    assert search.result.failure is not None
    shrunk = search.result.failure
    consumer = CONSUMER_OF[language]
    seen: set[object] = set()
    for scenario, expected in (search.first, shrunk):
        if scenario.served() in seen:
            continue  # found at once, nothing to shrink (gap-is-loss)
        seen.add(scenario.served())
        outcome = _run(scenario, f"{consumer} --bug {bug}", tmp_path)
        assert outcome.kind == expected.kind == kind, (outcome.problem, outcome.stderr)
        if expected.divergence is not None:
            assert outcome.problem == expected.problem and outcome.divergence is not None
            assert outcome.divergence.describe() == expected.divergence.describe()
        else:  # the logic raised what the process reports before it exits 3
            assert expected.problem is not None and outcome.returncode == 3
            raised = expected.problem.split("LostData(")[1].strip("')")
            assert f"consumer: data lost: {raised}" in outcome.stderr, (expected.problem, outcome.stderr)
    correct = _run(shrunk[0], consumer, tmp_path)
    assert correct.problem is None, (correct.problem, correct.stderr)


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
    # The whole search through real Node processes shrank the bug to the scenario that the
    # search with the consumer's logic in-process shrank it to (the tests above).
    in_process = _search_for("winner-on-drop").result.failure
    assert in_process is not None
    assert Scenario(**{**scenario, "faults": tuple(scenario["faults"])}) == in_process[0]
    assert (repro / "faults.txt").read_text().splitlines() == scenario["faults"]
    serve = shlex.split((repro / "serve.sh").read_text())
    assert serve[:3] == ["ttrec", "serve", "match.jsonl.zst"] and "--on-end" in serve
    assert (repro / "verdict.txt").read_text().startswith("beliefs line ")
    # The capture in the folder is the scenario's match, record for record: it replays the failure.
    header, records = read_capture(repro / "match.jsonl.zst")
    assert (header, records) == (in_process[0].match().header, list(in_process[0].match().records))


def test_a_repro_folder_never_replaces_what_ttrec_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputRefused, match=r"notes\.txt"):
        write_repro(tmp_path, _scenario(), Outcome("x", "crashed"), "c")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    again = tmp_path / "repro"
    for _ in range(2):  # an earlier repro of ttrec's own is replaced
        written = write_repro(again, _scenario("drop:after=3"), Outcome("x", "crashed"), "c")
    assert sorted(p.name for p in again.iterdir()) == sorted([REPRO_MANIFEST, *(p.name for p in written)])
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
    # A usage error (exit 2), as a missing extra is for `record --live` and `--metrics`.
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "ttrec fuzz: fuzzing needs hypothesis: pip install 'ttrec[strategies]' (try 'ttrec fuzz --help')"
    ]
