"""The chip configuration, shaped like samna's `SpeckConfiguration` so a devkit adapter maps it
field to field, plus the options of one run.

Differences from samna, on purpose: weights are int8 in PyTorch layout `[out, in, ky, kx]` (samna:
`[out][in][kx][ky]`), and `neurons_initial_value` is `[feature, y, x]` (samna: `[feature][x][y]`).
A core is *in use* when its input feature count is non-zero; unused cores keep the defaults.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .chip import Chip, kernel_memory_words, load_chip, neuron_memory_words
from ._files import atomic_path
from .errors import ConfigError

N_CORES = 9


@dataclass
class Vec2:
    """An (x, y) pair, as samna's Vec2."""

    x: int = 0
    y: int = 0


@dataclass
class Shape:
    """A map shape: `size.x` (width), `size.y` (height) and `feature_count` (channels)."""

    size: Vec2 = field(default_factory=Vec2)
    feature_count: int = 0


@dataclass
class CnnLayerDimensions:
    input_shape: Shape = field(default_factory=Shape)
    output_shape: Shape = field(default_factory=Shape)
    padding: Vec2 = field(default_factory=Vec2)
    stride: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    kernel_size: int = 0


@dataclass
class CnnLayerDestination:
    """Where a core's spikes go: core `layer` (0..8) or the readout (12); sum-pooling and channel shift."""

    layer: int = 0
    enable: bool = False
    pooling: int = 1
    feature_shift: int = 0


def _two_destinations():
    return [CnnLayerDestination(), CnnLayerDestination()]


@dataclass
class CnnLayerConfig:
    """One core. Arrays: weights int8 [out, in, ky, kx]; biases int16 [out]; neurons_initial_value
    int16 [out, h_out, w_out] or None for all zeros."""

    dimensions: CnnLayerDimensions = field(default_factory=CnnLayerDimensions)
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0), np.int8))
    biases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    leak_enable: bool = False
    threshold_high: int = 1
    threshold_low: int = -32768
    return_to_zero: bool = False
    neurons_initial_value: Optional[np.ndarray] = None
    monitor_enable: bool = False
    destinations: list = field(default_factory=_two_destinations)
    output_decimator_enable: bool = False
    output_decimator_interval: int = 0
    input_congestion_balancer_enable: bool = False

    @property
    def in_use(self) -> bool:
        return self.dimensions.input_shape.feature_count > 0

    @classmethod
    def conv(cls, weights, input_size, *, stride=1, padding=0, threshold_high=1, threshold_low=-32768,
             return_to_zero=False, biases=None, leak_enable=False, monitor_enable=False, destinations=(),
             output_decimator_enable=False, output_decimator_interval=0,
             input_congestion_balancer_enable=False, neurons_initial_value=None) -> "CnnLayerConfig":
        """A core computing a convolution of an input map `input_size` = (height, width).

        `weights` is [out, in, k, k]; stride and padding are an int or (y, x); `destinations` is a
        sequence of `CnnLayerDestination` or (layer, pooling, feature_shift) tuples, enabled.
        """
        w = np.asarray(weights)
        if w.ndim != 4:
            raise ValueError(f"weights must be 4-D [out, in, ky, kx], got shape {w.shape}")
        sy, sx = _pair(stride)
        py, px = _pair(padding)
        h, wd = _pair(input_size)
        k = int(w.shape[-1])
        dims = CnnLayerDimensions(
            input_shape=Shape(Vec2(wd, h), int(w.shape[1])),
            output_shape=Shape(Vec2(conv_out(wd, k, sx, px), conv_out(h, k, sy, py)), int(w.shape[0])),
            padding=Vec2(px, py), stride=Vec2(sx, sy), kernel_size=k)
        dests = _two_destinations()
        for i, d in enumerate(destinations):
            if i >= 2:
                raise ValueError("a core has at most two destinations")
            if not isinstance(d, CnnLayerDestination):
                parts = tuple(d) if isinstance(d, (tuple, list)) else (d,)
                if not 1 <= len(parts) <= 3:
                    raise ValueError(f"a destination is (layer[, pooling[, feature_shift]]), got {d!r}")
                layer, pooling, shift = parts + (1, 0)[len(parts) - 1:]
                d = CnnLayerDestination(layer=int(layer), enable=True, pooling=int(pooling), feature_shift=int(shift))
            dests[i] = d
        return cls(dimensions=dims, weights=w,
                   biases=np.zeros(w.shape[0], np.int16) if biases is None else np.asarray(biases),
                   leak_enable=leak_enable, threshold_high=threshold_high, threshold_low=threshold_low,
                   return_to_zero=return_to_zero, neurons_initial_value=neurons_initial_value,
                   monitor_enable=monitor_enable, destinations=dests,
                   output_decimator_enable=output_decimator_enable,
                   output_decimator_interval=output_decimator_interval,
                   input_congestion_balancer_enable=input_congestion_balancer_enable)


@dataclass
class DvsDestination:
    layer: int = 0
    enable: bool = False


