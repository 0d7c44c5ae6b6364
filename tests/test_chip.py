"""Chip files: built-in chips, the SPEC §1 memory table, the T10 latency anchor, extends/cores
overrides, error messages, provenance, and that an installed package still finds its chips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from speksim.chip import PARAMETERS, SOURCES, Chip, builtin_chips, chips_dir, load_chip
from speksim.errors import ChipFileError, UnknownChipError

CHECKOUT = Path(__file__).resolve().parent.parent
KI = 1024


@pytest.fixture(scope="module")
def speck2f():
    return load_chip("speck2f")


def test_builtin_chips_are_listed():
    assert {"speck2f", "speck2e", "dynapcnn"} <= set(builtin_chips())


@pytest.mark.parametrize("name", ["speck2f", "speck2e", "dynapcnn"])
def test_every_builtin_chip_loads(name):
    chip = load_chip(name)
    assert isinstance(chip, Chip) and chip.name == name
    assert chip.n_cores == 9
    for p in PARAMETERS:
        if p.kind == "percore":
            assert len(getattr(chip, p.name)) == chip.n_cores, p.name


def test_load_chip_defaults_to_speck2f_and_accepts_a_chip(speck2f):
    assert load_chip() == speck2f
    assert load_chip(speck2f) is speck2f
    assert load_chip(chips_dir() / "speck2f.toml") == speck2f


def test_speck2f_memory_table_matches_the_spec(speck2f):
    """SPEC §1: kernel 16,16,16,32,32,64,64,16,16 Ki; neuron 64,64,64,32,32,16,16,16,16 Ki; bias 1 Ki."""
    assert speck2f.kernel_words == tuple(v * KI for v in (16, 16, 16, 32, 32, 64, 64, 16, 16))
    assert speck2f.neuron_words == tuple(v * KI for v in (64, 64, 64, 32, 32, 16, 16, 16, 16))
    assert speck2f.bias_words == (KI,) * 9


def test_speck2f_limits_match_the_spec(speck2f):
    c = speck2f
    assert (c.max_input_size, c.max_output_size, c.max_features, c.max_kernel_size) == (128, 64, 1024, 16)
    assert c.strides == (1, 2, 4, 8) and c.max_padding == 7 and c.poolings == (1, 2, 4)
    assert c.max_destinations == 2 and c.readout_layer == 12 and c.dvs_layer_id == 13 and c.dvs_size == 128
    assert c.decimator_ratios == (2, 4, 8, 16, 32, 128, 256, 512)
    assert c.threshold_low_zero_forbidden and c.has_decimator and c.readout_errata


def test_variants_differ_from_speck2f_only_where_documented(speck2f):
    names = [p.name for p in PARAMETERS]
    e, d = load_chip("speck2e"), load_chip("dynapcnn")
    assert all(getattr(e, n) == getattr(speck2f, n) for n in names)
    assert [n for n in names if getattr(d, n) != getattr(speck2f, n)] == ["readout_errata", "has_decimator"]
    assert d.files == ("speck2f.toml", "dynapcnn.toml")


def _t10_latency(chip: Chip, n_layers: int) -> int:
    """SPEC T10: host_in_latency + sum over the cores of (event + 5 synop + route) + host_out + its latency."""
    per_core = sum(chip.event_ns[k] + 5 * chip.synop_ns[k] + chip.route_ns[k] for k in range(n_layers))
    return chip.host_in_latency_ns + per_core + chip.host_out_ns + chip.host_out_latency_ns


@pytest.mark.parametrize("n_layers, published_ns", [(1, 1580), (9, 3360)])
def test_t10_calibration_anchor(speck2f, n_layers, published_ns):
    latency = _t10_latency(speck2f, n_layers)
    assert abs(latency - published_ns) <= 0.05 * published_ns, (n_layers, latency)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_edited_chip_file_is_read_again(tmp_path):
    """Loading a chip file again after an edit gives the edited values, also when the edit keeps
    its size and comes at once (a parsed file is reused only while its bytes are the same)."""
    entry = 'source = "unk", reason = "an edit"'
    path = tmp_path / "edited.toml"
    loaded = []
    for ns in (31, 47):
        _write(path, f'extends = "speck2f"\n[timing.core]\nevent_ns = {{ value = {ns}, {entry} }}\n')
        loaded.append(load_chip(path).event_ns)
    assert loaded == [(31,) * len(loaded[0]), (47,) * len(loaded[1])]


def test_a_chip_file_that_is_not_utf8_is_a_chip_file_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ChipFileError, match="not valid TOML"):
        load_chip(path)


def test_cores_override_changes_only_core_3(tmp_path, speck2f):
    """What if core 3 were twice as fast: halve its per-event times, leave everything else."""
    halved = {n: getattr(speck2f, n)[3] // 2 for n in ("event_ns", "synop_ns", "leak_ns", "route_ns")}
    reason = "what if core 3 were twice as fast"
    lines = "\n".join(f'{n} = {{ value = {v}, cores = [3], source = "unk", reason = "{reason}" }}'
                      for n, v in halved.items())
    path = _write(tmp_path / "fast3.toml", f'extends = "speck2f"\nname = "fast3"\n\n[timing.core]\n{lines}\n')
    chip = load_chip(path)
    assert chip.name == "fast3" and chip.files == ("speck2f.toml", "fast3.toml")
    for p in PARAMETERS:
        new, old = getattr(chip, p.name), getattr(speck2f, p.name)
        if p.name in halved:
            assert new[3] == halved[p.name]
            assert new[:3] + new[4:] == old[:3] + old[4:], p.name
            assert chip.provenance[p.name].file == "fast3.toml"
            assert chip.provenance[p.name].reason == "what if core 3 were twice as fast"
        else:
            assert new == old, p.name
            assert chip.provenance[p.name] == speck2f.provenance[p.name]
    assert _t10_latency(chip, 9) < _t10_latency(speck2f, 9)


def _speck2f_text() -> str:
    return (chips_dir() / "speck2f.toml").read_text()


ENTRY = 'source = "est", reason = "test"'


@pytest.mark.parametrize("name, text, needles", [
    ("unknown key",
     f'extends = "speck2f"\n[timing]\nwarp_ns = {{ value = 1, {ENTRY} }}\n',
     ["timing.warp_ns", "unknown key", "sections are", "timing.core"]),
    ("unknown top-level table",
     f'extends = "speck2f"\n[colours]\nred = {{ value = 1, {ENTRY} }}\n',
     ["colours", "unknown key"]),
    ("value out of range",
     f'extends = "speck2f"\n[timing.core]\nfifo_depth = {{ value = 0, {ENTRY} }}\n',
     ["timing.core.fifo_depth", "is 0", "[1, 1048576]", "slots"]),
    ("per-core value out of range",
     f'extends = "speck2f"\n[memory]\nkernel_words = {{ value = -1, cores = [2], {ENTRY} }}\n',
     ["memory.kernel_words", "[2]", "is -1", "[0, 16777216]"]),
    ("wrong type",
     f'extends = "speck2f"\n[limits]\nmax_padding = {{ value = "seven", {ENTRY} }}\n',
     ["limits.max_padding", "'seven'", "whole number", "[0, 64]"]),
    ("wrong type of switch",
     f'extends = "speck2f"\n[switches]\nleak_can_fire = {{ value = 1, {ENTRY} }}\n',
     ["switches.leak_can_fire", "1", "true or false"]),
    ("bad choice",
     f'extends = "speck2f"\n[switches]\nstate_overflow = {{ value = "clamp", {ENTRY} }}\n',
     ["switches.state_overflow", "'clamp'", "saturate", "wrap"]),
    ("wrong per-core length",
     f'extends = "speck2f"\n[timing.core]\nsynop_ns = {{ value = [1, 2, 3], {ENTRY} }}\n',
     ["timing.core.synop_ns", "3 values", "one per core (9)"]),
    ("bad source tag",
     'extends = "speck2f"\n[timing]\nhost_in_ns = { value = 80, source = "guess", reason = "test" }\n',
     ["timing.host_in_ns", "'guess'", "doc", "code", "est", "unk"]),
    ("missing reason",
     'extends = "speck2f"\n[timing]\nhost_in_ns = { value = 80, source = "est" }\n',
     ["timing.host_in_ns", "reason"]),
    ("empty reason",
     'extends = "speck2f"\n[timing]\nhost_in_ns = { value = 80, source = "est", reason = "  " }\n',
     ["timing.host_in_ns", "reason"]),
    ("bare value",
     'extends = "speck2f"\n[timing]\nhost_in_ns = 80\n',
     ["timing.host_in_ns", "value = ...", "source", "reason"]),
    ("unknown entry field",
     f'extends = "speck2f"\n[timing]\nhost_in_ns = {{ value = 80, unit = "ns", {ENTRY} }}\n',
     ["timing.host_in_ns", "unit", "allowed: value, source, reason, cores"]),
    ("cores on a scalar parameter",
     f'extends = "speck2f"\n[timing]\nhost_in_ns = {{ value = 80, cores = [1], {ENTRY} }}\n',
     ["timing.host_in_ns", "not a per-core parameter"]),
    ("cores out of range",
     f'extends = "speck2f"\n[timing.core]\nsynop_ns = {{ value = 10, cores = [9], {ENTRY} }}\n',
     ["synop_ns", "9", "0..8"]),
    ("bad decimator table",
     f'extends = "speck2f"\n[limits]\ndecimator_ratios = {{ value = [2, 4], {ENTRY} }}\n',
     ["limits.decimator_ratios", "8 values", "got 2"]),
    ("not TOML", 'extends = "speck2f"\n[timing\n', ["not valid TOML"]),
])
def test_chip_file_errors_name_file_key_value_and_allowed(tmp_path, name, text, needles):
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ChipFileError) as info:
        load_chip(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_missing_parameter_without_extends(tmp_path):
    text = "\n".join(line for line in _speck2f_text().splitlines() if not line.startswith("sensor_ns"))
    path = _write(tmp_path / "nosensor.toml", text)
    with pytest.raises(ChipFileError) as info:
        load_chip(path)
    msg = str(info.value)
    assert str(path) in msg and "missing parameter" in msg and "timing.sensor_ns" in msg
    assert "extends" in msg  # says how to fix it
    # the full file, copied without 'extends', loads and equals the built-in chip
    full = _write(tmp_path / "copy.toml", _speck2f_text())
    assert dataclasses.replace(load_chip(full), files=("speck2f.toml",)) == load_chip("speck2f")


def test_extends_loop(tmp_path):
    a = _write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ChipFileError) as info:
        load_chip(a)
    msg = str(info.value)
    assert "extends" in msg and "loop" in msg and "a.toml" in msg and "b.toml" in msg


def test_extends_must_be_a_name(tmp_path):
    path = _write(tmp_path / "x.toml", "extends = 3\n")
    with pytest.raises(ChipFileError, match="'extends' must be a chip name or a path, got 3"):
        load_chip(path)


def test_extends_an_unknown_chip(tmp_path):
    path = _write(tmp_path / "x.toml", 'extends = "speck99"\n')
    with pytest.raises(UnknownChipError, match="speck99"):
        load_chip(path)


def test_unknown_chip_name():
    with pytest.raises(UnknownChipError) as info:
        load_chip("speck9")
    msg = str(info.value)
    assert "speck9" in msg and "speck2f" in msg and "dynapcnn" in msg
    assert isinstance(info.value, ChipFileError)


def test_replace_is_a_checked_what_if(speck2f):
    fast = speck2f.replace(reason="what if core 3 were faster", synop_ns={3: 10}, host_in_ns=100)
    assert fast.synop_ns[3] == 10 and fast.synop_ns[:3] == speck2f.synop_ns[:3]
    assert fast.synop_ns[4:] == speck2f.synop_ns[4:]
    assert fast.host_in_ns == 100 and speck2f.host_in_ns == 80  # the original is unchanged
    assert fast.provenance["synop_ns"].reason == "what if core 3 were faster"
    assert fast.provenance["event_ns"] == speck2f.provenance["event_ns"]
    assert speck2f.replace(event_ns=50).event_ns == (50,) * 9
    with pytest.raises(ChipFileError, match="fifo_depth.*outside the allowed range"):
        speck2f.replace(fifo_depth=0)
    with pytest.raises(ChipFileError, match="unknown chip parameter 'warp_ns'"):
        speck2f.replace(warp_ns=1)
    with pytest.raises(ChipFileError, match="core 9 does not exist"):
        speck2f.replace(synop_ns={9: 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        speck2f.n_cores = 3  # frozen


@pytest.mark.parametrize("name", ["speck2f", "speck2e", "dynapcnn"])
def test_every_parameter_has_provenance(name):
    chip = load_chip(name)
    for p in PARAMETERS:
        prov = chip.provenance.get(p.name)
        assert prov is not None, p.name
        assert prov.source in SOURCES, p.name
        assert prov.reason.strip(), p.name
        assert prov.file.endswith(".toml") and prov.file in chip.files, p.name


def test_param_table_rows(speck2f):
    rows = speck2f.param_table()
    assert [r["name"] for r in rows] == [p.name for p in PARAMETERS]
    for row, p in zip(rows, PARAMETERS):
        assert set(row) == {"section", "name", "value", "unit", "source", "reason", "description"}
        assert row["section"] == p.section and row["unit"] == p.unit and row["description"] == p.description
        assert row["value"] == getattr(speck2f, p.name)
        assert row["source"] in SOURCES and row["reason"]
    d = speck2f.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["parameters"]["kernel_words"]["value"] == list(speck2f.kernel_words)


# ------------------------------------------------------------------------------- packaging

def test_pyproject_ships_the_chip_files():
    """`chips/` is mapped to the package `speksim._chips` with its *.toml as package data."""
    with open(CHECKOUT / "pyproject.toml", "rb") as fh:
        tool = tomllib.load(fh)["tool"]["setuptools"]
    assert tool["package-dir"]["speksim._chips"] == "chips"
    assert "speksim._chips" in tool["packages"]
    assert "*.toml" in tool["package-data"]["speksim._chips"]
    assert {p.stem for p in (CHECKOUT / "chips").glob("*.toml")} >= {"speck2f", "speck2e", "dynapcnn"}
