"""User priors on one objective: how soon tune gets within 95% of the best with a good prior, a wrong one, none.

    python benchmarks/tune_priors.py [--seeds 10] [--budget 60]      # about 2 minutes on a 2-core machine

The objective is ``tune_compare.py``'s hidden-tiles (two tile sizes, unroll and layout of a synthetic tiled
kernel whose register use, unknown to the tuner, makes large tiles fail). The good prior centres on the best
configuration's tiles and unroll (std 8 tiles); the wrong one on small tiles and no unrolling, where the
kernel is slowest. Per prior, the median over seeds of the evaluations to reach 95% of the best and of the
best found. The last line: ``evaluations to 95% (median of N seeds): none A, good B, wrong C``.
"""
from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
from pathlib import Path

from tqdm import tqdm

import tune

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_compare import _tile_time, hidden_tiles  # noqa: E402


def best_config() -> dict:
    every = itertools.product(range(1, 65), range(1, 65), (1, 2, 4, 8, 16), ("row", "col"))
    feasible = (c for c in every if c[0] * c[2] <= 256 and _tile_time(*c) is not None)
    tx, ty, unroll, layout = min(feasible, key=lambda c: _tile_time(*c))
    return dict(tx=tx, ty=ty, unroll=unroll, layout=layout)


def priors() -> dict[str, dict]:
    best = best_config()
    good = {"tx": tune.Gaussian(best["tx"], 8), "ty": tune.Gaussian(best["ty"], 8),
            "unroll": tune.Weights({best["unroll"]: 1.0})}
    wrong = {"tx": tune.Gaussian(4, 3), "ty": tune.Gaussian(4, 3), "unroll": tune.Weights({1: 1.0})}
    return {"none": {}, "good": good, "wrong": wrong}


def reach(values: list[float | None], best: float) -> float:
    so_far = list(itertools.accumulate((math.inf if v is None else v for v in values), min))
    return next((i + 1 for i, v in enumerate(so_far) if best / v >= 0.95), math.inf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60)
    args = parser.parse_args(argv)
    problem = hidden_tiles()
    print(f"hidden-tiles, best {problem.best_known:.4f} at {best_config()}; budget {args.budget}, {args.seeds} seeds")
    summary = {}
    runs = list(itertools.product(priors().items(), range(args.seeds)))
    results: dict[str, list] = {name: [] for name in priors()}
    for (name, prior), seed in tqdm(runs, desc="runs", unit="run", file=sys.stderr):
        result = tune.minimize(problem.objective, problem.space, args.budget, seed,
                               options=tune.BayesianOptions(priors=prior))
        results[name].append([e.value for e in result.history])
    for name, traces in results.items():
        reaches = [reach(t, problem.best_known) for t in traces]
        bests = [problem.best_known / min(v for v in t if v is not None) for t in traces]
        summary[name] = statistics.median(reaches)
        shown = ", ".join(f">{args.budget}" if math.isinf(r) else f"{r:g}" for r in reaches)
        print(f"{name:<6} evaluations to 95%: median {summary[name]:g} ({shown}); best/found median "
              f"{statistics.median(bests):.3f}")
    cells = ", ".join(f"{name} {'>' + str(args.budget) if math.isinf(v) else format(v, 'g')}" for name, v in summary.items())
    print(f"evaluations to 95% (median of {args.seeds} seeds): {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
