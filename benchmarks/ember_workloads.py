"""The workloads of Ember's artifact (``bsc-loca/ember``, ``AE/fig_13.py`` and ``AE/fig_16.py``), generated
from public facts about them, never downloaded, for ``benchmarks/ember_figures.py``.

What is known, and what is assumed where nothing public says:

- **DLRM RM1-3** are DeepRecSys's models (``harvard-acc/DeepRecSys``, ``models/configs/dlrm_rm{1,2,3}.json``):
  RM1 8 tables of 4,000,000 rows x 32, 80 lookups per bag; RM2 32 tables of 500,000 x 64, 120 lookups;
  RM3 10 tables of 2,000,000 x 32, 20 lookups; every bag of fixed length. Every table of a model has the
  same shape and lookup law, so one table stands for the model: its level-to-level ratios are the model's.
  *Assumed*: L0-L2 are the index locality of the artifact's traces, L0 none (uniform draws), L1 some
  (Zipf 0.6), L2 most (Zipf 1.05, the recommender law of ``suite.py``). The artifact's figures show L2
  running fastest at level 3, which fits that reading; nothing public defines them. The batch (bags per
  launch) is not published either; ratios between levels barely depend on it once it fills the queues.
- **SNAP graphs** for message passing (``out[dst] += x[src]``): node and edge counts as SNAP lists them
  (web-Google 875,713 / 5,105,039 directed; com-Youtube 1,134,890 / 2,987,624 undirected; roadNet-CA
  1,965,206 / 2,766,607 undirected; wiki-Talk 2,394,385 / 5,021,410 directed). An undirected edge sends a
  message each way. Degrees: power laws drawn as Chung-Lu graphs (endpoints from Zipf laws over shuffled
  ids), steepest for wiki-Talk (a few talk pages take most messages) and web-Google, milder for
  com-Youtube; roadNet-CA is a road mesh: degrees 1-4 around its mean 2.8, each edge between ids close on
  a grid, so its rows are near each other. Edges come sorted by source, as SNAP's files list them.
  *Assumed*: 32 features per node, as the DLRM rows.
- **OGB graphs** for SpMM (``Y = A X``, GCN-normalized, CSR): ogbn-arxiv 169,343 nodes / 1,166,243
  edges, ogbn-mag's paper citations 736,389 / 5,416,271, ogbn-products 2,449,029 / 61,859,140,
  ogbn-proteins 132,534 / 39,561,252 (from OGB's dataset pages); **KG** scoring lookups on ogbl-biokg
  (93,773 entities, 51 relations) and ogbl-wikikg2 (2,500,604 entities, 535 relations); **emb/blk**: the
  block-sparse attention of ``suite.py`` with 1, 2, 4, 8 key blocks per query block. The artifact gives
  only hand-written against Ember cycles for these (Figure 16).
  *Assumed*: 32 features, a batch of 16,384 triples for KG.

Real sizes take hours with every event timed; ``SCALES`` divides node, edge, row and bag counts (never
degrees, pooling or widths) by a stated factor.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from dae_emulator.config import DeviceConfig
from dae_emulator.synthetic import Locality, lookup_indices

sys.path.insert(0, str(Path(__file__).resolve().parent))     # the suite's builders, beside this script
import suite_workloads as suite  # noqa: E402

SCALES = {"full": 1, "default": 32, "tiny": 4096}
FEATURES = 32


@dataclass(frozen=True)
class DlrmModel:
    name: str
    rows: int
    dim: int
    pooling: int
    tables: int


DLRM = (DlrmModel("RM1", 4_000_000, 32, 80, 8), DlrmModel("RM2", 500_000, 64, 120, 32),
        DlrmModel("RM3", 2_000_000, 32, 20, 10))
LOCALITY = {"L0": None, "L1": 0.6, "L2": 1.05}     # Zipf exponent of the lookups; None: uniform
BAGS = 16_384                                       # bags per launch at full scale (assumed)

# (name, nodes, edges, directed, Zipf exponent of the endpoints; None: a road mesh)
SNAP = (("wiki-Talk", 2_394_385, 5_021_410, True, 1.0), ("roadNet-CA", 1_965_206, 2_766_607, False, None),
        ("com-Youtube", 1_134_890, 2_987_624, False, 0.6), ("web-Google", 875_713, 5_105_039, True, 0.8))
OGB = (("arxiv", 169_343, 1_166_243), ("mag", 736_389, 5_416_271), ("products", 2_449_029, 61_859_140),
       ("proteins", 132_534, 39_561_252))
KG = (("bioKg", 93_773, 51), ("wikiKg2", 2_500_604, 535))
KG_TRIPLES = 16_384
EMB_BLK = (1, 2, 4, 8)


def _scaled(count: int, scale: str, least: int = 16) -> int:
    return max(least, count // SCALES[scale])


def dlrm_workloads(scale: str, device: DeviceConfig):
    """RM1-3 x L0-L2: one table of the model, a batch of fixed-length bags."""
    for model in DLRM:
        for level, alpha in LOCALITY.items():
            def build(model=model, level=level, alpha=alpha):
                gen = torch.Generator().manual_seed(suite._seed(f"{model.name}_{level}"))
                rows, bags = _scaled(model.rows, scale), _scaled(BAGS, scale)
                n = bags * model.pooling
                indices = (lookup_indices(n, rows, Locality.UNIFORM, gen) if alpha is None
                           else lookup_indices(n, rows, Locality.ZIPF, gen, zipf_alpha=alpha))
                offsets = torch.arange(0, n + 1, model.pooling)
                shape = (f"1 of {model.tables} tables, {rows} x {model.dim}, {bags} bags of {model.pooling}, "
                         + ("uniform" if alpha is None else f"Zipf {alpha}"))
                return suite._bag_workload("EB", f"{model.name}_{level}", shape, suite._table(rows, model.dim, gen),
                                           indices, offsets, None, device)
            yield f"{model.name}_{level}", build


def _road_mesh(nodes: int, edges: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges between grid neighbours (right or down) of random nodes: low, even degrees, near ids."""
    side = math.isqrt(nodes)
    u = torch.randint(nodes, (edges,), generator=gen)
    step = torch.where(torch.rand(edges, generator=gen) < 0.5, 1, side)
    v = (u + step) % nodes
    return u, v


