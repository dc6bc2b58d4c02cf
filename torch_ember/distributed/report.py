"""The per-rank report of a sharded run: modeled DAE time of each rank's lookups, what each rank moved in
all-to-alls, what the interconnect takes for it, and how uneven the ranks' work is.

Gathered from every rank (a collective). A rank's DAE time comes from its own ``torch_ember.report()``; the
communication time is that of every recorded all-to-all on the device's interconnect
(``dae_emulator.interconnect``), each from the byte matrix of all ranks' records of that exchange.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch.distributed as dist

from dae_emulator.config import DeviceConfig
from dae_emulator.interconnect import all_to_all_cost

from ..runtime.stats import Exchange, ExchangeRecord
from ..session import current_session


@dataclass(frozen=True)
class RankReport:
    rank: int
    shard_bytes: int
    launches: int
    lookups: int
    dae_seconds: float           # modeled, all of this rank's DAE launches
    bytes_sent: int              # all-to-all bytes to other ranks
    bytes_received: int


@dataclass(frozen=True)
class ShardedReport:
    ranks: tuple[RankReport, ...]
    device: DeviceConfig
    exchanges: int
    communication_seconds: float                   # modeled, all exchanges one after another
    bytes_by_kind: tuple[tuple[str, int], ...]     # all ranks' all-to-all bytes per exchange kind

    @property
    def imbalance(self) -> float:
        """Slowest rank's DAE time over the mean, minus one (0 is perfectly even)."""
        times = [r.dae_seconds for r in self.ranks]
        mean = sum(times) / len(times)
        return max(times) / mean - 1 if mean else 0.0

    @property
    def step_seconds(self) -> float:
        """Slowest rank's lookups plus the exchanges, with no overlap between them."""
        return max(r.dae_seconds for r in self.ranks) + self.communication_seconds

    def __str__(self) -> str:
        d = self.device
        head = (f"{'rank':>4}  {'shard MiB':>9}  {'launches':>8}  {'lookups':>9}  {'DAE ms':>9}  {'a2a sent':>10}  "
                f"{'a2a recv':>10}")
        lines = [head, "-" * len(head)]
        for r in self.ranks:
            lines.append(f"{r.rank:>4}  {r.shard_bytes / 2**20:>9.2f}  {r.launches:>8}  {r.lookups:>9}  "
                         f"{r.dae_seconds * 1e3:>9.4f}  {r.bytes_sent:>10}  {r.bytes_received:>10}")
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.bytes_by_kind)
        lines += [
            f"all-to-all: {self.exchanges} exchange(s), bytes by kind: {kinds}",
            f"modeled communication: {self.communication_seconds * 1e3:.4f} ms on {d.topology.value}, "
            f"{d.link_bandwidth_gbs:g} GB/s links, {d.link_latency_us:g} us per hop",
            f"load imbalance (slowest rank's DAE time / mean - 1): {self.imbalance:.1%}",
            f"modeled time, slowest rank's lookups + communication, no overlap: {self.step_seconds * 1e3:.4f} ms",
        ]
        return "\n".join(lines)


def communication(records_by_rank: Sequence[Sequence[ExchangeRecord]], device: DeviceConfig):
    """Total modeled seconds, bytes sent and received per rank, and bytes per kind, of aligned records."""
    world = len(records_by_rank)
    seconds, sent, received = 0.0, np.zeros(world), np.zeros(world)
    by_kind = {k.value: 0 for k in Exchange}
    for calls in zip(*records_by_rank):
        matrix = np.array([call.sent for call in calls], dtype=np.float64)
        cost = all_to_all_cost(matrix, device)
        seconds += cost.seconds
        sent += cost.bytes_sent
        received += cost.bytes_received
        by_kind[calls[0].kind.value] += cost.total_bytes
    return seconds, sent, received, by_kind


def sharded_report(plan, device: DeviceConfig, group=None) -> ShardedReport:
    """Collective: gather every rank's DAE statistics and exchange records into one report."""
    session = current_session()
    total = session.stats.report().total()
    mine = (total.launches, total.lookups, total.modeled_seconds, session.exchanges.records())
    gathered = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, mine, group=group)
    records = [g[3] for g in gathered]
    if len({len(r) for r in records}) != 1:
        raise RuntimeError(f"ranks recorded different numbers of exchanges {[len(r) for r in records]}; "
                           f"reset the log on every rank together")
    seconds, sent, received, by_kind = communication(records, device)
    ranks = tuple(RankReport(rank, plan.bytes_on(rank), g[0], g[1], g[2], int(sent[rank]), int(received[rank]))
                  for rank, g in enumerate(gathered))
    return ShardedReport(ranks, device, len(records[0]), seconds, tuple(by_kind.items()))
