"""Numba kernels: pure functions over arrays, no validation (callers validate).

Layouts (see `speksim.engine.compiled`): a core's weights are `[c_in][ky][kx][c_out]` starting at
`woff`, its neuron state `[oy][ox][c_out]` starting at `noff`, so the loop over output features
of SPEC F2 reads and writes contiguous memory.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

from . import _jit  # before any @njit: where numba caches this package's code

INT16_MIN = -32768
INT16_MAX = 32767


@njit(cache=True, forceinline=True, _nrt=False)
def _overflow(v, wrap):
    if wrap:
        return ((v + 32768) & 0xFFFF) - 32768
    if v > INT16_MAX:
        return INT16_MAX
    if v < INT16_MIN:
        return INT16_MIN
    return v


@njit(cache=True, forceinline=True, _nrt=False)
def _synop(s, w, hi, lo, rtz, wrap):
    """SPEC F3 on one neuron: state `s` (int16) plus weight `w` (int8), with F3's overflow,
    threshold `hi`, reset and low clamp `lo` (both int16). Returns (new state as int16, fired)."""
    t = np.int32(s) + np.int32(w)
    v = np.int16(t) if wrap else np.int16(min(max(t, INT16_MIN), INT16_MAX))
    fire = v >= hi
    # v - hi fits int16 as hi >= 1 (validated)
    r = np.int16(0) if rtz else np.int16(np.int32(v) - np.int32(hi))
    v = r if fire else v
    return (v if v >= lo else lo), fire


def _data(context, builder, ty, value):
    """In generated code: the address of element 0 of a contiguous array, or a pointer as it is."""
    if isinstance(ty, types.CPointer):
        return value
    return context.make_array(ty)(context, builder, value).data


def _vector_synops(n):
    """The machine code of `n` SynOps on one row: one vector load of the states, one of the weights,
    the update of F3 lane by lane, one store, and the fired lanes as the bits of an integer.

    The compiler left to itself vectorises the plain loop in blocks too wide for the 16-64 feature
    rows of real networks (those rows ran through a narrow remainder loop), and guards every row
    with run-time checks that the state, weight and scratch rows do not overlap. Loading both rows
    before storing needs no such check, and the comparison's lane mask is the spike bitmask. Where
    registers are narrower than `n` lanes (no AVX-512), the compiler splits the operation.
    """

    @intrinsic
    def synops(typingctx, state, nb, weights, wb, hi, lo, rtz, wrap):
        sig = types.int64(state, nb, weights, wb, hi, lo, rtz, wrap)

        def codegen(context, builder, sig, args):
            st, nbv, wt, wbv, hiv, lov, rtzv, wrapv = args
            ta = sig.args
            i16, i32 = ir.IntType(16), ir.IntType(32)
            row, wrow = ir.VectorType(i16, n), ir.VectorType(ir.IntType(8), n)
            sdata = _data(context, builder, ta[0], st)
            wdata = _data(context, builder, ta[2], wt)
            sptr = builder.bitcast(builder.gep(sdata, [context.cast(builder, nbv, ta[1], types.intp)]),
                                   row.as_pointer())
            wptr = builder.bitcast(builder.gep(wdata, [context.cast(builder, wbv, ta[3], types.intp)]),
                                   wrow.as_pointer())
            s = builder.load(sptr, align=2)
            w = builder.sext(builder.load(wptr, align=1), row)

            def splat(value, ty):
                one = builder.insert_element(ir.Constant(row, ir.Undefined),
                                             context.cast(builder, value, ty, types.int16), ir.Constant(i32, 0))
                return builder.shuffle_vector(one, ir.Constant(row, ir.Undefined),
                                              ir.Constant(ir.VectorType(i32, n), [0] * n))

            hi16, lo16 = splat(hiv, ta[4]), splat(lov, ta[5])
            sat = cgutils.get_or_insert_function(builder.module, ir.FunctionType(row, [row, row]),
                                                 f"llvm.sadd.sat.v{n}i16")
            v = builder.select(context.is_true(builder, ta[7], wrapv), builder.add(s, w), builder.call(sat, [s, w]))
            fire = builder.icmp_signed(">=", v, hi16)
            reset = builder.select(context.is_true(builder, ta[6], rtzv), ir.Constant(row, [0] * n),
                                   builder.sub(v, hi16))
            v = builder.select(fire, reset, v)
            v = builder.select(builder.icmp_signed("<", v, lo16), lo16, v)
            builder.store(v, sptr, align=2)
            return builder.zext(builder.bitcast(fire, ir.IntType(n)), ir.IntType(64))

        return sig, codegen

    return synops


def _contiguous(ty, bits):
    """Whether the numba type `ty` is a C-contiguous array or a pointer, of integers of `bits` bits."""
    if isinstance(ty, types.CPointer):
        return isinstance(ty.dtype, types.Integer) and ty.dtype.bitwidth == bits
    return isinstance(ty, types.Array) and ty.layout == "C" and ty.dtype.bitwidth == bits


def _lanes(n):
    """A function applying `n` SynOps (F3) to state[nb:nb + n] (int16) with weights[wb:wb + n] (int8);
    it returns an int64 whose bit i is set when neuron nb + i fired. Plain Python without the
    compiler; compiled, one vector operation (`_vector_synops`) when both arrays are contiguous,
    as a vector load needs unit stride."""
    def lanes(state, nb, weights, wb, hi, lo, rtz, wrap):
        m = 0
        for i in range(n):
            v, fire = _synop(state[nb + i], weights[wb + i], np.int16(hi), np.int16(lo), rtz, wrap)
            state[nb + i] = v
            if fire:
                m |= 1 << i
        return m

    vector = _vector_synops(n)

    @overload(lanes, inline="always")
    def _compiled(state, nb, weights, wb, hi, lo, rtz, wrap):
        if _contiguous(state, 16) and _contiguous(weights, 8):
            return lambda state, nb, weights, wb, hi, lo, rtz, wrap: vector(state, nb, weights, wb, hi, lo,
                                                                          rtz, wrap)
        return lanes

    return lanes


# 32, 16 and 8 int16 lanes fill a zmm, ymm and xmm register: rows of 16, 32 and 64 features are whole
# vectors; 4 and 2 lanes keep the remainder of other widths (2, 11, 100 ...) off the one-lane loop
_synops32 = _lanes(32)
_synops16 = _lanes(16)
_synops8 = _lanes(8)
_synops4 = _lanes(4)
_synops2 = _lanes(2)


def lowest_bit(m):
    """The index of the lowest set bit of `m` (an int64, not 0): compiled, one instruction (for the
    spikes of a lane mask here, and the next block to visit in the event loop)."""
    m = int(m)
    return (m & -m).bit_length() - 1


@intrinsic
def _count_trailing_zeros(typingctx, m):
    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        cttz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                              "llvm.cttz.i64")
        return builder.call(cttz, [context.cast(builder, args[0], sig.args[0], types.int64), cgutils.true_bit])

    return types.int64(m), codegen


@overload(lowest_bit, inline="always")
def _lowest_bit_compiled(m):
    return lambda m: _count_trailing_zeros(m)


def least_of(n):
    """A function `least(a, start)`: the least of the int64s a[start:start + n].

    Compiled, it reads them one by one (atomic loads, which the compiler cannot merge into vector
    loads) into four running minima. The event loop takes this minimum over its next instants at
    every instant, just after storing some of them one by one: a vector load of values still in
    the store buffer must wait for them to reach the cache, which made that minimum a tenth of a
    replay, while a load of one of them is served from the buffer. No bounds check: the caller
    keeps start + n within `a` (1-D)."""
    if n < 1:
        raise ValueError(f"least_of needs at least one value, not {n}")

    def least(a, start):
        m = a[start]
        for i in range(1, n):
            m = min(m, a[start + i])
        return m

    @intrinsic
    def scalar_loads(typingctx, a, start):
        sig = types.int64(a, start)

        def codegen(context, builder, sig, args):
            i64 = ir.IntType(64)
            base = builder.gep(_data(context, builder, sig.args[0], args[0]),
                               [context.cast(builder, args[1], sig.args[1], types.intp)])
            acc = [None] * 4
            for i in range(n):
                v = builder.load_atomic(builder.gep(base, [ir.Constant(i64, i)]), "monotonic", 8)
                j = i % 4
                acc[j] = v if acc[j] is None else builder.select(builder.icmp_signed("<", v, acc[j]), v, acc[j])
            acc = [x for x in acc if x is not None]
            while len(acc) > 1:
                x, y = acc.pop(), acc.pop()
                acc.insert(0, builder.select(builder.icmp_signed("<", x, y), x, y))
            return acc[0]

        return sig, codegen

    @overload(least, inline="always")
    def _compiled(a, start):
        if a.ndim == 1 and a.layout == "C" and a.dtype == types.int64:
            return lambda a, start: scalar_loads(a, start)
        return least

    return least


def due_bits(positions):
    """A function `due(a, start, t)`: an int64 with bit positions[i] set for each a[start + i] <= t
    (int64s). Compiled, with one scalar load each, for the reason `least_of` gives; no bounds
    check either."""
    positions = tuple(int(p) for p in positions)
    if not positions or not all(0 <= p < 63 for p in positions):
        raise ValueError(f"due_bits needs bit positions 0..62, got {positions}")
    n = len(positions)

    def due(a, start, t):
        bits = 0
        for i in range(n):
            if a[start + i] <= t:
                bits |= 1 << positions[i]
        return bits

    @intrinsic
    def scalar_loads(typingctx, a, start, t):
        sig = types.int64(a, start, t)

        def codegen(context, builder, sig, args):
            i64 = ir.IntType(64)
            base = builder.gep(_data(context, builder, sig.args[0], args[0]),
                               [context.cast(builder, args[1], sig.args[1], types.intp)])
            t = context.cast(builder, args[2], sig.args[2], types.int64)
            bits = ir.Constant(i64, 0)
            for i, pos in enumerate(positions):
                v = builder.load_atomic(builder.gep(base, [ir.Constant(i64, i)]), "monotonic", 8)
                bit = builder.zext(builder.icmp_signed("<=", v, t), i64)
                bits = builder.or_(bits, builder.shl(bit, ir.Constant(i64, pos)))
            return bits

        return sig, codegen

    @overload(due, inline="always")
    def _compiled(a, start, t):
        if a.ndim == 1 and a.layout == "C" and a.dtype == types.int64:
            return lambda a, start, t: scalar_loads(a, start, t)
        return due

    return due


_TOP = np.int64(-(1 << 63))     # a bit above every lane mask's (32 lanes at most)


@njit(cache=True, forceinline=True, _nrt=False)
def _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense):
    """Append a spike for every set bit of the lane mask `m` (bit i: feature f + i, SynOp j + f + i),
    features ascending (F2). Returns the new number of spikes.

    `dense`: the first spike is written whether the lanes fired or not and counted only if they
    did. When they did not, the write stays within the event's own room for spikes: a SynOp
    fires at most once, so the spikes so far are at most the SynOps before lane 0 (`j + f`),
    fewer than the event's SynOps. Where rows fire often (an eighth of them or more) that is
    faster than the branch on whether they did, which the processor then mispredicts: listing
    the spikes of the gesture network's core 1 (rows of 16 features, 0.31 spikes a row) took
    2.5x less time, those of its core 2 (rows of 32, 0.06 a row) 1.7x more (Zen 5). It changes
    no result."""
    if dense:
        i = f + lowest_bit(m | _TOP)
        spk_j[nspk] = j + i
        spk_f[nspk] = i
        spk_x[nspk] = ox
        spk_y[nspk] = oy
        nspk += m != 0
        m &= m - 1
    # one step per spike, not per lane: a lane-by-lane scan mispredicts its branch at random
    while m:
        i = f + lowest_bit(m)
        spk_j[nspk] = j + i
        spk_f[nspk] = i
        spk_x[nspk] = ox
        spk_y[nspk] = oy
        nspk += 1
        m &= m - 1
    return nspk


def address(a):
    """Compiled: the address of element 0 of a contiguous array, as a typed pointer, which a call
    passes in one register (an array is passed as seven words). Plain Python: the array itself."""
    return a


@intrinsic
def _address_of(typingctx, a):
    def codegen(context, builder, sig, args):
        return _data(context, builder, sig.args[0], args[0])

    return types.CPointer(a.dtype)(a), codegen


@overload(address, inline="always")
def _address_compiled(a):
    if isinstance(a, types.Array) and a.layout == "C":
        return lambda a: _address_of(a)
    return lambda a: a


@njit(cache=True, forceinline=True, _nrt=False)
def _row(cout, state, nb, weights, wb, hi, lo, rtz, wrap, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense):
    """The SynOps of one row of `cout` features at state[nb:], weights[wb:], the first of them
    SynOp j; returns the new number of spikes. Vectors of 32, 16, 8, 4 and 2 features, widest
    first, then the last feature on its own; each block's spikes are listed before the next
    block's, so features stay ascending. Where `cout` is a constant (see `_event_rows`) the
    compiler keeps only the blocks it needs."""
    f = 0
    while f + 32 <= cout:
        m = _synops32(state, nb + f, weights, wb + f, hi, lo, rtz, wrap)
        nspk = _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
        f += 32
    if f + 16 <= cout:
        m = _synops16(state, nb + f, weights, wb + f, hi, lo, rtz, wrap)
        nspk = _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
        f += 16
    if f + 8 <= cout:
        m = _synops8(state, nb + f, weights, wb + f, hi, lo, rtz, wrap)
        nspk = _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
        f += 8
    if f + 4 <= cout:
        m = _synops4(state, nb + f, weights, wb + f, hi, lo, rtz, wrap)
        nspk = _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
        f += 4
    if f + 2 <= cout:
        m = _synops2(state, nb + f, weights, wb + f, hi, lo, rtz, wrap)
        nspk = _list_spikes(m, f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
        f += 2
    if f < cout:        # one feature left at most
        v, fire = _synop(state[nb + f], weights[wb + f], hi, lo, rtz, wrap)
        state[nb + f] = v
        nspk = _list_spikes(np.int64(fire), f, j, ox, oy, nspk, spk_j, spk_f, spk_x, spk_y, dense)
    return nspk


def _event_rows(width, inlined=False):
    """The SynOps of one event (see `scatter_event`) as a function of its own, for rows of `width`
    features (0: any, `cout`): `ny` by `nx` rows, the first at state[nb:] and weights[wb:] for
    output (oy0, ox0); along a kernel row the state steps back by one row of `cout` features and
    the weights forward by `wstep_x`, from one kernel row to the next the state steps back by
    `sstep` and the weights forward by `wstep_y`. Returns (number of SynOps, number of spikes).
    `inlined`: LLVM inlines it into its callers (see ROWS_INLINED), and it lists spikes `dense`
    or not as told (`_list_spikes`); otherwise it never does, whatever `dense` says (the fast
    engine's loop took 1.07x the time with that choice made at run time, Zen 5)."""
    @njit(**({"forceinline": True} if inlined else {"inline": "never"}), _nrt=False)
    def rows(state, nb, weights, wb, ny, nx, sstep, wstep_y, wstep_x, ox0, oy0, cout, hi, lo, rtz, wrap,
             spk_j, spk_f, spk_x, spk_y, base, dense):
        n = width if width else cout
        dense_rows = dense if inlined else False
        nsyn = 0
        nspk = base
        for i in range(ny):
            s = nb - i * sstep
            w = wb + i * wstep_y
            ox = ox0
            for _ in range(nx):
                nspk = _row(n, state, s, weights, w, hi, lo, rtz, wrap, nsyn, ox, oy0 - i, nspk,
                            spk_j, spk_f, spk_x, spk_y, dense_rows)
                nsyn += n
                s -= n
                w += wstep_x
                ox -= 1
        return nsyn, nspk - base

    return rows


# Rows of 16, 32 and 64 features (most layers of real networks) are each a function with that
# width built in; _rows_any takes any width. numba keeps them functions of their own, called once
# per event: inlined into the event loop, where most registers hold the loop's state, every row
# reloaded half a dozen values from the stack (on a Zen 5). LLVM's inliner may still inline some
# of them, as it does on a Zen 3, where that is the faster choice; benchmarks.profile_engine
# says which. ROWS: each by the width it has built in (0: any), as scatter_event picks them.
_rows16 = _event_rows(16)
_rows32 = _event_rows(32)
_rows64 = _event_rows(64)
_rows_any = _event_rows(0)
ROWS = {16: _rows16, 32: _rows32, 64: _rows64, 0: _rows_any}
# The same, inlined into their caller by LLVM, for the wave engine (scatter_tabled_inlined): its
# loop keeps few values in registers, and its gesture replay took 0.94x the time with them (Zen 5).
# The fast engine keeps the rows apart, so that a profile can tell its SynOps from its loop
# (benchmarks.profile_engine); inlined there it took 0.99x the time, no clear gain.
ROWS_INLINED = {w: _event_rows(w, inlined=True) for w in ROWS}


@njit(cache=True, forceinline=True, _nrt=False)
def floor_div(a, d):
    """a // d for a >= 0 and d >= 1: a shift when d is a power of two, as Speck's strides and
    poolings all are (a division by a value known only at run time takes tens of cycles)."""
    if d & (d - 1) == 0:
        return a >> lowest_bit(d)
    return a // d


@njit(cache=True, forceinline=True, _nrt=False)
def _taps(pos, pad, stride, k, n_out):
    """Along one axis, for an input at `pos`: the first kernel tap that reaches an output, that
    output, and how many taps do (stepping by the stride, the output steps back by one)."""
    t = pos + pad
    o0 = floor_div(t, stride)
    k0 = t - o0 * stride
    # tap k0 + i * stride reaches output o0 - i, which must lie in [0, n_out)
    first = max(0, o0 - n_out + 1)
    last = floor_div(k - 1 - k0, stride) if k0 < k else -1
    n = min(last, o0) - first + 1
    return k0 + first * stride, o0 - first, n


# Inlined into the event loop, which would otherwise pass this many arguments at every event; by
# numba, not forceinline, so that the rows calls stay in the loop (see the note in engine.steps)
@njit(cache=True, inline="always", _nrt=False)
def scatter_event(state, noff, weights, woff, c, x, y, cout, hout, wout, k, sy, sx, py, px,
                  th_hi, th_lo, rtz, wrap, spk_j, spk_f, spk_x, spk_y, base=0):
    """Apply one input event (c, x, y) to a core: every SynOp of SPEC F2 with the update of F3.

    Spikes are written in F2 order to spk_*[base:] (SynOp index j, feature, ox, oy). Returns
    (number of SynOps, number of spikes). The offset `base`, not a slice of each buffer: slicing
    four arrays cost about 40 instructions per event in the loop.
    """
    # the taps that reach an output form a rectangle of the kernel (F2); its rows are visited by
    # ky then kx, each the row of features of one output
    ky, oy, ny = _taps(y, py, sy, k, hout)
    kx, ox, nx = _taps(x, px, sx, k, wout)
    if ny <= 0 or nx <= 0:
        return 0, 0
    return _scatter_rows(state, noff + (oy * wout + ox) * cout, weights, woff + ((c * k + ky) * k + kx) * cout,
                         ny, nx, wout * cout, sy * k * cout, sx * cout, ox, oy, cout, th_hi, th_lo, rtz, wrap,
                         spk_j, spk_f, spk_x, spk_y, base, False)


# the columns of a tap table (tap_table): for an input position along one axis, how many kernel
# taps reach an output, the first output they reach, its offset in the core's states and the
# first tap's offset in the core's weights
TAP_N, TAP_OUT, TAP_STATE, TAP_WEIGHT = range(4)
N_TAP = 4


def tap_table(n_in, pad, stride, k, n_out, state_step, weight_step):
    """One axis of a core's tap table: for each input position 0..n_in-1 (rows of int64 [n_in,
    N_TAP]), the taps `_taps` finds, the output's offset being the output times `state_step` and
    the tap's the tap times `weight_step` (no tap: all zero). `scatter_tabled` reads it."""
    t = np.zeros((n_in, N_TAP), np.int64)
    for p in range(n_in):
        k0, o0, n = _taps(p, pad, stride, k, n_out)
        if n > 0:
            t[p] = n, o0, o0 * state_step, k0 * weight_step
    return t


def _tabled(scatter_rows):
    """`scatter_tabled` calling the rows functions through `scatter_rows` (see `_rows_caller`)."""
    @njit(inline="always", _nrt=False)
    def scatter_tabled(state, noff, weights, woff, c, ty, tx, taps, cout, wfeat, sstep, wstep_y, wstep_x,
                       th_hi, th_lo, rtz, wrap, spk_j, spk_f, spk_x, spk_y, base=0, dense=False):
        """`scatter_event` with the event's taps read from its core's tap tables (the flat int64 array
        `taps`): ty and tx are where the rows of the event's y and x start, wfeat the core's weights
        per input feature (k * k * cout), sstep, wstep_y and wstep_x those of the rows function (see
        `_event_rows`); `dense` as in `_list_spikes`, heeded only by the inlined rows (ROWS_INLINED).
        Finding the taps at every event had cost the loop about 85 instructions a job."""
        ny = taps[ty + TAP_N]
        nx = taps[tx + TAP_N]
        if ny == 0 or nx == 0:
            return 0, 0
        return scatter_rows(state, noff + taps[ty + TAP_STATE] + taps[tx + TAP_STATE], weights,
                            woff + c * wfeat + taps[ty + TAP_WEIGHT] + taps[tx + TAP_WEIGHT], ny, nx, sstep, wstep_y,
                            wstep_x, taps[tx + TAP_OUT], taps[ty + TAP_OUT], cout, th_hi, th_lo, rtz, wrap,
                            spk_j, spk_f, spk_x, spk_y, base, dense)

    return scatter_tabled


def _rows_caller(rows):
    """The function that calls the rows function of `rows` (ROWS or ROWS_INLINED) for `cout`
    features, with pointers to the arrays."""
    rows16, rows32, rows64, rows_any = rows[16], rows[32], rows[64], rows[0]

    @njit(inline="always", _nrt=False)
    def scatter_rows(state, nb, weights, wb, ny, nx, sstep, wstep_y, wstep_x, ox, oy, cout, th_hi, th_lo, rtz, wrap,
                     spk_j, spk_f, spk_x, spk_y, base, dense):
        args = (address(state), nb, address(weights), wb, ny, nx, sstep, wstep_y, wstep_x, ox, oy, cout,
                np.int16(th_hi), np.int16(th_lo), rtz, wrap, address(spk_j), address(spk_f), address(spk_x),
                address(spk_y), base, dense)
        if cout == 16:
            return rows16(*args)
        if cout == 32:
            return rows32(*args)
        if cout == 64:
            return rows64(*args)
        return rows_any(*args)

    return scatter_rows


_scatter_rows = _rows_caller(ROWS)
scatter_tabled = _tabled(_scatter_rows)
scatter_tabled_inlined = _tabled(_rows_caller(ROWS_INLINED))


@njit(cache=True, _nrt=False)
def leak_job(state, noff, biases, boff, cout, hout, wout, th_hi, th_lo, rtz, wrap, can_fire,
             spk_j, spk_f, spk_x, spk_y):
    """One leak step of a core (SPEC F4): add bias[f] to every neuron in (f, y, x) order.

    With `can_fire`, F3's spike and reset apply and spikes are written to spk_* with j the
    neuron's position in F4 order. Returns (number of neurons, number of spikes).
    """
    nspk = 0
    i = 0
    for f in range(cout):
        b = np.int32(biases[boff + f])
        for oy in range(hout):
            for ox in range(wout):
                idx = noff + (oy * wout + ox) * cout + f
                v = _overflow(np.int32(state[idx]) + b, wrap)
                if can_fire and v >= th_hi:
                    v = 0 if rtz else v - th_hi
                    spk_j[nspk] = i
                    spk_f[nspk] = f
                    spk_x[nspk] = ox
                    spk_y[nspk] = oy
                    nspk += 1
                if v < th_lo:
                    v = th_lo
                state[idx] = v
                i += 1
    return i, nspk


@njit(cache=True, _nrt=False)
def dvs_map(on, off, merge, pool_x, pool_y, origin_x, origin_y, cut_x, cut_y, mirror_x, mirror_y,
            diagonal, x, y, p):
    """The DVS pre-processing layer on one event (SPEC F6).

    Returns (keep, feature, x, y); keep is 0 for events dropped by polarity selection or crop.
    """
    if (p == 1 and not on) or (p == 0 and not off):
        return 0, 0, 0, 0
    f = 0 if merge else p
    x = x // pool_x
    y = y // pool_y
    if x < origin_x or y < origin_y or x > cut_x or y > cut_y:
        return 0, 0, 0, 0
    x -= origin_x
    y -= origin_y
    if mirror_x:
        x = cut_x - origin_x - x
    if mirror_y:
        y = cut_y - origin_y - y
    if diagonal:
        x, y = y, x
    return 1, f, x, y


# compiled once each, for plain argument types (see speksim._jit.plain_argument_types)
_jit.plain_argument_types(globals())
