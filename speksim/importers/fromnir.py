"""NIR graphs (https://neuroir.org) to a `Network`.

Accepted nodes: Input, Output, Conv2d, Affine and Linear (a convolution whose kernel covers its
whole input map), IF, SumPool2d, AvgPool2d and Flatten. Several edges into one node mean a sum, as
in NIR: a convolution with several input edges becomes one layer that several sources route to.

What the chip cannot do is refused with a `ModelError` that names the node. Choices this module
makes where NIR and the chip differ:

* IF reset. Up to nir 1.0.5 an IF subtracts its threshold; from nir 1.0.6 it resets to `v_reset`
  (zeros when the file has none), and sinabs exports IF nodes without `v_reset` while pinning an
  old nir. The meaning applied comes from `reset=`, else from a sidecar file, else from the nir
  version recorded in the file (with a `NirResetWarning`); `Network.notes["reset"]` says which.
* IF input resistance `r`: dv/dt = r·I with no leak, so r is folded into the weights and bias of
  the convolution before the IF; it must be uniform within each output channel.
* AvgPool2d: sum-pooling on the route, the following layer's weights multiplied by 1/area.
* NIR fires when v > threshold; the chip fires when v >= threshold. With float parameters the
  two differ only when v lands exactly on the threshold; the threshold is kept as it is.
* Arrays keep the file's float precision (float32 for a sinabs export).

The sidecar file is TOML, like the chip files: comments can say where the model came from, and
TOML writes `-inf` for "no lower bound", which JSON cannot.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError, ModelError
from .graph import Network
from .nirgraph import NirGraph, Signal, as_array, describe_array

RESETS = ("subtract", "zero")

#: The last nir release whose IF subtracts the threshold on a spike (1.0.6 added v_reset).
LAST_SUBTRACT_VERSION = (1, 0, 5)

class NirResetWarning(UserWarning):
    """The meaning of NIR's IF reset was taken from the file's nir version, or an explicit choice
    (argument or sidecar file) disagrees with what the file's version or its v_reset say."""


def network_from_nir(graph_or_path, *, reset=None, min_v_mem=None, input_shape=None, dvs_input=None) -> Network:
    """Read a NIR graph (a `nir.NIRGraph` or the path of a .nir file) into a `Network`.

    reset: "subtract" (subtract the threshold on a spike), "zero" (reset to 0), or None: from the
    sidecar file `<model>.nir.toml` when it says, else from the nir version the file records
    (with a `NirResetWarning`); an in-memory graph with neither needs it explicitly.
    min_v_mem: the lower bound of every membrane (float), `-math.inf` for none, a dict
    {IF node name: bound} for per-layer bounds (unnamed layers get none), or None: from the
    sidecar file, else no bound.
    input_shape: (c, h, w) of the input, needed when the Input node has no 3-D shape (a flat
    vector is read as (n, 1, 1) otherwise).
    dvs_input: True puts the chip's DVS layer in front (polarity merge when the model takes one
    channel; pooling right after the Input becomes the DVS layer's pooling); False: the host
    writes the input spikes; None: the DVS layer when the input has 1 or 2 channels and fits the
    128 x 128 sensor.

    Raises MissingExtraError without the nir package and ModelError for anything the chip cannot
    compute. The result's `notes` say which reset and lower bound were applied and why.
    """
    nir = _import_nir()
    graph, path, version = _load(nir, graph_or_path)
    sidecar = _read_sidecar(path) if path is not None else {}
    g = NirGraph(graph, from_file=path is not None)
    g.check_structure()
    g.infer_shapes(_input_shape(g, input_shape))
    notes = {"source": "nir", "file": None if path is None else path.name, "nir_version": version}
    if sidecar:
        notes["sidecar"] = sidecar["file"]
    applied, notes["reset"] = _choose_reset(reset, sidecar, version, g)
    bounds, notes["min_v_mem"] = _choose_min_v_mem(min_v_mem, sidecar, g)
    return g.network(applied, bounds, None if dvs_input is None else bool(dvs_input), notes)


def _import_nir():
    try:
        import nir
    except ImportError as exc:
        raise MissingExtraError("reading NIR graphs needs the nir package: pip install 'speksim[nir]'") from exc
    return nir


def _load(nir, graph_or_path):
    """(graph, path or None, nir version recorded in the file or None)."""
    if hasattr(graph_or_path, "nodes") and hasattr(graph_or_path, "edges"):
        return graph_or_path, None, None
    if not isinstance(graph_or_path, (str, Path)):
        raise ModelError(f"expected a nir.NIRGraph or the path of a .nir file, got {type(graph_or_path).__name__}")
    path = Path(graph_or_path)
    if not path.is_file():
        raise ModelError(f"{path}: no such NIR file")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            version = f["version"][()] if "version" in f else f.attrs.get("version")
    except OSError as exc:
        raise ModelError(f"{path}: not a NIR file (NIR files are HDF5): {exc}") from None
    if isinstance(version, bytes):
        version = version.decode("utf8", "replace")
    # Type checking in nir >= 1.0.6 refuses some files older nirs wrote; this module checks the
    # shapes itself, node by node, with messages that name the node.
    kwargs = {"type_check": False} if "type_check" in inspect.signature(nir.read).parameters else {}
    try:
        graph = nir.read(path, **kwargs)
    except Exception as exc:  # nir raises ValueError, KeyError, AssertionError... on a bad file
        written = f" (written by nir {version})" if version is not None else ""
        raise ModelError(f"{path}: nir {nir.version} cannot read it{written}: {type(exc).__name__}: {exc}; "
                         f"try another nir version") from None
    return graph, path, None if version is None else str(version)


