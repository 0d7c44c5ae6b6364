"""Configuration files: JSON that is lossless, human-readable, byte-deterministic and strict.

    save_config(config, "net.json")
    config = load_config("net.json")

The layout mirrors the dataclasses of `speksim.config.model` field for field; arrays are
`{"dtype", "shape", "data"}` objects. A file states every field (see `config_from_dict`).
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from .._files import atomic_path
from .._gc import gc_paused
from ..errors import ConfigError
from .model import ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig, ReadoutConfig

CONFIG_FORMAT = "speksim-chip-config"
CONFIG_VERSION = 1
#: Versions this speksim reads (the layout has not changed since version 1).
READABLE_VERSIONS = (1,)
_ARRAY_FIELDS = ("weights", "biases", "neurons_initial_value")
_NULL_HINT = {"neurons_initial_value": "; null means all zeros"}
_ELEMENT = {"destinations": {"CnnLayerConfig": CnnLayerDestination, "DvsLayerConfig": DvsDestination}}


def config_to_dict(config: ChipConfig) -> dict:
    """A JSON-ready dict of `config`. Arrays become `{"dtype", "shape", "data"}` with nested-list
    data; a core equal to the default `CnnLayerConfig()` is written as `null`."""
    default = CnnLayerConfig()
    layers = []
    with gc_paused():
        for i, layer in enumerate(config.cnn_layers):
            layers.append(None if _same(layer, default) else _dump(layer, f"cnn_layers[{i}]"))
    d = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "cnn_layers": layers,
         "dvs_layer": _dump(config.dvs_layer, "dvs_layer"), "readout": _dump(config.readout, "readout")}
    if config.model is not None:
        d["model"] = config.model
    return d


def config_from_dict(d: dict) -> ChipConfig:
    """The `ChipConfig` of a dict from `config_to_dict` (or hand-written JSON in the same shape).

    The schema is strict: `format`, `version`, `cnn_layers` (one entry per core: an object, or
    null for an unused core), `dvs_layer` and `readout` are required, and so is every field of
    every object, because each changes what the chip does; defaults belong to the Python
    builders, not to a file. Missing, unknown and mistyped keys raise `ConfigError` naming each
    key path and what is allowed."""
    problems: list[str] = []
    if not isinstance(d, dict):
        raise ConfigError(f"a configuration must be a JSON object, got {type(d).__name__}")
    _check_keys({k: v for k, v in d.items() if k != "model"}, ("format", "version", "cnn_layers", "dvs_layer",
                                                                "readout"), "", "a configuration file", problems)
    if "format" in d and d["format"] != CONFIG_FORMAT:
        problems.append(f"format: is {d['format']!r}; a speksim configuration has {CONFIG_FORMAT!r}")
    if "version" in d and d["version"] not in READABLE_VERSIONS:
        problems.append(f"version: is {d['version']!r}; this speksim reads version "
                        f"{', '.join(map(str, READABLE_VERSIONS))}")
    config = ChipConfig()
    if "cnn_layers" in d:
        if not isinstance(d["cnn_layers"], list):
            problems.append("cnn_layers: must be a list with one entry (object, or null for an unused core) per core")
        else:
            config.cnn_layers = [CnnLayerConfig() if item is None else
                                 _load(CnnLayerConfig, item, f"cnn_layers[{i}]", problems)
                                 for i, item in enumerate(d["cnn_layers"])]
    if "dvs_layer" in d:
        config.dvs_layer = _load(DvsLayerConfig, d["dvs_layer"], "dvs_layer", problems)
    if "readout" in d:
        config.readout = _load(ReadoutConfig, d["readout"], "readout", problems)
    if "model" in d:
        if not isinstance(d["model"], dict):
            problems.append("model: must be an object (what the configuration was made from), or left out")
        else:
            config.model = d["model"]
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
        with gc_paused():
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
    """True when every field and array (dtype, shape and values) of the two configurations is equal;
    `model` (where a configuration came from) is not compared: it changes nothing on the chip."""
    return _same(replace(a, model=None), replace(b, model=None))


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


def _check_keys(d: dict, names, prefix: str, owner: str, problems: list) -> None:
    """A problem for each key of `d` that is not one of `names`, and for each of `names` that `d`
    lacks (the file states every field: each changes what the chip does)."""
    for key in d:
        if key not in names:
            problems.append(f"{prefix}{key}: unknown key; {owner} has {', '.join(names)}")
    for name in names:
        if name not in d:
            problems.append(f"{prefix}{name}: missing; {owner} states every one of {', '.join(names)}"
                            f"{_NULL_HINT.get(name, '')}")


def _load(cls, d, path, problems):
    obj = cls()
    names = [f.name for f in fields(cls)]
    if not isinstance(d, dict):
        problems.append(f"{path}: must be an object with keys {', '.join(names)}, got {type(d).__name__}")
        return obj
    _check_keys(d, names, f"{path}.", f"a {cls.__name__}", problems)
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
