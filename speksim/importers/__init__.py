"""Trained models to chip configurations: PyTorch/sinabs and NIR graphs (`graph.Network`),
discretisation, placement on cores, and the configuration they make.

torch, sinabs and nir are optional: they are imported inside the functions that need them.
"""
