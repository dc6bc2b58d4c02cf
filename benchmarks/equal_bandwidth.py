"""The DAE-versus-GPU comparison of ``docs/gpu_results.md`` redone at equal memory bandwidth, on the CPU.

    python benchmarks/equal_bandwidth.py          # about a minute on a 2-core machine

``docs/gpu_results.md`` compares the ``server`` preset (256 GB/s of DRAM) with an H200 (4.8 TB/s of HBM), so
memory decides it. This script reads the H200's measured region-kernel times and board power from that
document (its workloads table, and the HBM peak NVML reported), models the same training steps
(``gpu_compare.py``'s workloads, one step after a compiling one) on two DAE devices:

- ``server`` as it is (the document's DAE side), and
- ``server`` with its DRAM bandwidth raised to the H200's HBM peak and nothing else changed: the same 32
  cores at 2 GHz, 64 request slots per core, 100 ns DRAM latency, cache and energy per byte,

and prints, per workload and device, the DAE/GPU speedup (GPU region-kernel time over modeled DAE region
time) and performance per watt (GPU region energy, kernel time times board power, over modeled DAE
energy). It then says whether the bandwidth-latency product of the scaled device can be covered by its
request slots (Little's law), which decides how much of the bandwidth a latency-bound program can use.
The last line gives the equal-bandwidth range and the verdict on Ember's abstract's claims (2.6x the
performance and 6.4x the performance per watt of GPUs), for this device model and this GPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))     # gpu_compare beside this script
from gpu_compare import dae_workload, workloads  # noqa: E402

import dae_emulator  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "gpu_results.md"
CLAIMED_SPEEDUP, CLAIMED_PERF_PER_WATT = 2.6, 6.4      # Ember's abstract, over GPUs
_NAMES = {"DLRM": "dlrm", "GNN": "gnn", "MoE": "moe"}


@dataclasses.dataclass(frozen=True)
class Measured:
    """One workload's row of the document's table: the H200's region kernels in one training step."""

    region_ms: float
    board_w: float

    @property
    def energy_mj(self) -> float:
        return self.region_ms * self.board_w


def measured(text: str) -> tuple[dict[str, Measured], float]:
    """The document's workloads (by ``gpu_compare`` name) and the HBM peak in GB/s."""
    peak = float(re.search(r"HBM peak (\d+) GB/s", text).group(1))
    header = next(line for line in text.splitlines() if line.startswith("| workload |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    ms, watts = columns.index("of which region kernels ms"), columns.index("board W")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].split(" ")[0] if cells else ""
        if line.startswith("| ") and name in _NAMES and len(cells) == len(columns):
            rows[_NAMES[name]] = Measured(float(cells[ms]), float(cells[watts]))
    return rows, peak


def lines_in_flight_needed(device: dae_emulator.DeviceConfig) -> float:
    """Little's law: the cache lines that must be in flight to keep the DRAM busy."""
    return device.dram_bandwidth_gbs * device.dram_latency_ns / device.line_bytes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=sorted(_NAMES.values()), default=["dlrm", "gnn", "moe"])
    parser.add_argument("--batch", type=int, default=8192, help="as the document's run (DLRM bags per table)")
    args = parser.parse_args(argv)

    gpu, peak = measured(RESULTS.read_text())
    server = dae_emulator.preset("server")
    scaled = dataclasses.replace(server, name=f"server at {peak:g} GB/s", dram_bandwidth_gbs=peak)
    cases = workloads(args.batch)
    print(f"GPU side: measured on an H200 ({RESULTS.name}); DAE side: modeled, regions only, one training step")
    print(f"{'workload':<9} {'DAE device':<24} {'GPU ms':>7} {'DAE ms':>8} {'speedup':>8} {'GPU mJ':>7} "
          f"{'DAE mJ':>8} {'perf/W':>7}")
    at_equal = []
    for name in args.workloads:
        for device in (server, scaled):
            dae = dae_workload(cases[name], device)
            speedup = gpu[name].region_ms / dae["dae_regions_ms"]
            per_watt = gpu[name].energy_mj / dae["dae_energy_mj"]
            if device is scaled:
                at_equal.append((speedup, per_watt))
            print(f"{name:<9} {device.name:<24} {gpu[name].region_ms:>7.3f} {dae['dae_regions_ms']:>8.3f} "
                  f"{speedup:>7.2f}x {gpu[name].energy_mj:>7.1f} {dae['dae_energy_mj']:>8.1f} {per_watt:>6.2f}x",
                  flush=True)
    needed, slots = lines_in_flight_needed(scaled), scaled.cores * scaled.max_outstanding
    print(f"Little's law at {peak:g} GB/s and {scaled.dram_latency_ns:g} ns: {needed:,.0f} lines in flight keep "
          f"the DRAM busy; the device has {slots:,} request slots ({scaled.cores} cores x "
          f"{scaled.max_outstanding}), so a program that waits on each line's latency uses at most "
          f"{min(1.0, slots / needed):.0%} of the bandwidth")
    low = min(s for s, _ in at_equal), max(s for s, _ in at_equal)
    watt = min(w for _, w in at_equal), max(w for _, w in at_equal)
    verdict = ("reproduced" if low[0] >= CLAIMED_SPEEDUP and watt[0] >= CLAIMED_PERF_PER_WATT else
               "not reproduced")
    print(f"at equal bandwidth: DAE/GPU speedup {low[0]:.2f}-{low[1]:.2f}x, performance per watt "
          f"{watt[0]:.2f}-{watt[1]:.2f}x; Ember's {CLAIMED_SPEEDUP}x and {CLAIMED_PERF_PER_WATT}x over GPUs: "
          f"{verdict} by this device model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
