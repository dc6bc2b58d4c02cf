"""Sampled timing (``timing="sampled"``) against full detail (``timing="full"``): the interval covers the
full-detail total at about the stated rate, full detail is what the DAE device alone records, bad input
raises the same on launches not timed in detail, and a change of input character starts a new sample."""
import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_ember.options import EmberOptions
from torch_ember.region_op import device_for, launch_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec
from torch_ember.runtime import sampling
from torch_ember.runtime.dae import DaeDevice
from dae_emulator.timing.estimator import regression_total
from torch_ember.session import Session

BAG = RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode=BagMode.SUM)
EMBEDDING = RegionSpec(RegionKind.EMBEDDING, "t")
FULL, SAMPLED = EmberOptions(timing="full"), EmberOptions(timing="sampled")


def _bag_args(generator, rows, dim, bags, pooling, table=None):
    table = torch.randn(rows, dim, generator=generator) if table is None else table
    indices = torch.randint(0, rows, (bags * pooling,), generator=generator)
    return [table, indices, torch.arange(0, bags * pooling, pooling)]


def _skewed_bag_args(generator, table, bags, pooling):
    """Bags of 0 to 2 * pooling indices, popular rows drawn more often (as DLRM's categorical features)."""
    lengths = torch.randint(0, 2 * pooling + 1, (bags,), generator=generator)
    indices = (torch.rand(int(lengths.sum()), generator=generator) ** 2 * table.shape[0]).long()
    return [table, indices, torch.cumsum(lengths, 0) - lengths]


def _total(options, launches):
    with Session() as session:
        outputs = [launch_region(BAG, options, args) for args in launches]
    return session.stats.report().total(), outputs, session.launches.snapshot()


def _trials(count: int, seed: int) -> list[dict]:
    """Shapes for ``count`` runs, drawn from a fixed seed. (A rate needs many runs inside one test; hypothesis
    would start from its simplest example, every run alike.)"""
    g = torch.Generator().manual_seed(seed)

    def pick(*choices):
        return choices[int(torch.randint(0, len(choices), (), generator=g))]
    return [{"seed": int(torch.randint(0, 2**31 - 1, (), generator=g)), "rows": pick(64, 300, 2000),
             "dim": pick(4, 16), "bags": int(torch.randint(4, 33, (), generator=g)),
             "pooling": int(torch.randint(1, 13, (), generator=g)),
             "launches": int(torch.randint(12, 41, (), generator=g))} for _ in range(count)]


def test_the_interval_covers_the_full_detail_total_at_about_the_stated_rate():
    """40 training-like runs (a region launched 12 to 40 times on fresh random bags, shapes drawn per run):
    the 95% interval of the sampled estimate holds the full-detail total in at least 34 of them (the chance
    of fewer, were the true rate 95%, is under 2%); the intervals are not vacuous; launches were estimated."""
    trials = _trials(40, seed=0)
    covered, margins, estimated = 0, [], 0
    for t in trials:
        generator = torch.Generator().manual_seed(t["seed"])
        table = torch.randn(t["rows"], t["dim"], generator=generator)
        launches = [_skewed_bag_args(generator, table, t["bags"], t["pooling"]) for _ in range(t["launches"])]
        full, full_outputs, _ = _total(FULL, launches)
        sampled, sampled_outputs, _ = _total(SAMPLED, launches)
        for a, b in zip(full_outputs, sampled_outputs):
            torch.testing.assert_close(a[0], b[0])
        assert full.detailed_launches == full.launches and full.modeled_seconds_margin == 0
        assert sampled.lookups == full.lookups, "index elements are the estimator's size: lookups come out exact"
        covered += sampled.modeled_seconds_low <= full.modeled_seconds <= sampled.modeled_seconds_high
        margins.append(sampled.modeled_seconds_margin / sampled.modeled_seconds)
        estimated += sampled.launches - sampled.detailed_launches
    print(f"covered {covered} of 40; mean relative margin {sum(margins) / len(margins):.4f}; {estimated} estimated")
    assert covered >= 34, f"the interval covered the full-detail total in {covered} of 40 runs"
    assert sum(margins) / len(margins) < 0.05 and estimated > 40 * 12 // 2


def test_full_timing_is_the_dae_device_alone_and_times_every_launch():
    assert type(device_for(FULL, Session())) is DaeDevice
    generator = torch.Generator().manual_seed(0)
    launches = [_bag_args(generator, 100, 8, 8, 4) for _ in range(6)]
    with Session() as direct:
        device = DaeDevice(FULL.device_config, device_for(FULL, direct).programs, direct.stats, direct.launches)
        for args in launches:
            device.run(BAG, args)
    full, _, log = _total(FULL, launches)
    measured = {"emulator_seconds"}     # wall time of the emulator: differs run to run
    assert ({k: v for k, v in dataclasses.asdict(full).items() if k not in measured}
            == {k: v for k, v in dataclasses.asdict(direct.stats.report().total()).items() if k not in measured})
    assert all(launch.detailed for launch in log) and len(log) == 6


