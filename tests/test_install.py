"""An installed speksim keeps working: numba's compiled code is cached per user, outside the
package, so replacing a plain install by an editable one (the README's order) leaves no
`speksim/` folder of cache files behind to shadow the new install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent

_NO_TOOLS = ("invalid command 'bdist_wheel'", "No module named", "BackendUnavailable",
             "Could not find a version", "No matching distribution", "Cannot import 'setuptools")


def _copy_source(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"):
        if (CHECKOUT / name).is_file():
            shutil.copy2(CHECKOUT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(CHECKOUT / "speksim", dest / "speksim", ignore=ignore)
    shutil.copytree(CHECKOUT / "chips", dest / "chips", ignore=ignore)
    shutil.copytree(CHECKOUT / "traces", dest / "traces", ignore=ignore)
    return dest


def _clean_env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


_CHECK_INSTALLED = """
import json, speksim, speksim.chip as c
chip = c.load_chip("speck2f")
print(json.dumps({"name": chip.name, "module": speksim.chip.__file__, "chips_dir": str(c.chips_dir()),
                  "builtin": c.builtin_chips()}))
"""


def _cache_env(root: Path, checkout: bool = False) -> dict:
    """Environment whose per-user cache folder is under `root` (on every platform), with no numba
    cache settings of the user's; `checkout`: import speksim from this checkout."""
    env = _clean_env()
    for key in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "NUMBA_DISABLE_JIT"):
        env.pop(key, None)
    env["XDG_CACHE_HOME"] = str(root)
    if sys.platform == "win32":
        env["LOCALAPPDATA"] = str(root)
    elif sys.platform == "darwin":
        env["HOME"] = str(root)
    if checkout:
        env["PYTHONPATH"] = str(CHECKOUT)
    return env


_CACHE_PATHS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import other                                          # a user's own numba code, cache=True
from speksim import kernels, _jit
from speksim.engine import fast
from speksim.io import prophesee
print(json.dumps({"kernels": kernels.scatter_event.stats.cache_path, "fast": fast._run.stats.cache_path,
                  "prophesee": prophesee._evt2_kernel.stats.cache_path, "other": other.f.stats.cache_path,
                  "speksim_dir": str(_jit.numba_cache_dir())}))
"""

_OTHER = """
from numba import njit

@njit(cache=True)
def f(x):
    return x + 1
"""


def _cache_paths(tmp_path, **extra_env) -> dict:
    """Where numba would cache speksim's functions and a user's, in a fresh process (nothing is
    compiled: a dispatcher picks its cache folder when it is created)."""
    user_code = tmp_path / "user_code"
    user_code.mkdir(exist_ok=True)
    (user_code / "other.py").write_text(_OTHER)
    env = _cache_env(tmp_path / "cache", checkout=True)
    env.update(extra_env)
    proc = subprocess.run([sys.executable, "-c", _CACHE_PATHS, str(user_code)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {k: Path(v) for k, v in json.loads(proc.stdout).items()}


def test_speksim_functions_are_cached_per_user_and_no_others(tmp_path):
    paths = _cache_paths(tmp_path)
    assert paths["speksim_dir"] == tmp_path / "cache" / "speksim" / "numba"
    for name in ("kernels", "fast", "prophesee"):
        assert paths[name].parent == paths["speksim_dir"], paths
    assert len({paths["kernels"], paths["fast"], paths["prophesee"]}) == 3  # one folder per source folder
    # numba's own choice for everyone else's code: __pycache__ beside the source
    assert paths["other"] == tmp_path / "user_code" / "__pycache__"


def test_numba_cache_dir_still_wins(tmp_path):
    paths = _cache_paths(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    for name in ("kernels", "fast", "prophesee", "other"):
        assert paths[name].parent == tmp_path / "numba_cache", paths


# ---------------------------------------------------------------------------- wheel, then editable

def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)


def _pip_install(py: Path, env: dict, *args) -> None:
    proc = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", *args], env=env)
    if proc.returncode != 0 and "no such option: --python" in proc.stderr:  # pip < 22.3: the venv's own pip
        proc = _run([py, "-m", "pip", "install", "--no-deps", "--no-index", *args], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


_REUSED = """
import json, speksim
from speksim.config import demo_config
from speksim.engine import fast
ev = speksim.make_events("dvs", t=[0, 5], x=[3, 4], y=[3, 4], p=[1, 0])
speksim.simulate(demo_config(), ev, "speck2f")
s = fast._run.stats
print(json.dumps({"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values()),
                  "cache": s.cache_path, "speksim": speksim.__file__}))