def _read_sidecar(path: Path) -> dict:
    """The sidecar file `<model>.nir.toml` next to the model: `reset` and `min_v_mem` only."""
    side = path.with_name(path.name + ".toml")
    if not side.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(side, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{side}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"reset", "min_v_mem"})
    if unknown:
        raise ModelError(f"{side}: unknown key(s) {', '.join(unknown)}; a sidecar file may give 'reset' "
                         f"(\"subtract\" or \"zero\") and 'min_v_mem' (a number, -inf, or a table by IF node)")
    doc["file"] = side.name
    return doc


def _choose_reset(reset, sidecar: dict, version, g: "NirGraph"):
    """(applied reset, note). Warns where the choice comes from the version or disagrees with it."""
    implied = _version_reset(version)
    meaning = "subtracts the threshold" if implied == "subtract" else "resets to v_reset"
    if reset is not None or "reset" in sidecar:
        applied, source = (reset, "argument") if reset is not None else (sidecar["reset"], "sidecar")
        if applied not in RESETS:
            where = "reset=" if reset is not None else f"{sidecar['file']}: reset"
            raise ModelError(f"{where} must be 'subtract' or 'zero', got {applied!r}")
    elif implied is not None:
        applied, source = implied, f"file version {version}"
        warnings.warn(f"NIR IF reset: the file was written by nir {version}, whose IF {meaning}, so "
                      f"reset='{implied}' is applied; pass reset= (or write it in a .nir.toml sidecar) to "
                      f"state it, since exporters such as sinabs mean 'subtract' whatever nir they ran with",
                      NirResetWarning, stacklevel=3)
    else:
        why = ("records no nir version" if version is None and g.from_file else
               f"records nir version {version!r}, which is not a version number" if g.from_file else
               "was built in memory, so no nir version says what its IF reset means")
        raise ModelError(f"the graph {why}: pass reset='subtract' (nir <= 1.0.5, and every sinabs export) "
                         f"or reset='zero' (nir >= 1.0.6 with v_reset = 0)")
    if source in ("argument", "sidecar") and implied is not None and implied != applied:
        warnings.warn(f"NIR IF reset: reset='{applied}' ({source}) disagrees with the file's nir version "
                      f"{version}, whose IF {meaning}; '{applied}' is applied", NirResetWarning, stacklevel=3)
    for name in g.spiking:
        v_reset = g.v_reset[name]
        if v_reset is None or not np.any(v_reset != 0):
            continue
        if applied == "zero":
            raise ModelError(f"NIR node '{name}' (IF): v_reset is {describe_array(v_reset)}, and the chip resets to 0 "
                             f"or subtracts the threshold; retrain with v_reset = 0 or pass reset='subtract'")
        warnings.warn(f"NIR node '{name}' (IF): v_reset is {describe_array(v_reset)} but reset='subtract' ({source}) "
                      f"ignores it", NirResetWarning, stacklevel=3)
    return applied, {"applied": applied, "from": source}


def _version_reset(version):
    """The reset meaning of a nir version string, or None when it is not a version number."""
    m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if m is None:
        return None
    return "subtract" if tuple(int(x or 0) for x in m.groups()) <= LAST_SUBTRACT_VERSION else "zero"


def _choose_min_v_mem(min_v_mem, sidecar: dict, g: "NirGraph"):
    """({IF name: bound or None}, note)."""
    if min_v_mem is not None:
        value, source, where = min_v_mem, "argument", "min_v_mem="
    elif "min_v_mem" in sidecar:
        value, source, where = sidecar["min_v_mem"], "sidecar", f"{sidecar['file']}: min_v_mem"
    else:
        return {name: None for name in g.spiking}, {"applied": None, "from": "default (no lower bound)"}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(g.spiking))
        if unknown:
            raise ModelError(f"{where} names {', '.join(map(repr, unknown))}, which are not IF nodes of the graph "
                             f"(its IF nodes: {', '.join(g.spiking)})")
        bounds = {name: _check_bound(value[name], f"{where}[{name!r}]") if name in value else None
                  for name in g.spiking}
        return bounds, {"applied": bounds, "from": source}
    bound = _check_bound(value, where)
    return {name: bound for name in g.spiking}, {"applied": bound, "from": source}


def _check_bound(value, where: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(value) or value == math.inf:
        raise ModelError(f"{where} must be a number (the membrane's lower bound) or -inf for none, got {value!r}")
    return None if value == -math.inf else float(value)


def _input_shape(g: "NirGraph", input_shape):
    """The Input node's signal: its map (c, h, w), and whether NIR feeds it as a flat vector."""
    shape = (getattr(g.nodes[g.input], "input_type", None) or {}).get("input")
    shape = None if shape is None else tuple(int(x) for x in as_array(shape).reshape(-1))
    if input_shape is None:
        if shape is None or len(shape) not in (1, 3):
            raise g.error(g.input, f"its shape is {shape}, not (channels, height, width)", "pass input_shape=(c, h, w)")
        return Signal((shape[0], 1, 1), flat=True) if len(shape) == 1 else Signal(shape)
    given = tuple(int(x) for x in input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(given) != 3 or min(given) < 1:
        raise ModelError(f"input_shape must be (channels, height, width), got {input_shape!r}")
    if shape is not None and (math.prod(shape) != math.prod(given) or (len(shape) == 3 and shape != given)):
        raise g.error(g.input, f"its shape {shape} disagrees with input_shape={given}", "fix input_shape")
    return Signal(given, flat=shape is not None and len(shape) == 1)

