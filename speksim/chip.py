"""Chip descriptions: `chips/*.toml` loaded into a frozen `Chip`.

Every parameter is declared once in `PARAMETERS` with its section, unit, allowed range and a
one-line description. A chip file gives each one as `{ value = ..., source = "doc|code|est|unk|fit",
reason = "..." }` (fit: fitted to devkit captures, `speksim calibrate`); a file may `extends`
another (a built-in name or a path relative to itself) and then gives only what it changes. A
per-core parameter takes one value for all cores or a list with one value per core; in an
extending file `cores = [3]` changes only the cores listed.

What-ifs change a loaded chip without a file: `chip.with_overrides(["core.3.synop_ns=8",
"fifo_depth=64"])` (the command line's `--set`), or `chip.replace(synop_ns={3: 8})`. The result
keeps the chip's name and lists the changes in `overrides`, which a run file records.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional, Union

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ._resources import chips_dir
from .blocks import N_CORES
from .errors import ChipFileError, UnknownChipError

SOURCES = ("doc", "code", "est", "unk", "fit")
_TOP_KEYS = ("name", "description", "extends")


@dataclass(frozen=True)
class ParamSpec:
    """One declared chip parameter. kind: int, bool, choice, intlist (fixed tuple), percore (one int per core)."""

    section: str
    name: str
    kind: str
    unit: str
    lo: int = 0
    hi: int = 2**31 - 1
    description: str = ""
    choices: tuple = ()


def _p(section, name, kind, unit, lo, hi, description, choices=()):
    return ParamSpec(section, name, kind, unit, lo, hi, description, choices)


PARAMETERS: tuple[ParamSpec, ...] = (
    _p("structure", "n_cores", "int", "cores", 9, 9, "number of CNN cores (speksim models the nine-core layout)"),
    _p("memory", "kernel_words", "percore", "words", 0, 2**24, "kernel (weight) memory per core, 8-bit words"),
    _p("memory", "neuron_words", "percore", "words", 0, 2**24, "neuron state memory per core, 16-bit words"),
    _p("memory", "bias_words", "percore", "words", 0, 2**16, "bias (leak) memory per core, 16-bit words"),
    _p("limits", "max_input_size", "int", "px", 1, 4096, "largest input map side of a core"),
    _p("limits", "max_output_size", "int", "px", 1, 4096, "largest convolution output map side (before pooling)"),
    _p("limits", "max_features", "int", "channels", 1, 65535, "most input or output channels of a core"),
    _p("limits", "max_kernel_size", "int", "px", 1, 64, "largest (square) kernel side"),
    _p("limits", "strides", "intlist", "px", 1, 64, "allowed strides per axis"),
    _p("limits", "max_padding", "int", "px", 0, 64, "largest padding per axis"),
    _p("limits", "poolings", "intlist", "px", 1, 64, "allowed sum-pooling factors of a destination"),
    _p("limits", "max_destinations", "int", "destinations", 0, 2, "destinations per core (the configuration has two slots)"),
    _p("limits", "decimator_ratios", "intlist", "spikes", 1, 2**20, "N for output_decimator_interval codes 0..7: one spike of every N passes"),
    _p("limits", "readout_layer", "int", "id", 0, 255, "destination layer id of the readout block"),
    _p("limits", "dvs_layer_id", "int", "id", 0, 255, "layer id of the DVS pre-processing layer in monitored output"),
    _p("limits", "dvs_size", "int", "px", 1, 4096, "sensor width and height"),
    _p("switches", "state_overflow", "choice", "", 0, 0, "membrane arithmetic past int16: saturate or wrap", ("saturate", "wrap")),
    _p("switches", "leak_can_fire", "bool", "", 0, 1, "whether a leak update can make a neuron spike (SPEC F4)"),
    _p("switches", "readout_errata", "bool", "", 0, 1, "readout class i reads feature 4*(i-1) (Speck2e/2f erratum, SPEC F7)"),
    _p("switches", "threshold_low_zero_forbidden", "bool", "", 0, 1, "reject threshold_low = 0 (hardware bug, SPEC §1)"),
    _p("switches", "has_decimator", "bool", "", 0, 1, "whether the cores have the output decimator (SPEC F5)"),
    _p("timing", "host_in_ns", "int", "ns", 1, 10**9, "host input link: time between event starts (SPEC T1)"),
    _p("timing", "host_in_latency_ns", "int", "ns", 1, 10**9, "host input link: transfer latency (SPEC T1)"),
    _p("timing", "sensor_ns", "int", "ns", 1, 10**9, "on-chip sensor link: time between event starts (SPEC T1)"),
    _p("timing", "sensor_latency_ns", "int", "ns", 1, 10**9, "on-chip sensor link: transfer latency (SPEC T1)"),
    _p("timing", "host_out_ns", "int", "ns", 1, 10**9, "host output: service time per event (SPEC T7)"),
    _p("timing", "host_out_latency_ns", "int", "ns", 0, 10**9, "host output: from end of service to output timestamp (SPEC T7)"),
    _p("timing", "host_out_fifo_depth", "int", "slots", 1, 2**20, "host output FIFO depth (SPEC T7)"),
    _p("timing", "dvs_event_ns", "int", "ns", 1, 10**9, "DVS layer: service time per event (SPEC T11)"),
    _p("timing", "dvs_route_ns", "int", "ns", 1, 10**9, "DVS layer: output stage time and latency per copy (SPEC T11)"),
    _p("timing", "dvs_fifo_depth", "int", "slots", 1, 2**20, "DVS layer input FIFO depth"),
    _p("timing", "dvs_out_depth", "int", "slots", 1, 2**20, "DVS layer output queue depth"),
    _p("timing", "readout_event_ns", "int", "ns", 1, 10**9, "readout: service time per event, and time and latency of each tick event it sends to the host (SPEC T11)"),
    _p("timing", "readout_fifo_depth", "int", "slots", 1, 2**20, "readout input FIFO depth"),
    _p("timing.core", "event_ns", "percore", "ns", 1, 10**9, "core: decode time of an event or leak job (SPEC T3, T5)"),
    _p("timing.core", "synop_ns", "percore", "ns", 1, 10**9, "core: time of one SynOp (SPEC T3)"),
    _p("timing.core", "leak_ns", "percore", "ns", 1, 10**9, "core: leak time per neuron (SPEC T5)"),
    _p("timing.core", "route_ns", "percore", "ns", 1, 10**9, "core output stage: time and latency of one copy (SPEC T4)"),
    _p("timing.core", "fifo_depth", "percore", "slots", 1, 2**20, "core input FIFO depth (SPEC T2)"),
    _p("timing.core", "out_depth", "percore", "slots", 1, 2**20, "core output queue depth in spikes (SPEC T4)"),
    _p("energy", "static_uw", "int", "µW", 0, 10**7, "whole chip: static (resting) power, drawn for the whole run"),
    _p("energy", "dvs_event_pj", "int", "pJ", 0, 10**7, "DVS layer: energy per event served, its copies included"),
    _p("energy.core", "synop_pj", "percore", "pJ", 0, 10**7, "core: energy per SynOp, and per neuron of a leak job"),
    _p("energy.core", "event_pj", "percore", "pJ", 0, 10**7, "core: energy per input event or leak job served (decode)"),
    _p("energy.core", "copy_pj", "percore", "pJ", 0, 10**7, "core output stage: energy per copy (monitor or destination)"),
)
_SPEC_BY_KEY = {f"{p.section}.{p.name}": p for p in PARAMETERS}


@dataclass(frozen=True)
class Provenance:
    source: str
    reason: str
    file: str


class _ChipMethods:
    """What every `Chip` can do; its fields come from `PARAMETERS` (see `Chip` below)."""

    def __reduce__(self):
        # the provenance is a read-only mapping proxy, which pickle cannot store as it is
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "provenance"}
        return _chip_from_state, (values, dict(self.provenance))

    def replace(self, reason: str = "override", **values) -> "Chip":
        """A copy with some parameters changed (what-if). Per-core values may be a scalar or a
        `{core: value}` mapping; every value is range-checked like a chip file's. Each change is
        added to `overrides` in the `--set` spelling (`core.3.synop_ns=8`)."""
        raw = {k: getattr(self, k) for k in _param_names()}
        prov = dict(self.provenance)
        texts = []
        for key, value in values.items():
            spec = _spec_named(key, "replace()")
            if spec.kind == "percore" and isinstance(value, Mapping):
                cur = list(raw[key])
                for core, v in value.items():
                    if not 0 <= int(core) < self.n_cores:
                        raise ChipFileError(f"replace(): core {core} does not exist (0..{self.n_cores - 1})")
                    cur[int(core)] = v
                    texts.append(f"core.{int(core)}.{key}={_value_text(v)}")
                value = cur
            else:
                texts.append(f"{key}={_value_text(value)}")
            raw[key] = value
            prov[key] = Provenance("unk", reason, "replace()")
        return _build(raw, prov, self.name, self.description, self.files, "replace()", self.overrides + tuple(texts))

    def with_overrides(self, overrides: Union[str, Iterable[str], Mapping[str, Any]], *,
                       cli_flag: str = "--set") -> "Chip":
        """A copy with the parameters that `overrides` name changed (what-if), applied in order.

        `overrides`: strings `NAME=VALUE` (every core, for a per-core parameter) or
        `core.K.NAME=VALUE` (core K only), e.g. `["core.3.synop_ns=8", "fifo_depth=64",
        "host_out_ns=100"]`; or a mapping {`NAME` or `core.K.NAME`: value}. NAME may carry its
        section (`timing.core.synop_ns`). A list value is comma-separated (`decimator_ratios=2,4,...`;
        a per-core parameter then takes one value per core); a switch takes true/false.
        Every value is range-checked like a chip file's; an unknown name raises ChipFileError
        listing the close matches. The copy keeps the chip's name and adds each change to
        `overrides` (`core.3.synop_ns=8`), with provenance `unk` from file "override".
        `cli_flag` is the command-line flag named in the errors' command-line wording.
        """
        if isinstance(overrides, str):
            items = [(overrides, _GIVEN_IN_TEXT)]
        elif isinstance(overrides, Mapping):
            items = list(overrides.items())
        else:
            items = [(o, _GIVEN_IN_TEXT) for o in overrides]
        raw = {k: getattr(self, k) for k in _param_names()}
        prov = dict(self.provenance)
        texts = []
        for item, value in items:
            o = parse_override(item, value, self.n_cores, cli_flag=cli_flag)
            name = o.spec.name
            if o.core is not None:
                cur = list(raw[name])
                cur[o.core] = o.value
                old = prov.get(name)
                rest = f"; the other cores: {old.source}, {old.file}" if old else ""
                raw[name] = cur
                prov[name] = Provenance("unk", f"what-if override {o.text}{rest}", "override")
            else:
                raw[name] = o.value
                prov[name] = Provenance("unk", f"what-if override {o.text}", "override")
            texts.append(o.text)
        return _build(raw, prov, self.name, self.description, self.files, "override", self.overrides + tuple(texts))

    def param_table(self) -> list[dict[str, Any]]:
        """Every parameter with section, value, unit, source, reason and description (for `describe`)."""
        rows = []
        for p in PARAMETERS:
            pv = self.provenance.get(p.name)
            rows.append(dict(section=p.section, name=p.name, value=getattr(self, p.name), unit=p.unit,
                             source=pv.source if pv else "", reason=pv.reason if pv else "",
                             description=p.description))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Every resolved value with its provenance, JSON-ready (embedded in run files)."""
        out = {"name": self.name, "description": self.description, "files": list(self.files),
               "overrides": list(self.overrides), "parameters": {}}
        for row in self.param_table():
            v = row["value"]
            out["parameters"][row["name"]] = {"value": list(v) if isinstance(v, tuple) else v,
                                              "source": row["source"], "reason": row["reason"]}
        return out


