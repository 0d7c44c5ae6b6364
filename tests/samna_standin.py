"""A stand-in for samna, SynSense's devkit library, which cannot be installed where speksim is
developed. It is NOT samna: it reproduces only the structure of samna's configuration objects and
output events, as sinabs and samna's published reference use them, so that speksim's adapter can
be tested without a devkit.

What it reproduces (attribute names as in samna; the hardware fact sheet beside the chip-model
contract lists them, sections 3 and 4):

- `speck2f` and `speck2e`: `configuration.SpeckConfiguration()` with `cnn_layers` (nine
  `CnnLayerConfig`), `dvs_layer`, `dvs_filter`, `readout`, `factory_config`; `event.Spike`,
  `event.DvsEvent`, `event.ReadoutValue`, `event.ReadoutPinValue`.
- `dynapcnn`: `configuration.DynapcnnConfiguration()` with `cnn_layers` (nine `CNNLayerConfig`
  with the per-weight, per-bias and per-neuron kill bits of the older chip) and `dvs_layer`; no
  readout, no output decimator and no congestion balancer. The decimator's absence is documented
  (it exists from Speck2e on); the absence of the other two is this stand-in's assumption.
- a devkit (the end of this file): `device`, `graph`, the event buffer classes and a fake devkit
  whose model echoes input spikes of monitored cores on a clock the test advances
  (`connect_devkit`). It computes nothing a chip computes.

Like samna's C++ bindings, an object refuses an attribute it does not have, and a field refuses a
value of the wrong kind (a numpy scalar or array, an int for a bool, a value out of its C type's
range), so an adapter that passes here writes what samna takes. Default values are plausible, not
samna's: the adapter must not rely on them.
"""

from __future__ import annotations

import copy
import types

# field kinds: ("bool",), ("int", lo, hi), ("ints", depth, lo, hi) a nested list of ints,
# ("bools", depth) a nested list of bools, ("obj",) a sub-object or a list of them (not replaceable)
_U8 = ("int", 0, 255)
_I16 = ("int", -32768, 32767)


class _Struct:
    _fields: dict = {}

    def __init__(self):
        for name, (_, default) in self._fields.items():
            object.__setattr__(self, name, default() if callable(default) else default)

    def __setattr__(self, name, value):
        if name not in self._fields:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        kind = self._fields[name][0]
        _check(kind, value, f"{type(self).__name__}.{name}")
        object.__setattr__(self, name, value)


def _check(kind, value, where):
    tag = kind[0]
    if tag == "obj":
        raise TypeError(f"{where}: set the fields of this object, not the object")
    if tag == "bool":
        if type(value) is not bool:
            raise TypeError(f"{where}: expected bool, got {type(value).__name__}")
    elif tag == "int":
        if type(value) is not int or not kind[1] <= value <= kind[2]:
            raise TypeError(f"{where}: expected an int in [{kind[1]}, {kind[2]}], got {value!r}")
    elif tag in ("ints", "bools"):
        _check_nested(value, kind[1], ("bool",) if tag == "bools" else ("int", kind[2], kind[3]), where)


def _check_nested(value, depth, leaf, where):
    if type(value) is not list:
        raise TypeError(f"{where}: expected a nested list, got {type(value).__name__}")
    for item in value:
        if depth > 1:
            _check_nested(item, depth - 1, leaf, where)
        else:
            _check(leaf, item, where)


def _struct(name, **fields):
    return type(name, (_Struct,), {"_fields": fields})


def _vec(kind=_U8, x=0, y=0):
    cls = _struct("Vec2", x=(kind, x), y=(kind, y))
    return lambda: cls()


Vec2 = _struct("Vec2", x=(_U8, 0), y=(_U8, 0))
Vec2Bool = _struct("Vec2_bool", x=(("bool",), False), y=(("bool",), False))
Shape = _struct("CnnLayerShape", size=(("obj",), Vec2), feature_count=(("int", 0, 65535), 0))
CnnLayerDimensions = _struct(
    "CnnLayerDimensions", input_shape=(("obj",), Shape), output_shape=(("obj",), Shape),
    padding=(("obj",), Vec2), stride=(("obj",), _vec(x=1, y=1)), kernel_size=(_U8, 0))
