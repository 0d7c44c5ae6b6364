"""Models of the regression scenarios that are built in Python (`model = "networks.py:NAME"`).

The trained networks are read from the shared models folder beside the checkout (scenarios that
need them list the file in `needs_files`, so they are skipped when it is absent), converted to
spiking networks the way the tests and the speed benchmarks convert them (tests/speck_models.py).
"""

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[2] / "tests"


def _speck_models():
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    import speck_models
    return speck_models


def gesture():
    """The DVS Gesture network (sinabs, 9 cores) with its trained weights."""
    m = _speck_models()
    return m.snn_of(m.gesture_ann(), "dvs_gesture_params.pt")
