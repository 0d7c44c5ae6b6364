"""sinabs' chip-backend modules, loaded one at a time from their files, for tests that compare
speksim with sinabs.

`import sinabs.backend.dynapcnn.<anything>` runs that package's `__init__`, which imports samna
(and tries to install it when it is missing). `load_dynapcnn_module("discretize")` loads
sinabs/backend/dynapcnn/discretize.py instead under a private package that points at the same
folder but never runs the `__init__`; a module's relative imports (`from .dvs_layer import ...`)
load its siblings the same way. A module that imports samna itself (config_builder,
dynapcnn_network, chips) still needs samna: the test calling it is skipped, saying so.

A test that calls these functions is skipped, with a message saying what to install, when torch
or sinabs is missing.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import pytest

# Not "sinabs.backend.dynapcnn": the real package would clash with this one if samna appeared later.
_PACKAGE = "_sinabs_dynapcnn_parts"


def require_sinabs():
    """The `sinabs` module (and torch imported), or a skip naming what to install."""
    pytest.importorskip("torch", reason="torch is not installed; comparing with sinabs needs it: "
                                        "pip install torch sinabs")
    return pytest.importorskip("sinabs", reason="sinabs is not installed; comparing with sinabs needs it: "
                                                "pip install sinabs")


def dynapcnn_folder() -> Path:
    """sinabs/backend/dynapcnn of the installed sinabs (skips when torch or sinabs is missing)."""
    sinabs = require_sinabs()
    folder = Path(sinabs.__file__).resolve().parent / "backend" / "dynapcnn"
    if not folder.is_dir():
        pytest.skip(f"this sinabs ({getattr(sinabs, '__version__', '?')}) has no backend/dynapcnn folder")
    return folder


def load_dynapcnn_module(name: str) -> types.ModuleType:
    """sinabs.backend.dynapcnn.<name> (e.g. "discretize", "mapping"), loaded without running the
    package's `__init__`. Loaded once per test session; later calls return the same module."""
    folder = dynapcnn_folder()
    if not (folder / f"{name}.py").is_file():
        pytest.skip(f"the installed sinabs has no backend/dynapcnn/{name}.py")
    package = sys.modules.get(_PACKAGE)
    if package is None:
        spec = importlib.machinery.ModuleSpec(_PACKAGE, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        package = importlib.util.module_from_spec(spec)
        sys.modules[_PACKAGE] = package
    try:
        return importlib.import_module(f"{_PACKAGE}.{name}")
    except ModuleNotFoundError as e:
        if e.name == "samna" or (e.name or "").startswith("samna."):
            pytest.skip(f"sinabs' backend/dynapcnn/{name}.py imports samna, which is not installed")
        raise