_PY_TYPES = {"int": int, "bool": bool, "choice": str, "intlist": tuple, "percore": tuple}

#: A chip description: `name`, `description`, `files` (the chain of chip files it was read
#: from), then one field per entry of `PARAMETERS` (per-core values are tuples indexed by core;
#: times are integer ns), then `provenance` {parameter: Provenance} and `overrides` (the
#: what-ifs applied since loading, in `--set` spelling; empty for a chip as its files give it).
#: Frozen; use `with_overrides()` or `replace()` for what-ifs. The fields are generated from the
#: declarations, so a new parameter is one row of `PARAMETERS` (and its value in the chip files).
#: Two chips with the same values are equal, however they were reached.
Chip = make_dataclass(
    "Chip",
    [("name", str), ("description", str), ("files", tuple)]
    + [(p.name, _PY_TYPES[p.kind]) for p in PARAMETERS]
    + [("provenance", Mapping, field(default_factory=dict, compare=False, repr=False)),
       ("overrides", tuple, field(default=(), compare=False))],
    bases=(_ChipMethods,), frozen=True)
Chip.__module__ = __name__
Chip.__doc__ = _ChipMethods.__doc__.replace("What every `Chip` can do; its fields come", "A chip description; its fields come")


def _chip_from_state(values: dict, provenance: dict):
    return Chip(**values, provenance=MappingProxyType(provenance))