CnnLayerDestination = _struct(
    "CnnLayerDestination", layer=(_U8, 0), enable=(("bool",), False), pooling=(_U8, 1),
    feature_shift=(("int", 0, 65535), 0))


def _two(cls):
    return lambda: [cls(), cls()]


_CORE_FIELDS = dict(
    dimensions=(("obj",), CnnLayerDimensions),
    weights=(("ints", 4, -128, 127), list),
    biases=(("ints", 1, -32768, 32767), list),
    neurons_initial_value=(("ints", 3, -32768, 32767), list),
    leak_enable=(("bool",), False),
    leak_internal_slow_clk_enable=(("bool",), False),
    threshold_high=(_I16, 0),
    threshold_low=(_I16, 0),
    return_to_zero=(("bool",), False),
    monitor_enable=(("bool",), False),
    destinations=(("obj",), _two(CnnLayerDestination)),
)
CnnLayerConfig = _struct(
    "CnnLayerConfig", **_CORE_FIELDS,
    input_congestion_balancer_enable=(("bool",), False),
    output_decimator_enable=(("bool",), False),
    output_decimator_interval=(("int", 0, 7), 0))
CNNLayerConfig = _struct(
    "CNNLayerConfig", **_CORE_FIELDS,
    weights_kill_bit=(("bools", 4), list),
    biases_kill_bit=(("bools", 1), list),
    neurons_value_kill_bit=(("bools", 3), list))

DvsLayerConfig = _struct(
    "DvsLayerConfig", merge=(("bool",), False), on_channel=(("bool",), True), off_channel=(("bool",), True),
    pooling=(("obj",), _vec(x=1, y=1)), origin=(("obj",), Vec2), cut=(("obj",), _vec(x=127, y=127)),
    mirror=(("obj",), Vec2Bool), mirror_diagonal=(("bool",), False),
    destinations=(("obj",), _two(CnnLayerDestination)), monitor_enable=(("bool",), False),
    raw_monitor_enable=(("bool",), False), pass_sensor_events=(("bool",), True))
DvsFilterConfig = _struct(
    "DvsFilterConfig", enable=(("bool",), False), filter_size=(("obj",), _vec(x=3, y=3)),
    threshold=(("int", 0, 65535), 8), hot_pixel_filter_enable=(("bool",), False),
    low_pass_mode_enable=(("bool",), False))
ReadoutConfig = _struct(
    "ReadoutConfig", enable=(("bool",), False), readout_configuration_sel=(("int", 0, 3), 0),
    output_mode_sel=(("int", 0, 3), 0), threshold=(("int", 0, 65535), 0),
    low_pass_filter_disable=(("bool",), False), low_pass_filter32_not16=(("bool",), False),
    override_threshold_max=(("bool",), False), readout_pin_monitor_enable=(("bool",), False),
    monitor_enable=(("bool",), False))
FactoryConfig = _struct("FactoryConfig", io_sel=(_U8, 0))


def _nine(cls):
    return lambda: [cls() for _ in range(9)]


SpeckConfiguration = _struct(
    "SpeckConfiguration", cnn_layers=(("obj",), _nine(CnnLayerConfig)), dvs_layer=(("obj",), DvsLayerConfig),
    dvs_filter=(("obj",), DvsFilterConfig), readout=(("obj",), ReadoutConfig),
    factory_config=(("obj",), FactoryConfig))
DynapcnnConfiguration = _struct(
    "DynapcnnConfiguration", cnn_layers=(("obj",), _nine(CNNLayerConfig)), dvs_layer=(("obj",), DvsLayerConfig))


