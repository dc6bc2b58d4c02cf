"""Machine description of an emulated DAE device and its named presets.

A device is ``cores`` DAE cores, each an access unit (traversal units, memory streams, queues) paired with
an execute unit (a vector core), sharing a last-level cache and DRAM. The timing models read every field
the same way: the access unit issues one cache-line request per cycle with at most ``max_outstanding`` in
flight, reserves queue entries for its tokens (``queue_capacity`` tokens, each carrying its operand), the
execute unit issues one instruction per cycle, and DRAM serves lines at ``dram_bandwidth_gbs`` after
``dram_latency_ns``.

Why the presets hold the values they do (from public descriptions of such machines):

``server`` (the default): a many-core server CPU whose cores each carry a near-core access unit, the setting
in which TMU (MICRO 2023) was evaluated and which Ember (CGO 2026) compiles for.
  - clock_ghz=2.0, cores=32: the sustained all-core clock and core count of a mid-size server part.
  - queue_capacity=64, max_outstanding=64: TMU feeds the core through queues deep enough to cover DRAM
    latency; 64 outstanding lines per core is the order of the L2 miss-handling registers of current
    server cores, well above the ~13 lines one core needs in flight (its share of bandwidth times
    latency: 8 GB/s * 100 ns / 64 B), so cold lookups are bandwidth bound, as decoupling intends.
  - vector_bytes=64: 512-bit SIMD (AVX-512 / SVE-512), the vector width of server cores TMU marshals for.
  - cache_bytes=32 MiB, cache_ways=16, line_bytes=64, cache_latency_cycles=40: a shared last-level cache of
    1 MiB per core, 16 ways and 64-byte lines as on x86 and Arm server parts, hit latency of a mesh LLC.
  - dram_bandwidth_gbs=256, dram_latency_ns=100: eight DDR5-4800 channels peak at 307 GB/s and stream at
    about 80-85% of that; idle load-to-use latency on such parts is about 100 ns.
  - traversal_units=8, queues=16, scratchpad_bytes=64 KiB: enough layers for the nested dense / range
    loops of Ember's kernels (an embedding bag needs two) with several tables batched in one region, and a
    small buffer for compound rows, as in TMU's multi-lane design.
  - energies: DDR5 moves data at about 15 pJ/bit with I/O (120 pJ/B); reading a 64-byte line from a large
    SRAM LLC costs about 100 pJ; a queue entry is a small register-file write and read (2 pJ); a 512-bit
    vector op with its register traffic about 10 pJ and a scalar op about 2 pJ; 30 W static is the
    leakage and uncore share (about 15%) of a 200 W 32-core package.

``edge``: one core of a mobile / embedded SoC with the same access unit, scaled down.
  - clock_ghz=1.0, cores=1: a small in-order core's clock.
  - queue_capacity=16, max_outstanding=16: a small core's miss handling, below this core's
    latency-bandwidth product (12.8 GB/s * 120 ns / 64 B = 24 lines), so cold lookups on the edge device
    are latency bound: the trade-off small cores make.
  - vector_bytes=16: 128-bit NEON.
  - cache_bytes=1 MiB, cache_ways=8, cache_latency_cycles=20: a typical mobile shared L2/L3.
  - dram_bandwidth_gbs=12.8, dram_latency_ns=120: one 32-bit LPDDR4X-3200 channel (12.8 GB/s); LPDDR's
    latency is above server DDR's.
  - traversal_units=4, queues=8, scratchpad_bytes=16 KiB: half the server's loop layers and queues.
  - energies: LPDDR4X about 5 pJ/bit (40 pJ/B); a 64-byte read of a 1 MiB SRAM about 40 pJ; 1 pJ per
    queue entry; a 128-bit vector op about 3 pJ, a scalar op about 1 pJ; 0.5 W static for one core and
    its cache.

``tmu``: the machine of Ember's gem5 artifact (``bsc-loca/ember``, AE/): an Arm-class out-of-order core fed by
a TMU-style access unit, which runs callbacks as software. Only what ``benchmarks/ember_figures.py`` compares
(cycle ratios between code versions) was held against anything; its energies were not. Sources per field:
  - vector_bytes=64: the artifact's vectorized embedding bag (tests/eb_slc_O3.mlir) works on vector<8xf64>.
  - line_bytes=64, cache_bytes=1 MiB, cache_ways=8, cache_latency_cycles=11: the private L2 of an Arm
    Neoverse N1 core as Arm describes it (up to 1 MiB, 8 ways, 64-byte lines, 9-11 cycles to use).
  - scalar_issue_width=2: a Neoverse core's two FP/ASIMD pipes, where scalar floating-point adds issue;
    its vectors of the full width still issue one a cycle here.
  - out_of_order_execute=True: the core's reorder window overlaps the loads of its read-modify-writes (Ember's
    callbacks add into the output through memory) with the callbacks after them.
  - cores=1: the artifact counts the cycles of a DAE core's run (its Figure 14 gives that core's compute and
    access throughput); the core's share of the memory system is dram_bandwidth_gbs.
  - clock_ghz=2.0, dram_latency_ns=100, queue_capacity=64, traversal_units=8, queues=16, scratchpad 64 KiB:
    not published for the artifact; the server preset's values (Neoverse parts run at 2.6-3.3 GHz, so 2.0
    makes DRAM latency a little shorter in cycles than on them). Energies: the server's per event, and its
    static power per core (30 W / 32).
  - Fitted, by ``python benchmarks/ember_figures.py --fit`` on RM1_L0, RM1_L1 and RM1_L2 only, running
    Ember's code of each level (``benchmarks/ember_code/``), to the mean |log| of their O1/O0, O2/O0 and
    O3/O0 against gem5's (0.200 at the best point of a 3 x 3 x 3 x 3 grid whose low ends are physical
    limits: four pops a cycle on a 4-wide core, 6.4 GB/s, one core's share of eight DDR4-3200 channels
    shared by 32 cores):
    dram_bandwidth_gbs=6.4 (grid 6.4, 12.8, 25.6), max_outstanding=16 (grid 16, 32, 64),
    queue_pop_cycles=0.25 (grid 0.25, 0.5, 1), callback_dispatch_cycles=1 (grid 0, 1, 2). The fit is flat
    in the last two (0.200-0.202 over them): RM1 is memory-bound from level 0 on, so only the memory side
    is identified, and that is what it chose. ``docs/ember_figures.md`` says what this does to the
    held-out workloads.

Scale-out fields (``torch_ember.distributed`` and ``dae_emulator.interconnect`` read them; one device's
timing never does). They came after the others, so they have defaults, the same for both presets:
  - memory_bytes=256 GiB: the DRAM one device holds tables in, eight channels of 32 GiB DDR5 DIMMs on a
    server part; the sharding planner keeps every device's shards under it.
  - link_bandwidth_gbs=25, link_latency_us=2: each device reaches the others through one 200 Gb/s NIC
    (InfiniBand HDR or 200 GbE with RDMA), 25 GB/s each way, the per-node network of recommender training
    clusters; an RDMA message crosses one switch in about 2 us one way.
  - topology=switch: every link goes into one non-blocking switch, as in a single-tier fabric.
"""
from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass, fields
from typing import Any

