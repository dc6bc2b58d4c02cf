"""The workloads of ``benchmarks/suite.py``: the paper's five families on synthetic data of realistic shape,
each a list of compiled-region launches with its hand-written program's inputs and its roofline terms.

How each family maps onto region kinds:

- **EB** (DLRM embedding bags): ``RegionKind.EMBEDDING_BAG``, sum mode; the medium model's bags carry
  per-sample weights (``has_weights``). Three model sizes (rows x dim) x three pooling levels (mean bag
  length; lengths uniform in ``[1, 2 * pooling - 1]``), a batch of bags, Zipf-distributed indices (a few hot
  rows take most lookups, as in recommender traffic).
- **MP** (message passing): ``RegionKind.GATHER_SCATTER``, ``out[dst[e]] += x[src[e]]`` (GIN / GraphSAGE sum
  aggregation) over a COO edge list in arbitrary order, on power-law graphs (source and destination drawn
  from Zipf laws, so in-degrees are power-law); four sizes.
- **SpMM** (GNN aggregation ``Y = A X``, A in CSR, GCN-normalized): a CSR SpMM *is* an embedding bag with
  per-sample weights, so it is ``RegionKind.EMBEDDING_BAG`` with ``has_weights``: rowptr -> offsets,
  col -> indices, values -> weights, X -> table. Four graphs shaped like common GNN datasets.
- **KG** (knowledge-graph embedding scoring, DistMult / TransE): the lookups only, ``entity[head]``,
  ``relation[rel]``, ``entity[tail]`` per batch of triples, which the backend batches into one
  ``RegionKind.BATCHED`` region of three ``GATHER_ROWS`` parts (``KG_SPEC``: the entity table passed once,
  the three index tensors of one length). The elementwise scoring (``sum(h * r * t)`` or ``-|h + r - t|``)
  stays on the host and is not timed. Two sizes (an FB15k-237-like and a larger Wikidata-like graph).
- **SpAttn** (block-sparse attention): every query block gathers k key-block embeddings (its own block,
  the sequence's global block, then random blocks: a BigBird-like pattern) and pools them:
  ``F.embedding_bag(picks.view(-1, k), table)``, an ``RegionKind.EMBEDDING_BAG`` sum whose offsets the
  graph makes with ``torch.arange(0, n, k)`` (the spec knows them: ``arange``); k = 1, 2, 4, 8. The
  attention arithmetic on the pooled rows stays on the host.
"""
from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

import torch

from dae_emulator.config import DeviceConfig
from dae_emulator.program import DType
from dae_emulator.synthetic import Locality, lookup_indices
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec, SourceOp

F32, I64 = DType.F32, DType.I64
_BAG_DTYPES = dict(table=F32, indices=I64, offsets=I64)


@dataclass(frozen=True)
class Launch:
    """One compiled region of a workload: its spec, the program's inputs and the sizes no input binds."""

    spec: RegionSpec
    dtypes: dict[str, DType]
    inputs: dict[str, torch.Tensor]
    sizes: dict[str, int] = field(default_factory=dict)
    reference: Callable[[], dict[str, torch.Tensor]] | None = None   # eager PyTorch's outputs, by program name


@dataclass(frozen=True)
class Workload:
    family: str
    name: str
    shape: str                          # the sizes, as printed
    launches: tuple[Launch, ...]
    program: str                        # the hand-written program's name in the family's file
    hand_inputs: dict[str, torch.Tensor]
    hand_sizes: dict[str, int]
    hand_outputs: dict[str, tuple[int, str]]   # hand-written output -> (launch, output) it must equal
    min_bytes: int                      # roofline: compulsory DRAM bytes
    min_vector_ops: int                 # roofline: execute vector instructions