class _Event:
    """An event with the given fields, all keyword arguments (samna's events take them as attributes)."""

    _names: tuple = ()

    def __init__(self, **values):
        for name in self._names:
            setattr(self, name, values.get(name, 0))


def _event(name, *fields):
    return type(name, (_Event,), {"_names": fields})


Spike = _event("Spike", "layer", "feature", "x", "y", "timestamp")
DvsEvent = _event("DvsEvent", "p", "x", "y", "timestamp")
ReadoutValue = _event("ReadoutValue", "value")
ReadoutPinValue = _event("ReadoutPinValue", "index", "timestamp")

_events = types.SimpleNamespace(Spike=Spike, DvsEvent=DvsEvent, ReadoutValue=ReadoutValue,
                                ReadoutPinValue=ReadoutPinValue)
speck2f = types.SimpleNamespace(configuration=types.SimpleNamespace(SpeckConfiguration=SpeckConfiguration),
                                event=_events)
speck2e = types.SimpleNamespace(configuration=types.SimpleNamespace(SpeckConfiguration=SpeckConfiguration),
                                event=_events)
dynapcnn = types.SimpleNamespace(configuration=types.SimpleNamespace(DynapcnnConfiguration=DynapcnnConfiguration),
                                 event=_events)


# ----- a devkit ------------------------------------------------------------------------------
# samna's device API as sinabs uses it: `device.get_unopened_devices()` (DeviceInfo with
# `device_type_name`), `device.open_device(info)` / `close_device(handle)`, a handle's
# `get_model()` (`apply_configuration`, `get_sink_node`, `get_source_node`) and `get_stop_watch()`
# (`set_enable_value`, `reset`, `start`, `stop`), event buffers `BasicSourceNode_<chip>_..._input_event`
# (`write`) and `BasicSinkNode_<chip>_event_output_event` (`get_events`), joined by
# `graph.EventFilterGraph().sequential([...])`.
#
# The fake device does not compute anything: each input Spike written to a core whose
# `monitor_enable` is set comes back as an output Spike of that core `echo_delay_us` after its
# timestamp; other input is dropped. Its time is a fake clock the test advances (`FakeClock`):
# the stopwatch counts µs of that clock from its last start, and an output is in the sink once
# the stopwatch has passed its timestamp.


class FakeClock:
    """A monotonic clock in ns that moves only when `advance(seconds)` is called."""

    def __init__(self):
        self.t_ns = 0

    def now_ns(self) -> int:
        return self.t_ns

    def advance(self, seconds: float) -> None:
        self.t_ns += max(1, int(round(seconds * 1e9)))


class DeviceInfo:
    def __init__(self, device_type_name, serial_number="standin-0"):
        self.device_type_name = device_type_name
        self.serial_number = serial_number


class _StopWatch:
    def __init__(self, devkit):
        self._devkit, self.enabled, self.started_ns = devkit, False, None

    def set_enable_value(self, value):
        self.enabled = bool(value)
        self._devkit.calls.append(("stopwatch.enable", bool(value)))

    def reset(self):
        self._devkit.calls.append(("stopwatch.reset",))
        self.started_ns = self._devkit.clock.now_ns() if self.started_ns is not None else None

    def start(self):
        self._devkit.calls.append(("stopwatch.start",))
        self.started_ns = self._devkit.clock.now_ns()

    def stop(self):
        self._devkit.calls.append(("stopwatch.stop",))
        self.started_ns = None

    def us(self):
        if not self.enabled or self.started_ns is None:
            return 0
        return (self._devkit.clock.now_ns() - self.started_ns) // 1000


class _Node:
    """A node of an event graph: what is written to it goes to the nodes it is joined to."""

    def __init__(self):
        self._next = []

    def write(self, events):
        for node in self._next:
            node._receive(list(events))

    def _receive(self, events):
        self.write(events)


class _SinkBuffer(_Node):
    def __init__(self):
        super().__init__()
        self._events, self._upstream = [], []

    def _receive(self, events):
        self._events.extend(events)

    def get_events(self):
        for node in self._upstream:
            node._release()
        out, self._events = self._events, []
        return out


