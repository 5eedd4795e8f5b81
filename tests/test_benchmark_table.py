"""README.md's performance table is the one benchmarks/run_all.py makes from the committed
benchmarks/results.json: a figure in the README cannot drift from its measurement."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmark_support import load_benchmark

ROOT = Path(__file__).resolve().parent.parent


def run_all() -> ModuleType:
    return load_benchmark("run_all")


def test_the_readme_shows_the_table_of_the_committed_results() -> None:
    module = run_all()
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert results["mode"] == "full"
    assert module.readme_block((ROOT / "README.md").read_text()) == module.render_table(results)


def _results() -> dict[str, Any]:
    conditions = {
        "date": "2026-11-29T20:00:00Z",
        "cores": 2,
        "cpu": "Test CPU",
        "load_1m_at_start": 1.25,
        "python": "3.11.7",
        "zstandard": "0.25.0",
        "trio": "0.35.0",
    }
    figures = {
        "cat_vs_zstd": 0.7312,
        "cat_frames_vs_zstd": 0.3049,
        "reader_rec_per_s": 151234.5,
        "reader_vs_zstd": 0.25,
        "write_vs_plain": 0.5,
        "compression_ratio": 30.24,
        "ratio_vs_zstd19": 0.27,
    }
    return {"mode": "full", "benchmarks": {"capture_io": {"conditions": conditions, "figures": figures}}}


def test_each_figure_lands_in_its_row_with_the_conditions() -> None:
    table = run_all().render_table(_results())
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "| 0.73x |" in rows["`ttrec cat`, whole process, vs `zstd -dc`"]
    assert "| 0.30x |" in rows["`ttrec cat --frames` vs `zstd -dc`"]
    assert "151,234 rec/s" in rows["reading records (`CaptureReader`)"]
    assert "30.2x (0.27 of `zstd -19`)" in rows["compression, block flushed per record"]
    assert "2026-11-29T20:00:00Z, 2 cores (Test CPU), load average 1.25 at start" in table


def test_write_readme_replaces_only_the_block(tmp_path: Path) -> None:
    module = run_all()
    readme = tmp_path / "README.md"
    before, after = "# Title\n\ntext before\n\n", "\n\ntext after\n"
    readme.write_text(f"{before}{module.BEGIN}\nold table\n{module.END}{after}")
    results = _results()
    module.write_readme(results, readme)
    text = readme.read_text()
    assert text.startswith(before) and text.endswith(after) and "old table" not in text
    assert module.readme_block(text) == module.render_table(results)
    changed = copy.deepcopy(results)
    changed["benchmarks"]["capture_io"]["figures"]["cat_vs_zstd"] = 0.5
    assert module.readme_block(text) != module.render_table(changed)