import numpy as np


class Topology(str, enum.Enum):
    """How devices' links connect; a ``str`` so a config still round-trips through JSON."""

    SWITCH = "switch"                     # one full-duplex link per device into a non-blocking switch
    RING = "ring"                         # a bidirectional ring, messages take the shorter way
    FULLY_CONNECTED = "fully connected"   # a full-duplex link between every pair (NVLink-style mesh)


# A numeric field's kind, as its annotation names it (``from __future__ import annotations``: a string); the
# Python type its values are kept as, and the numbers it accepts (numpy's among them: tuners hand them out).
_NUMBER_KINDS = {"int": (int, numbers.Integral), "float": (float, numbers.Real)}


def _typed(name: str, kind: str, value: Any) -> Any:
    """``value`` as a Python number of field ``name``'s ``kind``; a ValueError naming the field otherwise (a bool
    is not a number here, nor is a string)."""
    python_type, accepted = _NUMBER_KINDS[kind]
    if isinstance(value, accepted) and not isinstance(value, (bool, np.bool_)):
        return python_type(value)
    raise ValueError(f"DeviceConfig.{name} must be {'an int' if kind == 'int' else 'a number'}, got {value!r}")


@dataclass(frozen=True)
class DeviceConfig:
    """One DAE device. Energies are per event, in picojoules; ``energy_static_w`` is in watts.

    ``energy_scalar_op_pj`` and the scale-out fields (``memory_bytes``, ``link_*``, ``topology``) came
    after the others and have defaults so that configs written before them still construct.
    """

    name: str
    clock_ghz: float
    cores: int
    queue_capacity: int
    max_outstanding: int
    vector_bytes: int
    cache_bytes: int
    cache_ways: int
    line_bytes: int
    dram_bandwidth_gbs: float
    dram_latency_ns: float
    cache_latency_cycles: int
    traversal_units: int
    queues: int
    scratchpad_bytes: int
    energy_dram_pj_per_byte: float
    energy_cache_pj_per_access: float
    energy_queue_pj_per_entry: float
    energy_vector_op_pj: float
    energy_static_w: float
    energy_scalar_op_pj: float = 1.0
    memory_bytes: int = 256 * 2**30
    link_bandwidth_gbs: float = 25.0
    link_latency_us: float = 2.0
    topology: Topology = Topology.SWITCH
    # execute-unit cycles to dispatch one callback: pop its token and branch to its handler. A core that
    # runs callbacks as software (an out-of-order core fed by a TMU-style access unit) pays this per token;
    # 0 where the execute unit sequences callbacks in hardware, as both presets model
    callback_dispatch_cycles: float = 0.0
    # execute-unit cycles to pop one operand entry off a queue (a load from the access unit's queue interface
    # into a register): 1 where a pop issues like any other instruction, as both presets model; less where
    # pops issue several a cycle (an out-of-order core's load pipes), more where the interface is slower
    queue_pop_cycles: float = 1.0
    # scalar instructions (other than pops) the execute unit issues per cycle: 1 in both presets, whose
    # execute unit issues one instruction per cycle; an out-of-order core issues scalar arithmetic to several
    # pipes at once, while its vector instructions still issue one per cycle
    scalar_issue_width: float = 1.0
    # whether the execute unit runs on while its own loads (the reads of read-modify-writes) are out: false in
    # both presets, whose in-order execute unit waits for them; true for an out-of-order core, whose reorder
    # window overlaps them with the callbacks that follow
    out_of_order_execute: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "topology", Topology(self.topology))
        except ValueError:
            raise ValueError(f"DeviceConfig.topology must be one of {[t.value for t in Topology]}, "
                             f"got {self.topology!r}") from None
        for f in fields(self):
            if f.type in _NUMBER_KINDS:
                object.__setattr__(self, f.name, _typed(f.name, f.type, getattr(self, f.name)))
            value = getattr(self, f.name)
            if f.name == "callback_dispatch_cycles":
                if not value >= 0:
                    raise ValueError(f"DeviceConfig.{f.name} must be zero or positive, got {value!r}")
            elif f.name == "out_of_order_execute":
                if not isinstance(value, (bool, np.bool_)):
                    raise ValueError(f"DeviceConfig.{f.name} must be True or False, got {value!r}")
                object.__setattr__(self, f.name, bool(value))
            elif f.name == "name":
                if not isinstance(value, str):
                    raise ValueError(f"DeviceConfig.name must be a str, got {value!r}")
            elif f.name != "topology" and not value > 0:
                raise ValueError(f"DeviceConfig.{f.name} must be positive, got {value!r}")
        if self.cache_bytes % (self.line_bytes * self.cache_ways):
            raise ValueError("cache_bytes must be a multiple of line_bytes * cache_ways")

    @property
    def vector_lanes_fp32(self) -> int:
        return self.vector_bytes // 4