def _param_names():
    return [p.name for p in PARAMETERS]


def _spec_named(name: str, where: str) -> ParamSpec:
    for p in PARAMETERS:
        if p.name == name:
            return p
    raise ChipFileError(f"{where}: unknown chip parameter '{name}'; known: {', '.join(_param_names())}")


# --------------------------------------------------------------------------------------------
# what-if overrides
# --------------------------------------------------------------------------------------------

_GIVEN_IN_TEXT = object()       # the value is the part of the override text after '='
_SPEC_BY_NAME = {p.name: p for p in PARAMETERS}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_INT = re.compile(r"[+-]?\d[\d_]*$")


@dataclass(frozen=True)
class Override:
    """One what-if, parsed and range-checked: the parameter, the core it changes (None: the
    parameter as a whole, every core of a per-core one), the value (int, bool, str, or a tuple
    for a list) and `text`, its canonical spelling (`core.3.synop_ns=8`)."""

    spec: ParamSpec
    core: Optional[int]
    value: Any
    text: str


def close_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates that look like `name` (a misspelling), best first."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)


def parse_override(item: str, value: Any = _GIVEN_IN_TEXT, n_cores: int = N_CORES, *,
                   cli_flag: str = "--set") -> Override:
    """Parse and range-check one override: `item` is `[core.K.]NAME=VALUE` (or only the name when
    `value` is given as a Python value). Raises ChipFileError naming the override, the parameter
    and its allowed range; for an unknown name, the close matches."""
    item = str(item).strip()
    if value is _GIVEN_IN_TEXT:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            _override_error(item, cli_flag, "it is not NAME=VALUE (e.g. core.3.synop_ns=8 or fifo_depth=64)")
        key, given = key.strip(), text.strip()
    else:
        key, given = item, value
    core, name = None, key
    parts = key.split(".")
    if parts[0] == "core":
        if len(parts) < 3 or not parts[1].isdigit():
            _override_error(item, cli_flag, f"'{key}' is not core.K.NAME with K a core number (0..{n_cores - 1})")
        core, name = int(parts[1]), ".".join(parts[2:])
        if core >= n_cores:
            _override_error(item, cli_flag, f"core {core} does not exist (cores are 0..{n_cores - 1})")
    spec = _SPEC_BY_KEY.get(name) or _SPEC_BY_NAME.get(name)
    if spec is None:
        near = close_names(name, list(_SPEC_BY_NAME) + list(_SPEC_BY_KEY))
        hint = f"did you mean {', '.join(near)}? " if near else ""
        _override_error(item, cli_flag, f"no chip parameter is named '{name}'; {hint}"
                                        "'speksim describe' lists every parameter")
    if core is not None and spec.kind != "percore":
        _override_error(item, cli_flag, f"'{spec.name}' is not a per-core parameter: set it as {spec.name}=VALUE")
    if isinstance(given, str):
        given = _parse_value(spec, given, core is None, item, cli_flag)
    if spec.kind == "percore" and core is None and not isinstance(given, (list, tuple)):
        given = [given] * n_cores
    check = dataclasses.replace(spec, kind="int") if core is not None else spec
    where = f"override {item!r}"
    try:
        checked = _check(check, list(given) if isinstance(given, tuple) else given, n_cores, where)
    except ChipFileError as exc:
        msg = str(exc)
        raise ChipFileError(msg, cli=msg.replace(where, f"{cli_flag} {item}", 1)) from None
    if spec.kind == "percore" and core is None and len(set(checked)) == 1:
        shown = _value_text(checked[0])
    else:
        shown = _value_text(checked)
    text = f"core.{core}.{spec.name}={shown}" if core is not None else f"{spec.name}={shown}"
    return Override(spec, core, checked, text)


