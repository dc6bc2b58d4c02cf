"""Two spawned gloo ranks on this machine: sharded lookups equal unsharded ones forward and backward under
every kind of plan, and a rank given bad ids fails clearly while the other stops instead of hanging."""
import re

import pytest
from workers import (PLANS, bad_ids_on_rank_1, compare_every_plan, empty_batch_on_rank_0, run_ranks,
                     weights_that_need_a_gradient)

pytestmark = pytest.mark.slow


def test_every_plan_equals_unsharded_forward_and_backward():
    for rank, result in enumerate(run_ranks(compare_every_plan, 2)):
        assert isinstance(result, list), result
        *lines, report = result
        assert len(lines) == len(PLANS)
        for line in lines:
            forward, backward, launches = re.search(r"forward (\S+) backward (\S+) DAE launches (\d+)", line).groups()
            assert float(forward) < 1e-5 and float(backward) < 1e-5, f"rank {rank}: {line}"
            assert int(launches) > 0, f"rank {rank} ran no DAE programs: {line}"
        assert {line.split()[0] for line in lines} == {"table-wise", "row-wise", "column-wise", "planned"}
        assert "['row-wise', 'table-wise']" in lines[-1], "the small-memory plan must split the big table"
        communication = float(re.search(r"modeled communication: (\S+) ms", report).group(1))
        assert communication > 0 and "load imbalance" in report, report


def test_bad_ids_fail_on_their_rank_and_stop_the_other():
    first, second = run_ranks(bad_ids_on_rank_1, 2, deadline_s=60)
    assert second.startswith("error: ValueError: rank 1: index 999 is out of range for table"), second
    assert first.startswith("error: RemoteRankError: rank 1 failed"), first
    assert "index 999" in first


def test_a_rank_with_an_empty_batch_gets_empty_pooled_rows():
    """A global batch smaller than the world, or an uneven last batch: every rank failed with an IndexError
    when a rank with no samples sent to a rank holding two shards or more."""
    first, second = run_ranks(empty_batch_on_rank_0, 2)
    assert first.startswith("shapes [(0, 8), (0, 8), (0, 4), (0, 6)]"), first
    assert second.startswith("shapes [(8, 8), (8, 8), (8, 4), (8, 6)]"), second
    assert float(second.split("forward ")[1]) < 1e-5, second


def test_weights_that_need_a_gradient_are_refused_on_every_rank():
    """They got none: the weights travel to the shards' ranks outside autograd, and w.grad stayed None."""
    for result in run_ranks(weights_that_need_a_gradient, 2, deadline_s=60):
        assert "the weights of table weighted need a gradient" in result, result