"""


def test_wheel_then_editable_install_keeps_the_command_working(tmp_path):
    """The README's order: `pip install .`, `speksim demo`, then `pip install -e .` over it."""
    src = _copy_source(tmp_path / "src")  # built and installed from a copy: the checkout gets no build/ or egg-info
    env = _cache_env(tmp_path / "cache")
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", ".",
                  "-w", tmp_path / "dist"], cwd=src, env=env)
    if build.returncode != 0:
        missing = [s for s in _NO_TOOLS if s in build.stdout + build.stderr]
        if missing:
            pytest.skip(f"cannot build a wheel offline here: pip wheel says {missing[0]!r}")
        pytest.fail(f"building the wheel failed:\n{build.stdout + build.stderr}")
    (wheel,) = (tmp_path / "dist").glob("speksim-*.whl")

    # dependencies come from this machine; --ignore-installed puts speksim itself in the venv
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False, clear=True, system_site_packages=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bin_dir / ("python.exe" if os.name == "nt" else "python")
    speksim_cmd = bin_dir / ("speksim.exe" if os.name == "nt" else "speksim")
    _pip_install(py, env, "--ignore-installed", wheel)
    check = _run([py, "-c", _CHECK_INSTALLED], cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr
    info = json.loads(check.stdout)              # the built-in chips load from the installed package
    assert info["name"] == "speck2f" and {"speck2f", "speck2e", "dynapcnn"} <= set(info["builtin"])
    for key in ("module", "chips_dir"):
        assert Path(info[key]).resolve().is_relative_to(env_dir.resolve()), info
    installed = Path(info["module"]).parent

    demo = _run([speksim_cmd, "demo", "--out", tmp_path / "demo", "--quiet"], cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "demo" / "demo.h5").is_file()
    assert not [p for p in installed.rglob("*") if p.suffix in (".nbi", ".nbc")]
    cached = list((tmp_path / "cache" / "speksim" / "numba").rglob("*.nbi"))
    assert cached, "the demo compiled nothing into the per-user cache"

    # a second process loads the compiled engine from that cache instead of compiling it again
    again = _run([py, "-c", _REUSED], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    reused = json.loads(again.stdout)
    assert reused["hits"] >= 1 and reused["misses"] == 0, reused
    assert Path(reused["cache"]).resolve().is_relative_to((tmp_path / "cache").resolve())

    _pip_install(py, env, "--no-build-isolation", "-e", src)
    assert not installed.exists(), sorted(str(p) for p in installed.rglob("*"))  # nothing left to shadow it
    help_ = _run([speksim_cmd, "--help"], cwd=tmp_path, env=env)
    assert help_.returncode == 0, help_.stderr
    assert "usage: speksim" in help_.stdout
    where = _run([py, "-c", "import speksim; print(speksim.__file__, speksim.__version__)"], cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.split()[0]).resolve() == (src / "speksim" / "__init__.py").resolve()


def test_cached_code_is_stamped_with_every_file_it_depends_on(tmp_path):
    # a cached event loop holds the kernels it inlines: editing kernels.py alone must recompile it
    from speksim import _jit
    pkg = tmp_path / "speksim"
    for rel in ("_jit.py", "blocks.py", "kernels.py", "engine/loop.py", "engine/compiled.py", "io/prophesee.py",
                "cli/run.py"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("x = 1\n")
    before = _jit.sources_stamp(str(pkg))
    assert _jit.sources_stamp(str(pkg)) == before
    (pkg / "cli/run.py").write_text("x = 2\n")          # not compiled code: no recompile
    assert _jit.sources_stamp(str(pkg)) == before
    for rel in ("kernels.py", "engine/compiled.py", "blocks.py"):
        st = (pkg / rel).stat()
        os.utime(pkg / rel, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        now = _jit.sources_stamp(str(pkg))
        assert now != before, rel
        before = now


def test_is_cached_tells_a_function_numba_must_compile_from_one_it_has(tmp_path):
    # the note of a first run rests on this: False before any compilation, True once compiled
    # (in this process, or in the cache for a later one)
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from speksim import _jit\n"
            "import fresh\n"
            "before = _jit.is_cached(fresh.f)\n"
            "fresh.f(2)\n"
            "print(before, _jit.is_cached(fresh.f))\n")
    (tmp_path / "fresh.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef f(x):\n"
                                       "    return x + 1\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    first = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                            check=True).stdout.split()
    assert first == ["False", "True"]
    assert second == ["True", "True"]      # a later process finds it in the cache
