"""``benchmarks/equal_bandwidth.py``: the H200's measurements read from ``docs/gpu_results.md``, the modeled
side of the document reproduced on the ``server`` preset, and the verdict line in its format."""
import re

import pytest

import benchmark_script          # tests/benchmarks/benchmark_script.py

equal_bandwidth = benchmark_script.load("equal_bandwidth")

LAST_LINE = re.compile(r"at equal bandwidth: DAE/GPU speedup (\d+\.\d+)-(\d+\.\d+)x, performance per watt "
                       r"(\d+\.\d+)-(\d+\.\d+)x; Ember's 2\.6x and 6\.4x over GPUs: (reproduced|not reproduced) "
                       r"by this device model")


def test_the_document_s_measurements_are_read():
    gpu, peak = equal_bandwidth.measured(equal_bandwidth.RESULTS.read_text())
    assert peak == 4814 and set(gpu) == {"dlrm", "gnn", "moe"}
    assert gpu["moe"].region_ms == pytest.approx(0.049) and gpu["moe"].board_w == pytest.approx(149)


@pytest.mark.slow
def test_the_moe_step_reproduces_the_document_s_dae_side_and_prints_the_verdict(capsys):
    assert equal_bandwidth.main(["--workloads", "moe"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    server = next(line for line in lines if line.startswith("moe ") and " server " in line and " GB/s " not in line)
    assert server.split()[4] == "0.18x"            # the document's DAE/GPU speedup for MoE on `server`
    assert lines[-2].startswith("Little's law at 4814 GB/s")
    assert LAST_LINE.fullmatch(lines[-1]), lines[-1]