def _parse_value(spec: ParamSpec, text: str, whole: bool, item: str, cli_flag: str):
    if spec.kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        _override_error(item, cli_flag, f"'{spec.name}' is a switch: give true or false, not {text!r}")
    if spec.kind == "choice":
        return text
    if spec.kind == "int" or (spec.kind == "percore" and not whole):
        return _parse_int(spec, text, item, cli_flag)
    # intlist, or a per-core parameter for every core: one value, or a comma-separated list
    values = [_parse_int(spec, v.strip(), item, cli_flag) for v in text.split(",")]
    return values[0] if spec.kind == "percore" and len(values) == 1 else values


def _parse_int(spec: ParamSpec, text: str, item: str, cli_flag: str) -> int:
    if not _INT.match(text):
        _override_error(item, cli_flag, f"'{spec.name}' takes whole numbers of {spec.unit or 'units'}, "
                                        f"not {text!r}")
    return int(text)


def _override_error(item: str, cli_flag: str, why: str):
    raise ChipFileError(f"override {item!r}: {why}", cli=f"{cli_flag} {item}: {why}")


def _value_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(_value_text(x) for x in v)
    return str(v)


def chip_from_dict(d: Mapping[str, Any]) -> "Chip":
    """The Chip that `Chip.to_dict()` described (a run file's `metadata["chip"]`), overrides
    included; every value is checked again. Raises ChipFileError when the record lacks a
    parameter (a run from an older speksim) or has one this speksim does not know."""
    try:
        params = dict(d["parameters"])
        name = str(d["name"])
    except (KeyError, TypeError):
        raise ChipFileError("the chip record has no 'name' or 'parameters': it is not Chip.to_dict()'s") from None
    unknown = sorted(set(params) - set(_SPEC_BY_NAME))
    if unknown:
        raise ChipFileError(f"the recorded chip {name!r} has parameter(s) {unknown} that this speksim does not "
                            "know: it was recorded by a newer speksim")
    missing = [p.name for p in PARAMETERS if p.name not in params]
    if missing:
        raise ChipFileError(f"the recorded chip {name!r} lacks parameter(s) {missing}: it was recorded by an "
                            "older speksim")
    values = {k: v["value"] for k, v in params.items()}
    prov = {k: Provenance(str(v.get("source", "unk")), str(v.get("reason", "")), "recorded chip")
            for k, v in params.items()}
    return _build(values, prov, name, d.get("description", ""), tuple(d.get("files", ())), "the recorded chip",
                  tuple(d.get("overrides", ())))