def _vectors(dim: int, device: DeviceConfig) -> int:
    return math.ceil(dim / max(device.vector_bytes // 4, 1))


def _distinct_rows(index: torch.Tensor) -> int:
    return int(torch.unique(index).numel())


def _row_bytes(dim: int, line: int = 64) -> int:
    """Bytes of whole cache lines one fp32 row of a line-aligned table spans on average."""
    return math.ceil(4 * dim / line) * line


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _bag_workload(family, name, shape, table, indices, offsets, weights, device, *,
                  program=None, hand_inputs=None, hand_sizes=None, pooling_fixed=False) -> Workload:
    """An embedding-bag-shaped workload (EB, SpMM, SpAttn): one EMBEDDING_BAG sum region. With
    ``pooling_fixed`` every bag holds the same number of rows, and the spec knows the offsets are an arange,
    as the backend's spec of ``F.embedding_bag`` on a 2-D index tensor does."""
    weighted = weights is not None
    pooling = int(offsets[1]) if pooling_fixed else 0
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, name, BagMode.SUM, has_weights=weighted,
                      arange=(("offsets", 0, pooling),) if pooling_fixed else ())
    dtypes = dict(_BAG_DTYPES, **({"weights": F32} if weighted else {}))
    inputs = dict(table=table, indices=indices, offsets=offsets, **({"weights": weights} if weighted else {}))
    bags, dim = offsets.numel() - 1, table.shape[1]

    def reference():
        return {"out": torch.nn.functional.embedding_bag(indices, table, offsets[:-1], mode="sum",
                                                         per_sample_weights=weights)}
    arrays = (indices, weights) if pooling_fixed else (indices, offsets) + ((weights,) if weighted else ())
    min_bytes = _nbytes(*(a for a in arrays if a is not None)) + _distinct_rows(indices) * _row_bytes(dim) \
        + bags * 4 * dim
    vector_ops = indices.numel() * _vectors(dim, device) * (2 if weighted else 1) + bags * _vectors(dim, device)
    return Workload(family, name, shape, (Launch(spec, dtypes, inputs, {}, reference),),
                    program or ("eb_sum_weighted" if weighted else "eb_sum"),
                    hand_inputs if hand_inputs is not None else inputs, hand_sizes or {}, {"out": (0, "out")},
                    min_bytes, vector_ops)


def _seed(name: str) -> int:
    """A seed that does not change between processes (``hash`` of a string does)."""
    return zlib.crc32(name.encode())


def _zipf(n: int, rows: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    return lookup_indices(n, rows, Locality.ZIPF, gen, zipf_alpha=alpha)


def _table(rows: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(rows, dim, generator=gen)


# EB: (model, rows, dim, weighted) x pooling; a batch of bags per table.
EB_MODELS = {"full": (("small", 100_000, 32, False), ("medium", 1_000_000, 64, True), ("large", 2_000_000, 128, False)),
             "tiny": (("small", 500, 16, False), ("medium", 2_000, 32, True), ("large", 4_000, 64, False))}
EB_POOLING = {"full": (2, 16, 64), "tiny": (2, 4, 8)}
EB_BATCH = {"full": 4096, "tiny": 32}


def eb_workloads(scale: str, device: DeviceConfig):
    for model, rows, dim, weighted in EB_MODELS[scale]:
        for pooling in EB_POOLING[scale]:
            def build(model=model, rows=rows, dim=dim, weighted=weighted, pooling=pooling):
                gen = torch.Generator().manual_seed(_seed(f"{model}-{pooling}"))
                batch = EB_BATCH[scale]
                lengths = torch.randint(1, 2 * pooling, (batch,), generator=gen)
                offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
                n = int(offsets[-1])
                indices = _zipf(n, rows, 1.05, gen)
                weights = torch.rand(n, generator=gen) if weighted else None
                shape = (f"{rows} x {dim} table, {batch} bags, pooling ~{pooling} ({n} lookups)"
                         + (", weighted" if weighted else ""))
                return _bag_workload("EB", f"{model}-p{pooling}", shape, _table(rows, dim, gen), indices, offsets,
                                     weights, device)
            yield f"{model}-p{pooling}", build


# Graphs: both endpoints of an edge drawn from a Zipf law of exponent 0.6 over (shuffled) node ids, a
# Chung-Lu graph whose degrees follow a power law of exponent 1 + 1 / 0.6 ~ 2.7, as citation and social
# graphs do (a steeper law would give one hub a tenth of all edges, which real GNN datasets do not have).
GRAPH_ZIPF = 0.6

# MP: (name, nodes, edges), feature width 64 (tiny: 16).
MP_GRAPHS = {"full": (("mp-10k", 10_000, 100_000), ("mp-50k", 50_000, 400_000), ("mp-200k", 200_000, 800_000),
                      ("mp-500k", 500_000, 1_000_000)),
             "tiny": (("mp-a", 200, 1_000), ("mp-b", 400, 2_000), ("mp-c", 800, 2_000), ("mp-d", 1_600, 1_600))}
MP_DIM = {"full": 64, "tiny": 16}


def message_passing_workload(family: str, name: str, x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                             device: DeviceConfig, shape: str) -> Workload:
    """``out[dst[e]] += x[src[e]]`` over the edge list as given: one GATHER_SCATTER region."""
    nodes, dim = x.shape
    spec = RegionSpec(RegionKind.GATHER_SCATTER, name, op=SourceOp.INDEX_ADD, gathered_by=SourceOp.INDEX_SELECT,
                      fused=("index_select", "index_add"))
    inputs = dict(table=x, src=src, dst=dst)
    sizes = {"num_out": nodes}

    def reference():
        return {"out": torch.zeros(nodes, dim).index_add_(0, dst, x[src])}
    launch = Launch(spec, dict(table=F32, src=I64, dst=I64), inputs, sizes, reference)
    min_bytes = _nbytes(src, dst) + (_distinct_rows(src) + _distinct_rows(dst)) * _row_bytes(dim)
    return Workload(family, name, shape, (launch,), "mp_scatter_add", inputs, sizes, {"out": (0, "out")}, min_bytes,
                    src.numel() * _vectors(dim, device))


def mp_workloads(scale: str, device: DeviceConfig):
    for name, nodes, edges in MP_GRAPHS[scale]:
        def build(name=name, nodes=nodes, edges=edges):
            gen = torch.Generator().manual_seed(_seed(name))
            dim = MP_DIM[scale]
            x = _table(nodes, dim, gen)
            src, dst = _zipf(edges, nodes, GRAPH_ZIPF, gen), _zipf(edges, nodes, GRAPH_ZIPF, gen)
            return message_passing_workload("MP", name, x, src, dst, device,
                                            f"{nodes} nodes x {dim}, {edges} edges (power-law, COO in arbitrary order)")
        yield name, build


# SpMM: (name, nodes, nonzeros, dim), shaped like Cora, PubMed, ogbn-arxiv and a larger power-law graph.
SPMM_GRAPHS = {"full": (("cora", 2_708, 10_556, 64), ("pubmed", 19_717, 88_648, 64),
                        ("arxiv", 169_343, 1_166_243, 128), ("powerlaw-500k", 500_000, 1_000_000, 64)),
               "tiny": (("g-a", 100, 400, 16), ("g-b", 200, 1_000, 16), ("g-c", 400, 2_000, 32),
                        ("g-d", 1_000, 1_000, 16))}


def spmm_workload(family: str, name: str, nodes: int, nnz: int, dim: int, device: DeviceConfig) -> Workload:
    """``Y = A X`` on a power-law graph, A in CSR and GCN-normalized: a weighted embedding bag."""
    gen = torch.Generator().manual_seed(_seed(name))
    dst = _zipf(nnz, nodes, GRAPH_ZIPF, gen)           # power-law in-degrees
    col_of = _zipf(nnz, nodes, GRAPH_ZIPF, gen)
    in_degree = torch.bincount(dst, minlength=nodes)
    rowptr = torch.cat([torch.zeros(1, dtype=torch.int64), in_degree.cumsum(0)])
    order = torch.argsort(dst, stable=True)
    col = col_of[order]
    out_degree = torch.bincount(col, minlength=nodes)
    values = (in_degree.repeat_interleave(in_degree).float().clamp(min=1)
              * out_degree[col].float().clamp(min=1)).rsqrt()      # GCN normalization
    shape = f"{nodes} nodes x {dim}, {nnz} nonzeros (CSR, power-law degrees)"
    return _bag_workload(family, name, shape, _table(nodes, dim, gen), col, rowptr, values, device, program="spmm_csr")


def spmm_workloads(scale: str, device: DeviceConfig):
    for name, nodes, nnz, dim in SPMM_GRAPHS[scale]:
        yield name, lambda name=name, nodes=nodes, nnz=nnz, dim=dim: spmm_workload("SpMM", name, nodes, nnz, dim, device)


# KG: (name, entities, relations, dim, triples per batch).
KG_GRAPHS = {"full": (("fb15k-237", 14_541, 237, 200, 65_536), ("wikidata-1m", 1_000_000, 822, 128, 65_536)),
             "tiny": (("kg-a", 300, 11, 24, 256), ("kg-b", 2_000, 30, 32, 512))}


# The region the backend makes of ``entity[head]``, ``relation[rel]``, ``entity[tail]`` (one batch of
# triples, three index tensors of one length): three row gathers batched, the entity table passed once,
# one iteration space (tests/benchmarks/test_suite.py checks that the backend gives this spec).
_GATHER = RegionSpec(RegionKind.GATHER_ROWS, "", op=SourceOp.INDEX)
KG_SPEC = RegionSpec(RegionKind.BATCHED, "3 gathers entity..entity",
                     parts=tuple(dataclasses.replace(_GATHER, table=t) for t in ("entity", "relation", "entity")),
                     shared=(("t2_table", "t0_table"),), same_length=(("t1_indices", "t0_indices"),
                                                                     ("t2_indices", "t0_indices")))


def kg_workload(name: str, entities: int, relations: int, dim: int, triples: int, device: DeviceConfig) -> Workload:
    """A batch of triples' lookups ``entity[head]``, ``relation[rel]``, ``entity[tail]``, Zipf-distributed."""
    gen = torch.Generator().manual_seed(_seed(name))
    entity, relation = _table(entities, dim, gen), _table(relations, dim, gen)
    head, tail = _zipf(triples, entities, 1.0, gen), _zipf(triples, entities, 1.0, gen)
    rel = _zipf(triples, relations, 1.0, gen)
    launch = Launch(KG_SPEC, dict(t0_table=F32, t0_indices=I64, t1_table=F32, t1_indices=I64, t2_indices=I64),
                    dict(t0_table=entity, t0_indices=head, t1_table=relation, t1_indices=rel, t2_indices=tail),
                    {}, lambda: {"t0_out": entity[head], "t1_out": relation[rel], "t2_out": entity[tail]})
    hand_inputs = dict(entity=entity, relation=relation, head=head, rel=rel, tail=tail)
    min_bytes = (_nbytes(head, rel, tail) + (_distinct_rows(torch.cat([head, tail])) + _distinct_rows(rel))
                 * _row_bytes(dim) + 3 * triples * 4 * dim)
    shape = f"{entities} entities, {relations} relations x {dim}, {triples} triples"
    return Workload("KG", name, shape, (launch,), "kg_gather", hand_inputs, {},
                    {"head_rows": (0, "t0_out"), "rel_rows": (0, "t1_out"), "tail_rows": (0, "t2_out")}, min_bytes,
                    3 * triples * _vectors(dim, device))


def kg_workloads(scale: str, device: DeviceConfig):
    for name, entities, relations, dim, triples in KG_GRAPHS[scale]:
        yield name, lambda name=name, entities=entities, relations=relations, dim=dim, triples=triples: kg_workload(
            name, entities, relations, dim, triples, device)


# SpAttn: sequences x blocks per sequence query blocks, one key-block embedding table of the same count.
SPATTN_SHAPE = {"full": (64, 256, 128), "tiny": (4, 16, 16)}     # sequences, blocks per sequence, dim
SPATTN_K = (1, 2, 4, 8)


def spattn_indices(sequences: int, blocks: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """Per query block: its own key block, its sequence's global block 0, then random blocks of the sequence."""
    query = torch.arange(sequences * blocks)
    first = (query // blocks) * blocks
    picks = [query, first] + [first + torch.randint(blocks, (query.numel(),), generator=gen) for _ in range(k - 2)]
    return torch.stack(picks[:k], 1).reshape(-1)


def spattn_workload(name: str, sequences: int, blocks: int, dim: int, k: int, device: DeviceConfig) -> Workload:
    """Every query block pools ``k`` key-block embeddings (``spattn_indices``): a fixed-length bag."""
    gen = torch.Generator().manual_seed(1000 + k)
    num_blocks = sequences * blocks
    table = _table(num_blocks, dim, gen)
    indices = spattn_indices(sequences, blocks, k, gen)
    offsets = torch.arange(0, num_blocks * k + 1, k)
    shape = f"{sequences} sequences x {blocks} blocks, {num_blocks} x {dim} key-block table, k = {k}"
    return _bag_workload("SpAttn", name, shape, table, indices, offsets, None, device,
                         program="spattn_fixed_k", hand_inputs=dict(table=table, indices=indices),
                         hand_sizes={"k": k, "num_blocks": num_blocks}, pooling_fixed=True)


def spattn_workloads(scale: str, device: DeviceConfig):
    sequences, blocks, dim = SPATTN_SHAPE[scale]
    for k in SPATTN_K:
        yield f"k{k}", lambda k=k: spattn_workload(f"k{k}", sequences, blocks, dim, k, device)


BUILDERS = {"eb": eb_workloads, "mp": mp_workloads, "spmm": spmm_workloads, "kg": kg_workloads,
            "spattn": spattn_workloads}


