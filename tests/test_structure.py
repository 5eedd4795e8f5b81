"""The shape of the code: no function in ttrec/, recorder/ or replayer/ is over 50 lines
(issue 13's "done when"), counted from its `def` line to its last line, docstring and
signature included, as a reader meets it. The test names every function over the limit."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGES: Final = ("ttrec", "recorder", "replayer")
MAX_LINES: Final = 50


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function and method in a module, nested ones too."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                found.append((f"{prefix}{child.name}", child.end_lineno - child.lineno + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return found


def test_the_counter_counts_def_to_last_line(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    module.write_text(f"class C:\n    def short(self):\n        return 1\n\n\ndef long():\n{body}\n")
    assert function_lengths(module) == [("C.short", 2), ("long", 61)]


def test_no_function_is_over_50_lines() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}: {name} ({lines} lines)"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, lines in function_lengths(path)
        if lines > MAX_LINES
    ]
    assert not too_long, "functions over 50 lines:\n" + "\n".join(too_long)