def builtin_chips() -> list[str]:
    """Names of the built-in chips."""
    return sorted(p.stem for p in chips_dir().glob("*.toml"))


def load_chip(name_or_path: str | Path = "speck2f") -> Chip:
    """Load a built-in chip by name ("speck2f", "speck2e", "dynapcnn") or a chip file by path."""
    if isinstance(name_or_path, Chip):
        return name_or_path
    path = _resolve(str(name_or_path), None)
    values, prov, top, files = _read_chain(path, ())
    return _build(values, prov, top.get("name", path.stem), top.get("description", ""), files, str(path))


def _resolve(ref: str, relative_to: Path | None) -> Path:
    cand = Path(ref)
    if relative_to is not None and not cand.is_absolute():
        local = relative_to.parent / cand
        if local.is_file():
            return local
    if cand.is_file():
        return cand
    builtin = chips_dir() / f"{ref}.toml"
    if "/" not in ref and "\\" not in ref and builtin.is_file():
        return builtin
    raise UnknownChipError(
        f"no chip named '{ref}': it is neither a built-in chip ({', '.join(builtin_chips())}) nor an existing file")


#: {resolved path: (the file's bytes, its TOML document)}: a chip file is parsed once while its
#: bytes stay the same (parsing took 2 ms of every Simulation). The documents are only read.
_PARSED: dict = {}


