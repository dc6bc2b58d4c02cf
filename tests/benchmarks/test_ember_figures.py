"""``benchmarks/ember_figures.py`` at the tiny scale: every workload of the artifact's Figures 13 and 16 runs (as
Ember's code of each level and as torch_ember's levels) and checks against eager PyTorch, the artifact's numbers are read as the figures print them, the preset's fitted
fields lie on the fit's grid, and the last line has the required format."""
import math
import re

import pytest

import dae_emulator

import benchmark_script          # tests/benchmarks/benchmark_script.py

figures = benchmark_script.load("ember_figures")

LAST_LINE = re.compile(r"held-out O3/O0 geomean: modeled (\d+\.\d+) vs gem5 (\d+\.\d+) \(error (\d+)%\); "
                       r"worst workload error (\d+)%")


def test_the_artifact_s_figures_are_read_as_printed():
    # the summary of Figure 13: O3 over O0 geomean 10.93, from 6.5 to 21.2; O1 alone 5.09
    o3 = [figures.gem5_speedups(name)[2] for name in figures.FIG13]
    assert figures.geomean(o3) == pytest.approx(10.93, abs=0.01)
    assert min(o3) == pytest.approx(6.5, abs=0.05) and max(o3) == pytest.approx(21.2, abs=0.05)
    assert figures.geomean(figures.gem5_speedups(name)[0] for name in figures.FIG13) == pytest.approx(5.09, abs=0.01)
    # Figure 16: Ember at 95.2-100% of hand-written, geomean 98.1%
    ratios = [hand / ember for hand, ember in figures.FIG16.values()]
    assert len(ratios) == 23 and min(ratios) == pytest.approx(0.952, abs=0.001) and max(ratios) == 1.0
    assert figures.geomean(ratios) == pytest.approx(0.981, abs=0.001)
    # Figure 13's level 3 is Figure 16's hand-written count, once the graphs are labelled as Figure 16 does
    assert all(figures.FIG13[name][3] == figures.FIG16[name][0] for name in figures.FIG13)


def test_the_preset_s_fitted_fields_lie_on_the_fit_s_grid():
    tmu = dae_emulator.preset("tmu")
    for field, grid in figures.FIT_GRID.items():
        assert getattr(tmu, field) in grid


@pytest.fixture(scope="module")
def tiny_run():
    rows = figures.measure_all("tiny", dae_emulator.preset("tmu"), progress=False)
    lines = []
    figures.report(rows, dae_emulator.preset("tmu"), out=lines.append)
    return rows, lines


def test_every_workload_of_both_figures_runs(tiny_run):
    rows, _ = tiny_run
    assert [r.name for r in rows][:13] == list(figures.FIG13)
    assert {r.name for r in rows} == set(figures.FIG16)
    for r in rows:
        assert r.ours_hand_over_ember > 0 and math.isfinite(r.ours_hand_over_ember)
        if r.gem5 is not None:            # both the model on Ember's code and on torch_ember's levels
            assert all(m > 0 for m in r.ember + r.ours) and r.ember_bounds is not None


def test_the_report_marks_the_fitted_workloads_names_misses_and_ends_with_the_verdict(tiny_run):
    rows, lines = tiny_run
    fitted = [line for line in lines if line.split()[0].endswith("*")]
    assert [line.split()[0] for line in fitted] == [name + "*" for name in figures.FITTED]
    match = LAST_LINE.fullmatch(lines[-1])
    assert match, lines[-1]
    held = [r for r in rows if r.gem5 is not None and not r.fitted]
    assert float(match.group(2)) == pytest.approx(figures.geomean(r.gem5[2] for r in held), abs=0.01)
    misses = [r for r in held if r.ember_error > figures.MISS]
    for r in misses:
        assert any(line.startswith(f"  {r.name} (") and "lacks" in line for line in lines)


def test_the_png_draws_both_figures(tiny_run, tmp_path):
    rows, _ = tiny_run
    path = figures.plot(rows, tmp_path / "figures.png")
    assert path.stat().st_size > 10_000