def test_launches_between_samples_are_estimated_and_return_eager_outputs_exactly():
    generator = torch.Generator().manual_seed(1)
    launches = [_bag_args(generator, 500, 8, 16, 8) for _ in range(20)]
    total, outputs, log = _total(SAMPLED, launches)
    detailed = [launch.detailed for launch in log]
    assert detailed[:sampling.MIN_DETAILED] == [True] * sampling.MIN_DETAILED and not all(detailed)
    assert total.estimated and total.detailed_launches == sum(detailed) and total.launches == 20
    for args, out, timed in zip(launches, outputs, detailed):
        eager = torch.nn.functional.embedding_bag(args[1], args[0], args[2], mode="sum")
        if timed:
            torch.testing.assert_close(out[0], eager)
        else:
            assert torch.equal(out[0], eager), "a launch not timed in detail gives the host kernel's result"
    estimated = [launch for launch in log if not launch.detailed]
    assert all(launch.bound == "estimated" and launch.modeled_seconds > 0 for launch in estimated)


BAD_INPUTS = {
    "index out of range": (BAG, lambda g: [torch.randn(50, 4), torch.tensor([1, 70, 2]), torch.tensor([0, 2])]),
    "offsets past the end": (BAG, lambda g: [torch.randn(50, 4), torch.tensor([1, 7, 2]), torch.tensor([0, 5])]),
    "negative embedding index": (EMBEDDING, lambda g: [torch.randn(50, 4), torch.tensor([3, -1])]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_on_a_launch_not_timed_in_detail_as_on_one_that_is(case):
    spec, bad = BAD_INPUTS[case]
    generator = torch.Generator().manual_seed(2)
    good = (lambda: _bag_args(generator, 50, 4, 1, 3)) if spec is BAG else (
        lambda: [torch.randn(50, 4), torch.randint(0, 50, (2,), generator=generator)])
    with pytest.raises(Exception) as in_full:
        launch_region(spec, FULL, bad(generator))
    with Session() as session:
        for _ in range(sampling.MIN_DETAILED + 1):       # the class's next launch is estimated
            launch_region(spec, SAMPLED, good())
        assert not session.launches.snapshot()[-1].detailed
        with pytest.raises(type(in_full.value)) as in_sampled:
            launch_region(spec, SAMPLED, bad(generator))
        launch_region(spec, SAMPLED, good())
    assert str(in_sampled.value) == str(in_full.value)


def test_inputs_of_another_character_or_size_start_a_new_sample():
    generator = torch.Generator().manual_seed(3)
    table = torch.randn(4000, 8, generator=generator)
    spread = [_bag_args(generator, 4000, 8, 64, 8, table) for _ in range(12)]
    hot = [[table, torch.randint(0, 4, (512,), generator=generator), torch.arange(0, 512, 8)] for _ in range(6)]
    bigger = [_bag_args(generator, 4000, 8, 256, 8, table) for _ in range(6)]
    _, _, log = _total(SAMPLED, spread + hot + bigger)
    detailed = [launch.detailed for launch in log]
    assert not all(detailed[:12]), "alike launches were sampled"
    assert detailed[12:12 + sampling.MIN_DETAILED] == [True] * sampling.MIN_DETAILED, "few distinct rows: re-sampled"
    assert detailed[18:18 + sampling.MIN_DETAILED] == [True] * sampling.MIN_DETAILED, "4x the lookups: re-sampled"


def test_a_detailed_launch_that_disagrees_with_the_host_kernel_raises(monkeypatch):
    original = DaeDevice.run_checked
    monkeypatch.setattr(DaeDevice, "run_checked", lambda self, *a: [o + 1 for o in original(self, *a)])
    with Session(), pytest.raises(RuntimeError, match="differs from eager"):
        launch_region(BAG, SAMPLED, _bag_args(torch.Generator().manual_seed(4), 50, 4, 4, 2))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.floats(1, 1e6), st.floats(0, 1e3)), min_size=3, max_size=30), st.floats(0.5, 0.99),
       st.integers(0, 50), st.floats(0, 1e-3), st.floats(0, 1e-6))
