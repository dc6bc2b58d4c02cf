"""Store placement: a read-modify-write row store's destination row is prefetched by the access unit; the
results do not change, and a scatter whose destinations miss the cache runs faster."""
import dataclasses

import dae_emulator
import torch
from dae_emulator.program import DType, StreamKind
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.dlc import format_dlc
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec, SourceOp
from torch_ember.transforms.dlc import prefetch_stores

MESSAGES = RegionSpec(RegionKind.GATHER_SCATTER, "x", op=SourceOp.INDEX_ADD)
MESSAGE_TYPES = dict(table=DType.F32, src=DType.I64, dst=DType.I64)


def test_the_destination_row_of_a_store_add_is_prefetched_where_its_index_is_loaded():
    before = decouple(region_to_slc(MESSAGES, MESSAGE_TYPES))
    after = format_dlc(prefetch_stores(before))
    assert "prefetch_row" not in format_dlc(before)
    assert [line.strip() for line in after.splitlines() if "prefetch_row" in line] == [
        "stream ahead_out_d = prefetch_row out[d] @t_e"]


def test_stores_without_a_read_and_predicated_tokens_get_no_prefetch():
    bag = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM)
    bag_dlc = decouple(region_to_slc(bag, dict(table=DType.F32, indices=DType.I64, offsets=DType.I64)))
    assert prefetch_stores(bag_dlc) is bag_dlc                      # a plain store of each bag's row
    padded = RegionSpec(RegionKind.EMBEDDING_BACKWARD, "t", padding_idx=0, num_weights=10)
    padded_dlc = decouple(region_to_slc(padded, dict(grad=DType.F32, indices=DType.I64)))
    assert prefetch_stores(padded_dlc) is padded_dlc                # tokens skipped at the padding row


def test_prefetching_destinations_that_miss_the_cache_is_faster_and_changes_no_result():
    g = torch.Generator().manual_seed(0)
    rows, nodes, edges, dim = 4096, 1 << 16, 8192, 64       # destinations far larger than edge's 1 MiB cache
    inputs = {"table": torch.randn(rows, dim, generator=g), "src": torch.randint(0, rows, (edges,), generator=g),
              "dst": torch.randint(0, nodes, (edges,), generator=g)}
    program = compile_region(MESSAGES, MESSAGE_TYPES, dae_emulator.preset("edge"), 3).dae
    assert any(s.kind is StreamKind.PREFETCH_ROW for s in program.streams)
    without = dataclasses.replace(program, streams=tuple(s for s in program.streams
                                                         if s.kind is not StreamKind.PREFETCH_ROW))
    ahead = dae_emulator.run(program, inputs, "edge", sizes={"num_out": nodes})
    behind = dae_emulator.run(without, inputs, "edge", sizes={"num_out": nodes})
    assert torch.equal(ahead.outputs["out"], behind.outputs["out"])
    assert torch.equal(ahead.outputs["out"], torch.zeros(nodes, dim).index_add_(0, inputs["dst"],
                                                                             inputs["table"][inputs["src"]]))
    assert ahead.cost.cycles < 0.8 * behind.cost.cycles
    assert ahead.trace.lookups == behind.trace.lookups == edges      # a prefetch is not a lookup
