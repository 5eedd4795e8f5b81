"""`ttrec info`, `ttrec check` and `ttrec cat`: read captures."""

from __future__ import annotations
