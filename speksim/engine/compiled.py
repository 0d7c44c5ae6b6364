"""A validated configuration and chip, flattened into the arrays both engines read.

Every per-block array is indexed by the block ids of `speksim.blocks` (cores 0..8, DVS layer 9,
readout 10, host output 11); blocks 0..9 also have an output queue and stage.

Weights are stored per core as `[c_in][ky][kx][c_out]` (output feature innermost) and neuron
state as `[oy][ox][c_out]`, so SPEC F2's inner loop over output features is contiguous.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np

# the engines import the block ids from here, with the column constants
from ..blocks import DVS, HOST_OUT, N_BLOCKS, N_CORES, N_QUEUED, READOUT, SERIES_NAMES, STAT_NAMES  # noqa: F401
from ..chip import Chip
from ..config import ChipConfig, RunOptions
from ..config.rules import tick_period_ns
from ..errors import ConfigError
from ..kernels import N_TAP, tap_table

MAX_COPIES = 3         # monitor, destination 0, destination 1


def _columns(prefix: str, names: tuple) -> int:
    """Define the module constants `prefix + name` = column index, for each name in order, and
    return the number of columns. The engines index their arrays with these constants (numba
    reads them as compile-time integers); each list of names below is the only place a column is
    declared."""
    for i, name in enumerate(names):
        globals()[prefix + name] = i
    return len(names)


#: Integer columns of CompiledNetwork.core (one row per core), as C_<NAME>.
CORE_COLUMNS = ("USED", "CIN", "HIN", "WIN", "COUT", "HOUT", "WOUT", "K", "SY", "SX", "PY", "PX", "THI", "TLO",
                "RTZ", "LEAK", "BAL", "DECN", "WOFF", "NOFF", "BOFF", "NCOPY", "EVNS", "SYNNS", "LEAKNS",
                "ROUTENS", "SPKCAP", "SPKOFF", "TAPY", "TAPX", "WFEAT", "SSTEP", "WSTEPY", "WSTEPX")
N_CCOLS = _columns("C_", CORE_COLUMNS)

#: Columns of CompiledNetwork.dvs, as D_<NAME>.
DVS_COLUMNS = ("ON", "OFF", "MERGE", "PX", "PY", "OX", "OY", "CX", "CY", "MX", "MY", "DIAG", "NCOPY", "EVNS",
               "ROUTENS", "PASS")
N_DCOLS = _columns("D_", DVS_COLUMNS)

#: Columns of CompiledNetwork.copies[q, i] for queue q (core or DVS layer) and copy i, as K_<NAME>.
COPY_COLUMNS = ("TARGET", "LAYER", "POOL", "SHIFT")
_columns("K_", COPY_COLUMNS)

#: Entries of CompiledNetwork.params, as P_<NAME>.
PARAM_NAMES = ("HOST_IN_NS", "HOST_IN_LAT", "HOST_OUT_NS", "HOST_OUT_LAT", "READOUT_NS", "WRAP", "LEAK_FIRE",
               "TICK_NS", "RO_TICK", "RO_SEL", "RO_ERRATA", "RO_WINDOW", "RO_THRESH", "RO_MON", "RO_PIN", "RO_LAYER")
N_PARAMS = _columns("P_", PARAM_NAMES)

#: Statistic columns of RawResult.stats, as S_<NAME> (names: speksim.blocks.STATISTICS).
_STAT_KEYS = {"events_in": "IN", "dropped_out_of_range": "OOR", "congestion_dropped": "CONGESTION",
              "dvs_filtered": "DVSFILT", "leak_jobs": "LEAKJOBS", "leak_ticks_merged": "LEAKMERGED",
              "busy_ns": "BUSY", "stall_ns": "STALL", "fifo_max": "FIFOMAX", "fifo_area": "FIFOAREA",
              "out_max": "OUTMAX"}
N_STATS = _columns("S_", tuple(_STAT_KEYS.get(n, n.upper()) for n in STAT_NAMES))

#: Series columns of RawResult.series, as R_<NAME> (names: speksim.blocks.SERIES).
_SERIES_KEYS = {"busy_ns": "BUSY", "stall_ns": "STALL", "fifo_area": "FIFO"}
N_SERIES = _columns("R_", tuple(_SERIES_KEYS.get(n, n.upper()) for n in SERIES_NAMES))


@dataclass(frozen=True)
class CompiledNetwork:
    """Static description of one configured chip (read-only for the engines).

    core: int64 [9, N_CCOLS]; dvs: int64 [N_DCOLS]; copies: int64 [10, 3, 4] (target FIFO id,
    layer id written into monitor copies, pooling, feature shift); weights: int8 flat;
    biases: int16 flat; initial_state: int16 flat (neuron state at the start of a run);
    fifo_depth: int64 [12]; out_depth: int64 [10]; params: int64 [N_PARAMS] (see PARAM_NAMES:
    the readout's settings are P_RO_*; P_RO_TICK is 1 when the readout takes slow-clock ticks);
    taps: int64 flat, each used core's tap tables (`kernels.tap_table`) for its input rows from
    element C_TAPY and for its input columns from C_TAPX, N_TAP elements per position.
    """

    core: np.ndarray
    dvs: np.ndarray
    copies: np.ndarray
    weights: np.ndarray
    biases: np.ndarray
    initial_state: np.ndarray
    fifo_depth: np.ndarray
    out_depth: np.ndarray
    params: np.ndarray
    taps: np.ndarray

    def with_states(self, states: dict) -> "CompiledNetwork":
        """A copy starting from the given neuron states {core: int16 [c_out, h_out, w_out]}."""
        init = aligned_copy(self.initial_state)
        for k, s in states.items():
            row = self.core[int(k)]
            shape = (int(row[C_COUT]), int(row[C_HOUT]), int(row[C_WOUT]))
            s = np.asarray(s)
            if not row[C_USED] or s.shape != shape:
                raise ValueError(f"initial state for core {k} has shape {s.shape}; core {k} needs {shape}"
                                 + ("" if row[C_USED] else " but is not in use"))
            if s.dtype.kind not in "iu" or s.min(initial=0) < -32768 or s.max(initial=0) > 32767:
                raise ValueError(f"initial state for core {k} must be int16 values")
            n = s.size
            init[row[C_NOFF]:row[C_NOFF] + n] = s.astype(np.int16).transpose(1, 2, 0).reshape(-1)
        return dataclasses.replace(self, initial_state=init)

    def state_of(self, state: np.ndarray, k: int) -> np.ndarray:
        """Core k's neuron states from a flat state array, as int16 [c_out, h_out, w_out]."""
        row = self.core[k]
        n = int(row[C_COUT] * row[C_HOUT] * row[C_WOUT])
        flat = state[row[C_NOFF]:row[C_NOFF] + n]
        return flat.reshape(int(row[C_HOUT]), int(row[C_WOUT]), int(row[C_COUT])).transpose(2, 0, 1).copy()


#: Where each core's weights and neuron states start in the flat arrays, in bytes: a multiple of a
#: cache line, in arrays that start on one. The SynOp kernel loads and stores a row of 16, 32 or 64
#: states (32, 64 or 128 bytes) as whole vectors, which then never straddle two lines; rows of
#: other widths still may, past a core's first row.
ALIGN = 64


def _pad(parts: list, n: int, dtype) -> int:
    """Append zeros to `parts` (arrays of `dtype` making up n elements) up to the next multiple of
    ALIGN bytes; returns the new length."""
    pad = (-n) % (ALIGN // np.dtype(dtype).itemsize)
    if pad:
        parts.append(np.zeros(pad, dtype))
    return n + pad


def aligned_copy(a: np.ndarray) -> np.ndarray:
    """A contiguous 1-D copy of `a` whose data starts at a multiple of ALIGN bytes (numpy only
    promises 16)."""
    a = np.ascontiguousarray(a).reshape(-1)
    buf = np.empty(a.nbytes + ALIGN, np.uint8)
    start = (-buf.ctypes.data) % ALIGN
    out = buf[start:start + a.nbytes].view(a.dtype)
    out[:] = a
    return out


def spike_slots(core: np.ndarray) -> int:
    """The length of the engines' spike buffers for cores laid out as `core` (CompiledNetwork.core):
    each core's region (from C_SPKOFF, C_SPKCAP long), and last the DVS layer's one slot."""
    return int((core[:, C_SPKOFF] + core[:, C_SPKCAP]).max()) + 1


def synops_capacity(cout: int, k: int, sy: int, sx: int) -> int:
    """Most SynOps one input event can cause in a core (SPEC F2)."""
    return cout * (-(-k // sy)) * (-(-k // sx))


def compile_network(config: ChipConfig, chip: Chip, options: RunOptions) -> CompiledNetwork:
    """Flatten a configuration that `validate()` accepted. Does not validate again."""
    if len(config.cnn_layers) != N_CORES:
        raise ConfigError(f"cnn_layers has {len(config.cnn_layers)} entries; the chip has {N_CORES} cores: give one "
                          "entry per core (CnnLayerConfig() for an unused core)")
    core = np.zeros((N_CORES, N_CCOLS), np.int64)
    copies = np.full((N_QUEUED, MAX_COPIES, 4), -1, np.int64)
    weights, biases, states, taps = [], [], [], []
    woff = noff = boff = spkoff = toff = 0
    for k in range(N_CORES):
        layer = config.cnn_layers[k]
        r = core[k]
        r[C_EVNS], r[C_SYNNS] = chip.event_ns[k], chip.synop_ns[k]
        r[C_LEAKNS], r[C_ROUTENS] = chip.leak_ns[k], chip.route_ns[k]
        if not layer.in_use:
            continue
        d = layer.dimensions
        cin, cout, kk = d.input_shape.feature_count, d.output_shape.feature_count, d.kernel_size
        hout, wout = d.output_shape.size.y, d.output_shape.size.x
        r[C_USED] = 1
        r[C_CIN], r[C_HIN], r[C_WIN] = cin, d.input_shape.size.y, d.input_shape.size.x
        r[C_COUT], r[C_HOUT], r[C_WOUT], r[C_K] = cout, hout, wout, kk
        r[C_SY], r[C_SX], r[C_PY], r[C_PX] = d.stride.y, d.stride.x, d.padding.y, d.padding.x
        r[C_THI], r[C_TLO], r[C_RTZ] = layer.threshold_high, layer.threshold_low, int(layer.return_to_zero)
        r[C_LEAK], r[C_BAL] = int(layer.leak_enable), int(layer.input_congestion_balancer_enable)
        r[C_DECN] = chip.decimator_ratios[layer.output_decimator_interval] if layer.output_decimator_enable else 0
        w = np.asarray(layer.weights).astype(np.int8)
        woff = _pad(weights, woff, np.int8)
        weights.append(np.ascontiguousarray(w.transpose(1, 2, 3, 0)).reshape(-1))
        r[C_WOFF] = woff
        woff += w.size
        b = np.zeros(cout, np.int16) if layer.biases is None or np.size(layer.biases) == 0 else np.asarray(layer.biases)
        biases.append(b.astype(np.int16).reshape(-1))
        r[C_BOFF] = boff
        boff += cout
        init = layer.neurons_initial_value
        s = np.zeros((cout, hout, wout), np.int16) if init is None else np.asarray(init).astype(np.int16)
        noff = _pad(states, noff, np.int16)
        states.append(np.ascontiguousarray(s.transpose(1, 2, 0)).reshape(-1))
        r[C_NOFF] = noff
        noff += s.size
        cap = synops_capacity(cout, kk, d.stride.y, d.stride.x)
        if layer.leak_enable and chip.leak_can_fire:
            cap = max(cap, cout * hout * wout)
        r[C_SPKCAP], r[C_SPKOFF] = cap, spkoff
        spkoff += cap
        # the SynOp kernel's steps through the state and weights (kernels.scatter_tabled)
        r[C_WFEAT], r[C_SSTEP] = kk * kk * cout, wout * cout
        r[C_WSTEPY], r[C_WSTEPX] = d.stride.y * kk * cout, d.stride.x * cout
        for col, t in ((C_TAPY, tap_table(r[C_HIN], d.padding.y, d.stride.y, kk, hout, wout * cout, kk * cout)),
                       (C_TAPX, tap_table(r[C_WIN], d.padding.x, d.stride.x, kk, wout, cout, cout))):
            r[col] = toff
            taps.append(t.reshape(-1))
            toff += t.size
        n = 0
        if layer.monitor_enable:
            copies[k, n] = (HOST_OUT, k, 1, 0)
            n += 1
        for dest in layer.destinations:
            if dest.enable:
                target = READOUT if dest.layer == chip.readout_layer else dest.layer
                copies[k, n] = (target, k, dest.pooling, dest.feature_shift)
                n += 1
        r[C_NCOPY] = n

    dl = config.dvs_layer
    dvs = np.zeros(N_DCOLS, np.int64)
    dvs[[D_ON, D_OFF, D_MERGE]] = dl.on_channel, dl.off_channel, dl.merge
    dvs[[D_PX, D_PY, D_OX, D_OY, D_CX, D_CY]] = dl.pooling.x, dl.pooling.y, dl.origin.x, dl.origin.y, dl.cut.x, dl.cut.y
    dvs[[D_MX, D_MY, D_DIAG]] = int(bool(dl.mirror.x)), int(bool(dl.mirror.y)), int(dl.mirror_diagonal)
    dvs[D_EVNS], dvs[D_ROUTENS] = chip.dvs_event_ns, chip.dvs_route_ns
    dvs[D_PASS] = int(dl.pass_sensor_events or options.input_path == "host")
    n = 0
    if dl.monitor_enable:
        copies[DVS, n] = (HOST_OUT, chip.dvs_layer_id, 1, 0)
        n += 1
    for dest in dl.destinations:
        if dest.enable:
            copies[DVS, n] = (dest.layer, chip.dvs_layer_id, 1, 0)
            n += 1
    dvs[D_NCOPY] = n

    fifo_depth = np.array(list(chip.fifo_depth) + [chip.dvs_fifo_depth, chip.readout_fifo_depth,
                                                   chip.host_out_fifo_depth], np.int64)
    out_depth = np.array(list(chip.out_depth) + [chip.dvs_out_depth], np.int64)
    params = np.zeros(N_PARAMS, np.int64)
    sensor = options.input_path == "sensor"
    params[P_HOST_IN_NS] = chip.sensor_ns if sensor else chip.host_in_ns
    params[P_HOST_IN_LAT] = chip.sensor_latency_ns if sensor else chip.host_in_latency_ns
    params[P_HOST_OUT_NS], params[P_HOST_OUT_LAT] = chip.host_out_ns, chip.host_out_latency_ns
    params[P_READOUT_NS] = chip.readout_event_ns
    params[P_WRAP] = int(chip.state_overflow == "wrap")
    params[P_LEAK_FIRE] = int(chip.leak_can_fire)
    # F7, T11: the readout works at ticks when something feeds it and the host is to hear from it
    ro = config.readout
    fed = bool(np.any(copies[:N_CORES, :, K_TARGET] == READOUT))
    params[P_RO_TICK] = int(bool(ro.enable) and fed and bool(ro.monitor_enable or ro.readout_pin_monitor_enable))
    params[P_RO_SEL], params[P_RO_ERRATA] = ro.readout_configuration_sel, int(chip.readout_errata)
    params[P_RO_WINDOW] = 1 if ro.low_pass_filter_disable else (32 if ro.low_pass_filter32_not16 else 16)
    params[P_RO_THRESH], params[P_RO_LAYER] = ro.threshold, chip.readout_layer
    params[P_RO_MON], params[P_RO_PIN] = int(bool(ro.monitor_enable)), int(bool(ro.readout_pin_monitor_enable))
    uses_ticks = bool(core[:, C_LEAK].any()) or bool(params[P_RO_TICK])
    params[P_TICK_NS] = tick_period_ns(options.slow_clock_hz) if uses_ticks else 0

    def cat(parts, dtype):
        return aligned_copy(np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype))

    return CompiledNetwork(core=core, dvs=dvs, copies=copies, weights=cat(weights, np.int8),
                           biases=cat(biases, np.int16), initial_state=cat(states, np.int16),
                           fifo_depth=fifo_depth, out_depth=out_depth, params=params,
                           taps=np.concatenate(taps) if taps else np.zeros(N_TAP, np.int64))


def series_bin_ns(bin_ns: int, t_end_ns: int, max_bins: int) -> int:
    """The bin width of a run's series: `bin_ns` doubled as often as needed for the run's
    t_end_ns // width + 1 bins to be at most `max_bins`. Both engines use it, so a series is the
    same whichever engine made it: the sum of 2^k consecutive bins of the requested width."""
    w = int(bin_ns)
    while t_end_ns // w + 1 > max_bins:
        w *= 2
    return w


def coarsen(series: np.ndarray, factor: int) -> np.ndarray:
    """Series int64 [N_SERIES, n, blocks] with every `factor` consecutive bins summed into one
    (the last bin sums what is left); a new array of ceil(n / factor) bins."""
    if factor == 1:
        return series
    return np.add.reduceat(series, np.arange(0, series.shape[1], factor), axis=1)


@dataclass
class RawResult:
    """What an engine returns; `speksim.result.Result` wraps it for users.

    outputs: int64 [n, 6] rows (t_ns, layer, feature, x, y, root) in the order the host output
    emits them; stats: int64 [12, N_STATS]; lag_ns: int64 [n_inputs] (input lag SPEC T1, -1 for
    an input dropped by a congestion balancer or never sent); series: int64 [N_SERIES, n_bins, 12];
    state: int16 flat final neuron state (layout of CompiledNetwork); t_end_ns: end of the run
    (end_ns when given; the drain limit when cut; else the last instant something happened).
    SPEC T12: cut: the run was stopped drain_ns after the last input's timestamp with work left;
    active: ids of the blocks with pending work at the end (the `pending` statistic > 0);
    unsent: input events the input link never sent because the run stopped first (lag -1).
    bin_ns: the width of the series' bins (`series_bin_ns`). An engine that cannot read the final
    states back (a devkit) gives state None; metadata: entries an engine adds to the Result's
    metadata (a devkit: `source`, `device`, `not_measured`), or None; input_events: the input as the
    engine was given it (SPIKE_EVENT or DVS_EVENT, µs) when the Result should keep it (a devkit), or None.
    """

    outputs: np.ndarray
    stats: np.ndarray
    lag_ns: np.ndarray
    series: np.ndarray
    state: np.ndarray
    t_end_ns: int
    cut: bool = False
    active: tuple = ()
    unsent: int = 0
    bin_ns: int = 0
    metadata: Optional[dict] = None
    input_events: Optional[np.ndarray] = None


@dataclass
class EngineInput:
    """Input events in engine form, all int64 [n]: t_ns (non-decreasing), target block (core 0..8
    or DVS 9), a (input feature for a core, polarity for the DVS layer), x, y. Event i of the run
    has root i (plus the index of the chunk's first event when fed in chunks)."""

    t_ns: np.ndarray
    target: np.ndarray
    a: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.t_ns)

    @classmethod
    def concat(cls, parts) -> "EngineInput":
        """The inputs of `parts` (EngineInputs) one after the other; empty when there are none."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0, np.int64)
                     for f in ("t_ns", "target", "a", "x", "y")))

    def slice(self, i: int, j: int) -> "EngineInput":
        return EngineInput(self.t_ns[i:j], self.target[i:j], self.a[i:j], self.x[i:j], self.y[i:j])
