"""``benchmarks/gpu_compare.py`` without a GPU: its correctness checks, its handling of a failing part, the
modeled side read from an earlier run, and its refusal to run the GPU side where there is no GPU."""
import json

import pytest
import torch

import benchmark_script          # tests/benchmarks/benchmark_script.py

gpu_compare = benchmark_script.load("gpu_compare")


def test_relative_difference_and_the_tolerance_check():
    want = torch.tensor([2.0, -4.0])
    assert gpu_compare.relative_difference(want.clone(), want) == 0.0
    assert gpu_compare.relative_difference(torch.tensor([2.0, -3.0]), want) == pytest.approx(0.25)
    assert gpu_compare.checked("ok", 1e-6) == 1e-6
    with pytest.raises(RuntimeError, match="bag: ember-Triton differs from PyTorch on the GPU by 2.50e-01"):
        gpu_compare.checked("bag", 0.25)
    with pytest.raises(RuntimeError):
        gpu_compare.checked("nan", float("nan"))         # a NaN difference is never within tolerance


def test_a_failing_part_is_kept_and_the_next_one_runs(capsys):
    failures = {}
    with gpu_compare.part_of(failures, "gnn"):
        raise RuntimeError("index is on cuda:0, different from other tensors on cpu")
    with gpu_compare.part_of(failures, "moe"):
        pass
    assert failures == {"gnn": "RuntimeError: index is on cuda:0, different from other tensors on cpu"}
    assert "Traceback" in capsys.readouterr().err


def test_the_modeled_side_is_read_only_from_a_run_with_the_same_setting(tmp_path):
    args = gpu_compare.argparse.Namespace(batch=64, dae_device="server", workloads=["dlrm"], dae_json=None)
    earlier = {"dae_setting": {"batch": 64, "dae_device": "server"},
               "workloads": {"dlrm": {"dae_regions_ms": 1.0, "dae_energy_mj": 2.0, "region_bytes": 3}}}
    path = tmp_path / "dae.json"
    path.write_text(json.dumps(earlier))
    args.dae_json = path
    assert gpu_compare.dae_side(args, cases={}) == earlier["workloads"]
    args.batch = 128
    with pytest.raises(SystemExit, match="was run with"):
        gpu_compare.dae_side(args, cases={})
    args.batch, args.workloads = 64, ["dlrm", "gnn"]
    with pytest.raises(SystemExit, match="no modeled results for \\['gnn'\\]"):
        gpu_compare.dae_side(args, cases={})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_without_a_gpu_it_stops_with_status_2_and_says_so(capsys):
    assert gpu_compare.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
