"""Ember's published gem5 cycle counts beside the device model's, on the preset of the machine Ember measured.

    python benchmarks/ember_figures.py [--scale default|tiny|full] [--device tmu] [--png ember_figures.png]
    python benchmarks/ember_figures.py --fit      # the grid search that set the preset's fitted fields

The gem5 numbers are the ones embedded in Ember's artifact (``bsc-loca/ember``, ``AE/fig_13.py``: cycles at
levels 0-3 of 9 DLRM bags and 4 SNAP graphs; ``AE/fig_16.py``: hand-written against Ember cycles of 23
workloads). The workloads are generated to match what is public about the artifact's (``ember_workloads.py``
says what is known and what is assumed). Ours are ``torch_ember``'s levels 0-3 and the hand-written programs
of ``benchmarks/handwritten/``, modeled on the ``tmu`` preset (``dae_emulator.config``).

Two facts of the artifact a reader must know:

- Figure 13's level-3 bars equal Figure 16's *hand-written* cycles, for every workload of both (RM1_L0:
  3,596,370 in both; Figure 16 gives Ember 3,769,780). Figure 13 is taken as printed: O3/O0 is its level 3
  over its level 0; Figure 16 gives hand-written/Ember.
- Figure 13 labels its graphs in another order than Figure 16: its "wiki-Talk" bars (level 3: 48,132,732)
  are Figure 16's com-Youtube, its "com-Youtube" (8,959,858) Figure 16's web-Google, its "web-Google"
  (160,584,040) Figure 16's wiki-Talk; roadNet-CA agrees. Figure 16's labels are used: they fit the graphs'
  sizes and skew (wiki-Talk, the most skewed, slowest; web-Google, whose links stay within sites, fastest).
  Figure 13 also calls RM1_L2 "RM1_L3"; Figure 16 says L2.

The preset's fitted fields were fitted on ``FITTED`` only (``--fit``); every other workload is held out. The
last line is ``held-out O3/O0 geomean: modeled A vs gem5 B (error E%); worst workload error W%`` over the
held-out Figure 13 workloads; for every held-out workload off by more than ``MISS``, a line names what the
model or our compiler lacks that the gem5 machine or Ember's code has.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

import dae_emulator
from dae_emulator.config import DeviceConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))     # the suite and the workloads, beside this script
import ember_workloads as workloads  # noqa: E402
import suite  # noqa: E402

# Figure 13 (AE/fig_13.py), relabelled as Figure 16 labels the graphs: cycles at levels 0, 1, 2, 3.
FIG13 = {
    "RM1_L0": (23_484_296, 5_930_378, 4_156_513, 3_596_370),
    "RM1_L1": (24_527_029, 5_717_256, 4_280_459, 3_773_389),
    "RM1_L2": (14_551_703, 3_337_547, 2_397_315, 2_143_108),
    "RM2_L0": (45_421_053, 8_442_575, 5_024_453, 3_823_321),
    "RM2_L1": (43_981_604, 8_640_787, 5_055_357, 3_602_097),
    "RM2_L2": (35_705_791, 6_612_184, 4_071_356, 2_912_381),
    "RM3_L0": (66_407_009, 10_922_205, 4_897_272, 3_136_845),
    "RM3_L1": (60_137_562, 10_006_250, 4_514_832, 2_902_392),
    "RM3_L2": (53_200_396, 8_650_471, 3_964_262, 2_516_575),
    "wiki-Talk": (1_782_482_844, 292_210_302, 191_664_822, 160_584_040),
    "roadNet-CA": (113_633_814, 24_703_003, 15_782_474, 13_527_835),
    "com-Youtube": (351_368_944, 83_659_272, 54_901_397, 48_132_732),
    "web-Google": (87_806_608, 16_567_285, 10_579_109, 8_959_858),
}
# Figure 16 (AE/fig_16.py): (hand-written, Ember) cycles.
FIG16 = {
    "wiki-Talk": (160_584_040, 163_029_482), "roadNet-CA": (13_527_835, 13_733_843),
    "com-Youtube": (48_132_732, 48_618_921), "web-Google": (8_959_858, 9_004_882),
    "arxiv": (24_914_014, 26_170_183), "mag": (30_750_063, 31_441_782), "products": (31_461_428, 32_103_498),
    "proteins": (21_083_914, 21_189_863), "bioKg": (821_426, 821_426), "wikiKg2": (5_132_043, 5_132_043),
    "RM1_L0": (3_596_370, 3_769_780), "RM1_L1": (3_773_389, 3_951_193), "RM1_L2": (2_143_108, 2_239_402),
    "RM2_L0": (3_823_321, 3_961_991), "RM2_L1": (3_602_097, 3_728_879), "RM2_L2": (2_912_381, 3_008_658),
    "RM3_L0": (3_136_845, 3_210_691), "RM3_L1": (2_902_392, 2_967_681), "RM3_L2": (2_516_575, 2_570_557),
    "1_emb/blk": (10_463_829, 10_463_829), "2_emb/blk": (21_485_736, 21_485_736),
    "4_emb/blk": (48_372_615, 48_372_615), "8_emb/blk": (82_745_210, 82_745_210),
}
FITTED = ("RM1_L0", "RM1_L1", "RM1_L2")
MISS = 0.35            # a held-out workload's O3/O0 error above this gets its mechanism named

# The grid ``--fit`` searches: the preset's fields no public source gives (see the preset's docstring).
FIT_GRID = {
    "queue_pop_cycles": (0.25, 0.5, 1.0),
    "callback_dispatch_cycles": (0.0, 1.0, 2.0),
    "max_outstanding": (16, 32, 64),
    "dram_bandwidth_gbs": (6.4, 12.8, 25.6),
}


EMBER_CODE = Path(__file__).resolve().parent / "ember_code"
LANES = 8              # f64 lanes of the preset's 64-byte vectors, as the artifact's vector<8xf64>
# Ember's program per level, per family (ember_code/<family>.dae); a scatter has no level-3 change.
EMBER_LEVELS = {"EB": ("ember_eb_O0", "ember_eb_O1", "ember_eb_O2", "ember_eb_O3"),
                "MP": ("ember_mp_O0", "ember_mp_O1", "ember_mp_O2", "ember_mp_O2")}


@dataclass(frozen=True)
class Row:
    name: str
    gem5: tuple[float, float, float] | None          # O1/O0, O2/O0, O3/O0; None: not in Figure 13
    gem5_hand_over_ember: float
    ember: tuple[float, float, float] | None         # the model running Ember's code of each level
    ember_bounds: tuple[str, str] | None             # what bounds it at level 0 and level 3
    ours: tuple[float, float, float] | None          # the model running torch_ember's levels
    ours_hand_over_ember: float

    @property
    def fitted(self) -> bool:
        return self.name in FITTED

    @property
    def ember_error(self) -> float:
        return abs(self.ember[2] / self.gem5[2] - 1)

    @property
    def ours_error(self) -> float:
        return abs(self.ours[2] / self.gem5[2] - 1)

    @property
    def hand_error(self) -> float:
        return abs(self.ours_hand_over_ember / self.gem5_hand_over_ember - 1)


def gem5_speedups(name: str) -> tuple[float, float, float]:
    o0, *rest = FIG13[name]
    return tuple(o0 / c for c in rest)


def ember_code_speedups(w, device: DeviceConfig) -> tuple[tuple[float, float, float], tuple[str, str]]:
    """``w`` (one embedding-bag region of fixed-length bags, or one message-passing region) run as Ember's
    code of each level in f64, every level checked against eager PyTorch; its O1/O0, O2/O0, O3/O0 and what
    bounds level 0 and level 3."""
    (launch,) = w.launches
    x = launch.inputs["table"].double()
    dim = x.shape[1]
    pieces = dim // LANES
    if w.family == "EB":
        indices, offsets = launch.inputs["indices"], launch.inputs["offsets"]
        lengths = offsets.diff()
        if not bool((lengths == lengths[0]).all()):
            raise ValueError(f"{w.name}: Ember's level-3 code here needs bags of one length")
        expected = torch.nn.functional.embedding_bag(indices, x, offsets[:-1], mode="sum")
        index, sizes, pooling = dict(indices=indices, offsets=offsets), {}, int(lengths[0])
    else:
        expected = torch.zeros(launch.sizes["num_out"], dim, dtype=x.dtype).index_add_(
            0, launch.inputs["dst"], x[launch.inputs["src"]])
        index, sizes, pooling = dict(src=launch.inputs["src"], dst=launch.inputs["dst"]), dict(launch.sizes), 0
    tables = (x.reshape(-1), x.reshape(-1, LANES), x, x)
    level_sizes = (dict(sizes, dim=dim), dict(sizes, pieces=pieces, num_out_pieces=expected.shape[0] * pieces),
                   sizes, sizes)
    texts = suite.handwritten_programs(w.family.lower(), EMBER_CODE)
    cycles, bounds = [], []
    for level, name in enumerate(EMBER_LEVELS[w.family]):
        program = dae_emulator.verify(dae_emulator.parse_program(texts[name].replace("POOLING", str(pooling))), device)
        result = dae_emulator.run(program, dict(index, table=tables[level]), device, sizes=level_sizes[level])
        suite._close(result.outputs["out"].reshape(expected.shape), expected,
                     f"{w.name} Ember's level {level} code against eager PyTorch")
        cycles.append(result.cost.cycles)
        bounds.append(result.cost.bound.value)
    return tuple(cycles[0] / c for c in cycles[1:]), (bounds[0], bounds[3])


def _builders(scale: str, device: DeviceConfig, families):
    for family in families:
        yield from family(scale, device)


def measure_all(scale: str, device: DeviceConfig, only=None, progress=True, ours=True) -> list[Row]:
    """Every workload of Figures 13 and 16 (or ``only`` those names) on ``device``: Figure 13's as Ember's
    code and, with ``ours``, as torch_ember's levels; Figure 16's others as torch_ember's level 3 and
    hand-written."""
    plan = [(name, build, True) for name, build in _builders(scale, device, workloads.FIG13)]
    plan += [(name, build, False) for name, build in _builders(scale, device, workloads.FIG16_ONLY)]
    plan = [p for p in plan if only is None or p[0] in only]
    rows = []
    for name, build, in_fig13 in tqdm(plan, desc="workloads", unit="workload", file=sys.stderr, disable=not progress):
        w = build()
        gem5_hand = FIG16[name][0] / FIG16[name][1]
        ember, ember_bounds = ember_code_speedups(w, device) if in_fig13 else (None, None)
        mine, hand = None, math.nan
        if ours:
            r = suite.measure(w, device, levels=suite.LEVELS if in_fig13 else (3,), intervals=False)
            hand = r.hand_over_o3
            if in_fig13:
                mine = tuple(r.cycles[0] / r.cycles[lv] for lv in (1, 2, 3))
        rows.append(Row(name, gem5_speedups(name) if in_fig13 else None, gem5_hand, ember, ember_bounds, mine, hand))
    return rows


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def mechanism(row: Row) -> str:
    """What the model lacks that would explain a held-out workload's O3/O0 on Ember's code missing gem5's,
    from what bounds the modeled levels and what the artifact shows."""
    level0, level3 = row.ember_bounds
    text = (f"modeled O3/O0 {row.ember[2]:.1f} against gem5's {row.gem5[2]:.1f}; the model's level 0 is "
            f"{level0}-bound, its level 3 {level3}-bound. ")
    if row.ember[2] < row.gem5[2] and level3 != "compute":
        return text + ("On gem5 this workload's level 3 keeps the core busy (Figure 14: RM2 and RM3 reach 40-70% "
                       "of compute throughput at level 3, RM1 18%), on the model it waits on memory. The model "
                       "lacks what lets gem5's TMU keep more rows in flight (its lanes' memory-level "
                       "parallelism beyond max_outstanding) or the locality of the artifact's traces, which "
                       "nothing public gives")
    if row.ember[2] < row.gem5[2]:
        return text + ("Ember's level 3 costs gem5 fewer cycles per row than the code modeled here: the "
                       "artifact prints levels 0 and 3 of the bag only, so levels 1-2 and the access-side "
                       "effect of SimplifyMemOps are reconstructed from its pass list; the model lacks their "
                       "exact code")
    return text + ("The model's level 3 gains more over level 0 than gem5's does: the model lacks the gem5 "
                   "core's costs of Ember's level-3 callbacks beyond its instructions (store-to-load "
                   "forwarding of the output through memory, the masked loads and stores)")


def _ratios(values) -> str:
    return "".join(f"{v:>7.2f}" for v in values)


def report(rows: list[Row], device: DeviceConfig, out=print) -> None:
    out(f"Ember's gem5 cycles (bsc-loca/ember AE/) beside the device model on preset {device.name}: "
        f"{device.cores} core(s) at {device.clock_ghz:g} GHz, {device.dram_bandwidth_gbs:g} GB/s, "
        f"{device.max_outstanding} requests in flight, queue pop {device.queue_pop_cycles:g} cycles, "
        f"dispatch {device.callback_dispatch_cycles:g} cycles, {device.scalar_issue_width:g} scalar ops a cycle")
    out("Ember's code: the model running ember_code/, Ember's program of each level; ours: torch_ember's levels "
        "and hand-written programs")
    out(f"fitted on {', '.join(FITTED)} (marked *), on Ember's code; every other workload is held out; "
        f"error = |model / gem5 - 1| of O3/O0 (of hand/Ember for h/E)")
    out(f"{'':<13}{'gem5':>21}{'':>11}  {'Ember code':>21}  {'ours':>21}{'':>11}  {'error O3/O0':>16}")
    out(f"{'workload':<13}{'O1/O0':>7}{'O2/O0':>7}{'O3/O0':>7}{'hand/Ember':>11}  {'O1/O0':>7}{'O2/O0':>7}"
        f"{'O3/O0':>7}  {'O1/O0':>7}{'O2/O0':>7}{'O3/O0':>7}{'hand/Ember':>11}  {'Ember':>7}{'ours':>7}{'h/E':>7}")
    for r in rows:
        name = r.name + ("*" if r.fitted else "")
        if r.gem5 is None:
            out(f"{name:<13}{'':>21}{r.gem5_hand_over_ember:>11.3f}  {'':>21}  {'':>21}"
                f"{r.ours_hand_over_ember:>11.3f}  {'':>14}{r.hand_error:>7.1%}")
            continue
        out(f"{name:<13}{_ratios(r.gem5)}{r.gem5_hand_over_ember:>11.3f}  {_ratios(r.ember)}  {_ratios(r.ours)}"
            f"{r.ours_hand_over_ember:>11.3f}  {r.ember_error:>7.1%}{r.ours_error:>7.1%}{r.hand_error:>7.1%}")
    held = [r for r in rows if r.gem5 is not None and not r.fitted]
    fitted = [r for r in rows if r.fitted]
    if fitted:
        out(f"fitted workloads, Ember's code: O3/O0 geomean modeled {geomean(r.ember[2] for r in fitted):.2f} vs "
            f"gem5 {geomean(r.gem5[2] for r in fitted):.2f}")
    others = [r for r in rows if not r.fitted]
    out(f"held-out hand-written/Ember geomean: ours {geomean(r.ours_hand_over_ember for r in others):.3f} vs "
        f"gem5 {geomean(r.gem5_hand_over_ember for r in others):.3f}; worst error "
        f"{max(r.hand_error for r in others):.1%}")
    if held:
        mine, gem5 = geomean(r.ours[2] for r in held), geomean(r.gem5[2] for r in held)
        out(f"ours (torch_ember's levels, which differ from Ember's: a row per callback at level 0, the bag "
            f"summed in registers): held-out O3/O0 geomean {mine:.2f} vs gem5 {gem5:.2f} "
            f"(error {abs(mine / gem5 - 1):.0%}); worst {max(r.ours_error for r in held):.0%}")
    misses = [r for r in held if r.ember_error > MISS]
    if misses:
        out(f"held-out workloads whose O3/O0 on Ember's code errs by more than {MISS:.0%}, and what the model lacks:")
        for r in misses:
            out(f"  {r.name} ({r.ember_error:.0%}): {mechanism(r)}")
    if held:
        modeled, gem5 = geomean(r.ember[2] for r in held), geomean(r.gem5[2] for r in held)
        out(f"held-out O3/O0 geomean: modeled {modeled:.2f} vs gem5 {gem5:.2f} (error {abs(modeled / gem5 - 1):.0%}); "
            f"worst workload error {max(r.ember_error for r in held):.0%}")


def plot(rows: list[Row], path: Path) -> Path:
    """Figures 13 and 16 side by side: gem5's bars and the model's, per workload."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig13 = [r for r in rows if r.gem5 is not None]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 8.5))
    width = 0.09
    colors = ("#c6dbef", "#6baed6", "#08519c")
    sources = (("gem5", lambda r: r.gem5, dict()), ("model, Ember's code", lambda r: r.ember, dict(hatch="///")),
               ("model, ours", lambda r: r.ours, dict(hatch="...")))
    for i, r in enumerate(fig13):
        for level in range(3):
            for k, (label, values, style) in enumerate(sources):
                top.bar(i + (3 * level + k - 4) * width, values(r)[level], width, color=colors[level],
                        edgecolor="black", linewidth=0.3, label=f"{label} O{level + 1}/O0" if i == 0 else None,
                        **style)
    top.set_xticks(range(len(fig13)), [r.name + ("*" if r.fitted else "") for r in fig13], rotation=30, ha="right")
    top.set_yscale("log")
    top.set_ylabel("speedup over level 0")
    top.set_title("Figure 13: speedup of each level over level 0 (gem5 plain, model on Ember's code hatched, "
                  "model on ours dotted; * fitted)")
    top.legend(ncol=3, fontsize=7, loc="upper left")
    top.grid(axis="y", linestyle=":", linewidth=0.5)
    for i, r in enumerate(rows):
        bottom.bar(i - 0.2, r.gem5_hand_over_ember, 0.4, color="#fdae6b", label="gem5" if i == 0 else None)
        bottom.bar(i + 0.2, r.ours_hand_over_ember, 0.4, color="#e6550d", hatch="...", edgecolor="black",
                   linewidth=0.3, label="model, ours" if i == 0 else None)
    bottom.set_xticks(range(len(rows)), [r.name + ("*" if r.fitted else "") for r in rows], rotation=30, ha="right")
    bottom.set_ylim(0.8, 1.1)
    bottom.axhline(1.0, color="black", linewidth=0.5)
    bottom.set_ylabel("hand-written / Ember level 3")
    bottom.set_title("Figure 16: Ember's level 3 against hand-written code (1.0: as fast)")
    bottom.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fit(scale: str, base: DeviceConfig, out=print) -> DeviceConfig:
    """Grid search of ``FIT_GRID`` on the ``FITTED`` workloads run as Ember's code: the mean |log(model /
    gem5)| of their O1/O0, O2/O0 and O3/O0. Prints every point, best last, and returns the best device."""
    best, best_error = base, math.inf
    grid = [dict(zip(FIT_GRID, values)) for values in itertools.product(*FIT_GRID.values())]
    for point in tqdm(grid, desc="fit", unit="point", file=sys.stderr):
        device = dataclasses.replace(base, **point)
        rows = measure_all(scale, device, only=FITTED, progress=False, ours=False)
        error = sum(abs(math.log(m / g)) for r in rows for m, g in zip(r.ember, r.gem5)) / (3 * len(rows))
        out(f"{point}: mean |log(model / gem5)| {error:.3f}")
        if error < best_error:
            best, best_error = device, error
    out(f"best: {({name: getattr(best, name) for name in FIT_GRID})}, mean |log(model / gem5)| {best_error:.3f}")
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(workloads.SCALES), default="default",
                        help="default: node, edge, row and bag counts / 32; tiny: / 4096; full: real sizes (hours)")
    parser.add_argument("--device", default="tmu", help=f"a preset: {', '.join(dae_emulator.PRESETS)}")
    parser.add_argument("--png", type=Path, default=Path("ember_figures.png"), help="where to draw the figures")
    parser.add_argument("--fit", action="store_true", help="search the preset's fitted fields on the fitted workloads")
    args = parser.parse_args(argv)
    device = dae_emulator.preset(args.device)
    out = lambda line: print(line, flush=True)  # noqa: E731
    if args.fit:
        fit(args.scale, device, out)
        return 0
    rows = measure_all(args.scale, device)
    out(f"figures: {plot(rows, args.png)}")
    report(rows, device, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