class _ModelSink(_Node):
    def __init__(self, model):
        super().__init__()
        self._model = model

    def _receive(self, events):
        self._model._take(events)


class _ModelSource(_Node):
    def __init__(self, model):
        super().__init__()
        self._model = model

    def _release(self):
        self.write(self._model._due())


class _Model:
    def __init__(self, devkit):
        self._devkit = devkit
        self.configuration = None
        self.written = []
        self._pending = []
        self._sink, self._source = _ModelSink(self), _ModelSource(self)

    def apply_configuration(self, cfg):
        self._devkit.calls.append(("apply_configuration", [i for i, c in enumerate(cfg.cnn_layers)
                                                           if c.monitor_enable]))
        self.configuration = copy.deepcopy(cfg)

    def get_sink_node(self):
        return self._sink

    def get_source_node(self):
        return self._source

    def _take(self, events):
        self._devkit.calls.append(("write", len(events), self._devkit.stopwatch.us()))
        self.written.extend(events)
        cores = self.configuration.cnn_layers if self.configuration is not None else []
        for ev in events:
            if type(ev).__name__ == "Spike" and ev.layer < len(cores) and cores[ev.layer].monitor_enable:
                self._pending.append(Spike(layer=ev.layer, feature=ev.feature, x=ev.x, y=ev.y,
                                           timestamp=ev.timestamp + self._devkit.echo_delay_us))

    def _due(self):
        now = self._devkit.stopwatch.us()
        due = [ev for ev in self._pending if ev.timestamp <= now]
        self._pending = [ev for ev in self._pending if ev.timestamp > now]
        return sorted(due, key=lambda ev: ev.timestamp)


class FakeDevkit:
    """What `device.open_device` returns: `calls` records the model and stopwatch calls in order."""

    def __init__(self, info, clock, echo_delay_us):
        self.info, self.clock, self.echo_delay_us = info, clock, echo_delay_us
        self.calls = []
        self.closed = False
        self.stopwatch = _StopWatch(self)
        self.model = _Model(self)

    def get_model(self):
        return self.model

    def get_stop_watch(self):
        return self.stopwatch


class _DeviceModule:
    def __init__(self):
        self.clock = FakeClock()
        self.echo_delay_us = 0
        self.connected = []
        self.opened = []

    def get_unopened_devices(self):
        return [info for info in self.connected if not any(d.info is info and not d.closed for d in self.opened)]

    def open_device(self, info):
        handle = FakeDevkit(info, self.clock, self.echo_delay_us)
        self.opened.append(handle)
        return handle

    def close_device(self, handle):
        handle.closed = True


class _Graph:
    def __init__(self):
        self.running = False

    def sequential(self, nodes):
        for a, b in zip(nodes, nodes[1:]):
            a._next.append(b)
            if isinstance(b, _SinkBuffer):
                b._upstream.append(a)
        return True

    def start(self):
        self.running = True

    def stop(self):
        self.running = False


device = _DeviceModule()
graph = types.SimpleNamespace(EventFilterGraph=_Graph)
BasicSourceNode_speck2f_event_input_event = _Node
BasicSinkNode_speck2f_event_output_event = _SinkBuffer
BasicSourceNode_speck2e_event_speck2e_input_event = _Node
BasicSinkNode_speck2e_event_output_event = _SinkBuffer
BasicSourceNode_dynapcnn_event_input_event = _Node
BasicSinkNode_dynapcnn_event_output_event = _SinkBuffer


def connect_devkit(device_type_name="Speck2fDevKit", echo_delay_us=0) -> FakeClock:
    """Forget earlier devkits, connect one of the given type that echoes monitored input spikes
    `echo_delay_us` later, and return the clock the test advances."""
    global device
    device = _DeviceModule()
    device.echo_delay_us = echo_delay_us
    device.connected.append(DeviceInfo(device_type_name))
    return device.clock
