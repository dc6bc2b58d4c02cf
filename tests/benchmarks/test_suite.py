"""``benchmarks/suite.py`` on tiny sizes: every family runs at levels 0-3, every hand-written program verifies
and matches the compiled output, and the last line has the required format."""
import re
import sys

import pytest

import dae_emulator

import benchmark_script          # tests/benchmarks/benchmark_script.py

suite = benchmark_script.load("suite")
workloads = sys.modules["suite_workloads"]     # the families' builders, beside the script

DEVICE = dae_emulator.preset("server")
LAST_LINE = re.compile(r"O3/O0 geomean: (\d+\.\d+); hand-written/Ember-O3 geomean: (\d+\.\d+), worst: (\d+\.\d+)")


@pytest.fixture(scope="module")
def tiny_run():
    lines = []
    results = suite.run_suite("tiny", suite.FAMILIES, DEVICE, out=lines.append)
    return lines, results


@pytest.mark.parametrize("family", suite.FAMILIES)
def test_every_handwritten_program_parses_and_verifies(family):
    programs = suite.handwritten_programs(family)
    assert programs
    for name, text in programs.items():
        program = dae_emulator.parse_program(text)
        assert program.name == name
        dae_emulator.verify(program, DEVICE)


def test_every_family_runs_every_level(tiny_run):
    _, results = tiny_run
    counts = {}
    for r in results:
        counts[r.workload.family] = counts.get(r.workload.family, 0) + 1
        assert set(r.cycles) == {0, 1, 2, 3} and all(c > 0 for c in r.cycles.values())
        assert r.hand_cycles > 0 and r.roofline > 0
    assert counts == {"EB": 9, "MP": 4, "SpMM": 4, "KG": 2, "SpAttn": 4}


def test_last_line_has_the_required_format_and_matches_the_results(tiny_run):
    lines, results = tiny_run
    match = LAST_LINE.fullmatch(lines[-1])
    assert match, lines[-1]
    a, b, c = (float(x) for x in match.groups())
    assert a == pytest.approx(suite.geomean(r.cycles[0] / r.cycles[3] for r in results), abs=0.006)
    assert b == pytest.approx(suite.geomean(r.hand_cycles / r.cycles[3] for r in results), abs=0.0006)
    assert c == pytest.approx(min(r.hand_cycles / r.cycles[3] for r in results), abs=0.0006)
    assert any(line.startswith("geomean speedup over O0:") for line in lines)


def test_a_handwritten_program_that_computes_something_else_is_rejected(monkeypatch):
    programs = suite.handwritten_programs("eb")
    wrong = programs["eb_sum"].replace("    update sum, %row\n", "    %twice = add %row, %row\n    update sum, %twice\n")
    monkeypatch.setattr(suite, "handwritten_programs", lambda family: {**programs, "eb_sum": wrong})
    _, build = next(iter(workloads.eb_workloads("tiny", DEVICE)))
    with pytest.raises(AssertionError, match="hand-written out against level 3"):
        suite.measure(build(), DEVICE)


def test_roofline_is_the_larger_of_the_dram_and_execute_bounds():
    _, build = next(iter(workloads.kg_workloads("tiny", DEVICE)))
    w = build()
    dram = w.min_bytes / (DEVICE.dram_bandwidth_gbs / DEVICE.clock_ghz)
    assert suite.roofline_cycles(w, DEVICE) == pytest.approx(max(dram, w.min_vector_ops / DEVICE.cores))


def _backend_specs(f, *args):
    import torch
    from torch_ember import dynamo_backend
    seen = []

    def observe(state):
        seen.extend(m.spec for m in state.matches)
    torch._dynamo.reset()
    with torch.no_grad():
        torch.compile(f, backend=lambda gm, ex: dynamo_backend.ember_backend(gm, ex, {"rest": "eager"},
                                                                             observer=observe))(*args)
    return seen


def _without_names(spec):
    import dataclasses
    return dataclasses.replace(spec, table="", parts=tuple(dataclasses.replace(p, table="") for p in spec.parts))


def test_the_suites_specs_are_what_the_backend_makes_of_the_workloads():
    import torch
    import torch.nn.functional as F
    entity, relation = torch.randn(50, 8), torch.randn(4, 8)
    head, rel, tail = torch.randint(0, 50, (16,)), torch.randint(0, 4, (16,)), torch.randint(0, 50, (16,))
    kg = _backend_specs(lambda h, r, t: (entity[h], relation[r], entity[t]), head, rel, tail)
    assert [_without_names(s) for s in kg] == [_without_names(workloads.KG_SPEC)]
    _, build = list(workloads.spattn_workloads("tiny", DEVICE))[2]       # k = 4
    w = build()
    table, picks = w.launches[0].inputs["table"], w.launches[0].inputs["indices"]
    k = w.hand_sizes["k"]
    assert k == 4
    spattn = _backend_specs(lambda i: F.embedding_bag(i.view(-1, k), table, mode="sum"), picks)
    assert [_without_names(s) for s in spattn] == [_without_names(w.launches[0].spec)]
