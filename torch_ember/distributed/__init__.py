"""Embedding-bag tables sharded over the ranks of a torch.distributed group, each rank's shards on its own
emulated DAE device, pooled embeddings and their gradients exchanged with real all-to-alls.

    plan = plan_tables(tables, world_size, device, batch_size=global_batch)
    embeddings = ShardedEmbeddingBags(plan, device=device, weights=full_tables)
    pooled = embeddings(KeyedJagged(keys, ids, lengths))      # or a torchrec KeyedJaggedTensor
    print(sharded_report(plan, device))                       # collective
"""
from .comm import RemoteRankError, all_reduce_gradients
from .group import process_group
from .jagged import KeyedJagged, as_keyed_jagged
from .plan import Pooling, Shard, ShardingPlan, ShardKind, TableConfig
from .planner import PlanError, plan_tables, shard_seconds
from .report import ShardedReport, sharded_report
from .sharded import LocalShards, ShardedEmbeddingBags

__all__ = [
    "RemoteRankError", "all_reduce_gradients", "process_group", "KeyedJagged", "as_keyed_jagged", "Pooling",
    "Shard", "ShardingPlan", "ShardKind", "TableConfig", "PlanError", "plan_tables", "shard_seconds",
    "ShardedReport", "sharded_report", "LocalShards", "ShardedEmbeddingBags",
]