def snap_workloads(scale: str, device: DeviceConfig):
    """The four SNAP graphs' message passing, ``out[dst] += x[src]``, edges sorted by source."""
    for name, nodes, edges, directed, alpha in SNAP:
        def build(name=name, nodes=nodes, edges=edges, directed=directed, alpha=alpha):
            gen = torch.Generator().manual_seed(suite._seed(name))
            nodes, edges = _scaled(nodes, scale), _scaled(edges, scale)
            if alpha is None:
                src, dst = _road_mesh(nodes, edges, gen)
            else:
                src, dst = suite._zipf(edges, nodes, alpha, gen), suite._zipf(edges, nodes, alpha, gen)
            if not directed:
                src, dst = torch.cat([src, dst]), torch.cat([dst, src])
            order = torch.argsort(src, stable=True)
            src, dst = src[order], dst[order]
            kind = "directed" if directed else "undirected, a message each way"
            law = "road mesh" if alpha is None else f"Chung-Lu, Zipf {alpha}"
            return suite.message_passing_workload("MP", name, suite._table(nodes, FEATURES, gen), src, dst, device,
                                                  f"{nodes} nodes x {FEATURES}, {edges} edges ({kind}; {law})")
        yield name, build


def ogb_workloads(scale: str, device: DeviceConfig):
    for name, nodes, edges in OGB:
        yield name, lambda name=name, nodes=nodes, edges=edges: suite.spmm_workload(
            "SpMM", name, _scaled(nodes, scale), _scaled(edges, scale), FEATURES, device)


def kg_workloads(scale: str, device: DeviceConfig):
    for name, entities, relations in KG:
        yield name, lambda name=name, entities=entities, relations=relations: suite.kg_workload(
            name, _scaled(entities, scale), relations, FEATURES, _scaled(KG_TRIPLES, scale), device)


def emb_blk_workloads(scale: str, device: DeviceConfig):
    sequences, blocks, dim = suite.SPATTN_SHAPE["tiny" if scale == "tiny" else "full"]
    for k in EMB_BLK:
        yield f"{k}_emb/blk", lambda k=k: suite.spattn_workload(f"{k}_emb/blk", sequences, blocks, dim, k, device)


# Figure 13's workloads (levels 0-3 and hand-written), then Figure 16's others (hand-written and level 3).
FIG13: tuple[Callable, ...] = (dlrm_workloads, snap_workloads)
FIG16_ONLY: tuple[Callable, ...] = (ogb_workloads, kg_workloads, emb_blk_workloads)
