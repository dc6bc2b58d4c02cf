"""``python -m torch_ember.ir WORKLOAD --level N`` prints every stage, and each pass's stage at its level."""
import pytest
from torch_ember.ir.__main__ import WORKLOADS, main


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_prints_each_stage_of_every_workload(workload, capsys):
    assert main([workload, "--level", "3"]) == 0
    out = capsys.readouterr().out
    for stage in ("SLC:", "SLC after vectorize", "SLC after bufferize", "SLC after align_queues", "DLC:",
                  "DLC after unroll", "DAE program:"):
        assert stage in out, stage


def test_level_zero_runs_no_pass(capsys):
    main(["eb", "--level", "0"])
    out = capsys.readouterr().out
    assert "SLC:" in out and "DAE program:" in out and "after" not in out
