"""Shared test settings.

Rules for every test here: loopback only, port 0, trio's MockClock (`autojump_clock`)
for anything timed, and a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

import os
from typing import Final

import pytest
from hypothesis import HealthCheck, settings

# CI machines are small and shared: judge properties by their examples, not by speed.
settings.register_profile(
    "ttrec", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ttrec")

# The tests that take longest (from some seconds to tens of seconds on the 2-core machine),
# longest first. They start before every other test, so that no worker is still running one
# of them at the end while the others wait (the order changes nothing else: every test sets
# up what it needs). A test missing here only starts later.
LONG_FIRST: Final = (
    "tests/test_check_consumer.py::test_the_correct_consumer_passes_hundreds_of_examples_under_trio",
    # one xdist group (the bugs' searches, shared): some 15 s on one worker in all
    "tests/test_fuzz.py::test_fuzz_finds_each_bug_and_shrinks_it",
    "tests/test_fuzz.py::test_each_consumer_process_fails_where_the_search_found_its_bug",
    "tests/test_record_live_cli.py",
    "tests/test_capture_fuzz.py::test_garbage_lines",
    "tests/test_examples.py",
    "tests/test_capture_fuzz.py::test_cli_on_broken_files_exits_1_with_a_line_never_a_traceback",
    "tests/test_capture_fuzz.py::test_bit_flips",
    "tests/test_feed_quick.py::test_a_text_is_inspected_as_the_stdlib_inspects_it",
    "tests/test_cli_simulate.py::test_every_simulated_capture_passes_check_and_info_reports_what_was_played",
    "tests/test_fuzz.py::test_ttrec_fuzz_on_the_node_consumers",
    "tests/test_simulated_feeds.py",
    "tests/test_simulator_theory.py",
    "tests/test_simulator.py::test_every_rule_holds_on_every_clean_match",
    "tests/test_plugin.py",
    "tests/test_readme.py",
    "tests/test_records_fast.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # The processes the tests start run ttrec as an installed ttrec runs, from bytecode (pip
    # compiles it at install). A shell that sets PYTHONDONTWRITEBYTECODE (this project's
    # machines do) would have every `ttrec` process compile ttrec's modules again, ~0.1 s of
    # CPU each. Set once, by the process that starts the others (xdist's workers inherit it);
    # the bytecode goes to pytest's cache directory, never into the checkout.
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if hasattr(config, "workerinput") or "PYTHONPYCACHEPREFIX" in os.environ or cache is None:
        return
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache.mkdir("bytecode"))


# Tests that share an expensive setup (a module fixture, a cache), each group named by its
# node-id prefixes: a group runs on one xdist worker, so that its setup is made once.
# pytest-xdist's own `xdist_group` mark groups nothing under pytest 9 (xdist 3.8 renames the
# items through `item._nodeid`, which pytest 9 no longer reads), so the groups are named
# here, where the scheduler can see them.
SAME_WORKER: Final = (
    ("tests/test_record_live_cli.py",),
    ("tests/test_simulated_feeds.py",),  # its default_match cache: 60 matches simulated once
    (  # the bugs' searches (test_fuzz._search_for)
        "tests/test_fuzz.py::test_fuzz_finds_each_bug_and_shrinks_it",
        "tests/test_fuzz.py::test_each_consumer_process_fails_where_the_search_found_its_bug",
    ),
)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SameWorkerGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = next((g for g in SAME_WORKER if nodeid.startswith(g)), None)
            return group[0] if group is not None else super()._split_scope(nodeid)

    return SameWorkerGroups(config, log)  # type: ignore[arg-type]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)), len(LONG_FIRST)
        )

    items.sort(key=rank)  # stable: the rest keep their order