PRESETS: dict[str, DeviceConfig] = {
    "server": DeviceConfig(
        name="server", clock_ghz=2.0, cores=32, queue_capacity=64, max_outstanding=64, vector_bytes=64,
        cache_bytes=32 * 2**20, cache_ways=16, line_bytes=64, dram_bandwidth_gbs=256.0, dram_latency_ns=100.0,
        cache_latency_cycles=40, traversal_units=8, queues=16, scratchpad_bytes=64 * 2**10,
        energy_dram_pj_per_byte=120.0, energy_cache_pj_per_access=100.0, energy_queue_pj_per_entry=2.0,
        energy_vector_op_pj=10.0, energy_static_w=30.0, energy_scalar_op_pj=2.0,
    ),
    "edge": DeviceConfig(
        name="edge", clock_ghz=1.0, cores=1, queue_capacity=16, max_outstanding=16, vector_bytes=16,
        cache_bytes=2**20, cache_ways=8, line_bytes=64, dram_bandwidth_gbs=12.8, dram_latency_ns=120.0,
        cache_latency_cycles=20, traversal_units=4, queues=8, scratchpad_bytes=16 * 2**10,
        energy_dram_pj_per_byte=40.0, energy_cache_pj_per_access=40.0, energy_queue_pj_per_entry=1.0,
        energy_vector_op_pj=3.0, energy_static_w=0.5, energy_scalar_op_pj=1.0,
    ),
    "tmu": DeviceConfig(
        name="tmu", clock_ghz=2.0, cores=1, queue_capacity=64, max_outstanding=16, vector_bytes=64,
        cache_bytes=2**20, cache_ways=8, line_bytes=64, dram_bandwidth_gbs=6.4, dram_latency_ns=100.0,
        cache_latency_cycles=11, traversal_units=8, queues=16, scratchpad_bytes=64 * 2**10,
        energy_dram_pj_per_byte=120.0, energy_cache_pj_per_access=100.0, energy_queue_pj_per_entry=2.0,
        energy_vector_op_pj=10.0, energy_static_w=30.0 / 32, energy_scalar_op_pj=2.0,
        callback_dispatch_cycles=1.0, queue_pop_cycles=0.25, scalar_issue_width=2.0, out_of_order_execute=True,
    ),
}


def preset(name: str) -> DeviceConfig:
    """The preset called ``name``; a ``ValueError`` lists the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown DAE device preset {name!r}; known presets: {', '.join(PRESETS)}") from None
