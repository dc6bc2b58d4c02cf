"""The fast model's DRAM bus calendar against a literal one: a request takes the first bucket at or after its
arrival that has room, whatever order the requests come in."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dae_emulator.timing.dram import Dram, bucket_capacity, bus_transfer


def literal_bus(arrivals, buckets, width, transfer, capacity):
    """Per request, when its transfer ends: a scan over per-bucket counts (the last bucket never fills)."""
    fill, ends = [0] * buckets, []
    for arrival in arrivals:
        bucket = min(int(arrival / width), buckets - 1)
        while bucket < buckets - 1 and fill[bucket] >= capacity:
            bucket += 1
        ends.append(max(arrival, bucket * width + fill[bucket] * transfer) + transfer)
        fill[bucket] += 1
    return ends


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.floats(0, 3000, allow_nan=False), min_size=1, max_size=400),
    transfer=st.sampled_from([0.5, 2.0, 3.0]),
    max_buckets=st.sampled_from([1 << 20, 700, 64]),
)
def test_the_calendar_serves_out_of_order_requests_as_a_literal_bus_does(arrivals, transfer, max_buckets):
    dram = Dram(latency_cycles=100.0, transfer_cycles=transfer, cache_latency_cycles=10.0)
    horizon = 3000 + transfer * len(arrivals) / 2      # too short for every request: the last bucket overflows
    fill, full, width = dram.calendar(horizon, dram.bucket_width(horizon, max_buckets))   # fewer buckets: each holds several
    capacity = bucket_capacity(width, transfer)
    got = [bus_transfer(fill, full, width, transfer, capacity, a) for a in arrivals]
    assert np.allclose(got, literal_bus(arrivals, fill.size, width, transfer, capacity))
