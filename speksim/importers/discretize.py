"""Discretisation: a layer's float weights, biases and thresholds as the chip's integers.

The chip holds weights in int8 and biases, thresholds and membrane state in int16 (SPEC §0). A
layer (one convolution and the integrate-and-fire neurons after it, what one core computes)
gets one scale: each of its floats is multiplied by the scale and rounded to the nearest
integer, ties to the even neighbour (0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → 0), which is what
`torch.round` and `numpy.round` do. The result is the same integers, bit for bit, as sinabs'
`discretize_conv_spike`, so a model gives the same configuration through either tool; the one
exception is a lower bound that rounds to 0, which the chip cannot use (see `discretize_layer`).

How the scale is chosen. The layer's numbers form three groups, each with its own range: the
weights in 8 bits [-128, 127], the biases also in 8 bits (sinabs' choice, although the chip's
bias word has 16), and the pair (lower bound, threshold) in 16 bits [-32768, 32767]. Each group
allows the largest scale that keeps it in range: with `hi` its largest and `lo` its smallest
value and n = 2**(bits-1), it is (n-1)/|hi|, the largest value landing on n-1, unless the most
negative value is more than n/(n-1) times larger in magnitude than `hi` (|lo| > |hi|·n/(n-1)),
in which case it is n/|lo|, the smallest value landing on -n. A group of zeros (no bias) allows
any scale. The layer's scale is the smallest of the three, so the most constrained group uses
its full range and the others fit.

The arithmetic is that of sinabs in PyTorch: the floats are float32 (a model's parameters are;
float64 input is rounded to float32 first), the group's scale is the float32 reciprocal of the
extreme value times n-1 (or -n), which can differ in the last bit from a direct division, the
n/(n-1) comparison is a float32 product, and each product float × scale is float32 before
rounding, so that ties and near-ties fall the same way.

`min_v_mem=None` means what it means in sinabs: a lower bound of -32768 *before* scaling. The
threshold group then allows a scale of at most 1 (for thresholds below 32767), so the weights are
rounded as they are and every weight of magnitude up to 0.5 becomes 0; a warning says how many.
sinabs also includes the neurons' current state in the scale when a forward pass has set it;
speksim's layers start from zero state, so there is no state here.

What sinabs loses without a word, and speksim says in `Discretized.warnings` (each message names
the layer, what was lost, and what to change):
- the weights lose precision because something else sets the scale: min_v_mem=None (the usual
  case), a lower bound or a threshold far larger than the weights (a 16-bit threshold holds at
  most 258 times an 8-bit weight), or biases larger than the weights (held to 8 bits); the
  message counts the non-zero weights that became 0. Integer weights that stay exact lose
  nothing and get no warning;
- non-zero biases that became 0 (their channels lose their leak);
- weights at or above the threshold after discretisation: such a neuron fires on every input
  event that reaches it through that weight, and the chip emits at most one spike per event;
- a lower bound that became 0 and was replaced by -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import ModelError

#: bits of a weight (and of a bias, in sinabs' scale) and of a threshold or membrane state
WEIGHT_BITS = 8
STATE_BITS = 16
#: the lower bound sinabs uses, before scaling, when a spiking layer's min_v_mem is None
DEFAULT_MIN_V_MEM = -2.0 ** 15
#: what a lower bound that rounds to 0 becomes when the chip cannot use 0 (hardware bug, SPEC §1)
ZERO_LOW_REPLACEMENT = -1


@dataclass(frozen=True, eq=False)
class Discretized:
    """A layer in the chip's integers, each equal to round_half_even(float32 value × scale).

    weight: int8 [c_out, c_in, k, k]; bias: int16 [c_out], or None when the layer has no bias;
    threshold_high, threshold_low: the layer's int16 thresholds (SPEC F3); scale: the float32
    factor the layer was multiplied by, as a Python float (integer ≈ float × scale);
    warnings: one message per loss of precision found, each naming the layer, saying what was
    lost and what to change. The arrays are read-only.
    """

    weight: np.ndarray
    bias: Optional[np.ndarray]
    threshold_high: int
    threshold_low: int
    scale: float
    warnings: tuple = ()


def discretize_layer(weight, bias, threshold, min_v_mem, *, name: str = "",
                     threshold_low_zero_forbidden: bool = True) -> Discretized:
    """The integers of one layer, as sinabs' `discretize_conv_spike` computes them.

    weight: float [c_out, c_in, k, k]; bias: float [c_out] or None; threshold: the spiking
    layer's threshold (> 0); min_v_mem: its lower bound, or None for sinabs' default (-32768
    before scaling). `name` names the layer in messages and warnings.

    A lower bound that rounds to 0 (min_v_mem=0 in the model, or a bound smaller in magnitude than
    half a step) is one the chip cannot use (threshold_low = 0 is a hardware bug, SPEC §1). sinabs
    writes it as 0 without a word; here threshold_low becomes -1 instead (one step from 0, keeping
    the bound below the resting membrane; the value the datasheet suggests), and a warning says so. With
    `threshold_low_zero_forbidden=False` (a chip file without the bug) 0 is kept, as in sinabs.

    Raises ModelError when a value is not finite, a shape is wrong, the threshold is not positive,
    the threshold rounds to 0 (weights far larger than it, or min_v_mem=None capping the scale at
    1 under a threshold below 0.5), or the lower bound does not end up below the threshold: sinabs
    would write those numbers, and the chip cannot run them. The warnings (listed in the module's
    docstring) are in `Discretized.warnings`.
    """
    label = f"layer '{name}'" if name else "the layer"
    w = _floats(weight, "weight", label)
    if w.ndim != 4 or w.size == 0:
        raise ModelError(f"{label}: weight has shape {w.shape}; it must be [c_out, c_in, k, k], none of them 0 "
                         "(a Linear layer's weight reshaped to [out, in, h, w] over its input map)")
    b = None if bias is None else _floats(bias, "bias", label)
    if b is not None and b.shape != (w.shape[0],):
        raise ModelError(f"{label}: bias has shape {b.shape}; it must be [{w.shape[0]}], one per output channel")
    thr = _floats(threshold, "threshold", label)
    if thr.ndim != 0:
        raise ModelError(f"{label}: threshold must be one number for the whole layer (the chip has one "
                         f"threshold per core), got shape {thr.shape}")
    if not thr > 0:
        raise ModelError(f"{label}: threshold is {float(thr):g}; the chip fires when the membrane reaches a "
                         "positive threshold: use a threshold > 0")
    low = _floats(DEFAULT_MIN_V_MEM if min_v_mem is None else min_v_mem, "min_v_mem", label)
    if low.ndim != 0:
        raise ModelError(f"{label}: min_v_mem must be one number for the whole layer (the chip has one "
                         f"lower bound per core), got shape {low.shape}")

    s_w = group_scale(w, WEIGHT_BITS)
    s_b = np.float32(np.inf) if b is None else group_scale(b, WEIGHT_BITS)
    s_t = group_scale(np.array([low, thr], np.float32), STATE_BITS)
    scale = min(s_w, s_b, s_t)

    w_int = np.round(w * scale)
    b_int = None if b is None else np.round(b * scale)
    hi_int = int(np.round(thr * scale))
    lo_int = int(np.round(low * scale))
    _check_range(label, "weight", w_int, WEIGHT_BITS)
    if b_int is not None:
        _check_range(label, "bias", b_int, STATE_BITS)

    limit = _limit(s_w, s_b, s_t, thr, low)
    if hi_int < 1:
        raise ModelError(f"{label}: the threshold {float(thr):g} becomes {hi_int} at scale {float(scale):.4g}, "
                         "and a threshold of 0 makes every input fire. "
                         + _limit_advice(limit, w, b, thr, low, min_v_mem is None))
    warnings = []
    if lo_int == 0 and threshold_low_zero_forbidden:
        lo_int = ZERO_LOW_REPLACEMENT
        warnings.append(
            f"{label}: the lower bound min_v_mem={float(low):g} becomes 0 at scale {float(scale):.4g}, which the "
            "chip cannot use (threshold_low = 0 is a hardware bug); threshold_low is -1 instead (sinabs writes "
            "0), so the membrane can go one step below 0. To choose the bound yourself, set min_v_mem to a "
            f"negative value beyond {-0.5 / float(scale):.3g}, e.g. min_v_mem=-threshold ({-float(thr):g})")
    if lo_int >= hi_int:
        raise ModelError(f"{label}: the lower bound min_v_mem={float(low):g} becomes {lo_int}, not below the "
                         f"threshold {float(thr):g} ({hi_int}); the membrane must be able to sit below the "
                         "threshold: set min_v_mem below the threshold, e.g. to -threshold")

    warnings += _precision_warnings(label, w, w_int, b, b_int, thr, low, min_v_mem is None, hi_int,
                                    scale, s_w, limit)
    weight_out = w_int.astype(np.int8)
    weight_out.setflags(write=False)
    bias_out = None
    if b_int is not None:
        bias_out = b_int.astype(np.int16)
        bias_out.setflags(write=False)
    return Discretized(weight=weight_out, bias=bias_out, threshold_high=hi_int, threshold_low=lo_int,
                       scale=float(scale), warnings=tuple(warnings))


def group_scale(values: np.ndarray, bits: int) -> np.float32:
    """The largest scale (float32) that keeps `values` (float32) in [-2**(bits-1), 2**(bits-1)-1]
    after rounding, chosen as sinabs chooses it (see the module's docstring); inf for all zeros."""
    n = 2 ** (bits - 1)
    lo, hi = values.min(), values.max()
    # float32 throughout, reciprocal first: the operations PyTorch performs in sinabs
    with np.errstate(divide="ignore", over="ignore"):
        if abs(lo) <= abs(hi) * np.float32(n / (n - 1)):
            return abs((np.float32(1) / hi) * np.float32(n - 1))
        return abs((np.float32(1) / lo) * np.float32(-n))


def _floats(value, what: str, label: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{label}: {what} must be numbers, got {type(value).__name__}") from None
    with np.errstate(over="ignore"):
        a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{label}: {what} has values that are not finite in float32 (NaN, inf, or beyond "
                         "±3.4e38); fix the trained parameters before putting them on the chip")
    return a


def _check_range(label, what, ints, bits):
    n = 2 ** (bits - 1)
    if ints.size and (ints.min() < -n or ints.max() > n - 1):
        # the scale keeps every value in range by construction; an integer that wraps would be silent
        raise ModelError(f"{label}: a discretised {what} falls outside [{-n}, {n - 1}] "
                         f"({ints.min():g}..{ints.max():g}); please report this model")


def _limit(s_w, s_b, s_t, thr, low) -> str:
    """Which group sets the layer's scale: "weights", "biases", "lower bound" or "threshold" (on a
    tie, the first of these, as Python's min picks it in sinabs)."""
    scale = min(s_w, s_b, s_t)
    if scale == s_w:
        return "weights"
    if scale == s_b:
        return "biases"
    n = 2 ** (STATE_BITS - 1)
    return "lower bound" if abs(low) > abs(thr) * np.float32(n / (n - 1)) else "threshold"


def _limit_advice(limit, w, b, thr, low, low_is_default) -> str:
    """Why the scale is what it is, and what to change, for messages."""
    w_max = float(np.abs(w).max())
    if limit == "weights":
        return (f"The scale is set by the largest weight ({w_max:g}, {_times(w_max / float(thr))} times the "
                "threshold): keep the weights below the threshold (clip them in training) or raise the threshold")
    if limit == "biases":
        return (f"The scale is set by the biases (largest {float(np.abs(b).max()):g}, largest weight {w_max:g}), "
                "which sinabs gives 8 bits like the weights although the chip's bias word has 16: make the biases "
                "smaller next to the weights (e.g. sinabs.from_model's bias_rescaling) or remove them")
    if limit == "lower bound" and low_is_default:
        return ("min_v_mem=None sets the lower bound to -32768 before scaling, which limits the scale to at "
                f"most 1: set min_v_mem on the spiking layer (e.g. min_v_mem=-threshold, {-float(thr):g})")
    if limit == "lower bound":
        return (f"The lower bound min_v_mem={float(low):g}, {_times(float(abs(low) / thr))} times the threshold in "
                f"magnitude, limits the scale: set min_v_mem closer to 0 (e.g. -threshold, {-float(thr):g})")
    ratio = f"{_times(float(thr) / w_max)} times" if w_max else "far above"
    return (f"The threshold {float(thr):g}, {ratio} the largest weight (a 16-bit "
            "threshold holds at most 258 times an 8-bit weight), limits the scale: make the weights larger "
            "next to the threshold, or the threshold smaller")


def _times(x: float) -> str:
    """A ratio for messages: '3.69', '258', '1,000', '270,000'."""
    return f"{x:.3g}" if x < 1000 else f"{float(f'{x:.3g}'):,.0f}"


def _precision_warnings(label, w, w_int, b, b_int, thr, low, low_is_default, hi_int, scale, s_w, limit):
    """What sinabs loses without saying so: precision of the weights when something other than
    the weights sets the scale, biases that vanish, weights at or above the threshold."""
    out = []
    nonzero = int(np.count_nonzero(w))
    zeroed = int(np.count_nonzero((w != 0) & (w_int == 0)))
    # integers that equal the scaled floats exactly lost nothing (e.g. integer weights at scale 1)
    if limit != "weights" and (zeroed or not np.array_equal(w_int, w * scale)):
        out.append(
            f"{label}: the weights lose precision at scale {float(scale):.4g} where they alone allow "
            f"{float(s_w):.4g}: {zeroed} of {nonzero} non-zero weights became 0 (every weight of magnitude "
            f"at most {0.5 / float(scale):.3g}) and the largest weight is {int(np.abs(w_int).max())} of a "
            f"possible 127. " + _limit_advice(limit, w, b, thr, low, low_is_default))
    if b is not None:
        b_nonzero = int(np.count_nonzero(b))
        b_zeroed = int(np.count_nonzero((b != 0) & (b_int == 0)))
        if b_zeroed:
            gone = (" No bias is left, so the layer has no leak at all." if not np.any(b_int)
                    else "")
            out.append(
                f"{label}: {b_zeroed} of {b_nonzero} non-zero biases became 0 at scale {float(scale):.4g} (every "
                f"bias of magnitude at most {0.5 / float(scale):.3g}): their channels lose their leak.{gone} "
                "Make those biases larger next to the weights and threshold, or remove them")
    over = w_int >= hi_int
    n_over = int(np.count_nonzero(over))
    if n_over:
        channels = int(np.count_nonzero(over.reshape(over.shape[0], -1).any(axis=1)))
        these = f"{n_over} weights" if n_over > 1 else "1 weight"
        out.append(
            f"{label}: {these} (in {channels} of {w.shape[0]} output channels, the largest {int(w_int.max())}) "
            f"{'are' if n_over > 1 else 'is'} at or above the threshold ({hi_int}) after discretisation: a "
            "neuron fires on every input event that reaches it through such a weight, and the chip emits at most "
            "one spike per event however far the membrane overshoots. Clip the weights below the threshold in "
            "training (SynSense's 'weight clipping' tip) or raise the threshold")
    return out
