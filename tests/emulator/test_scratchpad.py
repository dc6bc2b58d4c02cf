"""The scratchpad that holds the operand queues, tested by relations (never snapshots): rows that fit keep
the full depth, rows wider than the scratchpad allows shrink it and the launch slows as Little's law says,
narrower pieces restore it, and a program where one entry per queue cannot fit is rejected."""
import dataclasses

import pytest
import torch

import dae_emulator
from dae_emulator.config import preset
from dae_emulator.cost import Bound
from dae_emulator.synthetic import bag_queue_depth, embedding_bag_trace
from dae_emulator.timing import estimate
from dae_emulator.timing.dram import Dram
from dae_emulator.verify import DaeVerifyError

# one core, far DRAM and plenty of request slots and bandwidth: a launch bound by how deep its queues are
LATENCY_BOUND = dataclasses.replace(preset("edge"), max_outstanding=2048, dram_bandwidth_gbs=1024.0,
                                    dram_latency_ns=4000.0)


def bag(config, dim, row_entry=0, num_bags=64, pooling=8):
    depth = bag_queue_depth(dim, row_entry, config.queue_capacity, config.scratchpad_bytes)
    return embedding_bag_trace(num_bags, pooling, dim, 1 << 22, vector_bytes=config.vector_bytes,
                               row_entry=row_entry, queue_depth=depth)


def littles_law_cycles(trace, config):
    """Tokens in flight = depth, each held for a DRAM miss: cycles = tokens * latency / depth."""
    tokens = sum(record.event.numel() for record in trace.tokens)
    return tokens * Dram.from_config(config).miss_latency / trace.queue_depth


def test_rows_that_fit_keep_the_full_depth():
    config = LATENCY_BOUND
    trace = bag(config, dim=config.scratchpad_bytes // (4 * config.queue_capacity))
    assert trace.queue_depth == config.queue_capacity
    record = estimate(trace, config)
    assert record.bound is Bound.MEMORY_LATENCY
    assert record.cycles == pytest.approx(littles_law_cycles(trace, config), rel=0.1)


def test_rows_wider_than_the_scratchpad_shrink_the_depth_and_follow_littles_law():
    config = LATENCY_BOUND
    narrow, wide = bag(config, dim=256), bag(config, dim=1024)     # 16 KiB of queue, then 64 KiB of 16
    assert wide.queue_depth == config.scratchpad_bytes // 4096 < narrow.queue_depth
    record = estimate(wide, config)
    assert record.bound is Bound.MEMORY_LATENCY
    assert record.cycles == pytest.approx(littles_law_cycles(wide, config), rel=0.1)
    per_row = record.cycles / estimate(narrow, config).cycles
    assert per_row == pytest.approx(narrow.queue_depth / wide.queue_depth, rel=0.1)


def test_narrower_buffered_pieces_restore_the_depth():
    config = LATENCY_BOUND
    whole, pieces = bag(config, dim=1024), bag(config, dim=1024, row_entry=256)
    assert pieces.queue_depth == config.queue_capacity > whole.queue_depth
    assert estimate(pieces, config).cycles < 0.5 * estimate(whole, config).cycles


def test_a_larger_scratchpad_lifts_the_limit():
    small = LATENCY_BOUND
    large = dataclasses.replace(small, scratchpad_bytes=4 * small.scratchpad_bytes)
    assert estimate(bag(large, 1024), large).cycles < 0.5 * estimate(bag(small, 1024), small).cycles


def _gather(device, level=2):
    from dae_emulator.program import DType
    from torch_ember.pipeline import compile_region
    from torch_ember.region_spec import RegionKind, RegionSpec, SourceOp
    spec = RegionSpec(RegionKind.GATHER_ROWS, "t", op=SourceOp.INDEX_SELECT)
    return compile_region(spec, {"table": DType.F32, "indices": DType.I64}, device, level).dae


def test_a_row_too_wide_for_one_entry_is_rejected_at_launch_with_bytes_needed_and_held():
    device = preset("edge")
    program, index = _gather(device), torch.tensor([0, 3])
    wide = torch.randn(4, device.scratchpad_bytes // 4 + 16)
    with pytest.raises(DaeVerifyError, match=rf"need {4 * wide.shape[1] + 8} bytes .* holds {device.scratchpad_bytes}"):
        dae_emulator.run(program, {"table": wide, "indices": index}, device)
    fits = torch.randn(4, 64)
    assert torch.equal(dae_emulator.run(program, {"table": fits, "indices": index}, device).outputs["out"], fits[index])
