"""The fast engine through the public API: what a user relies on beyond single SPEC rules.

Exact nanosecond timelines of each SPEC rule live in tests/conformance (run on both engines);
here: T10 through the API, chunking and continuation, determinism, streaming, state reuse,
deadlock reporting, and typed errors for bad input.
"""

import json
import pickle

import numpy as np
import pytest

import speksim
from deadlock_case import cycle_config
from speksim import (ChipConfig, CnnLayerConfig, ConfigError, DeadlockError, EventError, RunOptions,
                     Result, Simulation, UnknownChipError, make_events, simulate)

CHIP = speksim.load_chip("speck2f")


def chain(n_cores, size=16):
    """SPEC T10's scenario: n cores of 1->1 channel, 3x3, only the centre weight (1), threshold 1."""
    cfg = ChipConfig()
    for k in range(n_cores):
        w = np.zeros((1, 1, 3, 3), np.int8)
        w[0, 0, 1, 1] = 1
        cfg.cnn_layers[k] = CnnLayerConfig.conv(
            w, (size, size), padding=1, threshold_high=1, threshold_low=-1,
            monitor_enable=(k == n_cores - 1), destinations=[(k + 1, 1, 0)] if k < n_cores - 1 else [])
    return cfg


def spikes(t_us, x, y, layer=0, feature=0):
    n = len(t_us)
    return make_events("spike", t=t_us, layer=np.full(n, layer), feature=np.full(n, feature), x=x, y=y)