def _parsed(path: Path, key: str) -> dict:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ChipFileError(f"{path}: cannot be read: {exc}") from None
    hit = _PARSED.get(key)
    if hit is not None and hit[0] == data:
        return hit[1]
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ChipFileError(f"{path}: not valid TOML: {exc}") from None
    _PARSED[key] = (data, doc)
    return doc


def _read_chain(path: Path, seen: tuple[str, ...]):
    key = str(path.resolve())
    if key in seen:
        raise ChipFileError(f"{path}: 'extends' makes a loop through {' -> '.join(seen + (key,))}")
    doc = _parsed(path, key)
    if "extends" in doc:
        if not isinstance(doc["extends"], str):
            raise ChipFileError(f"{path}: 'extends' must be a chip name or a path, got {doc['extends']!r}")
        values, prov, top, files = _read_chain(_resolve(doc["extends"], path), seen + (key,))
        top = dict(top)
    else:
        values, prov, top, files = {}, {}, {}, ()
    for k in ("name", "description"):
        if k in doc:
            top[k] = doc[k]
    n_cores = values.get("n_cores")
    entries = list(_walk(doc, path))
    for spec, entry in entries:  # n_cores first: per-core lists are checked against it
        if spec.name == "n_cores":
            n_cores = entry["value"]
    for spec, entry in entries:
        values[spec.name] = _merge_value(spec, entry, values.get(spec.name), n_cores, path)
        prov[spec.name] = Provenance(entry["source"], entry["reason"], path.name)
    return values, prov, top, files + (path.name,)


def _walk(doc: dict, path: Path, prefix: str = ""):
    for k, v in doc.items():
        dotted = f"{prefix}{k}"
        if not prefix and k in _TOP_KEYS:
            continue
        if dotted in _SPEC_BY_KEY:
            yield _SPEC_BY_KEY[dotted], _entry(_SPEC_BY_KEY[dotted], v, path)
        elif isinstance(v, dict) and any(s.startswith(dotted + ".") for s in _SPEC_BY_KEY):
            yield from _walk(v, path, dotted + ".")
        else:
            sections = sorted({p.section for p in PARAMETERS})
            raise ChipFileError(
                f"{path}: unknown key '{dotted}'. Top-level keys are {list(_TOP_KEYS)}; sections are {sections}; "
                f"'speksim describe' lists every parameter")


def _entry(spec: ParamSpec, v: Any, path: Path) -> dict:
    key = f"{spec.section}.{spec.name}"
    if not isinstance(v, dict) or "value" not in v:
        raise ChipFileError(f"{path}: '{key}' must be a table {{ value = ..., source = \"doc|code|est|unk|fit\", reason = \"...\" }}")
    extra = set(v) - {"value", "source", "reason", "cores"}
    if extra:
        raise ChipFileError(f"{path}: '{key}' has unknown field(s) {sorted(extra)}; allowed: value, source, reason, cores")
    if v.get("source") not in SOURCES:
        raise ChipFileError(f"{path}: '{key}' has source {v.get('source')!r}; it must be one of {list(SOURCES)}")
    if not isinstance(v.get("reason"), str) or not v["reason"].strip():
        raise ChipFileError(f"{path}: '{key}' needs a one-line 'reason' saying where the value comes from")
    if "cores" in v and spec.kind != "percore":
        raise ChipFileError(f"{path}: '{key}' is not a per-core parameter, so it takes no 'cores'")
    return v


def _merge_value(spec: ParamSpec, entry: dict, previous, n_cores, path: Path):
    value = entry["value"]
    if spec.kind == "percore" and "cores" in entry:
        if previous is None:
            raise ChipFileError(f"{path}: '{spec.name}' uses 'cores' but no earlier file sets it for all cores")
        cur = list(previous)
        for c in entry["cores"]:
            if not isinstance(c, int) or not 0 <= c < len(cur):
                raise ChipFileError(f"{path}: '{spec.name}'.cores has {c!r}; cores are 0..{len(cur) - 1}")
            cur[c] = value
        return cur
    if spec.kind == "percore" and not isinstance(value, list) and n_cores is not None:
        return [value] * n_cores
    return value


