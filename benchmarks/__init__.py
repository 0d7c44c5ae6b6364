"""speksim's benchmarks: `python -m benchmarks` from the checkout's root (see `__main__`).

They never run as part of the tests.
"""
