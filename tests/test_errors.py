"""The exception tree documented in ttrec/errors.py names every TtrecError subclass there is,
so a new error cannot be added without saying where it lives and what it means."""

from __future__ import annotations

import importlib
import pkgutil
import re

import recorder
import replayer
import ttrec
from ttrec.errors import TtrecError


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_the_documented_tree_names_every_subclass() -> None:
    for package in (ttrec, recorder, replayer):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(".__main__"):  # running it is all it does
                importlib.import_module(module.name)
    defined = {cls.__name__ for cls in _all_subclasses(TtrecError) if cls.__module__.split(".")[0] != "tests"}
    documented = set(re.findall(r"[├└]── (\w+)", importlib.import_module("ttrec.errors").__doc__ or ""))
    assert defined, "no subclass found: the walk above imported nothing"
    assert documented == defined
