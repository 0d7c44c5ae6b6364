"""The engine's compiled code runs without numba's reference-counting runtime (NRT).

Every function of the event loop and the kernels is compiled with numba's `_nrt=False`, a
private option its maintainers have declined to make public. With the runtime on, the gesture
replay of the benchmarks takes 13x longer (every array argument and view is reference counted
at every step). pyproject.toml therefore caps numba at the newest release these tests passed
with; when a new numba comes out, raise the cap only if they pass with it.
"""

import re

import numba
import numpy as np
import pytest
from numba import njit
from numba.core.registry import CPUDispatcher

from speksim import kernels
from speksim.engine import loop, readout, steps

HOW_TO_FIX = ("speksim's engine needs numba's private option _nrt=False (without it, a replay takes about 13x "
              f"longer). numba {numba.__version__} no longer honours it: install the newest numba that "
              "pyproject.toml allows (pip install 'numba<VERSION'), or find what replaced the option")


def _compiled_functions():
    for module in (loop, steps, kernels, readout):
        for name in dir(module):
            f = getattr(module, name)
            if isinstance(f, CPUDispatcher) and f.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", f


def test_every_engine_function_asks_for_no_runtime():
    functions = dict(_compiled_functions())
    assert "speksim.engine.loop._run" in functions and "speksim.kernels.scatter_event" in functions
    with_runtime = [name for name, f in functions.items() if f.targetoptions.get("_nrt") is not False]
    assert not with_runtime, f"compiled with numba's runtime on (add _nrt=False): {with_runtime}"


def test_the_option_still_turns_the_runtime_off():
    # np.empty allocates, which needs the runtime: with the option honoured it cannot compile
    @njit(_nrt=False)
    def allocates(n):
        return np.empty(n)

    try:
        allocates(3)
    except numba.core.errors.TypingError:
        pass
    else:
        pytest.fail(HOW_TO_FIX)

    @njit(_nrt=False)
    def total(a):
        s = 0
        for v in a:
            s += v
        return s

    assert total(np.arange(5)) == 10
    assert total.overloads[total.signatures[0]].target_context.enable_nrt is False, HOW_TO_FIX


def test_the_engine_ran_without_the_runtime():
    from speksim import make_events, simulate
    from speksim.config import demo_config
    simulate(demo_config(), make_events("spike", t=[0, 5], layer=[0, 0], feature=[0, 0], x=[1, 2], y=[3, 4]))
    assert loop._run.overloads, "the event loop did not compile"
    for cres in loop._run.overloads.values():
        assert cres.target_context.enable_nrt is False, HOW_TO_FIX


def test_the_loops_helpers_are_inlined_by_llvm():
    """The loop's helpers (steps, kernels) are compiled with numba's forceinline, which must reach
    LLVM as its alwaysinline attribute: left to its own judgement LLVM may keep them as calls,
    each passing every array argument field by field, which slows every step of a replay."""
    @njit(forceinline=True, _nrt=False)
    def helper(a, i):
        return a[i] + 1

    assert helper(np.arange(3), 1) == 2
    ir = helper.inspect_llvm(helper.signatures[0])
    mangled = helper.overloads[helper.signatures[0]].fndesc.mangled_name
    define = next(ln for ln in ir.splitlines() if ln.startswith("define") and mangled in ln)
    # the attributes of the definition: inline, or a group "#N" listed at the end of the module
    group = re.search(r"#(\d+)", define.split(")")[-1])
    attributes = re.search(rf"^attributes #{group.group(1)} = {{(.*)}}", ir, re.M).group(1) if group else define
    assert "alwaysinline" in attributes, (
        f"numba {numba.__version__} no longer passes forceinline on to LLVM: install the newest numba that "
        "pyproject.toml allows, or inline the helpers another way")
    helpers = [f for _, f in _compiled_functions() if f.targetoptions.get("forceinline")]
    assert steps._fifo_push in helpers and steps._stage_send in helpers and kernels._taps in helpers


def test_kernel_helpers_are_compiled_for_plain_argument_types():
    """speksim._jit.plain_argument_types: a kernel called from compiled code with a constant
    argument is compiled for int64, not once per constant (Literal[int]); those extra compiles
    made a first replay's compile about 7 s longer. It reaches into numba's dispatcher."""
    @njit(_nrt=False)
    def caller(a):
        return kernels.floor_div(a, 4) + kernels.floor_div(a, 3)

    assert caller(12) == 3 + 4
    literal = [sig for sig in kernels.floor_div.signatures if any(isinstance(t, numba.types.Literal) for t in sig)]
    assert kernels.floor_div.signatures and not literal, (
        f"numba {numba.__version__} compiled speksim's kernels for literal argument types {literal}: "
        "speksim._jit.plain_argument_types no longer works with it, so a first replay compiles for longer. "
        "Install the newest numba that pyproject.toml allows, or mend plain_argument_types")