def random_net(seed=0):
    """Two cores, 2->6->4 channels, both monitored: enough traffic for queues and stalls."""
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    w0 = rng.integers(-4, 12, size=(6, 2, 3, 3)).astype(np.int8)
    w1 = rng.integers(-4, 12, size=(4, 6, 3, 3)).astype(np.int8)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w0, (32, 32), padding=1, threshold_high=20, threshold_low=-50,
                                            monitor_enable=True, destinations=[(1, 2, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(w1, (16, 16), padding=1, threshold_high=25, threshold_low=-50,
                                            monitor_enable=True, return_to_zero=True)
    n = 3000
    t = np.cumsum(rng.integers(0, 3, n))
    ev = make_events("spike", t=t, layer=np.zeros(n), feature=rng.integers(0, 2, n),
                     x=rng.integers(0, 32, n), y=rng.integers(0, 32, n))
    return cfg, ev


@pytest.mark.parametrize("n_cores,published_ns", [(1, 1580), (9, 3360)])
def test_t10_latency_anchor(n_cores, published_ns):
    """SPEC T10: one event at the centre through 1 and 9 cores, within 5% of the published latency."""
    r = simulate(chain(n_cores), spikes([0], [8], [8]), CHIP)
    assert len(r.outputs) == 1
    assert r.outputs["layer"][0] == n_cores - 1
    assert abs(int(r.latency_ns()[0]) - published_ns) <= 0.05 * published_ns
    # and exactly as T10's formula gives it from the chip parameters
    per_core = CHIP.event_ns[0] + 5 * CHIP.synop_ns[0] + CHIP.route_ns[0]
    fixed = CHIP.host_in_latency_ns + CHIP.host_out_ns + CHIP.host_out_latency_ns
    assert r.latency_ns()[0] == fixed + n_cores * per_core


def test_chunked_feed_equals_one_feed():
    cfg, ev = random_net()
    whole = simulate(cfg, ev, CHIP)
    assert len(whole.outputs) > 100 and whole.stats["stall_ns"][:2].sum() > 0, "workload must stress the queues"
    for chunk in (1, 7, 500):
        assert simulate(cfg, ev, CHIP, chunk_events=chunk).equals(whole), chunk


def balancer_drop_net():
    """SPEC T6 + T0 at a chunk boundary: input 3 is dropped by core 2's balancer at 30 ns and, as
    a drop costs the link no time, input 4 (to core 0) starts at 30 ns too, before core 1's spike
    (rank 3) can take core 0's only slot (tests/conformance: balancer_drop_then_next_input)."""
    chip = CHIP.replace(event_ns=10, synop_ns=10, route_ns=10, host_in_ns=10, host_in_latency_ns=10,
                        host_out_ns=10, host_out_latency_ns=0, fifo_depth={0: 1, 2: 1})
    cfg = ChipConfig()
    one = np.ones((1, 1, 1, 1), np.int8)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(one, (1, 1), threshold_high=1, threshold_low=-1, monitor_enable=True)
    cfg.cnn_layers[1] = CnnLayerConfig.conv(one, (1, 1), threshold_high=1, threshold_low=-1,
                                            destinations=[(0, 1, 0)])
    cfg.cnn_layers[2] = CnnLayerConfig.conv(np.zeros((3, 1, 1, 1), np.int8), (1, 1), threshold_high=1,
                                            threshold_low=-1, input_congestion_balancer_enable=True)
    ev = make_events("spike", t=np.zeros(5, np.int64), layer=[1, 2, 2, 2, 0], feature=np.zeros(5),
                     x=np.zeros(5), y=np.zeros(5))
    return cfg, chip, ev


def test_chunk_ending_with_a_dropped_input_changes_nothing():
    """SPEC T8: where the chunks end changes no byte, even when a chunk ends with an input that a
    congestion balancer drops (the link may start the next chunk's first input in that instant)."""
    cfg, chip, ev = balancer_drop_net()
    whole = simulate(cfg, ev, chip)
    # hand-computed in the conformance scenario: input 4 at 30 ns, lag 40; core 0 serves it first
    assert whole.lag_ns.tolist() == [10, 20, 30, -1, 40]
    assert whole.outputs[["t_ns", "root"]].tolist() == [(80, 4), (100, 0)]
    for chunk in (1, 2, 3, 4):
        assert simulate(cfg, ev, chip, chunk_events=chunk).equals(whole), chunk
    rng = np.random.default_rng(12)
    for _ in range(20):                       # several feed() calls, each cut again into chunks
        cuts = np.sort(rng.integers(0, len(ev) + 1, rng.integers(1, 4)))
        sim = Simulation(cfg, chip)
        for part in np.split(ev, cuts):
            sim.feed(part, chunk_events=int(rng.integers(1, 4)))
        assert sim.finish().equals(whole), cuts.tolist()


def test_run_can_be_continued_with_more_events():
    cfg, ev = random_net()
    whole = simulate(cfg, ev, CHIP)
    sim = Simulation(cfg, CHIP)
    first = sim.feed(ev[:1234])
    second = sim.feed(ev[1234:])
    result = sim.finish()
    assert result.equals(whole)
    # what feed() returned is a prefix of the outputs, in order
    streamed = np.concatenate([first, second])
    assert np.array_equal(result.outputs[:len(streamed)], streamed)


def test_deterministic_to_the_byte():
    cfg, ev = random_net(3)
    a, b = simulate(cfg, ev, CHIP), simulate(cfg, ev, CHIP)
    assert a.outputs.tobytes() == b.outputs.tobytes()
    assert a.stats.tobytes() == b.stats.tobytes()
    assert all(a.series[k].tobytes() == b.series[k].tobytes() for k in a.series)
    assert a.metadata["input"]["sha256"] == b.metadata["input"]["sha256"]


def test_metadata_config_is_the_configuration_the_run_used():
    """The configuration in a Result's metadata is built when first read (result.Later), yet it is
    the one the run was compiled from, whatever the caller changes after creating the Simulation;
    a Result pickles with every protocol (batch workers) and reads as plain JSON-like data."""
    cfg, ev = random_net(5)
    as_run = speksim.config.config_to_dict(cfg)
    sim = Simulation(cfg, CHIP)
    sim.feed(ev[:500])
    layer = next(lay for lay in cfg.cnn_layers if lay.in_use)
    layer.weights[...] = 0          # a sweep changing the configuration in place for its next run
    layer.threshold_high += 1
    sim.feed(ev[500:])
    result = sim.finish()
    assert result.equals(simulate(speksim.config.config_from_dict(as_run), ev, CHIP))
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(result, protocol))
        assert back.metadata["config"] == as_run, protocol
    assert type(result.metadata["config"]) is dict
    assert result.metadata["config"] == as_run != speksim.config.config_to_dict(cfg)
    assert json.loads(json.dumps(result.metadata))["config"] == as_run
    # a Result pickled when metadata was a plain attribute still loads
    old = Result.__new__(Result)
    old.__setstate__({**{k: v for k, v in vars(result).items() if k != "_metadata"}, "metadata": {"engine": "x"}})
    assert old.metadata == {"engine": "x"}


def test_metadata_of_an_unvalidated_configuration_fails_at_finish():
    """validate=False skips the checks; a configuration the metadata cannot hold (a float where an
    integer belongs) fails in finish() with the field named, not later at some unrelated read."""
    cfg, ev = random_net(5)
    cfg.cnn_layers[0].threshold_high = 20.0
    sim = Simulation(cfg, CHIP, validate=False)
    sim.feed(ev)
    with pytest.raises(ConfigError, match="threshold_high"):
        sim.finish()


def test_streaming_keeps_no_outputs_but_same_statistics():
    cfg, ev = random_net()
    whole = simulate(cfg, ev, CHIP)
    sim = Simulation(cfg, CHIP, keep_outputs=False)
    got = [sim.feed(ev[:400])]
    eng = sim._engine._engine  # the FastEngine behind the "fast" backend
    sizes = [a.nbytes for a in (eng.fq, eng.oq, eng.out, eng.state, *eng.spk)]
    got += [sim.feed(ev[i:i + 400]) for i in range(400, len(ev), 400)]
    # seven times more input later, the engine holds no more than after the first chunk
    assert [a.nbytes for a in (eng.fq, eng.oq, eng.out, eng.state, *eng.spk)] == sizes
    assert not sim._outputs and not sim._lags and not sim._times
    r = sim.finish()
    got.append(sim.last_outputs)
    assert np.array_equal(np.concatenate(got), whole.outputs)
    assert len(r.outputs) == 0 and len(r.lag_ns) == 0
    assert np.array_equal(r.stats, whole.stats)


class _Sink:
    """A Simulation sink that keeps what it is given, block by block."""

    def __init__(self):
        self.blocks, self.lags = [], []

    def inputs(self, t_ns, lag_ns):
        self.lags.append(np.array(lag_ns))

    def outputs(self, events):
        self.blocks.append(np.array(events))


def test_a_sink_gets_a_chunk_s_outputs_a_buffer_at_a_time(monkeypatch):
    """With keep_outputs=False and a sink, outputs go to the sink as the engine's output buffer
    fills, never gathered per chunk: one chunk that gives far more outputs than the buffer holds
    takes no more memory for them than the buffer (and feed returns none). A buffer of 1024
    outputs instead of 65,536 keeps the run short, also with the JIT off; the outputs are those
    of a run with the default buffer, fed at once."""
    import speksim.engine.fast as fast
    capacity = 1024
    cfg, chip = never_idle()        # every tick fires all 16 neurons: outputs without end
    ev = spikes([1, 2, 3], [1, 1, 1], [1, 1, 1])
    opts = RunOptions(slow_clock_hz=500_000, drain_ns=1_000_000)
    whole = simulate(cfg, ev, chip, options=opts)

    class SmallBuffer(fast.FastEngine):
        def __init__(self, net, options):
            super().__init__(net, options, out_capacity=capacity)

    monkeypatch.setattr(fast, "FastEngine", SmallBuffer)
    assert Simulation(cfg, chip, opts)._engine._engine.out.shape[0] == capacity
    assert len(whole.outputs) > 2 * capacity
    sink = _Sink()
    sim = Simulation(cfg, chip, opts, keep_outputs=False, sink=sink)
    assert len(sim.feed(ev)) == 0
    r = sim.finish()
    assert len(sink.blocks) > 2 and max(len(b) for b in sink.blocks) <= capacity
    assert np.array_equal(np.concatenate(sink.blocks), whole.outputs)
    assert r.n_outputs() == len(whole.outputs) and np.array_equal(r.stats, whole.stats)


@pytest.mark.parametrize("options", [dict(drain_ns=30_000), dict(end_ns=20_000), dict(end_ns=3_000)],
                         ids=["cut at the drain limit", "stopped at end_ns", "stopped at end_ns, early"])
@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_a_sink_gets_the_outputs_a_stopped_run_reports(options, chunk):
    """SPEC T12: a run stopped at end_ns or cut at the drain limit reports no output timed after
    its end. Outputs handed to a sink as they come must be those very outputs, in order, whichever
    way the input is fed, although the end is known only when the run stops."""
    cfg, chip = never_idle()
    ev = spikes([1, 2, 3], [1, 1, 1], [1, 1, 1])
    opts = RunOptions(slow_clock_hz=500_000, **options)
    kept = Simulation(cfg, chip, opts)
    kept.feed(ev)
    whole = kept.finish()
    assert len(whole.outputs) and kept._engine._engine.late > 0   # outputs timed after the end, not reported
    sink = _Sink()
    sim = Simulation(cfg, chip, opts, keep_outputs=False, sink=sink)
    for i in range(0, len(ev), chunk):
        assert len(sim.feed(ev[i:i + chunk])) == 0
    r = sim.finish()
    assert np.array_equal(np.concatenate(sink.blocks), whole.outputs)
    assert np.array_equal(np.concatenate(sink.lags), whole.lag_ns)
    assert np.array_equal(r.stats, whole.stats) and (r.t_end_ns, r.cut) == (whole.t_end_ns, whole.cut)


def test_a_sink_taken_away_between_feeds_gives_the_outputs_back_to_feed():
    """The sink is an attribute: set to None after a feed, the later outputs come back through
    the Simulation again (here those of the drain, at finish), none lost and none twice."""
    cfg, chip = never_idle()
    ev = spikes([1, 2, 3], [1, 1, 1], [1, 1, 1])
    opts = RunOptions(slow_clock_hz=500_000, drain_ns=30_000)
    whole = simulate(cfg, ev, chip, options=opts)
    first = _Sink()
    sim = Simulation(cfg, chip, opts, keep_outputs=False, sink=first)
    assert len(sim.feed(ev)) == 0
    sim.sink = None
    sim.finish()
    assert len(np.concatenate(first.blocks)) and len(sim.last_outputs)     # some on each side
    assert np.array_equal(np.concatenate(first.blocks + [sim.last_outputs]), whole.outputs)


def test_a_sink_that_fails_stops_the_run():
    """An output the sink could not take (a full disk, Ctrl-C) leaves the engine midway through a
    chunk: the error reaches the caller, and the run refuses more input rather than go on with
    that chunk's inputs and outputs half counted."""
    class Full(_Sink):
        def outputs(self, events):
            if len(events):
                raise OSError("no space left on device")

    cfg, chip = never_idle()
    sim = Simulation(cfg, chip, RunOptions(slow_clock_hz=500_000, drain_ns=40_000_000), keep_outputs=False,
                     sink=Full())
    with pytest.raises(OSError, match="no space"):
        sim.feed(spikes([1, 2, 3], [1, 1, 1], [1, 1, 1]))
    with pytest.raises(RuntimeError, match="could not be handed on"):
        sim.feed(spikes([4], [1], [1]))


def test_every_core_s_rows_start_on_a_cache_line():
    """The SynOp kernel loads and stores a row of up to 32 states as one vector: each core's states
    and weights start on a 64-byte line, in the compiled network and in the engine's own copy, and
    the padding between cores changes no result (states read back per core)."""
    from speksim.engine.compiled import ALIGN, C_NOFF, C_USED, C_WOFF
    rng = np.random.default_rng(7)
    cfg = ChipConfig()      # 105 and 175 states, 54 and 135 weights: none a multiple of a line
    cfg.cnn_layers[0] = CnnLayerConfig.conv(rng.integers(-4, 12, size=(3, 2, 3, 3)).astype(np.int8), (7, 5),
                                            padding=1, threshold_high=20, destinations=[(1, 1, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(rng.integers(-4, 12, size=(5, 3, 3, 3)).astype(np.int8), (7, 5),
                                            padding=1, threshold_high=20, monitor_enable=True)
    n = 2000
    ev = make_events("spike", t=np.arange(n) * 2, layer=np.zeros(n), feature=rng.integers(0, 2, n),
                     x=rng.integers(0, 5, n), y=rng.integers(0, 7, n))
    states = {0: np.full((3, 7, 5), 3), 1: np.full((5, 7, 5), 3)}
    sim = Simulation(cfg, CHIP, initial_states=states)
    net, eng = sim.net, sim._engine._engine
    used = [k for k in range(9) if net.core[k, C_USED]]
    assert used == [0, 1] and net.core[1, C_NOFF] > 105 and net.core[1, C_WOFF] > 54
    for k in used:
        assert (net.initial_state.ctypes.data + 2 * net.core[k, C_NOFF]) % ALIGN == 0
        assert (eng.state.ctypes.data + 2 * net.core[k, C_NOFF]) % ALIGN == 0
        assert (net.weights.ctypes.data + net.core[k, C_WOFF]) % ALIGN == 0
    assert all((net.state_of(net.initial_state, k) == 3).all() for k in used)
    result = sim.run(ev)
    assert sorted(result.states) == used and result.stats["spikes"][1] > 0
    assert result.equals(Simulation(cfg, CHIP, engine="reference", initial_states=states).run(ev))


@pytest.mark.parametrize("seed", [3, 4])
def test_the_loop_s_set_of_timed_stages_is_every_stage_with_a_wake(seed):
    """The loop reads only the output stages in G_TIMED for the next instant and for the stages
    due; a stage with a wake left out of it would never send at that wake. Fed one event at a
    time, so that the loop stops at a thousand instants of a run that queues and stalls: at
    every stop G_TIMED holds exactly the stages whose wake is not INF, and the run equals one fed
    at once."""
    from speksim.engine.layout import G_TIMED, INF, N_QUEUED, W_STAGE, _rank_bit

    cfg, ev = random_net(seed)
    ev = ev[:1000]      # 18 and 19 stops with a stage's wake among them (seeds 3, 4)
    sim = Simulation(cfg, CHIP)
    eng = sim._engine._engine
    rank_bit = getattr(_rank_bit, "py_func", _rank_bit)
    stops_with_a_timed_stage = 0
    for i in range(len(ev)):
        sim.feed(ev[i:i + 1])
        timed = sum(int(rank_bit(q)) for q in range(N_QUEUED) if eng.wk[W_STAGE + q] < INF)
        assert int(eng.g[G_TIMED]) == timed, f"after event {i}"
        stops_with_a_timed_stage += timed != 0
    # a stage's wake is mostly INF; without some stops at a finite one the check proves little
    assert stops_with_a_timed_stage >= 5
    assert sim.finish().equals(simulate(cfg, ev, CHIP))


def test_state_reuse_is_explicit():
    """SPEC F8: a new run starts from the configured initial state unless told otherwise."""
    cfg, ev = random_net()
    first = simulate(cfg, ev[:1000], CHIP)
    again = simulate(cfg, ev[:1000], CHIP)
    assert again.equals(first)
    cont = Simulation(cfg, CHIP, initial_states=first.states).run(ev[:1000])
    assert not all(np.array_equal(cont.states[k], first.states[k]) for k in first.states)


def test_lag_and_roots():
    """SPEC T1 and §4: a burst queues at the input link; outputs name the input they came from."""
    cfg = chain(1)
    ev = spikes([5, 5, 5], [8, 3, 12], [8, 3, 12])
    r = simulate(cfg, ev, CHIP)
    h, lat = CHIP.host_in_ns, CHIP.host_in_latency_ns
    assert r.lag_ns.tolist() == [lat, h + lat, 2 * h + lat]
    assert sorted(r.outputs["root"].tolist()) == [0, 1, 2]
    assert np.all(r.latency_ns() > 0)


def test_deadlock_names_the_cycle_and_time():
    tiny = CHIP.replace(fifo_depth=1, out_depth=1)
    ev = spikes(np.zeros(6, np.int64), [0, 1, 2, 3, 0, 1], [0, 0, 0, 0, 1, 1])
    with pytest.raises(DeadlockError) as err:
        simulate(cycle_config(), ev, tiny)
    msg = str(err.value)
    assert "core 0" in msg and "core 1" in msg and "T9" in msg
    assert sorted(err.value.cycle) == [0, 1]
    assert err.value.t_ns is not None and f"{err.value.t_ns} ns" in msg


def test_deadlock_is_reported_even_while_the_slow_clock_ticks():
    cfg = cycle_config()
    cfg.cnn_layers[0].leak_enable = True
    tiny = CHIP.replace(fifo_depth=1, out_depth=1)
    ev = spikes(np.zeros(6, np.int64), [0, 1, 2, 3, 0, 1], [0, 0, 0, 0, 1, 1])
    with pytest.raises(DeadlockError):
        simulate(cfg, ev, tiny, options=RunOptions(slow_clock_hz=1e6))


def never_idle():
    """SPEC T12: with leak_can_fire, each tick fires all 16 neurons; behind a one-spike output queue
    and a 200 ns stage, a leak job lasts 3.2 us, longer than the 2 us slow-clock period, so a leak
    job always waits and the chip never goes idle (tests/conformance: endless_leak_*)."""
    chip = CHIP.replace(leak_can_fire=True, route_ns={0: 200}, out_depth={0: 1})
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((1, 1, 1, 1), np.int8), (4, 4), threshold_high=1,
                                            threshold_low=-1, leak_enable=True, biases=np.array([1], np.int16),
                                            monitor_enable=True)
    return cfg, chip


def test_a_chip_that_never_idles_is_cut_drain_ns_after_the_last_input():
    cfg, chip = never_idle()
    ev = spikes([1, 2, 3], [1, 1, 1], [1, 1, 1])      # µs; the first is served before the first tick
    opts = RunOptions(slow_clock_hz=500_000, drain_ns=30_000)
    r = simulate(cfg, ev, chip, options=opts)
    assert r.cut and r.t_end_ns == 3_000 + 30_000
    assert "core0" in r.active and r.stats["pending"][0] > 0
    assert len(r.outputs) > 100 and r.outputs["t_ns"].max() <= r.t_end_ns
    assert r.unsent == 0 and "cut at the drain limit" in r.summary()
    # the same in streaming chunks, and on the reference engine
    assert simulate(cfg, ev, chip, options=opts, chunk_events=1).equals(r)
    assert Simulation(cfg, chip, opts, engine="reference").run(ev).equals(r)
    # end_ns stops it too, and is not a cut
    e = simulate(cfg, ev, chip, options=RunOptions(slow_clock_hz=500_000, end_ns=20_000))
    assert not e.cut and e.t_end_ns == 20_000 and e.active and e.outputs["t_ns"].max() <= 20_000


def test_inputs_the_link_never_reached_keep_their_lag():
    """SPEC T12: the never-idle core serves the first input (1 µs, before the first tick at 2 µs)
    and then only leak jobs, so 16 more inputs fill its 16-slot FIFO and the link is held back
    with the other 13 until the drain limit. The fast engine keeps such inputs until the end;
    their lag (-1) must reach the result whichever way the input was fed, as on the reference
    engine."""
    cfg, chip = never_idle()
    n = 30
    ev = spikes(np.arange(1, n + 1), [1] * n, [1] * n)
    opts = RunOptions(slow_clock_hz=500_000, drain_ns=30_000)
    ref = Simulation(cfg, chip, opts, engine="reference").run(ev)
    sent = 1 + chip.fifo_depth[0]
    assert ref.unsent == n - sent and len(ref.lag_ns) == n
    assert np.all(ref.lag_ns[sent:] == -1) and np.all(ref.lag_ns[:sent] >= 0)
    for chunk in (n, 7, 1):
        r = simulate(cfg, ev, chip, options=opts, chunk_events=chunk)
        assert len(r.lag_ns) == len(r.input_t_ns) == n, chunk
        assert r.equals(ref), chunk


def test_ticks_of_an_idle_chip_after_the_last_input_do_not_count():
    """SPEC T12, T8: the input (t = 0) starts at once, arrives after host_in_latency_ns = 40 ns and
    is served in event_ns + 1 SynOp = 2 ns: the chip is idle from 42 ns. The slow-clock tick at
    50 ns comes later and no input follows, so it gives no leak job and the run ends at 42 ns.
    Simulation feeds the fast engine without knowing whether more input follows, and until the
    next input could start (host_in_ns = 80 ns after the last) the engine must wait for that
    answer rather than serve the tick."""
    chip = CHIP.replace(event_ns=1, synop_ns=1, leak_ns=1, route_ns=1, host_in_latency_ns=40)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.zeros((1, 1, 1, 1), np.int8), (1, 1), leak_enable=True,
                                            threshold_low=-1, monitor_enable=True)
    opts = RunOptions(slow_clock_hz=2e7)                 # a tick every 50 ns
    ev = spikes([0], [0], [0])
    for engine in ("fast", "reference"):
        r = Simulation(cfg, chip, opts, engine=engine).run(ev)
        assert r.t_end_ns == 40 + 1 + 1, engine
        assert r.stats[0]["leak_jobs"] == 0 and r.stats[0]["served"] == 1, engine


def test_end_ns_stops_the_run_and_later_inputs_are_never_sent():
    """SPEC T12: the run stops at end_ns whatever is in flight; inputs after it get lag -1."""
    ev = spikes([0, 1, 2, 50], [8, 8, 8, 8], [8, 8, 8, 8])
    whole = simulate(chain(9), ev, CHIP)
    assert not whole.cut and not whole.active and whole.unsent == 0
    cut_at = int(whole.outputs["t_ns"][1])          # the second output is the last one reported
    r = simulate(chain(9), ev, CHIP, options=RunOptions(end_ns=cut_at))
    assert np.array_equal(r.outputs, whole.outputs[:2])
    assert r.t_end_ns == cut_at and r.lag_ns[3] == -1 and r.unsent == 1 and r.active
    assert int(r.stats["pending"].sum()) > 0 and not r.cut


def test_drain_ns_must_not_be_negative():
    with pytest.raises(ValueError, match="drain_ns"):
        Simulation(chain(1), CHIP, RunOptions(drain_ns=-1))


def test_cycle_validates_with_a_warning():
    sim = Simulation(cycle_config(), CHIP)
    assert any("cycle" in w for w in sim.warnings)


@pytest.mark.parametrize("make,fragment", [
    (lambda: spikes([3, 2], [1, 1], [1, 1]), "must not decrease"),
    (lambda: spikes([0], [16], [0]), "x=16"),
    (lambda: spikes([0], [0], [0], feature=1), "feature=1"),
    (lambda: spikes([0], [0], [0], layer=4), "core 4"),
    (lambda: np.zeros(3, dtype=[("t", "i8"), ("x", "i2")]), "cannot tell"),
    (lambda: np.zeros(3, dtype=[("t", "i8"), ("layer", "u1"), ("x", "u2"), ("y", "u2")]), "feature"),
    (lambda: np.arange(5), "cannot tell"),
])
def test_bad_input_is_a_typed_error(make, fragment):
    with pytest.raises(EventError, match=fragment):
        simulate(chain(1), make(), CHIP)


def test_wall_clock_timestamps_run_in_bounded_series():
    """A recording in Unix-time µs used to be refused (its idle hours would have filled the time
    series); now the series keep at most max_series_bins bins of a doubled width, and the run is
    the same as the same input started near 0, shifted in time (nothing here depends on the clock)."""
    t0 = 1_718_924_406_700_478
    late = simulate(chain(1), spikes([t0, t0 + 5], [1, 2], [1, 1]), CHIP)
    near = simulate(chain(1), spikes([0, 5], [1, 2], [1, 1]), CHIP)
    assert len(late.outputs) == len(near.outputs) > 0
    assert np.array_equal(late.outputs["t_ns"] - t0 * 1000, near.outputs["t_ns"])
    assert np.array_equal(late.lag_ns, near.lag_ns)
    n_bins = late.series["busy_ns"].shape[0]
    assert n_bins <= RunOptions().max_series_bins
    # the width is the requested 1 ms doubled k times, the least k for the run to fit
    k = int(np.log2(late.bin_ns // RunOptions().bin_ns))
    assert late.bin_ns == RunOptions().bin_ns * 2 ** k
    assert late.t_end_ns // (late.bin_ns // 2) + 1 > RunOptions().max_series_bins
    assert late.series["busy_ns"].sum() == near.series["busy_ns"].sum() == late.stats["busy_ns"].sum()


def test_series_with_few_bins_are_the_fine_series_summed():
    """max_series_bins: a long run's series are its 1 ms series with 2^k consecutive bins summed,
    on both engines."""
    cfg, ev = random_net()
    fine = simulate(cfg, ev, CHIP, options=RunOptions(bin_ns=10_000))
    n = fine.series["synops"].shape[0]
    assert n > 8
    for engine in ("fast", "reference"):
        few = simulate(cfg, ev, CHIP, options=RunOptions(bin_ns=10_000, max_series_bins=8), engine=engine)
        factor = few.bin_ns // 10_000
        # the least power of two that fits: n bins summed `factor` at a time are at most 8, by half
        # as many they would not be (n = t_end // w + 1 bins of width w give ceil(n / f) of width f*w)
        assert factor & (factor - 1) == 0 and -(-n // factor) <= 8 < -(-n // (factor // 2))
        assert few.series["synops"].shape[0] == -(-n // factor)
        for name, arr in fine.series.items():
            padded = np.zeros((few.series[name].shape[0] * factor, arr.shape[1]), np.int64)
            padded[:n] = arr
            summed = padded.reshape(-1, factor, arr.shape[1]).sum(axis=1)
            assert np.array_equal(few.series[name], summed), (engine, name)


def test_later_chunk_must_not_go_back_in_time():
    sim = Simulation(chain(1), CHIP)
    sim.feed(spikes([10], [1], [1]))
    with pytest.raises(EventError, match="earlier than the last event"):
        sim.feed(spikes([9], [1], [1]))


def test_invalid_configuration_is_refused_before_running():
    cfg = chain(1)
    cfg.cnn_layers[0].threshold_low = 0
    with pytest.raises(ConfigError, match="threshold_low"):
        simulate(cfg, spikes([0], [1], [1]), CHIP)


def test_leak_longer_than_the_slow_clock_is_refused():
    """T5: 16x16 neurons x 20 ns leak_ns = 5 us of leak per tick; at 1 MHz the core could only leak."""
    cfg = chain(1)
    cfg.cnn_layers[0].leak_enable = True
    job = CHIP.event_ns[0] + 16 * 16 * CHIP.leak_ns[0]
    with pytest.raises(ConfigError, match=f"takes {job} ns"):
        Simulation(cfg, CHIP, RunOptions(slow_clock_hz=1e6))
    Simulation(cfg, CHIP, RunOptions(slow_clock_hz=1e9 / (job + 1)))  # one ns to spare is fine


def test_unknown_chip_and_engine():
    with pytest.raises(UnknownChipError, match="speck9"):
        simulate(chain(1), spikes([0], [1], [1]), "speck9")
    with pytest.raises(ValueError, match="engine"):
        Simulation(chain(1), CHIP, engine="warp")


def test_finished_run_cannot_be_fed():
    sim = Simulation(chain(1), CHIP)
    sim.run(spikes([0], [1], [1]))
    with pytest.raises(RuntimeError, match="finished"):
        sim.feed(spikes([1], [1], [1]))


def test_dvs_input_through_the_dvs_layer():
    """F6 + T11 via the API: camera events reach core 0 through the DVS layer, monitored as layer 13."""
    cfg = ChipConfig()
    w = np.ones((1, 2, 1, 1), np.int8)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w, (128, 128), stride=2, threshold_high=1, threshold_low=-1,
                                            monitor_enable=True)
    cfg.dvs_layer.monitor_enable = True
    cfg.dvs_layer.destinations[0].layer = 0
    cfg.dvs_layer.destinations[0].enable = True
    ev = make_events("dvs", t=[0, 10], x=[4, 6], y=[6, 8], p=[1, 0])
    r = simulate(cfg, ev, CHIP)
    layers = sorted(r.outputs["layer"].tolist())
    assert layers == [0, 0, 13, 13]
    assert r.stats["spikes"][9] == 2
    with pytest.raises(EventError, match="x=128"):
        simulate(cfg, make_events("dvs", t=[0], x=[128], y=[0], p=[1]), CHIP)
