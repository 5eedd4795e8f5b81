"""ttrec: record, replay and simulate the table-tennis live statistics websocket."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"
TOOL: Final = f"ttrec {__version__}"
