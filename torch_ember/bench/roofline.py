"""A roofline of the modeled DAE device with each region placed on it by its modeled work and time.

Work is counted in execute-unit instructions (vector and scalar), the unit of the device's compute roof:
each core's execute unit issues one per cycle, so that roof is cores x clock. The memory roof is DRAM
bandwidth x operational intensity (instructions per DRAM byte). FLOPs would hide most of the work here:
embedding kernels spend their instructions on pops, counters and stores as much as on arithmetic.
"""
from __future__ import annotations

from typing import Sequence

from dae_emulator.config import DeviceConfig

from torch_ember.runtime.stats import RegionRecord, op_and_region

_COLORS = {"memory bandwidth": "tab:blue", "memory latency": "tab:orange", "access issue": "tab:green",
           "compute": "tab:red"}
_MARKERS = "osD^v<>pP*Xh"


def plot_roofline(regions: Sequence[RegionRecord], device: DeviceConfig, path: str, title: str = "") -> None:
    """Write a PNG to ``path``: the device's roofs and one point per region (colour: bound, marker: op),
    numbered, with the numbers' regions listed beside the plot. Regions without DRAM traffic have no finite
    intensity and are counted in the caption instead."""
    from matplotlib.figure import Figure   # lazily: matplotlib is needed only for plots; Figure draws with Agg
    from matplotlib.ticker import FuncFormatter, LogLocator

    placed = [r for r in regions if r.dram_bytes and r.execute_ops and r.modeled_seconds]
    peak = device.cores * device.clock_ghz                      # G instructions / s
    intensity = [r.execute_ops / r.dram_bytes for r in placed]
    throughput = [r.execute_ops / r.modeled_seconds / 1e9 for r in placed]
    ridge = peak / device.dram_bandwidth_gbs
    lo, hi = min(intensity + [ridge]) / 10, max(intensity + [ridge]) * 10

    figure = Figure(figsize=(11, 6), layout="constrained")
    ax = figure.add_subplot()
    ax.loglog([lo, ridge, hi], [lo * device.dram_bandwidth_gbs, peak, peak], color="black", linewidth=2)
    ax.annotate(f"DRAM {device.dram_bandwidth_gbs:g} GB/s", (lo * 1.3, lo * 1.3 * device.dram_bandwidth_gbs),
                xytext=(-4, 6), textcoords="offset points", ha="right", fontsize=8)
    ax.annotate(f"execute issue {peak:g} G instr/s ({device.cores} cores x {device.clock_ghz:g} GHz)",
                (ridge * 1.2, peak * 1.1), fontsize=8)
    ops = sorted({op_and_region(r)[0] for r in placed})
    key = []
    for number, (r, x, y) in enumerate(zip(placed, intensity, throughput), start=1):
        op, region = op_and_region(r)
        ax.scatter(x, y, color=_COLORS.get(r.bound, "gray"), marker=_MARKERS[ops.index(op) % len(_MARKERS)],
                   edgecolors="black", linewidths=0.5, s=50, zorder=3)
        ax.annotate(str(number), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
        key.append(f"{number}: {region} ({op}, {r.device})")
    for bound in [b for b in _COLORS if any(r.bound == b for r in placed)]:
        ax.scatter([], [], color=_COLORS[bound], marker="s", label=f"bound: {bound}")
    for k, op in enumerate(ops):
        ax.scatter([], [], color="white", edgecolors="black", marker=_MARKERS[k % len(_MARKERS)], label=op)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("operational intensity (execute instructions / DRAM byte)")
    ax.set_ylabel("modeled throughput (G execute instructions / s)")
    ax.grid(True, which="both", alpha=0.3)
    for axis in (ax.xaxis, ax.yaxis):       # ticks at 1, 2 and 5 of every decade, so a narrow range has several
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    figure.text(1.02, 0.98, "\n".join(key), fontsize=7, va="top", ha="left", family="monospace",
                transform=ax.transAxes)
    missing = len(regions) - len(placed)
    ax.set_title((title or f"DAE device '{device.name}'") +
                 (f"\n({missing} region(s) without DRAM traffic not shown)" if missing else ""), fontsize=10)
    figure.savefig(path, dpi=120, bbox_inches="tight")
