"""The bundled stall workloads (traces/stall_chain.*, traces/stall_merge.*), as the stall and
report tests use them: tests/test_stalls.py says what each does, by hand."""

import speksim
from speksim._resources import traces_dir
from speksim.analysis.stalls import diagnose
from speksim.io import read_events


def workload(name: str):
    """(configuration, camera events) of the bundled workload `name` ("stall_chain", "stall_merge")."""
    folder = traces_dir()
    return speksim.load_config(folder / f"{name}.json"), read_events(folder / f"{name}.npz")


def diagnosed(name: str):
    """(configuration, events, Result, StallReport) of the workload `name` run on speck2f."""
    config, events = workload(name)
    result = speksim.simulate(config, events)
    return config, events, result, diagnose(result, events)
