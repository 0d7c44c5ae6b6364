"""The plot of a what-if sweep: total stall time and p99 input lag against the swept value."""

from __future__ import annotations

from typing import Sequence

from ._base import _empty, _figure, _finish


def _axis_keys(rows: Sequence[dict]) -> list[str]:
    cols = list(rows[0])
    return cols[2:cols.index("input_events")] if "input_events" in cols else cols[2:]


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def sweep_plot(rows: Sequence[dict], *, path=None):
    """Two panels over the first grid axis (`speksim.analysis.sweep.sweep` rows): the stall time
    of the cores and the DVS layer together (ms) and the 99th percentile of the input lag (µs). One line per
    recording and combination of the other axes; each recording's baseline (point 0) is a
    dashed line. A numeric axis is drawn to scale, any other (`off`, `on`) as categories in grid
    order. Points that failed (a deadlock) are left out."""
    fig = _figure(8, 6.5)
    ax_s, ax_l = fig.subplots(2, 1, sharex=True)
    keys = _axis_keys(rows) if rows else []
    good = [r for r in rows if not r.get("error") and r.get("stall_ns") is not None]
    grid = [r for r in good if r["point"] != 0]
    if not keys or not grid:
        _empty(ax_s, "no grid point ran to the end")
        _empty(ax_l, "")
        return _finish(fig, path)
    x_key, others = keys[0], keys[1:]
    order = list(dict.fromkeys(str(r[x_key]) for r in grid))
    numeric = all(_number(v) is not None for v in order)
    pos = {v: (_number(v) if numeric else i) for i, v in enumerate(order)}
    recordings = list(dict.fromkeys(r["recording"] for r in rows))
    lines = {}
    for r in grid:
        lines.setdefault((r["recording"],) + tuple(str(r[k]) for k in others), []).append(r)
    for i, (group, members) in enumerate(lines.items()):
        members = sorted(members, key=lambda r: pos[str(r[x_key])])
        xs = [pos[str(r[x_key])] for r in members]
        parts = ([group[0]] if len(recordings) > 1 else []) + [f"{k}={v}" for k, v in zip(others, group[1:])]
        label = ", ".join(parts) or None
        lag = [r["lag_p99_ns"] / 1e3 if r["lag_p99_ns"] is not None else float("nan") for r in members]
        # lines often coincide (a setting that changes nothing): smaller markers and other dashes
        # on top keep each one visible
        style = dict(color=f"C{i}", label=label, marker="osD^v"[i % 5], ms=8 - 2 * (i % 3),
                     ls=("-", "--", ":")[i % 3], mfc="none" if i % 2 else f"C{i}")
        ax_s.plot(xs, [r["stall_ns"] / 1e6 for r in members], **style)
        ax_l.plot(xs, lag, **style)
    for j, name in enumerate(recordings):
        base = next((r for r in good if r["point"] == 0 and r["recording"] == name), None)
        if base is None:
            continue
        label = f"baseline ({x_key}={base[x_key]})" + (f", {name}" if len(recordings) > 1 else "")
        ax_s.axhline(base["stall_ns"] / 1e6, color="0.4", ls=("--", ":", "-.")[j % 3], lw=1, label=label)
        if base["lag_p99_ns"] is not None:
            ax_l.axhline(base["lag_p99_ns"] / 1e3, color="0.4", ls=("--", ":", "-.")[j % 3], lw=1, label=label)
    ax_s.set_ylabel("stall time, cores and DVS layer (ms)")
    ax_l.set_ylabel("input lag p99 (µs)")
    ax_l.set_xlabel(x_key)
    if not numeric:
        ax_l.set_xticks(range(len(order)), order)
    for ax in (ax_s, ax_l):
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
    ax_s.legend(fontsize="small")
    ax_s.set_title(f"Sweep of {x_key}: stall time and input lag")
    return _finish(fig, path)


__all__ = ["sweep_plot"]
