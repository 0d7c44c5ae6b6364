"""The numba kernels against slow, obviously correct versions written from SPEC F2-F4 and F6.

The slow versions work in PyTorch layout ([f, c, ky, kx] weights, [f, y, x] state), so these
tests also check the feature-innermost layouts that compile_network builds.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from speksim.chip import load_chip
from speksim.config import ChipConfig, CnnLayerConfig, RunOptions, conv_out
from speksim.engine.compiled import (C_NOFF, C_SSTEP, C_TAPX, C_TAPY, C_WFEAT, C_WOFF, C_WSTEPX, C_WSTEPY,
                                     compile_network)
from speksim.kernels import (N_TAP, due_bits, dvs_map, floor_div, least_of, leak_job, lowest_bit, scatter_event,
                             scatter_tabled, scatter_tabled_inlined)

CHIP = load_chip("speck2f")


def sat16(v, wrap):
    if wrap:
        return (v + 32768) % 65536 - 32768
    return min(max(v, -32768), 32767)


def naive_scatter(W, state, c, x, y, stride, pad, th_hi, th_lo, rtz, wrap):
    """SPEC F2 + F3, one SynOp at a time. Returns the list of (j, f, ox, oy) spikes and SynOp count."""
    cout, _, k, _ = W.shape
    _, hout, wout = state.shape
    sy, sx = stride
    py, px = pad
    spikes, j = [], 0
    for ky in range(k):
        for kx in range(k):
            ny, nx = y + py - ky, x + px - kx
            if ny % sy or nx % sx:
                continue
            oy, ox = ny // sy, nx // sx
            if not (0 <= oy < hout and 0 <= ox < wout):
                continue
            for f in range(cout):
                v = sat16(int(state[f, oy, ox]) + int(W[f, c, ky, kx]), wrap)
                if v >= th_hi:
                    spikes.append((j, f, ox, oy))
                    v = 0 if rtz else v - th_hi
                if v < th_lo:
                    v = th_lo
                state[f, oy, ox] = v
                j += 1
    return spikes, j


def make_core(rng, cin, cout, k, size, stride, pad, th_hi, th_lo, rtz):
    W = rng.integers(-128, 128, size=(cout, cin, k, k)).astype(np.int8)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(W, size, stride=stride, padding=pad, threshold_high=th_hi,
                                            threshold_low=th_lo, return_to_zero=rtz)
    h_out = conv_out(size[0], k, stride[0], pad[0])
    w_out = conv_out(size[1], k, stride[1], pad[1])
    init = rng.integers(-32768, 32768, size=(cout, h_out, w_out)).astype(np.int16)
    cfg.cnn_layers[0].neurons_initial_value = init
    return W, cfg, init


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), cin=st.integers(1, 4), cout=st.integers(1, 9), k=st.integers(1, 5),
       sy=st.sampled_from([1, 2, 4, 8]), sx=st.sampled_from([1, 2, 4, 8]), py=st.integers(0, 3),
       px=st.integers(0, 3), rtz=st.booleans(), wrap=st.booleans())
def test_scatter_matches_naive(seed, cin, cout, k, sy, sx, py, px, rtz, wrap):
    check_scatter(seed, cin, cout, k, sy, sx, py, px, rtz, wrap)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), cin=st.integers(1, 3), cout=st.sampled_from([16, 32, 64]), k=st.integers(1, 5),
       sy=st.sampled_from([1, 1, 2, 4]), sx=st.sampled_from([1, 1, 2, 4]), py=st.integers(0, 3),
       px=st.integers(0, 3), rtz=st.booleans(), wrap=st.booleans())
def test_rows_of_16_32_64_match_naive(seed, cin, cout, k, sy, sx, py, px, rtz, wrap):
    """Rows of 16, 32 or 64 features run in functions with the width built in (kernels._event_rows):
    every kernel size, stride and padding, events at the edges included, must give the SynOps
    and spikes of one SynOp at a time."""
    check_scatter(seed, cin, cout, k, sy, sx, py, px, rtz, wrap)


def check_scatter(seed, cin, cout, k, sy, sx, py, px, rtz, wrap):
    """20 random events on a random core: scatter_event, and scatter_tabled with the core's tap
    tables as the engines call it (the wave engine's inlined, listing spikes `dense`), against
    naive_scatter: SynOp count, spikes in order and every state after each event."""
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(k, 12)), int(rng.integers(k, 12)))
    th_hi = int(rng.integers(1, 300))
    if rng.integers(0, 2) or th_hi == 1:
        th_lo = int(rng.integers(-300, 0))
    else:       # positive: F3 clamps after the spike and reset, so a reset can end above 0
        th_lo = int(rng.integers(1, th_hi))
    W, cfg, init = make_core(rng, cin, cout, k, size, (sy, sx), (py, px), th_hi, th_lo, rtz)
    net = compile_network(cfg, CHIP, RunOptions())
    ref = init.astype(np.int64)
    cap = cout * k * k
    # the engine's cores share the spike buffers, each from its own offset: spikes go to
    # spk[base:], and what lies before it stays untouched
    base = seed % 3
    r = net.core[0]
    hout, wout = ref.shape[1:]

    def event(state, spk, c, x, y):
        return scatter_event(state, r[C_NOFF], net.weights, r[C_WOFF], c, x, y, cout, hout, wout, k,
                             sy, sx, py, px, th_hi, th_lo, int(rtz), int(wrap), *spk, base)

    def tabled(state, spk, c, x, y):
        return scatter_tabled(state, r[C_NOFF], net.weights, r[C_WOFF], c, r[C_TAPY] + y * N_TAP,
                              r[C_TAPX] + x * N_TAP, net.taps, cout, r[C_WFEAT], r[C_SSTEP], r[C_WSTEPY],
                              r[C_WSTEPX], th_hi, th_lo, int(rtz), int(wrap), *spk, base)

    def dense(state, spk, c, x, y):
        return scatter_tabled_inlined(state, r[C_NOFF], net.weights, r[C_WOFF], c, r[C_TAPY] + y * N_TAP,
                                      r[C_TAPX] + x * N_TAP, net.taps, cout, r[C_WFEAT], r[C_SSTEP], r[C_WSTEPY],
                                      r[C_WSTEPX], th_hi, th_lo, int(rtz), int(wrap), *spk, base, True)

    # buffers as long as the most spikes an event can make: dense listing's uncounted writes stay
    # within them (plain Python, with the JIT off, raises an IndexError if one does not)
    kernels = [(kernel, net.initial_state.copy(), [np.full(base + cap, -7, np.int64) for _ in range(4)])
               for kernel in (event, tabled, dense)]
    for _ in range(20):
        c, x, y = int(rng.integers(cin)), int(rng.integers(size[1])), int(rng.integers(size[0]))
        want, want_syn = naive_scatter(W, ref, c, x, y, (sy, sx), (py, px), th_hi, th_lo, rtz, wrap)
        for kernel, state, spk in kernels:
            nsyn, nspk = kernel(state, spk, c, x, y)
            got = list(zip(*(a[base:base + nspk].tolist() for a in spk)))
            assert nsyn == want_syn, kernel.__name__
            assert got == want, kernel.__name__
            assert all((a[:base] == -7).all() for a in spk)
            np.testing.assert_array_equal(net.state_of(state, 0), ref)


def test_floor_div_is_python_floor_division():
    """Strides and poolings divide coordinates with a shift when they are powers of two (all of
    Speck's) and with a division otherwise (a chip file may allow others): both must be //."""
    a = np.arange(0, 1100)
    for d in range(1, 65):
        assert [floor_div(int(v), d) for v in a] == (a // d).tolist(), d


EDGES = np.array([-32768, -32767, -32640, -1, 0, 1, 32639, 32766, 32767])


@pytest.mark.parametrize("cout", [1, 2, 11, 16, 17, 31, 32, 33, 64, 100, 128, 256])
def test_scatter_rows_of_any_width(cout):
    """Rows are updated in vector blocks (32, 16, 8, 4, 2 features) and one feature at a time after:
    every width, with overflow both ways (states at the int16 limits and the thresholds, weights
    of -128 and 127), must give the states, spikes and spike order of one SynOp at a time. The
    arrays start at non-zero offsets, whose contents must stay untouched."""
    rng = np.random.default_rng(cout)
    k, cin, (h, w) = 3, 2, (5, 4)
    for th_hi, th_lo, rtz, wrap in ((1, -32768, False, False), (32767, -32768, True, False),
                                    (200, -200, False, True), (1000, 50, True, True),
                                    (int(rng.integers(2, 30000)), int(rng.integers(-32768, 0)), False, False)):
        W = rng.integers(-128, 128, size=(cout, cin, k, k)).astype(np.int8)
        W[rng.random(W.shape) < 0.3] = rng.choice([-128, 127])
        pool = np.concatenate([EDGES, [th_hi - 1, th_hi, th_lo, th_lo - 1]]).clip(-32768, 32767)
        ref = np.where(rng.random((cout, h, w)) < 0.5, rng.choice(pool, (cout, h, w)),
                       rng.integers(-32768, 32768, (cout, h, w))).astype(np.int64)
        # the kernel's layouts, behind a prefix: weights [c_in][ky][kx][c_out], state [oy][ox][c_out]
        woff, noff = 5, 3
        weights = np.concatenate([np.full(woff, 7, np.int8), W.transpose(1, 2, 3, 0).ravel()])
        state = np.concatenate([np.full(noff, -9, np.int16), ref.transpose(1, 2, 0).ravel().astype(np.int16)])
        spk = [np.zeros(k * k * cout, np.int64) for _ in range(4)]
        for _ in range(12):
            c, x, y = int(rng.integers(cin)), int(rng.integers(w)), int(rng.integers(h))
            nsyn, nspk = scatter_event(state, noff, weights, woff, c, x, y, cout, h, w, k, 1, 1, 1, 1,
                                       th_hi, th_lo, int(rtz), int(wrap), *spk)
            want, want_syn = naive_scatter(W, ref, c, x, y, (1, 1), (1, 1), th_hi, th_lo, rtz, wrap)
            assert nsyn == want_syn
            assert list(zip(*(a[:nspk].tolist() for a in spk))) == want
            np.testing.assert_array_equal(state[noff:].reshape(h, w, cout).transpose(2, 0, 1), ref)
            assert (state[:noff] == -9).all()


def test_scatter_counts_zero_weights_as_synops():
    """SPEC F2: zero weights are SynOps too; the count is C_out x valid offsets."""
    rng = np.random.default_rng(1)
    W, cfg, _ = make_core(rng, 1, 4, 3, (8, 8), (1, 1), (1, 1), 100, -100, False)
    cfg.cnn_layers[0].weights = np.zeros_like(W)
    cfg.cnn_layers[0].neurons_initial_value = None
    net = compile_network(cfg, CHIP, RunOptions())
    spk = [np.zeros(36, np.int64) for _ in range(4)]
    r = net.core[0]
    corner = scatter_event(net.initial_state.copy(), r[C_NOFF], net.weights, r[C_WOFF], 0, 0, 0, 4, 8, 8, 3,
                           1, 1, 1, 1, 100, -100, 0, 0, *spk)
    centre = scatter_event(net.initial_state.copy(), r[C_NOFF], net.weights, r[C_WOFF], 0, 4, 4, 4, 8, 8, 3,
                           1, 1, 1, 1, 100, -100, 0, 0, *spk)
    assert corner == (4 * 4, 0)      # a corner pixel reaches 2x2 output positions
    assert centre == (4 * 9, 0)      # an inner pixel reaches all 3x3


def naive_leak(state, bias, th_hi, th_lo, rtz, wrap, can_fire):
    spikes, i = [], 0
    cout, hout, wout = state.shape
    for f in range(cout):
        for y in range(hout):
            for x in range(wout):
                v = sat16(int(state[f, y, x]) + int(bias[f]), wrap)
                if can_fire and v >= th_hi:
                    spikes.append((i, f, x, y))
                    v = 0 if rtz else v - th_hi
                state[f, y, x] = max(v, th_lo)
                i += 1
    return spikes, i


@pytest.mark.parametrize("can_fire", [False, True])
@pytest.mark.parametrize("rtz", [False, True])
@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("th_lo", [-250, 150])
def test_leak_matches_naive(can_fire, rtz, wrap, th_lo):
    """Full-range biases (overflow), and small ones with states placed so that about half the
    neurons land exactly on the threshold at the first step (F4 fires at it)."""
    rng = np.random.default_rng(7)
    for bias, place in ((rng.integers(-32768, 32768, size=5).astype(np.int16), False),
                        (np.array([200, 1, -3, 50, 0], np.int16), True)):
        W, cfg, init = make_core(rng, 2, 5, 3, (6, 7), (1, 1), (1, 1), 200, th_lo, rtz)
        if place:
            exact = rng.integers(0, 2, init.shape).astype(bool)
            init[exact] = np.broadcast_to(200 - bias[:, None, None], init.shape)[exact]
            cfg.cnn_layers[0].neurons_initial_value = init
        cfg.cnn_layers[0].biases = bias
        net = compile_network(cfg, CHIP, RunOptions())
        state = net.initial_state.copy()
        ref = init.astype(np.int64)
        spk = [np.zeros(5 * 6 * 7, np.int64) for _ in range(4)]
        r = net.core[0]
        for _ in range(3):
            n, nspk = leak_job(state, r[C_NOFF], net.biases, 0, 5, 6, 7, 200, th_lo, int(rtz), int(wrap),
                               int(can_fire), *spk)
            want, n_want = naive_leak(ref, bias, 200, th_lo, rtz, wrap, can_fire)
            assert n == n_want == 5 * 6 * 7
            assert list(zip(*(a[:nspk].tolist() for a in spk))) == want
            np.testing.assert_array_equal(net.state_of(state, 0), ref)


def test_leak_fires_at_exactly_the_threshold():
    """F3/F4 with leak_can_fire: a neuron that the bias brings to exactly threshold_high fires
    (>=), is reset, then clamped. Threshold 5, threshold_low 2, bias 3, subtract reset:
    state 2 -> 5 fires -> 0 -> clamped to 2; state 1 -> 4 stays; state 3 -> 6 fires -> 1 -> 2."""
    rng = np.random.default_rng(3)
    _, cfg, _ = make_core(rng, 1, 1, 1, (1, 3), (1, 1), (0, 0), 5, 2, False)
    cfg.cnn_layers[0].neurons_initial_value = np.array([[[2, 1, 3]]], np.int16)
    cfg.cnn_layers[0].biases = np.array([3], np.int16)
    net = compile_network(cfg, CHIP, RunOptions())
    state = net.initial_state.copy()
    spk = [np.zeros(3, np.int64) for _ in range(4)]
    n, nspk = leak_job(state, net.core[0, C_NOFF], net.biases, 0, 1, 1, 3, 5, 2, 0, 0, 1, *spk)
    assert (n, nspk) == (3, 2)
    assert [a[:nspk].tolist() for a in spk] == [[0, 2], [0, 0], [0, 2], [0, 0]]      # j, f, x, y
    assert net.state_of(state, 0).tolist() == [[[2, 4, 2]]]


def naive_dvs(on, off, merge, pool, origin, cut, mirror, diag, x, y, p):
    """SPEC F6 written out step by step."""
    if (p == 1 and not on) or (p == 0 and not off):
        return None
    f = 0 if merge else p
    x, y = x // pool[0], y // pool[1]
    if not (origin[0] <= x <= cut[0] and origin[1] <= y <= cut[1]):
        return None
    x, y = x - origin[0], y - origin[1]
    if mirror[0]:
        x = cut[0] - origin[0] - x
    if mirror[1]:
        y = cut[1] - origin[1] - y
    if diag:
        x, y = y, x
    return f, x, y


@settings(max_examples=300, deadline=None, derandomize=True)
@given(on=st.booleans(), off=st.booleans(), merge=st.booleans(), px=st.sampled_from([1, 2, 4]),
       py=st.sampled_from([1, 2, 4]), ox=st.integers(0, 40), oy=st.integers(0, 40), w=st.integers(0, 80),
       h=st.integers(0, 80), mx=st.booleans(), my=st.booleans(), diag=st.booleans(),
       x=st.integers(0, 127), y=st.integers(0, 127), p=st.integers(0, 1))
def test_dvs_map_matches_naive(on, off, merge, px, py, ox, oy, w, h, mx, my, diag, x, y, p):
    cut = (ox + w, oy + h)
    got = dvs_map(on, off, merge, px, py, ox, oy, cut[0], cut[1], mx, my, diag, x, y, p)
    want = naive_dvs(on, off, merge, (px, py), (ox, oy), cut, (mx, my), diag, x, y, p)
    assert (got[0] == 0) == (want is None)
    if want is not None:
        assert tuple(got[1:]) == want


def test_lowest_set_bit():
    """Compiled (an LLVM intrinsic) and plain Python (NUMBA_DISABLE_JIT) alike: the spike list of a
    lane mask and the event loop's next block both rest on it. Bit 63 is the sign bit of int64."""
    from numba import njit

    compiled = njit(lambda m: lowest_bit(m))
    for bit in (0, 1, 5, 15, 16, 31, 32, 62, 63):
        for above in (0, 1 << 63, 0b1010 << 50):
            m = np.array((1 << bit) | (above & ~((2 << bit) - 1)), np.uint64).view(np.int64)
            assert compiled(m) == lowest_bit(m) == bit, (bit, above)


def _compiled_calls(least, due):
    from numba import njit
    return njit(lambda a, start: least(a, start)), njit(lambda a, start, t: due(a, start, t))


def test_least_and_due_bits_of_a_slice():
    """The event loop's next instant (the least of its wakes) and the servers due at it (a bit per
    wake <= t, at a given position each), compiled from scalar loads and in plain Python alike,
    against numpy; INF-like and negative values, ties, and slices not at the array's start."""
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 5, 22):
        least = least_of(n)
        positions = rng.permutation(63)[:n]
        due = due_bits(positions)
        compiled_least, compiled_due = _compiled_calls(least, due)
        for _ in range(50):
            a = rng.choice(np.array([2**62, -5, 0, 7, 1000, 2**62 - 1], np.int64), size=n + 9)
            a[rng.integers(0, len(a))] = rng.integers(-2**40, 2**40)
            start = int(rng.integers(0, 10))
            part = a[start:start + n]
            assert compiled_least(a, start) == least(a, start) == part.min()
            for t in (int(part.min()) - 1, int(part.min()), int(np.median(part)), int(part.max())):
                expected = sum(1 << int(p) for p, v in zip(positions, part) if v <= t)
                assert compiled_due(a, start, t) == due(a, start, t) == expected, (n, start, t)


def test_first_queue_of_a_set_follows_the_rank_order():
    """T0's rank order as bits: the DVS layer is bit 0, core k is bit k + 1; the lowest bit wins."""
    from speksim.engine.compiled import DVS
    from speksim.engine.loop import _first_queue
    assert _first_queue(0b1) == DVS
    assert _first_queue(0b10) == 0
    assert _first_queue(0b1101) == DVS
    assert _first_queue(0b1100) == 1
    assert _first_queue(1 << 9) == 8
    assert _first_queue((1 << 9) | (1 << 4)) == 3