def test_the_regression_estimator(pairs, confidence, unsampled, intercept, slope):
    """Exact with margin 0 on a census; on launches whose cost is a line in their size, exact (to rounding)
    however few were sampled; otherwise a finite interval about its value (infinite from two sizes alone)."""
    xs = [x for x, _ in pairs]
    census = regression_total(xs, [y for _, y in pairs], sum(xs), len(xs), confidence)
    assert census.margin == 0 and census.value == math.fsum(y for _, y in pairs)
    others = [xs[i % len(xs)] for i in range(unsampled)]     # sizes the sample has seen
    x_total, population = sum(xs) + sum(others), len(xs) + len(others)
    linear = regression_total(xs, [intercept + slope * x for x in xs], x_total, population, confidence)
    want = population * intercept + slope * x_total
    assert linear.value == pytest.approx(want, rel=1e-6, abs=1e-9) and linear.margin <= 1e-6 * want + 1e-9
    noisy = regression_total(xs, [y for _, y in pairs], x_total, population, confidence)
    assert math.isfinite(noisy.margin) and noisy.low <= noisy.value <= noisy.high
    assert regression_total([1.0, 2.0], [1.0, 2.5], 10.0, 5, confidence).margin == math.inf, "2 points: no spread"


@pytest.mark.parametrize("index", [torch.tensor([3, 3, 0, 7], dtype=torch.int32), torch.tensor([3, 3, 0, 7]),
                                   torch.tensor([-1, 5, -1, 5]), torch.tensor([2**40, 1, 2**40, 0])],
                         ids=["int32", "int64", "negative", "far apart"])
def test_work_counts_index_elements_and_distinct_ones(index):
    work = sampling.Work.of({"table": torch.randn(4, 2), "indices": index, "mask": torch.tensor([True])})
    assert (work.elements, work.distinct) == (4, 3 if index[0] != -1 else 2)


def test_a_launch_too_big_to_time_in_full_is_timed_on_sampled_intervals_and_says_so():
    """On ``edge`` (one core), a bag of 40k lookups of 64 floats cuts into enough units to sample: under
    "sampled" its record carries the interval (report, profiler), near the full-detail figure, with the same
    outputs and exact traffic; under "full" nothing is sampled."""
    from torch_ember.profiler import _timing
    generator = torch.Generator().manual_seed(0)
    args = _bag_args(generator, 100_000, 64, 2048, 20)
    results = {}
    for name in ("full", "sampled"):
        options = EmberOptions(device="edge", timing=name)
        with Session() as session:
            outputs = launch_region(BAG, options, args)
        results[name] = (session.stats.report(), outputs, session.launches.snapshot())
    (full_report, full_out, _), (report, out, launches) = results["full"], results["sampled"]
    torch.testing.assert_close(out[0], full_out[0])
    full, sampled = full_report.total(), report.total()
    assert full.modeled_seconds_margin == 0 and full.interval_launches == 0 and not full.interval
    assert sampled.interval_launches == 1 and sampled.interval and not sampled.estimated
    assert 0 < sampled.modeled_seconds_margin <= 0.02 * sampled.modeled_seconds
    assert abs(sampled.modeled_seconds - full.modeled_seconds) <= 0.02 * full.modeled_seconds
    assert (sampled.dram_bytes, sampled.cache_hits, sampled.lookups) == (full.dram_bytes, full.cache_hits, full.lookups)
    text = str(report)
    assert " ±" in text and "timed on sampled intervals of their stream" in text
    (launch,) = launches
    assert launch.detailed and launch.margin_seconds == pytest.approx(sampled.modeled_seconds_margin)
    assert _timing(launch).startswith("timed in detail on sampled intervals")


def test_launches_timed_on_sampled_intervals_widen_their_class_interval_as_two_stage_sampling_says():
    """Three alike detailed launches (no spread between them), each timed on sampled intervals (margin m),
    standing for nine: the class's interval is sqrt(9 / 3 * 3 m^2) = 3m wide on each side, not 0."""
    from torch_ember.runtime.stats import RegionRecord
    unit = sampling.SampledUnit(0.02, 0.95)
    work = sampling.Work(100, 50)
    for _ in range(9):
        unit.take(work)
    for seconds in (1.0e-3, 1.0e-3, 1.0e-3):
        unit.add_sample(work, (RegionRecord("r", "embedding_bag", "server", 256.0, launches=1, detailed_launches=1,
                                            modeled_seconds=seconds, modeled_seconds_margin=1e-5,
                                            interval_launches=1),))
    (row,) = unit.rows()
    assert row.launches == 9 and row.detailed_launches == 3 and row.interval_launches == 3
    assert row.modeled_seconds_margin == pytest.approx(3e-5)
    assert row.modeled_seconds == pytest.approx(9 * 1.0e-3)
