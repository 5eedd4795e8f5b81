"""examples/fuzz_consumers/consumer.py's own logic, loaded as a module and run in this process
(trio-websocket, trio's virtual time) for tests/test_check_consumer.py and tests/test_fuzz.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from ttrec.testing.check import TRIO_EXAMPLE_TIMEOUT_S, judge_in_process
from ttrec.testing.fuzz import Outcome, Scenario

EXAMPLE: Final = Path(__file__).resolve().parent.parent / "examples" / "fuzz_consumers" / "consumer.py"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_consumer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONSUMER: Final = _load(EXAMPLE)


def trio_consumer(bug: str | None = None) -> Any:
    """The consumer as ttrec.testing.check_consumer takes one: its `beliefs`, with `bug` planted."""

    async def run(url: str, token: str) -> list[dict[str, Any]]:
        return await CONSUMER.beliefs(url, token, bug)  # type: ignore[no-any-return]

    return run


def judge_logic(scenario: Scenario, bug: str | None = None) -> Outcome:
    """The consumer's logic on one scenario, judged in-process on trio's virtual time as
    `ttrec fuzz` judges its process (a raise, such as gap-is-loss's LostData, is a crash)."""
    return judge_in_process(trio_consumer(bug), scenario, loop="trio", timeout_s=TRIO_EXAMPLE_TIMEOUT_S)