def _check(spec: ParamSpec, value, n_cores: int, where: str):
    key = f"{spec.section}.{spec.name}"

    def num(v, what):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ChipFileError(f"{where}: '{key}'{what} is {v!r}; it must be a whole number in [{spec.lo}, {spec.hi}] {spec.unit}")
        if not spec.lo <= v <= spec.hi:
            raise ChipFileError(f"{where}: '{key}'{what} is {v}, outside the allowed range [{spec.lo}, {spec.hi}] {spec.unit}")
        return v

    if spec.kind == "int":
        return num(value, "")
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ChipFileError(f"{where}: '{key}' is {value!r}; it must be true or false")
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise ChipFileError(f"{where}: '{key}' is {value!r}; it must be one of {list(spec.choices)}")
        return value
    if not isinstance(value, (list, tuple)) or not value:
        raise ChipFileError(f"{where}: '{key}' is {value!r}; it must be a non-empty list of whole numbers")
    if spec.kind == "percore" and len(value) != n_cores:
        raise ChipFileError(f"{where}: '{key}' has {len(value)} values; it needs one per core ({n_cores}) or a single value")
    return tuple(num(v, f"[{i}]") for i, v in enumerate(value))


def _build(values: dict, prov: dict, name: str, description: str, files, where: str, overrides=()) -> Chip:
    missing = [f"{p.section}.{p.name}" for p in PARAMETERS if p.name not in values]
    if missing:
        raise ChipFileError(f"{where}: missing parameter(s) {missing}; a chip file must set every parameter "
                            "or 'extends' one that does")
    if values["n_cores"] != N_CORES and isinstance(values["n_cores"], int) and not isinstance(values["n_cores"], bool):
        raise ChipFileError(
            f"{where}: 'structure.n_cores' is {values['n_cores']}; speksim models the nine-core layout of Speck and "
            "DYNAP-CNN (core ids 0..8, readout 12, DVS layer 13, nine cnn_layers in a configuration), so n_cores "
            "must be 9: to model a smaller chip, leave the cores you do not want unused")
    n_cores = _check(_SPEC_BY_KEY["structure.n_cores"], values["n_cores"], 0, where)
    checked = {}
    for p in PARAMETERS:
        v = values[p.name]
        if p.kind == "percore" and not isinstance(v, (list, tuple)):
            v = [v] * n_cores
        checked[p.name] = _check(p, v, n_cores, where)
    if len(checked["decimator_ratios"]) != 8:
        raise ChipFileError(f"{where}: 'limits.decimator_ratios' needs 8 values (interval codes 0..7), got {len(checked['decimator_ratios'])}")
    ids = {"limits.readout_layer": checked["readout_layer"], "limits.dvs_layer_id": checked["dvs_layer_id"]}
    for key, v in ids.items():
        if v < n_cores:
            raise ChipFileError(f"{where}: '{key}' is {v}, a core's id (cores are 0..{n_cores - 1}); it must be "
                                f"{n_cores} or more")
    if len(set(ids.values())) < 2:
        raise ChipFileError(f"{where}: 'limits.readout_layer' and 'limits.dvs_layer_id' are both {checked['readout_layer']}; "
                            "they must differ")
    return Chip(name=str(name), description=str(description), files=tuple(files), **checked,
                provenance=MappingProxyType(dict(prov)), overrides=tuple(str(o) for o in overrides))


def kernel_memory_words(c_in: int, c_out: int, k: int) -> int:
    """Kernel memory a layer needs (SPEC §1): c_in * 2**(ceil(log2(k*k)) + ceil(log2(c_out)))."""
    return c_in * 2 ** (_clog2(k * k) + _clog2(c_out))


def neuron_memory_words(c_out: int, h_out: int, w_out: int) -> int:
    """Neuron memory a layer needs (SPEC §1): c_out * 2**(ceil(log2(h_out)) + ceil(log2(w_out)))."""
    return c_out * 2 ** (_clog2(h_out) + _clog2(w_out))


def _clog2(n: int) -> int:
    return 0 if n <= 1 else math.ceil(math.log2(n))


__all__ = ["Chip", "PARAMETERS", "ParamSpec", "Provenance", "Override", "load_chip", "builtin_chips", "chips_dir",
           "kernel_memory_words", "neuron_memory_words", "parse_override", "chip_from_dict", "close_names"]
