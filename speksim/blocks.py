"""The block table: every block of the simulated chip, with one id, one name and one label.

Engines, results, run files, plots and the command line all index per-block arrays by these ids
and print these names, so a block is spelled the same way everywhere:

| id  | name       | label       | has                                   | sender rank (T0) |
|-----|------------|-------------|---------------------------------------|------------------|
| 0-8 | core0..8   | core 0..8   | FIFO, server, output queue and stage  | 2 + id           |
| 9   | dvs        | DVS layer   | FIFO, server, output queue and stage  | 1                |
| 10  | readout    | readout     | FIFO, server, its tick events (F7)    | 12               |
| 11  | host_out   | host output | FIFO, server                          | -                |

The input link is a sender (rank 0) but not a block: it has no FIFO and no statistics row.
The number of cores is the chip files' `n_cores`, which `speksim.chip` fixes at nine: the layer
ids of the readout (12) and the DVS layer (13) in samna's configuration, and the configuration's
nine `cnn_layers`, leave no room for another count.
"""

from __future__ import annotations

N_CORES = 9
DVS = N_CORES
READOUT = N_CORES + 1
HOST_OUT = N_CORES + 2
N_BLOCKS = N_CORES + 3
#: Blocks with an output queue and stage: the cores and the DVS layer.
N_QUEUED = N_CORES + 1

#: Short names, used as keys (statistics table rows, CSV rows, run-file attributes).
BLOCK_NAMES: tuple[str, ...] = tuple([f"core{k}" for k in range(N_CORES)] + ["dvs", "readout", "host_out"])
_LABELS = {DVS: "DVS layer", READOUT: "readout", HOST_OUT: "host output"}


def block_label(block: int) -> str:
    """A block's name for people: 'core 3', 'DVS layer', 'readout', 'host output'."""
    block = int(block)
    if 0 <= block < N_CORES:
        return f"core {block}"
    return _LABELS.get(block, f"block {block}")


def sender_rank(block: int) -> int:
    """Rank of a block's output stage in T0's arbitration (the input link has rank 0); the
    readout's, for its tick events, is 12, after every core's."""
    return 1 if block == DVS else 2 + int(block)


#: Per-block statistics, in the order of the engines' `stats[block, column]` arrays, with what
#: each counts.
STATISTICS: tuple[tuple[str, str], ...] = (
    ("events_in", "transfers started into the block's FIFO"),
    ("served", "FIFO events whose service started"),
    ("synops", "SynOps performed (F2)"),
    ("spikes", "spikes fired by neurons (F3, and F4 when leak_can_fire); DVS layer: events surviving F6"),
    ("decimated", "spikes dropped by the output decimator (F5)"),
    ("dropped_out_of_range", "events outside the core's input space (F1); readout: spikes no class reads (F7)"),
    ("congestion_dropped", "transfers dropped by the congestion balancer (T6); readout: tick events lost because "
                           "the last tick's were still unsent (T11)"),
    ("dvs_filtered", "DVS events dropped by polarity or crop (F6)"),
    ("leak_jobs", "leak jobs served (T5)"),
    ("leak_ticks_merged", "slow-clock ticks that found a leak job still waiting (T5)"),
    ("busy_ns", "time serving events or leak jobs, stalls included (ns)"),
    ("stall_ns", "time SynOp completions waited for a full output queue (T4, ns)"),
    ("fifo_max", "most FIFO slots taken at once"),
    ("fifo_area", "integral of FIFO occupancy over time (slot*ns)"),
    ("out_max", "most output-queue slots taken at once"),
    ("copies", "copies made by the output stage (monitor and destinations); readout: tick events sent to the "
               "host (T11)"),
    ("pending", "work left when the run stopped (T12): FIFO slots taken, job in service, leak job waiting, "
                "output-queue spikes; readout: also tick events not sent; host output: also outputs timed after "
                "the end; 0 for a run that ended by itself"),
)
STAT_NAMES: tuple[str, ...] = tuple(name for name, _ in STATISTICS)

#: Per-bin time series, in the order of the engines' `series[column, bin, block]` arrays, with
#: their units.
SERIES: tuple[tuple[str, str], ...] = (
    ("busy_ns", "ns"),
    ("stall_ns", "ns"),
    ("fifo_area", "slot*ns"),
    ("synops", "synops"),
    ("dropped", "events"),
)
SERIES_NAMES: tuple[str, ...] = tuple(name for name, _ in SERIES)
SERIES_UNITS: dict[str, str] = dict(SERIES)

__all__ = ["N_CORES", "DVS", "READOUT", "HOST_OUT", "N_BLOCKS", "N_QUEUED", "BLOCK_NAMES", "block_label",
           "sender_rank", "STATISTICS", "STAT_NAMES", "SERIES", "SERIES_NAMES", "SERIES_UNITS"]
