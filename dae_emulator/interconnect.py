"""What an all-to-all exchange between devices costs on the interconnect of ``DeviceConfig``.

A bandwidth-and-latency model over the real byte matrix of one exchange (``matrix[i, j]`` bytes from device
``i`` to device ``j``; the diagonal stays on its device and is free): every message is routed over the
topology, each direction of each link carries ``link_bandwidth_gbs``, and the exchange ends when its busiest
link has moved its bytes and the farthest message has crossed its hops. Links stream cut-through, so
latency is paid once per hop, not per message (a ring gives each device two links, a switch one);
per-message software overhead and congestion inside the switch are not modeled, so the time is a lower
bound that real fabrics approach for large messages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dae_emulator.config import DeviceConfig, Topology


@dataclass(frozen=True)
class ExchangeCost:
    """Modeled cost of one all-to-all: its time, the bytes each device moved and the busiest link's load."""

    seconds: float
    bytes_sent: tuple[int, ...]          # per device, to other devices
    bytes_received: tuple[int, ...]
    busiest_link_bytes: int
    hops: int                            # of the farthest message

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_sent)


def _ring(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """Bytes on each directed ring link ([0] clockwise i -> i+1, [1] counter-clockwise i -> i-1), and the
    hops of the farthest message."""
    n = matrix.shape[0]
    loads, hops = np.zeros((2, n)), 0
    for i, j in zip(*np.nonzero(matrix)):
        forward = (j - i) % n
        hops = max(hops, min(forward, n - forward))
        shares = ((1.0, 0.0) if forward < n - forward else (0.0, 1.0) if forward > n - forward else (0.5, 0.5))
        for direction, share in enumerate(shares):
            steps = forward if direction == 0 else n - forward
            step = 1 if direction == 0 else -1
            links = (i + step * np.arange(steps)) % n
            loads[direction, links] += share * matrix[i, j]
    return loads, hops


def all_to_all_cost(matrix: np.ndarray | list, config: DeviceConfig) -> ExchangeCost:
    """Time of one all-to-all whose byte matrix is ``matrix`` on ``config``'s interconnect."""
    matrix = np.asarray(matrix, dtype=np.float64)
    n = matrix.shape[0]
    if matrix.shape != (n, n) or (matrix < 0).any():
        raise ValueError(f"an all-to-all byte matrix must be square and non-negative, got shape {matrix.shape}")
    off = matrix * (1 - np.eye(n))
    sent, received = off.sum(axis=1), off.sum(axis=0)
    if not off.any():
        return ExchangeCost(0.0, tuple(int(b) for b in sent), tuple(int(b) for b in received), 0, 0)
    if config.topology is Topology.SWITCH:
        busiest, hops = max(sent.max(), received.max()), 2
    elif config.topology is Topology.FULLY_CONNECTED:
        busiest, hops = off.max(), 1
    else:
        loads, hops = _ring(off)
        busiest = loads.max()
    seconds = hops * config.link_latency_us * 1e-6 + busiest / (config.link_bandwidth_gbs * 1e9)
    return ExchangeCost(float(seconds), tuple(int(b) for b in sent), tuple(int(b) for b in received), int(busiest),
                        int(hops))