@dataclass
class DvsLayerConfig:
    """The DVS pre-processing layer (SPEC F6). cut is inclusive; mirror.x / mirror.y are flags."""

    merge: bool = False
    on_channel: bool = True
    off_channel: bool = True
    pooling: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    origin: Vec2 = field(default_factory=Vec2)
    cut: Vec2 = field(default_factory=lambda: Vec2(127, 127))
    mirror: Vec2 = field(default_factory=Vec2)
    mirror_diagonal: bool = False
    destinations: list = field(default_factory=lambda: [DvsDestination(), DvsDestination()])
    monitor_enable: bool = False
    pass_sensor_events: bool = True


@dataclass
class ReadoutConfig:
    """The readout block (SPEC F7), fed by destinations with layer 12."""

    enable: bool = False
    readout_configuration_sel: int = 0
    output_mode_sel: int = 0
    threshold: int = 0
    low_pass_filter_disable: bool = False
    low_pass_filter32_not16: bool = False
    monitor_enable: bool = False
    readout_pin_monitor_enable: bool = False


@dataclass
class ChipConfig:
    """A whole chip: nine cores, the DVS layer and the readout."""

    cnn_layers: list = field(default_factory=lambda: [CnnLayerConfig() for _ in range(N_CORES)])
    dvs_layer: DvsLayerConfig = field(default_factory=DvsLayerConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    def used_cores(self) -> list[int]:
        return [k for k, layer in enumerate(self.cnn_layers) if layer.in_use]


@dataclass(frozen=True)
class RunOptions:
    """Options of one run (not part of the chip configuration).

    input_path: "host" (events written by the host, SPEC T1) or "sensor" (the on-chip DVS).
    slow_clock_hz: slow-clock rate for leak and readout (F4, F7); 0 turns the slow clock off.
    bin_ns: width of the utilisation / FIFO-occupancy time-series bins.
    end_ns: the run stops at this time, whatever is still in flight (reported as pending), and
    simulates slow-clock ticks up to it even after the input ends (None: stop when the chip is
    idle after the last input) (SPEC T12).
    drain_ns: without end_ns, a chip still busy this long after the last input's timestamp is
    stopped there and the result says it was cut (SPEC T12); default 1 s of simulated time.
    """

    input_path: str = "host"
    slow_clock_hz: float = 1000.0
    bin_ns: int = 1_000_000
    end_ns: Optional[int] = None
    drain_ns: int = 1_000_000_000


def conv_out(n: int, k: int, s: int, p: int) -> int:
    """Convolution output length (PyTorch floor formula, SPEC §1)."""
    return (n + 2 * p - k) // s + 1


def _pair(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


# --------------------------------------------------------------------------------------------
# Validation (SPEC §1): every rule broken is listed, not only the first.
# --------------------------------------------------------------------------------------------

_INT8 = (-128, 127)
_INT16 = (-32768, 32767)


def validate(config: ChipConfig, chip) -> list[str]:
    """Check `config` against the limits of `chip` (a `Chip` or a chip name / path).

    Returns the warnings (cycles in the core graph, cores whose spikes go nowhere, a DVS window
    that no event can reach); raises `ConfigError` listing every problem, each naming the core
    (or section) and the field, what is wrong and how to fix it.
    """
    if not isinstance(chip, Chip):
        chip = load_chip(chip)
    problems: list[str] = []
    warnings: list[str] = []
    layers = list(config.cnn_layers)
    geometry = {}
    used = []
    for k, layer in enumerate(layers):
        if not _layer_used(layer):
            _check_unused_core(k, layer, problems)
            continue
        if k >= chip.n_cores:
            problems.append(f"core {k}: in use (dimensions.input_shape.feature_count > 0) but {chip.name} has only "
                            f"{chip.n_cores} cores (0..{chip.n_cores - 1}); move the layer to an existing core")
            continue
        used.append(k)
        geometry[k] = _check_core(k, layer, chip, problems)
    if not used:
        problems.append("cnn_layers: no core is in use (every dimensions.input_shape.feature_count is 0); "
                        "configure at least one core")
    for k in used:
        _check_destinations(k, layers[k], layers, geometry, used, config, chip, problems, warnings)
    _check_dvs(config.dvs_layer, layers, geometry, used, chip, problems, warnings)
    _check_readout(config.readout, problems)
    warnings.extend(_cycle_warnings(layers, used))
    if problems:
        raise ConfigError(problems)
    return warnings


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _layer_used(layer) -> bool:
    fc = layer.dimensions.input_shape.feature_count
    return (not _is_int(fc)) or fc > 0  # a non-integer count is reported by the core checks


def _check_unused_core(k, layer, problems):
    for i, d in enumerate(_as_list(layer.destinations)):
        if getattr(d, "enable", False):
            problems.append(f"core {k}: destinations[{i}].enable is true but the core is not in use "
                            "(dimensions.input_shape.feature_count is 0); disable the destination or configure "
                            "the core")
    if layer.monitor_enable:
        problems.append(f"core {k}: monitor_enable is true but the core is not in use "
                        "(dimensions.input_shape.feature_count is 0); disable the monitor or configure the core")


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else []


def _check_core(k, layer, chip, problems):
    """Checks one used core; returns its geometry dict, or None when the dimensions are unusable."""
    p = f"core {k}:"
    d = layer.dimensions
    named = {
        "dimensions.input_shape.feature_count": d.input_shape.feature_count,
        "dimensions.input_shape.size.x": d.input_shape.size.x,
        "dimensions.input_shape.size.y": d.input_shape.size.y,
        "dimensions.output_shape.feature_count": d.output_shape.feature_count,
        "dimensions.output_shape.size.x": d.output_shape.size.x,
        "dimensions.output_shape.size.y": d.output_shape.size.y,
        "dimensions.kernel_size": d.kernel_size,
        "dimensions.stride.x": d.stride.x, "dimensions.stride.y": d.stride.y,
        "dimensions.padding.x": d.padding.x, "dimensions.padding.y": d.padding.y,
    }
    typed = True
    for name, v in named.items():
        if not _is_int(v):
            problems.append(f"{p} {name} is {v!r}; it must be a whole number")
            typed = False
    geo = None
    if typed:
        geo = _check_geometry(p, d, chip, problems)
    _check_arrays(p, layer, geo, problems)
    _check_thresholds(p, layer, chip, problems)
    _check_decimator(p, layer, chip, problems)
    if geo is not None:
        _check_memory(k, layer, geo, chip, problems)
    return geo


def _check_geometry(p, d, chip, problems):
    c_in, c_out = int(d.input_shape.feature_count), int(d.output_shape.feature_count)
    w_in, h_in = int(d.input_shape.size.x), int(d.input_shape.size.y)
    ks = int(d.kernel_size)
    ok = True
    for name, c in (("input_shape", c_in), ("output_shape", c_out)):
        if not 1 <= c <= chip.max_features:
            problems.append(f"{p} dimensions.{name}.feature_count is {c}; it must be 1..{chip.max_features} "
                            f"(max_features); use fewer channels or split the layer over two cores")
            ok = False
    for ax, n in (("x", w_in), ("y", h_in)):
        if not 1 <= n <= chip.max_input_size:
            problems.append(f"{p} dimensions.input_shape.size.{ax} is {n}; it must be 1..{chip.max_input_size} "
                            "(max_input_size); crop or pool the map before this core")
            ok = False
    if not 1 <= ks <= chip.max_kernel_size:
        problems.append(f"{p} dimensions.kernel_size is {ks}; it must be 1..{chip.max_kernel_size} (the side of "
                        "a square kernel, max_kernel_size); use a kernel within that range")
        ok = False
    for ax in ("x", "y"):
        s, pad = int(getattr(d.stride, ax)), int(getattr(d.padding, ax))
        if s not in chip.strides:
            problems.append(f"{p} dimensions.stride.{ax} is {s}; it must be one of {list(chip.strides)}")
            ok = False
        if not 0 <= pad <= chip.max_padding:
            problems.append(f"{p} dimensions.padding.{ax} is {pad}; it must be 0..{chip.max_padding} (max_padding)")
            ok = False
    if not ok:
        return None
    w_out = conv_out(w_in, ks, int(d.stride.x), int(d.padding.x))
    h_out = conv_out(h_in, ks, int(d.stride.y), int(d.padding.y))
    for ax, n, pad, out in (("x", w_in, d.padding.x, w_out), ("y", h_in, d.padding.y, h_out)):
        if out < 1:
            problems.append(f"{p} dimensions.kernel_size {ks} is larger than the padded input along {ax} "
                            f"({n} + 2*{pad}); use a smaller kernel or more padding")
            ok = False
    if not ok:
        return None
    given = (int(d.output_shape.size.x), int(d.output_shape.size.y))
    if given != (w_out, h_out):
        problems.append(
            f"{p} dimensions.output_shape.size is {given[0]}x{given[1]} (x by y), but input {w_in}x{h_in}, kernel "
            f"{ks}, stride {d.stride.x}x{d.stride.y}, padding {d.padding.x}x{d.padding.y} give {w_out}x{h_out} "
            f"((n + 2*pad - k) // stride + 1); set output_shape.size to {w_out}x{h_out} "
            "(CnnLayerConfig.conv computes it)")
    if w_out > chip.max_output_size or h_out > chip.max_output_size:
        problems.append(
            f"{p} the convolution output (dimensions.output_shape.size, before pooling) is {w_out}x{h_out} (x by y); "
            f"each side must be at most {chip.max_output_size} (max_output_size); use a larger stride or a smaller "
            "input, and pool on the destination instead")
    return dict(c_in=c_in, c_out=c_out, w_in=w_in, h_in=h_in, k=ks, w_out=w_out, h_out=h_out)


def _int_array(p, name, value, shape, bounds, problems, shape_hint=""):
    """Checks an integer array field; returns it as an ndarray, or None when unusable."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        problems.append(f"{p} {name} cannot be read as an array ({exc}); give a numpy integer array")
        return None
    if a.dtype.kind not in "iu":
        problems.append(f"{p} {name} has dtype {a.dtype}; it must be an integer array "
                        f"(round it and cast with .astype(np.{'int8' if bounds == _INT8 else 'int16'}))")
        a = None
    elif a.size and (a.min() < bounds[0] or a.max() > bounds[1]):
        n_bad = int(np.count_nonzero((a < bounds[0]) | (a > bounds[1])))
        problems.append(f"{p} {name} spans [{a.min()}, {a.max()}] with {n_bad} value(s) outside "
                        f"{'int8' if bounds == _INT8 else 'int16'} [{bounds[0]}, {bounds[1]}]; rescale or clip them")
    if shape is not None and np.shape(value) != shape:
        problems.append(f"{p} {name} has shape {list(np.shape(value))}; the dimensions need {list(shape)}"
                        f"{shape_hint}")
        return None
    return a


def _check_arrays(p, layer, geo, problems):
    if geo is not None:
        c_out, c_in, ks = geo["c_out"], geo["c_in"], geo["k"]
        hint = " [out, in, ky, kx] (output_shape.feature_count, input_shape.feature_count, kernel_size, kernel_size)"
        wshape = np.shape(layer.weights)
        if len(wshape) == 4 and wshape[2] != wshape[3]:
            hint += "; kernels must be square"
        _int_array(p, "weights", layer.weights, (c_out, c_in, ks, ks), _INT8, problems, hint)
        _int_array(p, "biases", layer.biases, (c_out,), _INT16, problems, " [out] (one per output channel)")
        if layer.neurons_initial_value is not None:
            _int_array(p, "neurons_initial_value", layer.neurons_initial_value, (c_out, geo["h_out"], geo["w_out"]),
                       _INT16, problems, " [out, h_out, w_out] (or None for all zeros)")
    else:
        _int_array(p, "weights", layer.weights, None, _INT8, problems)
        _int_array(p, "biases", layer.biases, None, _INT16, problems)
        if layer.neurons_initial_value is not None:
            _int_array(p, "neurons_initial_value", layer.neurons_initial_value, None, _INT16, problems)


def _check_thresholds(p, layer, chip, problems):
    hi, lo = layer.threshold_high, layer.threshold_low
    ok = True
    for name, v in (("threshold_high", hi), ("threshold_low", lo)):
        if not _is_int(v):
            problems.append(f"{p} {name} is {v!r}; it must be a whole number in int16 [-32768, 32767]")
            ok = False
        elif not _INT16[0] <= v <= _INT16[1]:
            problems.append(f"{p} {name} is {v}; it must be in int16 [-32768, 32767]")
            ok = False
    if ok and hi < 1:
        problems.append(f"{p} threshold_high is {hi}; it must be at least 1 (a threshold of 0 or less makes every "
                        "SynOp fire); use a positive threshold")
    if _is_int(lo) and lo == 0 and chip.threshold_low_zero_forbidden:
        problems.append(f"{p} threshold_low is 0, which {chip.name} cannot use (hardware bug, SPEC §1); "
                        "use -1 or another non-zero value")
    if ok and not lo < hi:
        problems.append(f"{p} threshold_low ({lo}) must be below threshold_high ({hi}); lower threshold_low "
                        "or raise threshold_high")


def _check_decimator(p, layer, chip, problems):
    iv = layer.output_decimator_interval
    if not _is_int(iv) or not 0 <= iv <= 7:
        problems.append(f"{p} output_decimator_interval is {iv!r}; it must be a code 0..7 "
                        f"(1 of every {', '.join(map(str, chip.decimator_ratios))} spikes)")
    if layer.output_decimator_enable and not chip.has_decimator:
        problems.append(f"{p} output_decimator_enable is true but {chip.name} has no output decimator; "
                        "set it to false")


def _check_memory(k, layer, geo, chip, problems):
    c_in, c_out, ks, h, w = geo["c_in"], geo["c_out"], geo["k"], geo["h_out"], geo["w_out"]
    kk, cc = _pow2(ks * ks), _pow2(c_out)
    need_k = kernel_memory_words(c_in, c_out, ks)
    _memory(k, "kernel", need_k, f"{c_in} in ch x {kk} ({ks}x{ks} rounded) x {cc} ({c_out} out ch rounded)",
            chip.kernel_words, "fewer channels or a smaller kernel", problems)
    need_n = neuron_memory_words(c_out, h, w)
    _memory(k, "neuron", need_n, f"{c_out} ch x {_pow2(h)} x {_pow2(w)} rounded",
            chip.neuron_words, "fewer output channels, or a smaller output map through a larger stride", problems)
    try:
        has_bias = bool(np.any(np.asarray(layer.biases) != 0))
    except (TypeError, ValueError):
        has_bias = False
    if layer.leak_enable or has_bias:
        _memory(k, "bias", c_out, f"{c_out} out ch, biases or leak in use", chip.bias_words,
                "fewer output channels", problems)


def _pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _memory(k, kind, need, detail, table, smaller, problems):
    have = table[k]
    if need <= have:
        return
    fits = [j for j, words in enumerate(table) if words >= need]
    if fits:
        hint = f"use a core with more {kind} memory ({_by_value(fits, table)}) or a smaller layer ({smaller})"
    else:
        most = [j for j, words in enumerate(table) if words == max(table)]
        hint = f"no core has that much ({_by_value(most, table)}, the most); make the layer smaller ({smaller})"
    problems.append(f"core {k}: {kind} memory needs {need} words ({detail}), core {k} has {have}: "
                    f"{need - have} short; {hint}")


def _by_value(cores, table):
    """'cores 0-2 have 65536, core 5 has 16384' for the given cores, grouped by memory size."""
    groups: dict[int, list[int]] = {}
    for c in cores:
        groups.setdefault(table[c], []).append(c)
    parts = []
    for value in sorted(groups):
        cs = groups[value]
        verb = "has" if len(cs) == 1 else "have"
        parts.append(f"{'core' if len(cs) == 1 else 'cores'} {_ranges(cs)} {verb} {value}")
    return ", ".join(parts)


def _ranges(cs):
    out, start = [], cs[0]
    for a, b in zip(cs, cs[1:] + [None]):
        if b != a + 1:
            out.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


def _check_destinations(k, layer, layers, geometry, used, config, chip, problems, warnings):
    p = f"core {k}:"
    dests = layer.destinations
    if not isinstance(dests, (list, tuple)) or len(dests) != 2:
        n = len(dests) if isinstance(dests, (list, tuple)) else dests
        problems.append(f"{p} destinations has {n!r} slots; it must be a list of exactly 2 CnnLayerDestination "
                        "(unused ones with enable=False)")
    dests = _as_list(dests)
    for i, d in enumerate(dests):
        if not isinstance(d, CnnLayerDestination):
            problems.append(f"{p} destinations[{i}] is {d!r}; it must be a CnnLayerDestination")
    enabled = [(i, d) for i, d in enumerate(dests) if isinstance(d, CnnLayerDestination) and d.enable]
    if len(enabled) > chip.max_destinations:
        problems.append(f"{p} destinations has {len(enabled)} enabled; {chip.name} allows at most "
                        f"{chip.max_destinations} (max_destinations)")
    if not enabled and not layer.monitor_enable:
        warnings.append(f"core {k}: its spikes go nowhere (no enabled destination and monitor_enable is false); "
                        "enable the monitor or a destination")
    src = geometry.get(k)
    for i, d in enabled:
        q = f"{p} destinations[{i}]"
        target, pooling, shift = d.layer, d.pooling, d.feature_shift
        if not _is_int(pooling) or pooling not in chip.poolings:
            problems.append(f"{q}.pooling is {pooling!r}; it must be one of {list(chip.poolings)}")
            pooling = None
        if not _is_int(shift) or shift < 0:
            problems.append(f"{q}.feature_shift is {shift!r}; it must be a whole number >= 0")
            shift = None
        if not _is_int(target):
            problems.append(f"{q}.layer is {target!r}; it must be a core number or {chip.readout_layer} (readout)")
            continue
        if target == chip.readout_layer:
            if not config.readout.enable:
                problems.append(f"{q}.layer is {target} (the readout) but readout.enable is false; "
                                "set readout.enable = True or disable this destination")
            continue
        n = min(chip.n_cores, len(layers))
        if not 0 <= target < n:
            problems.append(f"{q}.layer is {target}; it must be a core 0..{n - 1} or {chip.readout_layer} (readout)")
            continue
        if target not in used:
            problems.append(f"{q}.layer is {target} but core {target} is not in use (its "
                            f"dimensions.input_shape.feature_count is 0); configure core {target} or send to a "
                            f"used core ({', '.join(map(str, used))})")
            continue
        dst = geometry.get(target)
        if src is None or dst is None:
            continue
        if shift is not None and src["c_out"] + shift > dst["c_in"]:
            problems.append(
                f"{q}: {src['c_out']} output channels shifted by feature_shift {shift} need {src['c_out'] + shift} "
                f"input channels, but core {target} has {dst['c_in']} (dimensions.input_shape.feature_count); "
                f"lower feature_shift or give core {target} more input channels")
        if pooling is not None:
            pw, ph = -(-src["w_out"] // pooling), -(-src["h_out"] // pooling)
            big = [f"{ax} ({a} > {b})" for ax, a, b in (("x", pw, dst["w_in"]), ("y", ph, dst["h_in"])) if a > b]
            if big:
                problems.append(
                    f"{q}: the pooled map is {pw}x{ph} (x by y: output {src['w_out']}x{src['h_out']} / pooling "
                    f"{pooling}) but core {target}'s input (dimensions.input_shape.size) is "
                    f"{dst['w_in']}x{dst['h_in']}; "
                    f"too big along {' and '.join(big)}; pool more or enlarge core {target}'s input")


def _check_dvs(dvs, layers, geometry, used, chip, problems, warnings):
    p = "dvs_layer:"
    ok = True
    for name in ("pooling", "origin", "cut", "mirror"):
        for ax in ("x", "y"):
            if not _is_int(getattr(getattr(dvs, name), ax)) and not (
                    name == "mirror" and isinstance(getattr(dvs.mirror, ax), (bool, np.bool_))):
                problems.append(f"{p} {name}.{ax} is {getattr(getattr(dvs, name), ax)!r}; it must be a whole number")
                ok = False
    if not ok:
        return
    for ax in ("x", "y"):
        pool, origin, cut = getattr(dvs.pooling, ax), getattr(dvs.origin, ax), getattr(dvs.cut, ax)
        if pool not in chip.poolings:
            problems.append(f"{p} pooling.{ax} is {pool}; it must be one of {list(chip.poolings)}")
            ok = False
        if origin < 0:
            problems.append(f"{p} origin.{ax} is {origin}; it must be >= 0")
            ok = False
        if not cut < chip.dvs_size:
            problems.append(f"{p} cut.{ax} is {cut}; it must be below the sensor size {chip.dvs_size} "
                            "(cut is inclusive, in pooled coordinates)")
            ok = False
        if origin > cut:
            problems.append(f"{p} origin.{ax} ({origin}) is beyond cut.{ax} ({cut}); origin must be <= cut")
            ok = False
        if getattr(dvs.mirror, ax) not in (0, 1):
            problems.append(f"{p} mirror.{ax} is {getattr(dvs.mirror, ax)}; it must be 0 or 1 (a flag)")
    dests = dvs.destinations
    if not isinstance(dests, (list, tuple)) or len(dests) != 2:
        n = len(dests) if isinstance(dests, (list, tuple)) else dests
        problems.append(f"{p} destinations has {n!r} slots; it must be a list of exactly 2 DvsDestination "
                        "(unused ones with enable=False)")
    for i, d in enumerate(_as_list(dests)):
        if not isinstance(d, DvsDestination):
            problems.append(f"{p} destinations[{i}] is {d!r}; it must be a DvsDestination")
    enabled = [(i, d) for i, d in enumerate(_as_list(dests)) if isinstance(d, DvsDestination) and d.enable]
    size = _dvs_map_size(dvs, chip) if ok else None
    if size is not None and size[0] < 1 and (enabled or dvs.monitor_enable):
        warnings.append(f"{p} origin lies beyond the pooled sensor (pooling {dvs.pooling.x}x{dvs.pooling.y} of "
                        f"{chip.dvs_size} px): no DVS event can pass the crop")
    need_c = 1 if dvs.merge else 2
    for i, d in enabled:
        q = f"{p} destinations[{i}]"
        t = d.layer
        n = min(chip.n_cores, len(layers))
        if not _is_int(t) or not 0 <= t < n:
            problems.append(f"{q}.layer is {t!r}; the DVS layer can only send to a core 0..{n - 1}")
            continue
        if t not in used:
            problems.append(f"{q}.layer is {t} but core {t} is not in use (its dimensions.input_shape.feature_count "
                            f"is 0); configure core {t} or disable this destination")
            continue
        g = geometry.get(t)
        if g is None:
            continue
        if g["c_in"] < need_c:
            problems.append(f"{q}: the DVS layer sends {need_c} channel(s) ({'merge' if dvs.merge else 'ON and OFF'}) "
                            f"but core {t} has {g['c_in']} input channel(s) (dimensions.input_shape.feature_count); "
                            f"set merge = True or give core {t} {need_c} input channels")
        if size is not None and size[0] >= 1:
            mw, mh = size[1], size[2]
            big = [f"{ax} ({a} > {b})" for ax, a, b in (("x", mw, g["w_in"]), ("y", mh, g["h_in"])) if a > b]
            if big:
                problems.append(
                    f"{q}: the cropped and pooled DVS map is {mw}x{mh} (x by y) but core {t}'s input "
                    f"(dimensions.input_shape.size) is {g['w_in']}x{g['h_in']}; too big along {' and '.join(big)}; "
                    "pool more, crop (origin/cut), or enlarge the core's input")


def _dvs_map_size(dvs, chip):
    """(1, width, height) of the address range the DVS layer can emit (SPEC F6), or (0, 0, 0) if empty.

    Without mirroring the crop ends at the last pooled pixel; with mirroring the addresses are
    `cut - origin - x`, so the range reaches `cut - origin` whatever the sensor covers.
    """
    sizes = []
    for ax in ("x", "y"):
        pool, origin, cut = getattr(dvs.pooling, ax), getattr(dvs.origin, ax), getattr(dvs.cut, ax)
        last = min(cut, (chip.dvs_size - 1) // pool)
        if last < origin:
            return (0, 0, 0)
        sizes.append(cut - origin + 1 if getattr(dvs.mirror, ax) else last - origin + 1)
    w, h = sizes
    if dvs.mirror_diagonal:
        w, h = h, w
    return (1, w, h)


def _check_readout(readout, problems):
    sel = readout.readout_configuration_sel
    if not _is_int(sel) or not 0 <= sel <= 3:
        problems.append(f"readout: readout_configuration_sel is {sel!r}; it must be 0..3 "
                        "(0 = 2x2y4f, 1 = 2x4y2f, 2 = 4x4y1f, 3 = 1x1y16f)")


def _cycle_warnings(layers, used):
    """One warning per elementary cycle of the core graph, each listed from its lowest core."""
    edges = {}
    for k in used:
        edges[k] = sorted({d.layer for d in _as_list(layers[k].destinations)
                           if getattr(d, "enable", False) and _is_int(d.layer) and d.layer in used})
    cycles = []

    def walk(start, node, path):
        for nxt in edges.get(node, ()):
            if nxt == start:
                cycles.append(path + [start])
            elif nxt > start and nxt not in path:
                walk(start, nxt, path + [nxt])

    for s in sorted(used):
        walk(s, s, [s])
    return [f"cores {' -> '.join(map(str, c))} form a cycle; the chip can deadlock (SPEC T9)" for c in cycles]


# --------------------------------------------------------------------------------------------
# JSON I/O: lossless, human-readable and byte-deterministic.
# --------------------------------------------------------------------------------------------

CONFIG_FORMAT = "speksim-chip-config"
CONFIG_VERSION = 1
_ARRAY_FIELDS = ("weights", "biases", "neurons_initial_value")
_ELEMENT = {"destinations": {"CnnLayerConfig": CnnLayerDestination, "DvsLayerConfig": DvsDestination}}


def config_to_dict(config: ChipConfig) -> dict:
    """A JSON-ready dict of `config`. Arrays become `{"dtype", "shape", "data"}` with nested-list
    data; a core equal to the default `CnnLayerConfig()` is written as `null`."""
    default = CnnLayerConfig()
    layers = []
    for i, layer in enumerate(config.cnn_layers):
        layers.append(None if _same(layer, default) else _dump(layer, f"cnn_layers[{i}]"))
    return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "cnn_layers": layers,
            "dvs_layer": _dump(config.dvs_layer, "dvs_layer"), "readout": _dump(config.readout, "readout")}


def config_from_dict(d: dict) -> ChipConfig:
    """The `ChipConfig` of a dict from `config_to_dict` (or hand-written JSON). Missing keys take
    their defaults; unknown keys and values of the wrong type raise `ConfigError` naming the key path."""
    problems: list[str] = []
    if not isinstance(d, dict):
        raise ConfigError(f"a configuration must be a JSON object, got {type(d).__name__}")
    known = ("format", "version", "cnn_layers", "dvs_layer", "readout")
    for key in d:
        if key not in known:
            problems.append(f"{key}: unknown key; a configuration has {', '.join(known)}")
    if "format" in d and d["format"] != CONFIG_FORMAT:
        problems.append(f"format: is {d['format']!r}; a speksim configuration has {CONFIG_FORMAT!r}")
    if "version" in d and d["version"] != CONFIG_VERSION:
        problems.append(f"version: is {d['version']!r}; this speksim reads version {CONFIG_VERSION}")
    config = ChipConfig()
    if "cnn_layers" in d:
        if not isinstance(d["cnn_layers"], list):
            problems.append("cnn_layers: must be a list with one entry (object or null) per core")
        else:
            config.cnn_layers = [CnnLayerConfig() if item is None else
                                 _load(CnnLayerConfig, item, f"cnn_layers[{i}]", problems)
                                 for i, item in enumerate(d["cnn_layers"])]
    if "dvs_layer" in d:
        config.dvs_layer = _load(DvsLayerConfig, d["dvs_layer"], "dvs_layer", problems)
    if "readout" in d:
        config.readout = _load(ReadoutConfig, d["readout"], "readout", problems)
    if problems:
        raise ConfigError(problems)
    return config


def save_config(config: ChipConfig, path) -> None:
    """Write `config` as indented JSON (same configuration, same bytes), atomically."""
    path = Path(path)
    text = _format_json(config_to_dict(config)) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))


def load_config(path) -> ChipConfig:
    """Read a configuration written by `save_config` (or hand-written in the same shape)."""
    path = Path(path)
    try:
        d = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    try:
        return config_from_dict(d)
    except ConfigError as exc:
        raise ConfigError([f"{path}: {p}" for p in exc.problems]) from None


def configs_equal(a: ChipConfig, b: ChipConfig) -> bool:
    """True when every field and array (dtype, shape and values) of the two configurations is equal."""
    return _same(a, b)


def _same(a, b) -> bool:
    if is_dataclass(a) or is_dataclass(b):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    return a == b


def _dump(obj, path):
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        where = f"{path}.{f.name}"
        if f.name in _ARRAY_FIELDS:
            out[f.name] = None if v is None else _dump_array(v, where)
        elif is_dataclass(v):
            out[f.name] = _dump(v, where)
        elif f.name in _ELEMENT:
            if not isinstance(v, (list, tuple)):
                raise ConfigError(f"{where}: is {type(v).__name__}; it must be a list")
            out[f.name] = [_dump(x, f"{where}[{i}]") for i, x in enumerate(v)]
        else:
            out[f.name] = _dump_scalar(v, where)
    return out


def _dump_scalar(v, where):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    raise ConfigError(f"{where}: is {v!r} ({type(v).__name__}); it must be a whole number or true/false")


def _dump_array(v, where):
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise ConfigError(f"{where}: has dtype {a.dtype}; only numeric arrays can be saved")
    dtype = a.dtype.name if a.dtype.isnative else a.dtype.str
    return {"dtype": dtype, "shape": list(a.shape), "data": a.tolist()}


def _load(cls, d, path, problems):
    obj = cls()
    names = [f.name for f in fields(cls)]
    if not isinstance(d, dict):
        problems.append(f"{path}: must be an object with keys {', '.join(names)}, got {type(d).__name__}")
        return obj
    for key in d:
        if key not in names:
            problems.append(f"{path}.{key}: unknown key; {cls.__name__} has {', '.join(names)}")
    for name in names:
        if name not in d:
            continue
        v, where, default = d[name], f"{path}.{name}", getattr(obj, name)
        if name in _ARRAY_FIELDS:
            if v is None and name == "neurons_initial_value":
                setattr(obj, name, None)
            else:
                a = _load_array(v, where, problems)
                if a is not None:
                    setattr(obj, name, a)
        elif is_dataclass(default):
            setattr(obj, name, _load(type(default), v, where, problems))
        elif name in _ELEMENT:
            elem = _ELEMENT[name][cls.__name__]
            if not isinstance(v, list):
                problems.append(f"{where}: must be a list of {elem.__name__} objects")
            else:
                setattr(obj, name, [_load(elem, x, f"{where}[{i}]", problems) for i, x in enumerate(v)])
        elif isinstance(v, (bool, int)):
            setattr(obj, name, v)
        else:
            problems.append(f"{where}: is {v!r}; it must be a whole number or true/false")
    return obj


def _load_array(v, where, problems):
    if not isinstance(v, dict) or set(v) != {"dtype", "shape", "data"}:
        problems.append(f"{where}: an array must be an object with exactly the keys dtype, shape, data")
        return None
    try:
        dtype = np.dtype(v["dtype"])
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        problems.append(f"{where}.dtype: is {v['dtype']!r}; it must be a numeric numpy dtype such as 'int8'")
        return None
    shape = v["shape"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in shape):
        problems.append(f"{where}.shape: is {shape!r}; it must be a list of whole numbers >= 0")
        return None
    try:
        raw = np.array(v["data"])
    except (ValueError, TypeError):
        raw = None
    if raw is None or (raw.size and raw.dtype.kind not in "biuf"):
        problems.append(f"{where}.data: must be nested lists of numbers")
        return None
    if raw.size == 0 and int(np.prod(shape)) == 0:
        raw = raw.reshape(shape)
    if list(raw.shape) != shape:
        problems.append(f"{where}.data: has shape {list(raw.shape)} but shape says {shape}")
        return None
    with np.errstate(all="ignore"):
        a = raw.astype(dtype)
    if not np.array_equal(a, raw):
        problems.append(f"{where}.data: has values that do not fit dtype {dtype}")
        return None
    return a


def _format_json(obj, level: int = 0) -> str:
    """Indented JSON; lists of numbers and small flat objects stay on one line (readable arrays)."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if not any(isinstance(v, (list, dict)) for v in obj.values()):
            flat = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items()) + "}"
            if len(flat) <= 80:
                return flat
        items = [f"{inner}{json.dumps(k)}: {_format_json(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if not any(isinstance(x, (list, dict)) for x in obj):
            return "[" + ", ".join(json.dumps(x) for x in obj) + "]"
        return "[\n" + ",\n".join(inner + _format_json(x, level + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj)


# --------------------------------------------------------------------------------------------
# Building configurations
# --------------------------------------------------------------------------------------------

def chain_config(layers: list, cores: Optional[list] = None, monitor="last") -> ChipConfig:
    """Place `layers` (CnnLayerConfig) on `cores` (default 0, 1, 2, ...) and wire destination 0 of
    each to the next core (pooling 1, feature shift 0). `monitor`: "last", "all", None, or a list
    of core numbers to monitor. The layers are copied; destination 1 and the last layer's
    destination 0 are kept as given."""
    cores = list(range(len(layers))) if cores is None else [int(c) for c in cores]
    if len(cores) != len(layers):
        raise ConfigError(f"chain_config: {len(layers)} layers but {len(cores)} cores")
    if len(set(cores)) != len(cores) or any(c < 0 for c in cores):
        raise ConfigError(f"chain_config: cores {cores} must be distinct numbers >= 0")
    if monitor == "last":
        watched = set(cores[-1:])
    elif monitor == "all":
        watched = set(cores)
    elif monitor is None:
        watched = set()
    else:
        watched = {int(c) for c in monitor}
        if not watched <= set(cores):
            raise ConfigError(f"chain_config: monitor lists cores {sorted(watched - set(cores))} that hold no layer")
    config = ChipConfig()
    if cores and max(cores) >= len(config.cnn_layers):
        config.cnn_layers += [CnnLayerConfig() for _ in range(max(cores) + 1 - len(config.cnn_layers))]
    for i, (layer, core) in enumerate(zip(layers, cores)):
        layer = copy.deepcopy(layer)
        layer.destinations = list(layer.destinations)
        if i + 1 < len(cores):
            layer.destinations[0] = CnnLayerDestination(layer=cores[i + 1], enable=True, pooling=1, feature_shift=0)
        layer.monitor_enable = core in watched
        config.cnn_layers[core] = layer
    return config
