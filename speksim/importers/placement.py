"""A core for each layer of a network: by the per-core kernel, neuron and bias memory (SPEC §1),
and optionally by the SynOp load each core can sustain.

`place(..., mode="auto")` finds a maximum bipartite matching of layers to the cores whose three
memories all suffice. It searches shortest augmenting paths in the same order as sinabs' chip
backend (`get_valid_mapping` in sinabs.backend.dynapcnn.mapping), so a model placed by either tool
lands on the same cores. When no assignment exists, `PlacementError` says which layers cannot be
placed, why, and a change that makes them fit, computed from the memory formulas.

A layer's needs are a dict {"kernel", "neuron", "bias"} in words, as `SpikingLayer.memory_needs`
gives them; `layer_needs` adds the layer's geometry ("c_in", "c_out", "kernel_size",
"input_size", "stride", "padding"), from which suggestions such as "use stride 2" are computed.
Without it the error still says which memory is short and by how much.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import combinations
from collections.abc import Mapping, Sequence

from ..chip import kernel_memory_words, load_chip, neuron_memory_words
from ..config.model import conv_out
from ..errors import PlacementError

#: The three memories of a core, as keys of a layer's needs and of the placement table.
KINDS = ("kernel", "neuron", "bias")
MODES = ("auto", "balanced")
_GEOMETRY = ("c_in", "c_out", "kernel_size", "input_size", "stride", "padding")


def layer_needs(layer) -> dict:
    """A `SpikingLayer`'s memory needs in words (kernel, neuron, bias; SPEC §1) and the geometry
    they come from: c_in, c_out, kernel_size (ints), input_size (h, w) in pixels, stride and
    padding (y, x) pairs in pixels."""
    needs = layer.memory_needs()
    c_out = layer.output_shape[0]
    needs.update(c_in=int(layer.weight.shape[1]), c_out=int(c_out), kernel_size=int(layer.kernel_size),
                 input_size=(int(layer.input_shape[1]), int(layer.input_shape[2])),
                 stride=tuple(int(s) for s in layer.stride), padding=tuple(int(p) for p in layer.padding))
    return needs


def placement_table(needs, chip, names=None) -> list[dict]:
    """One row per layer, for people: {"layer": index, "name": str ("" when unnamed), "kernel",
    "neuron", "bias": words needed (int), "cores": the cores whose three memories all suffice,
    ascending}. `chip` is a `Chip` or a chip name."""
    chip = load_chip(chip)
    return [_row(layer, _fitting_cores(layer, chip)) for layer in _layers(needs, names)]


def place(needs, chip, *, names=None, fixed=None, load=None, mode="auto") -> list[int]:
    """The core of each layer, in network order.

    needs: one dict per layer with "kernel", "neuron" and "bias" words (more keys, such as the
    geometry `layer_needs` adds, make the error's suggestions concrete). chip: a `Chip` or a chip
    name. names: the layers' names, for messages. fixed: {layer index (or name): core} chosen by
    the user; each must fit its core and no two may share one. The other layers are placed around
    them.

    mode "auto": a maximum matching of layers to the cores whose kernel, neuron and bias memories
    all suffice, found by shortest augmenting paths in sinabs' order: without `fixed`, the same
    cores as sinabs' `get_valid_mapping` whenever sinabs finds an assignment.

    mode "balanced": `load` gives each layer's SynOps per second (floats, e.g. measured on a
    recording); a core sustains 1e9 / synop_ns[core] SynOps/s (chip file). Among the assignments
    "auto" accepts, the one whose busiest core is least busy (highest load / capacity); "auto"'s
    own assignment whenever it is among the best, otherwise what "auto" finds when each layer may
    only use the cores that keep it within the best level.
    When all cores have the same synop_ns, as on every built-in chip (speck2f, speck2e,
    dynapcnn), the highest ratio is the same for every assignment, so "balanced" returns exactly
    what "auto" returns; it changes something only on a chip whose cores differ in speed.

    Raises PlacementError (with `needs`, the placement table) when the layers cannot be placed:
    more layers than cores, a layer that fits no core, layers competing for too few cores, or a
    `fixed` core that is too small or taken.
    """
    chip = load_chip(chip)
    if mode not in MODES:
        raise PlacementError(f"placement mode {mode!r} is not known; use one of {', '.join(map(repr, MODES))}")
    layers = _layers(needs, names)
    fits = [_fitting_cores(layer, chip) for layer in layers]
    rows = [_row(layer, cores) for layer, cores in zip(layers, fits)]
    if len(layers) > chip.n_cores:
        extra = len(layers) - chip.n_cores
        raise PlacementError(
            f"the model has {len(layers)} layers but {chip.name} has {chip.n_cores} cores, each holding one layer: "
            f"use at most {chip.n_cores} layers ({extra} fewer)\n" + _table_text(rows), needs=rows)
    if mode == "balanced":
        cost = _costs(load, len(layers), chip)
    elif load is not None:
        raise PlacementError("load is used only by mode='balanced'; pass mode='balanced' or drop load")
    pinned = _pinned(fixed, layers, fits, chip)
    free = _free_fits(fits, pinned)
    assignment = _match(free, pinned, chip.n_cores)
    if None in assignment:
        raise PlacementError(_explain(layers, fits, free, pinned, assignment, chip, rows), needs=rows)
    if mode == "balanced" and assignment:
        assignment = _balance(free, pinned, assignment, cost, chip.n_cores)
    return assignment


# ---------------------------------------------------------------------------------------------
# the search


def _match(fits, pinned, n_cores):
    """A maximum matching (core of each layer, None where there is none) over `fits`, with the
    `pinned` layers on their cores and out of the search."""
    core_of = [pinned.get(i) for i in range(len(fits))]
    owner = [None] * n_cores
    for layer, core in pinned.items():
        owner[core] = layer
    while _augment(fits, core_of, owner):
        pass
    return core_of


def _augment(fits, core_of, owner) -> bool:
    """One augmenting step, as sinabs' max-flow search takes it: one breadth-first search from
    every unplaced layer at once (network order), visiting a layer's cores in ascending order and
    going from a taken core to the layer on it; the first free core reached ends the search, and
    the layers along the path move one core on. Returns False when no free core is reachable.

    sinabs runs Edmonds-Karp on a flow network (source, layers, cores, sink) whose edge lists are
    in exactly this order, so its breadth-first tree, and hence the path it augments, is this one.
    """
    roots = [i for i, core in enumerate(core_of) if core is None]
    queue = deque(("layer", i) for i in roots)
    seen_layers = set(roots)
    reached_from = {}  # core -> the layer whose search reached it first
    while queue:
        kind, v = queue.popleft()
        if kind == "layer":
            # a placed layer's own core is already reached (the search came through it)
            for core in fits[v]:
                if core not in reached_from:
                    reached_from[core] = v
                    queue.append(("core", core))
        elif owner[v] is None:
            core = v
            while core is not None:
                layer = reached_from[core]
                previous = core_of[layer]
                core_of[layer], owner[core] = core, layer
                core = previous
            return True
        elif owner[v] not in seen_layers:
            seen_layers.add(owner[v])
            queue.append(("layer", owner[v]))
    return False


def _balance(fits, pinned, auto, cost, n_cores):
    """The assignment with the lowest highest cost among those over `fits` (a bottleneck
    matching: the smallest cost level at which a complete matching still exists, by bisection over
    the distinct costs), `auto` when it reaches that level."""
    floor = max((cost[i][c] for i, c in pinned.items()), default=0.0)
    levels = sorted({cost[i][c] for i, cores in enumerate(fits) for c in cores if cost[i][c] >= floor} | {floor})

    def within(level):
        return [[c for c in cores if cost[i][c] <= level] for i, cores in enumerate(fits)]

    lo, hi = 0, len(levels) - 1  # the highest level keeps every edge, and `auto` is complete there
    while lo < hi:
        mid = (lo + hi) // 2
        if None in _match(within(levels[mid]), pinned, n_cores):
            lo = mid + 1
        else:
            hi = mid
    if max(cost[i][c] for i, c in enumerate(auto)) <= levels[lo]:
        return auto
    return _match(within(levels[lo]), pinned, n_cores)


def _costs(load, n_layers, chip):
    """cost[layer][core] = SynOps/s x ns per SynOp: the core's busy fraction times 1e9."""
    if load is None:
        raise PlacementError("mode='balanced' needs load: each layer's SynOps per second, measured on a recording")
    try:
        values = [float(v) for v in load]
    except (TypeError, ValueError):
        raise PlacementError(f"load must be a sequence of numbers (SynOps/s per layer), got {load!r}") from None
    if len(values) != n_layers:
        raise PlacementError(f"load has {len(values)} values; it needs one per layer ({n_layers})")
    bad = [i for i, v in enumerate(values) if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise PlacementError(f"load[{bad[0]}] is {values[bad[0]]}; SynOps/s must be finite and >= 0")
    return [[v * chip.synop_ns[c] for c in range(chip.n_cores)] for v in values]


def _max_matching_size(fits, pinned, n_cores) -> int:
    return sum(core is not None for core in _match(fits, pinned, n_cores))


# ---------------------------------------------------------------------------------------------
# inputs


def _layers(needs, names):
    if isinstance(needs, Mapping) or not isinstance(needs, Sequence):
        raise PlacementError(f"needs must be a list with one dict per layer, got {type(needs).__name__}")
    if names is not None and len(names) != len(needs):
        raise PlacementError(f"names has {len(names)} entries; it needs one per layer ({len(needs)})")
    layers = []
    for i, need in enumerate(needs):
        if not isinstance(need, Mapping) or any(k not in need for k in KINDS):
            raise PlacementError(f"needs[{i}] must be a dict with 'kernel', 'neuron' and 'bias' words, got {need!r}")
        layer = {"layer": i, "name": "" if names is None else str(names[i])}
        for kind in KINDS:
            layer[kind] = _words(need[kind], f"needs[{i}]['{kind}']")
        layer["geometry"] = _geometry(need) if all(k in need for k in _GEOMETRY) else None
        layers.append(layer)
    return layers


def _geometry(need) -> dict:
    """The geometry keys as ints and (y, x) pairs, and the convolution's output size."""
    def pair(v):
        return (int(v), int(v)) if isinstance(v, (int, float)) else tuple(int(x) for x in v)

    g = {"c_in": int(need["c_in"]), "c_out": int(need["c_out"]), "kernel_size": int(need["kernel_size"]),
         "input_size": pair(need["input_size"]), "stride": pair(need["stride"]), "padding": pair(need["padding"])}
    g["output_size"] = _conv_size(g["input_size"], g["kernel_size"], g["stride"], g["padding"])
    return g


def _conv_size(input_size, k, stride, padding) -> tuple:
    return tuple(conv_out(n, k, s, p) for n, s, p in zip(input_size, stride, padding))


def _words(v, where) -> int:
    # sinabs' memory summaries are floats; any whole number is accepted
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise PlacementError(f"{where} is {v!r}; it must be a whole number of words >= 0") from None
    if not (math.isfinite(f) and f >= 0 and f == int(f)):
        raise PlacementError(f"{where} is {v!r}; it must be a whole number of words >= 0")
    return int(f)


def _capacity(chip, core) -> dict:
    return {"kernel": chip.kernel_words[core], "neuron": chip.neuron_words[core], "bias": chip.bias_words[core]}


def _short(layer, caps) -> list:
    return [kind for kind in KINDS if layer[kind] > caps[kind]]


def _fitting_cores(layer, chip) -> list:
    return [c for c in range(chip.n_cores) if not _short(layer, _capacity(chip, c))]


def _free_fits(fits, pinned):
    taken = set(pinned.values())
    return [[] if i in pinned else [c for c in cores if c not in taken] for i, cores in enumerate(fits)]


def _pinned(fixed, layers, fits, chip) -> dict:
    """`fixed` as {layer index: core}, each checked."""
    if fixed is None:
        return {}
    if not isinstance(fixed, Mapping):
        raise PlacementError(f"fixed must map layers (index or name) to cores, got {type(fixed).__name__}")
    by_name = {layer["name"]: layer["layer"] for layer in layers if layer["name"]}
    pinned, holder = {}, {}
    for key, core in fixed.items():
        if isinstance(key, str) and key in by_name:
            i = by_name[key]
        elif isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(layers):
            i = key
        else:
            known = f" or one of the names {', '.join(by_name)}" if by_name else ""
            raise PlacementError(f"fixed names layer {key!r}, which does not exist; use an index "
                                 f"0..{len(layers) - 1}{known}")
        who = _who(layers[i])
        if isinstance(core, bool) or not isinstance(core, int) or not 0 <= core < chip.n_cores:
            raise PlacementError(f"fixed puts {who} on core {core!r}; cores are 0..{chip.n_cores - 1}")
        if i in pinned:
            raise PlacementError(f"fixed gives {who} twice (as {i} and by its name); give it once")
        if core in holder:
            raise PlacementError(f"fixed puts {_who(layers[holder[core]])} and {who} both on core {core}; a core "
                                 "holds one layer: move one of them")
        caps = _capacity(chip, core)
        short = _short(layers[i], caps)
        if short:
            others = fits[i]
            where = (f"{_cores_text(others)} fit it" if others else "no core fits it")
            raise PlacementError(f"fixed puts {who} on core {core}, but it {_needs_text(layers[i], short)}; "
                                 f"core {core} has {_have_text(caps, short)}: {where}"
                                 + _options_text(layers[i], caps, chip, f"; to fit core {core}: "))
        pinned[i], holder[core] = core, i
    return pinned


# ---------------------------------------------------------------------------------------------
# explaining why nothing fits


def _explain(layers, fits, free, pinned, assignment, chip, rows) -> str:
    parts = []
    for i, cores in enumerate(fits):
        if not cores and i not in pinned:
            parts.append(_no_core_text(layers[i], fits, free, pinned, chip))
    claimed = {}  # core -> the earlier group of layers that needs it
    for group, usable in _competing_groups(free, fits, pinned, chip.n_cores):
        parts.append(_group_text(group, usable, claimed, layers, fits, free, pinned, chip))
        claimed.update({c: group for c in usable if c not in claimed})
    if pinned and all(fits) and _max_matching_size(fits, {}, chip.n_cores) == len(layers):
        parts.append(f"without fixed every layer has a core ({_assignment_text(_match(fits, {}, chip.n_cores))}): "
                     "fixed takes cores the other layers need")
    head = (f"the {len(layers)} layers do not fit" if len(layers) > 1 else "the layer does not fit")
    return f"{head} the cores of {chip.name}:\n  - " + "\n  - ".join(parts) + "\n" + _table_text(rows)


def _competing_groups(free, fits, pinned, n_cores):
    """Groups of layers that each fit some core but together need more cores than they can use
    (Hall violators), with the cores each group can use. The smallest group first (by size, then
    by index); then, with that group and its cores set aside, the smallest in what is left, until
    the rest can be placed. A smallest group is one layer short exactly, so the groups found add
    up to the layers a maximum matching leaves out."""
    active = [i for i, cores in enumerate(fits) if cores and i not in pinned]
    left = set(range(n_cores)) - set(pinned.values())
    groups = []
    while True:
        reach = {i: [c for c in free[i] if c in left] for i in active}
        sub = [reach.get(i, []) for i in range(len(free))]
        placed = _max_matching_size(sub, {}, n_cores)
        if placed == len(active):
            return groups
        group = _smallest_violator(active, reach)
        groups.append((group, sorted({c for i in group for c in free[i]})))
        active = [i for i in active if i not in group]
        left -= {c for i in group for c in reach[i]}


def _smallest_violator(active, reach):
    for size in range(1, len(active) + 1):
        for group in combinations(active, size):
            if len({c for i in group for c in reach[i]}) < size:
                return list(group)
    return list(active)  # not reached: a matching that leaves layers out has a violator (Hall)


def _no_core_text(layer, fits, free, pinned, chip) -> str:
    open_cores = [c for c in range(chip.n_cores) if c not in pinned.values()]
    targets = _targets(layer, open_cores, fits, free, pinned, chip)
    best = targets[0]
    # a second group of cores only when it is short of something else (a real alternative)
    shown = [best] + [t for t in targets[1:2] if not set(best["short"]) <= set(t["short"])]
    short = [k for k in KINDS if any(k in t["short"] for t in shown)]
    text = f"{_who(layer)} fits no core: it {_needs_text(layer, short)}"
    if len(shown) == 1:
        caps = best["caps"]
        most = [k for k in best["short"] if caps[k] == max(_capacity(chip, c)[k] for c in range(chip.n_cores))]
        have = _have_text(caps, best["short"])
        have = (f"the largest core has {have} ({_cores_text(best['cores'])})" if most == best["short"]
                else f"{_cores_have(best['cores'])} {have}")
        return f"{text}; {have}" + _options_text(layer, caps, chip, ": use ")
    haves = "; ".join(f"{_cores_have(t['cores'])} {_have_text(t['caps'], t['short'])}" for t in shown)
    tos = "".join(_options_text(layer, t["caps"], chip, f"; to fit {_cores_text(t['cores'])}: ") for t in shown)
    return f"{text}, and no core has all of it: {haves}{tos}"


def _group_text(group, usable, claimed, layers, fits, free, pinned, chip) -> str:
    text = (f"{_layers_text(group)} can only use {_cores_text(usable)}" if usable
            else f"{_layers_text(group)} can use no core left")
    holder = {core: i for i, core in pinned.items()}
    lost = sorted({c for i in group for c in fits[i]} - set(usable))
    notes = []
    if lost:
        notes.append(f"{_cores_text(lost)} {_is(lost)} fixed to {_and([_who(layers[holder[c]]) for c in lost])}")
    taken = [c for c in usable if c in claimed]
    if taken:
        by = sorted({i for c in taken for i in claimed[c]})
        notes.append(f"{_cores_text(taken)} {_is(taken)} needed by {_layers_text(by)}")
    if notes:
        text += ", and " + " and ".join(notes)
    offers = {}
    for i in group:
        elsewhere = [c for c in range(chip.n_cores) if c not in fits[i] and c not in pinned.values()]
        if elsewhere:
            t = _targets(layers[i], elsewhere, fits, free, pinned, chip)[0]
            how = (_options_text(layers[i], t["caps"], chip, ": use ") or ": make it fit those")
            fix = (f"{_needs_text(layers[i], t['short'])}; {_cores_have(t['cores'])} "
                   f"{_have_text(t['caps'], t['short'])}{how}")
            offers.setdefault(fix, (t["rank"], []))[1].append(i)
    if not offers:
        return f"{text}: use fewer layers"
    fix, (_, alike) = min(offers.items(), key=lambda o: (o[1][0], o[1][1][0]))
    also = f" (likewise {_layers_text(alike[1:])})" if len(alike) > 1 else ""
    whom = "it" if len(group) == 1 else "one of them"
    return f"{text}: to free a core, make {whom} fit another: {_who(layers[alike[0]])} {fix}{also}"


def _targets(layer, cores, fits, free, pinned, chip) -> list:
    """Groups of equal cores the layer could be changed to fit, best first: cores that would
    complete more of the placement, then fewer short memories, then the smallest shortfall."""
    profiles = {}
    for c in cores:
        caps = _capacity(chip, c)
        profiles.setdefault(tuple(caps[k] for k in KINDS), []).append(c)
    base = _max_matching_size(free, pinned, chip.n_cores)
    out = []
    for key, group in profiles.items():
        caps = dict(zip(KINDS, key))
        short = _short(layer, caps)
        widened = [sorted(set(f) | set(group)) if i == layer["layer"] else f for i, f in enumerate(free)]
        helps = _max_matching_size(widened, pinned, chip.n_cores) > base
        excess = sum(math.log2(layer[k] / caps[k]) if caps[k] else math.inf for k in short)
        rank = (not helps, len(short), not _options(layer, caps, chip), excess, group[0])
        out.append({"cores": group, "caps": caps, "short": short, "rank": rank})
    return sorted(out, key=lambda t: t["rank"])


def _options(layer, caps, chip) -> list:
    """Single changes to the layer after which it fits `caps` (all three memories recomputed
    from the formulas of SPEC §1), each the smallest change of its kind; none without geometry."""
    g = layer["geometry"]
    if g is None:
        return []
    c_in, c_out, k, stride = g["c_in"], g["c_out"], g["kernel_size"], g["stride"]
    # a change must not break the output limit the layer meets today
    limit = chip.max_output_size if max(g["output_size"]) <= chip.max_output_size else math.inf

    def fits(c_in=c_in, c_out=c_out, k=k, stride=stride):
        h, w = _conv_size(g["input_size"], k, stride, g["padding"])
        if min(h, w) < 1 or max(h, w) > limit:
            return False
        need = {"kernel": kernel_memory_words(c_in, c_out, k), "neuron": neuron_memory_words(c_out, h, w),
                "bias": c_out if layer["bias"] else 0}
        return not _short(need, caps)

    options = []
    for s in sorted(chip.strides):
        if s > max(stride) and fits(stride=(s, s)):
            options.append(f"stride {s}")
            break
    for c in range(c_out - 1, 0, -1):
        if fits(c_out=c):
            options.append(f"at most {_plural(c, 'output channel')}")
            break
    # a kernel covering the whole input is a Linear layer: a smaller kernel would not mean one
    if not (g["output_size"] == (1, 1) and (k, k) == g["input_size"]):
        for kk in range(k - 1, 0, -1):
            if fits(k=kk):
                options.append(f"a kernel of at most {kk}")
                break
    for c in range(c_in - 1, 0, -1):
        if fits(c_in=c):
            options.append(f"at most {_plural(c, 'input channel')} (fewer output channels in the layer before)")
            break
    return options


# ---------------------------------------------------------------------------------------------
# wording


def _options_text(layer, caps, chip, lead) -> str:
    options = _options(layer, caps, chip)
    return lead + ", or ".join(options) if options else ""


def _needs_text(layer, kinds) -> str:
    g = layer["geometry"]
    parts = []
    for kind in kinds:
        detail = ""
        if g is not None:
            c_in, c_out, k = g["c_in"], g["c_out"], g["kernel_size"]
            if kind == "kernel":
                detail = (f" ({c_in} in ch x {_pow2(k * k)} ({k}x{k} rounded) x {_pow2(c_out)} "
                          f"({c_out} out ch rounded))")
            elif kind == "neuron":
                h, w = g["output_size"]
                detail = f" ({c_out} ch x {_pow2(h)} x {_pow2(w)}, the {h}x{w} output rounded to powers of two)"
            else:
                detail = f" ({c_out} out ch with biases)"
        parts.append(f"{layer[kind]} {kind} words{detail}")
    return "needs " + _and(parts)


def _have_text(caps, kinds) -> str:
    return _and([f"{caps[kind]} {kind} words" for kind in kinds])


def _row(layer, cores) -> dict:
    return {"layer": layer["layer"], "name": layer["name"], "kernel": layer["kernel"], "neuron": layer["neuron"],
            "bias": layer["bias"], "cores": list(cores)}


def _table_text(rows) -> str:
    lines = ["needs in words, and the cores with enough of all three:"]
    for r in rows:
        name = f" ('{r['name']}')" if r["name"] else ""
        cores = _cores_text(r["cores"]) if r["cores"] else "no core"
        lines.append(f"    layer {r['layer']}{name}: kernel {r['kernel']}, neuron {r['neuron']}, "
                     f"bias {r['bias']}: {cores}")
    return "\n".join(lines)


def _assignment_text(assignment) -> str:
    return ", ".join(f"layer {i} on core {c}" for i, c in enumerate(assignment))


def _who(layer) -> str:
    return f"layer {layer['layer']} ('{layer['name']}')" if layer["name"] else f"layer {layer['layer']}"


def _layers_text(indices) -> str:
    return ("layer " if len(indices) == 1 else "layers ") + _and([str(i) for i in indices])


def _cores_text(cores) -> str:
    return ("core " if len(cores) == 1 else "cores ") + _and([str(c) for c in cores])


def _cores_have(cores) -> str:
    return f"{_cores_text(cores)} {'has' if len(cores) == 1 else 'have'}"


def _and(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _is(items) -> str:
    return "is" if len(items) == 1 else "are"


def _plural(n, noun) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pow2(n: int) -> int:
    return 1 if n <= 1 else 2 ** math.ceil(math.log2(n))


__all__ = ["KINDS", "MODES", "layer_needs", "place", "placement_table"]
