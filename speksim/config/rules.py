"""Every rule a configuration and its run options must keep (SPEC §1), in one place.

`validate(config, chip, options)` is what `speksim check` reports and what `Simulation` runs
before anything else: a configuration either passes both or neither, with the same words.
Every broken rule is listed, not only the first, each naming the core (or section) and field,
what is wrong and how to fix it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..chip import Chip, kernel_memory_words, load_chip, neuron_memory_words
from ..errors import ConfigError, EventError
from .model import ChipConfig, CnnLayerDestination, DvsDestination, conv_out
from .options import RunOptions, check_options

_INT8 = (-128, 127)
_INT16 = (-32768, 32767)


def validate(config: ChipConfig, chip, options: Optional[RunOptions] = None) -> list[str]:
    """Check `config` against the limits of `chip` (a `Chip` or a chip name / path), and the run
    `options` (default `RunOptions()`) against both: every rule a run would refuse.

    Returns the warnings (cycles in the core graph, cores whose spikes go nowhere, a DVS window
    that no event can reach, pooled maps that overhang their target by the pooling's rounding);
    raises `ConfigError` listing every problem, each naming the core (or section) and the field,
    what is wrong and how to fix it.
    """
    if not isinstance(chip, Chip):
        chip = load_chip(chip)
    options = RunOptions() if options is None else options
    problems: list[str] = []
    warnings: list[str] = []
    layers = list(config.cnn_layers) if isinstance(config.cnn_layers, (list, tuple)) else []
    if len(layers) != chip.n_cores:
        problems.append(f"cnn_layers has {len(layers) if isinstance(config.cnn_layers, (list, tuple)) else 'no'} "
                        f"entries; {chip.name} has {chip.n_cores} cores (0..{chip.n_cores - 1}): give exactly one "
                        "entry per core (null in a configuration file, CnnLayerConfig() in Python, for an unused core)")
        layers = layers[:chip.n_cores]
    geometry = {}
    used = []
    for k, layer in enumerate(layers):
        if not _layer_used(layer):
            _check_unused_core(k, layer, problems)
            continue
        used.append(k)
        geometry[k] = _check_core(k, layer, chip, problems)
    if not used and layers:
        problems.append("cnn_layers: no core is in use (every dimensions.input_shape.feature_count is 0); "
                        "configure at least one core")
    for k in used:
        _check_destinations(k, layers[k], layers, geometry, used, config, chip, problems, warnings)
    _check_dvs(config.dvs_layer, layers, geometry, used, chip, problems, warnings)
    _check_readout(config.readout, problems)
    warnings.extend(_cycle_warnings(layers, used))
    # problems that involve run options are worded twice: naming RunOptions fields, and naming flags
    paired = check_options(options)
    if not paired:
        paired = _check_leak_fits_clock(layers, used, geometry, chip, options)
    if problems or paired:
        cli = problems + [c for _, c in paired] if paired else None
        raise ConfigError(problems + [a for a, _ in paired], cli=cli)
    return warnings


def _check_leak_fits_clock(layers, used, geometry, chip, options) -> list[tuple[str, str]]:
    """SPEC T5: a core whose leak job lasts a whole slow-clock period would do nothing but leak
    (and the run would never end). Each problem as (Python wording, command-line wording)."""
    period = tick_period_ns(options.slow_clock_hz)
    out = []
    for k in used:
        g = geometry.get(k)
        if not period or g is None or not layers[k].leak_enable:
            continue
        n = g["c_out"] * g["h_out"] * g["w_out"]
        job = chip.event_ns[k] + n * chip.leak_ns[k]
        if job >= period:
            what = (f"core {k}: a leak job over its {n} neurons takes {job} ns, as long as the slow-clock period "
                    f"({period} ns at {options.slow_clock_hz:g} Hz), so the core would do nothing but leak; use a slow "
                    f"clock below {1e9 / job:.4g} Hz")
            out.append((f"{what} (RunOptions.slow_clock_hz) or a smaller layer",
                        f"{what} (--slow-clock-hz) or a smaller layer"))
    return out


def tick_period_ns(slow_clock_hz: float) -> int:
    """Slow-clock period in integer ns (SPEC F4: first tick at one period); 0 when the clock is off."""
    if not slow_clock_hz:
        return 0
    return max(1, int(round(1e9 / slow_clock_hz)))


def check_spike_events(events: np.ndarray, config: ChipConfig) -> None:
    """Raise `EventError` unless every SPIKE_EVENT targets a core in use, inside its input space."""
    used = config.used_cores()
    for k in np.unique(events["layer"]):
        k = int(k)
        if k not in used:
            raise EventError(f"spike events target core {k}, which is not in use; used cores: {used}")
        d = config.cnn_layers[k].dimensions
        sel = events[events["layer"] == k]
        for name, n in (("feature", d.input_shape.feature_count), ("x", d.input_shape.size.x),
                        ("y", d.input_shape.size.y)):
            bad = np.flatnonzero(sel[name] >= n)
            if bad.size:
                raise EventError(
                    f"a spike event for core {k} has {name}={sel[name][bad[0]]}, outside the core's input "
                    f"range [0, {n}); check the event addresses or the core's input shape")


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
            _check_pooled_size(q, src, dst, pooling, target, problems, warnings)


def _check_pooled_size(q, src, dst, pooling, target, problems, warnings):
    """SPEC §1: the pooled map is the source's output divided by the pooling, rounded up (the
    chip's address remap, F5). PyTorch sizes the next layer rounding down, so a target input
    smaller than the rounded-up size by that rounding only is a warning: the events beyond it are
    dropped (F1) and counted, as on the chip. A target smaller still is an error."""
    up = {"x": -(-src["w_out"] // pooling), "y": -(-src["h_out"] // pooling)}
    down = {"x": src["w_out"] // pooling, "y": src["h_out"] // pooling}
    have = {"x": dst["w_in"], "y": dst["h_in"]}
    big = [ax for ax in ("x", "y") if up[ax] > have[ax]]
    if not big:
        return
    what = (f"{q}: the pooled map is {up['x']}x{up['y']} (x by y: output {src['w_out']}x{src['h_out']} / pooling "
            f"{pooling}, rounded up) but core {target}'s input (dimensions.input_shape.size) is "
            f"{have['x']}x{have['y']}")
    if all(down[ax] <= have[ax] for ax in big):
        warnings.append(f"{what}; the last row or column of pooled events falls outside and is dropped "
                        "(counted in dropped_out_of_range, SPEC F1), as when PyTorch rounds a pooled size down")
    else:
        problems.append(f"{what}; too big along {' and '.join(f'{ax} ({up[ax]} > {have[ax]})' for ax in big)}; "
                        f"pool more or enlarge core {target}'s input")


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
    """SPEC F7: the readout's mode selectors and its 16-bit threshold."""
    sel = readout.readout_configuration_sel
    if not _is_int(sel) or not 0 <= sel <= 3:
        problems.append(f"readout: readout_configuration_sel is {sel!r}; it must be 0..3 "
                        "(0 = 2x2y4f, 1 = 2x4y2f, 2 = 4x4y1f, 3 = 1x1y16f)")
    mode = readout.output_mode_sel
    if not _is_int(mode) or not 0 <= mode <= 3:
        problems.append(f"readout: output_mode_sel is {mode!r}; it must be 0..3")
    threshold = readout.threshold
    if not _is_int(threshold) or not 0 <= threshold <= 65535:
        problems.append(f"readout: threshold is {threshold!r}; it must be 0..65535 (a class's average, 16 bits, "
                        "is compared with it)")


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
