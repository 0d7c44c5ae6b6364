"""Where numba keeps speksim's compiled code: a per-user cache folder, never inside the package.

By default `@njit(cache=True)` writes its cache beside the source, in `__pycache__/*.nbi` and
`*.nbc`. For an installed speksim that is `site-packages/speksim/`, and an installer's record does
not list those files: uninstalling (or replacing a plain install by an editable one) leaves a
`speksim/` folder holding only caches, which Python then imports as an empty namespace package
in place of the real one (`cannot import name '__version__' from 'speksim' (unknown location)`).

Importing this module, before speksim's modules apply `@njit(cache=True)`, puts the cache of
speksim's own functions, and only those, in `<user cache>/speksim/numba/<folder>_<hash of the
source folder>` (one subfolder per installed copy, so copies never share stale code):

- Linux and others: `$XDG_CACHE_HOME/speksim`, default `~/.cache/speksim`;
- macOS: `~/Library/Caches/speksim`;
- Windows: `%LOCALAPPDATA%\\speksim\\Cache`.

numba keeps a cached function while its own source file is unchanged; but a function of
`engine/loop.py` also holds the kernels it inlines (`kernels.py`) and the column numbers it reads
(`engine/compiled.py`, `blocks.py`), so a change there alone would leave it stale, silently
computing with the old code. speksim's functions are therefore stamped with every source file
compiled code depends on (`DEPENDS`): a change to any of them recompiles them all.

numba's own settings still win: with `NUMBA_CACHE_DIR` set, every cache (speksim's included)
goes there; with `NUMBA_CACHE_LOCATOR_CLASSES` set, numba uses exactly those locators. When the
per-user folder cannot be written, numba chooses as it would without speksim. Functions of any
other package are cached as numba always does.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path
from typing import Optional

from numba.core import caching

_PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))

# older numba releases spell these with a leading underscore
_CacheImpl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
_InTreeLocator = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator


def user_cache_dir() -> Optional[Path]:
    """The per-user folder of speksim's caches (see the module docstring); None without a home."""
    try:
        if sys.platform == "win32":
            base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
            return Path(base) / "speksim" / "Cache"
        if sys.platform == "darwin":
            return Path.home() / "Library" / "Caches" / "speksim"
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # the XDG spec ignores relative paths
        return base / "speksim"
    except (RuntimeError, KeyError):  # no home folder can be determined
        return None


def numba_cache_dir() -> Optional[Path]:
    """Folder under which speksim's compiled functions are cached by default."""
    base = user_cache_dir()
    return None if base is None else base / "numba"


#: The files and folders (relative to the package) whose source speksim's compiled code depends on.
DEPENDS = ("_jit.py", "blocks.py", "kernels.py", "engine", "io")


def sources_stamp(package_dir: str = _PACKAGE_DIR) -> str:
    """A digest of the path, modification time and size of every source file in `DEPENDS`."""
    digest = hashlib.sha256()
    for rel in DEPENDS:
        path = os.path.join(package_dir, rel)
        files = [path] if rel.endswith(".py") else sorted(
            os.path.join(path, name) for name in os.listdir(path) if name.endswith(".py"))
        for f in files:
            st = os.stat(f)
            digest.update(f"{os.path.relpath(f, package_dir)}:{st.st_mtime_ns}:{st.st_size};".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _stamp() -> str:
    return sources_stamp()


def is_cached(dispatcher) -> bool:
    """Whether `dispatcher` (an @njit(cache=True) function) is compiled in this process or has
    fresh compiled code in numba's cache, so that its first call does not compile. True when
    numba's cache cannot be inspected (its layout is numba's own): this only decides a note."""
    if dispatcher.signatures:
        return True
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001  (any change in numba's internals: assume cached, say nothing)
        return True


def in_package(py_file: str) -> bool:
    """True for a source file of this speksim installation."""
    return os.path.realpath(py_file).startswith(_PACKAGE_DIR + os.sep)


class SpeksimCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba cache locator: speksim's functions → `numba_cache_dir()`; any other function → None,
    so that numba's next locator decides."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(str(numba_cache_dir()), self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        # numba's own stamp covers only the function's file (see the module docstring)
        return super().get_source_stamp(), _stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not in_package(py_file) or not os.path.exists(py_file) or numba_cache_dir() is None:
            return None
        self = cls(py_func, py_file)
        try:
            self.ensure_cache_path()
        except OSError:  # not writable: numba's own choice applies
            return None
        return self


def plain_argument_types(module_globals: dict) -> None:
    """Have every compiled function defined in a module (given its `globals()`) compiled for the
    plain types of its arguments when compiled code calls it, never for their literal values.

    numba compiles a function called from compiled code once per distinct argument types, and a
    constant argument (a feature count, `0`) has a type of its own per value: `Literal[int](16)`.
    It even compiles versions for literal types it sees only while still inferring a caller's
    types, and then never uses them. `kernels._row` was compiled 8 times, 4 of them never used,
    and `kernels._list_spikes` 4 times: about 7 s of a first replay's compile (36.6 s before, 29.7 s
    after, on a Zen 3). Both are inlined into their callers, where the compiler folds the
    constants all the same: the loop's machine code is unchanged. Calls from Python are
    unaffected.

    Works through the dispatcher's `get_call_template`, which numba's typing of a call uses; like
    `_nrt=False` this is numba's internals, which pyproject.toml's cap on numba covers, and
    tests/test_jit_options.py fails if it stops working."""
    from numba.core import types
    from numba.core.registry import CPUDispatcher

    def plain(dispatcher):
        literal = dispatcher.get_call_template

        def get_call_template(args, kws):
            return literal(tuple(types.unliteral(a) for a in args),
                           {k: types.unliteral(v) for k, v in kws.items()})

        dispatcher.get_call_template = get_call_template

    name = module_globals["__name__"]
    for value in list(module_globals.values()):
        if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name:
            plain(value)


def install() -> None:
    """Put `SpeksimCacheLocator` just before numba's in-tree locator (after the one that honours
    NUMBA_CACHE_DIR); idempotent."""
    locators = _CacheImpl._locator_classes
    if any(getattr(c, "__name__", "") == SpeksimCacheLocator.__name__ and c.__module__ == __name__
           for c in locators):
        return
    where = locators.index(_InTreeLocator) if _InTreeLocator in locators else 0
    locators.insert(where, SpeksimCacheLocator)


install()
