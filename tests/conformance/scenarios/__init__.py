"""Named conformance scenarios: small chips whose behaviour follows by hand from the chip model
(docs/chip-model.md). `base` holds the notation, the scenario type and the helpers; `core`,
`link_leak_dvs`, `readout` and `end` the scenarios, by group of rules (each registers its builders);
`harness` runs them on an engine and compares results."""

from . import core, end, link_leak_dvs, readout  # noqa: F401  (register their scenarios)
from .base import (ALL_RULES, CHIP, NOT_YET_IMPLEMENTED, OPTS, PARTLY_IMPLEMENTED, Expected, Scenario,
                   all_scenarios, host_output, timing)
from .harness import (ENGINES, byte_difference, check_expected, compile_scenario, engine_function, first_difference,
                      run_engine, run_fast_in_chunks)

__all__ = ["ALL_RULES", "CHIP", "NOT_YET_IMPLEMENTED", "OPTS", "PARTLY_IMPLEMENTED", "Expected", "Scenario",
           "all_scenarios", "host_output", "timing", "ENGINES", "byte_difference", "check_expected",
           "compile_scenario", "engine_function", "first_difference", "run_engine", "run_fast_in_chunks"]
