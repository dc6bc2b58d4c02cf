"""Programs written by the dae_agent and verified by the emulator, used in place of the compiler's.

With ``options={"agent_library": path}`` (a JSON library saved by ``python -m dae_agent run
--save-library``), a region whose op has an agent benchmark task runs the agent's program when
``dae_agent.switch.faster_program`` re-verifies it against the task and it models fewer cycles than the
compiled program; otherwise the compiled program runs.
"""
from __future__ import annotations

import dataclasses

from dae_emulator.program import DType, Program
from dae_emulator.text import format_program, parse_program

from ..region_spec import BagMode, RegionKind, RegionSpec

# the dtypes the agent's tasks are written for
TASK_DTYPES = dict(table=DType.F32, grad=DType.F32, weights=DType.F32, indices=DType.I64, offsets=DType.I64,
                   bag_size=DType.I64, max_indices=DType.I64)

# benchmark task -> the region the compiler lowers for the same PyTorch op (table named "t")
TASK_REGIONS = {
    "gather_rows": RegionSpec(RegionKind.EMBEDDING, "t"),
    "scatter_add_rows": RegionSpec(RegionKind.EMBEDDING_BACKWARD, "t", num_weights=16),
    "bag_sum": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM),
    "bag_sum_weighted": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True),
    "bag_sum_padding_idx": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, padding_idx=2),
    "bag_mean": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MEAN),
    "bag_mean_padding_idx": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MEAN, padding_idx=2),
    "bag_max_argmax": RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MAX),
}


def task_for(spec: RegionSpec, dtypes: dict[str, DType]) -> str | None:
    """The agent task that computes exactly what ``spec`` does with these input dtypes, if any."""
    if any(TASK_DTYPES.get(name) is not dtype for name, dtype in dtypes.items()):
        return None
    generic = dataclasses.replace(spec, table="t")
    return next((task for task, region in TASK_REGIONS.items() if region == generic), None)


def agent_program(spec: RegionSpec, dtypes: dict[str, DType], compiled: Program, library: str,
                  device: str) -> Program | None:
    """The library's verified program for this region when it models faster than ``compiled``."""
    from dae_agent.switch import faster_program      # only when a library is asked for
    task = task_for(spec, dtypes)
    if task is None:
        return None
    text = faster_program(task, format_program(compiled), library, device)
    return parse_program(text) if text is not None else None
