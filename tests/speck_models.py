"""The Speck networks of the shared models folder (../shared/models, README there), as their
ANNs and as the spiking networks sinabs makes of them: for tests and benchmarks."""

from pathlib import Path

import pytest
import torch
from sinabs.from_torch import from_model
from torch import nn

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS, TRACES = SHARED / "models", SHARED / "traces"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} is not there: the shared models and traces folder sits beside the checkout "
                    "(../shared/models, ../shared/traces)")
    return path


def gesture_ann():
    """The DVS Gesture ANN as ../shared/models/README.md lists it (module indices included)."""
    return nn.Sequential(
        nn.Conv2d(2, 16, 2, 2, bias=False), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Dropout2d(0.5), nn.Conv2d(64, 256, 2, bias=False), nn.ReLU(),
        nn.Dropout2d(0.5), nn.Flatten(), nn.Linear(256, 128, bias=False), nn.ReLU(),
        nn.Linear(128, 11, bias=False))


def mnist_ann():
    """The MNIST ANN of ../shared/models/README.md: 1x28x28 -> 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(20, 32, 5, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 128, 3, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(128, 500, bias=False), nn.ReLU(), nn.Linear(500, 10, bias=False))


def snn_of(ann, params):
    """The spiking network of `ann` with the weights of `params` (a file of the models folder),
    converted as the README says; skips the calling test when the file is absent."""
    ann.load_state_dict(torch.load(need(MODELS / params), map_location="cpu"))
    return from_model(ann.eval(), add_spiking_output=True, batch_size=1)


