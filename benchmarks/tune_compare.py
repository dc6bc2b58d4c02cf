"""tune against random search, Optuna's TPE and GP samplers, SMAC3 and HyperMapper 2, with the same budget, on
seven objectives.

    python benchmarks/tune_compare.py --cache runs.jsonl    # budget 60, seeds 0-9; resumable (see --cache)
    python benchmarks/tune_compare.py --seeds 3 --budget 30 --jobs 1 --methods random tpe

How long it takes (2-core machine, 2026-12-05, several jobs sharing it): the whole table has not been run in
one go; ``benchmarks/results/tune_compare_runs.jsonl`` holds every run, made by several resumed invocations.
- The five small objectives with every method: minutes each, except HyperMapper (its 50 runs took 34
  minutes) and ember-knobs' exhaustive best known (about 3 minutes, 2,143 programs).
- ember-gnn-regions (41 parameters): tune 1.5-2 minutes a run, Optuna's GP sampler about 4, SMAC3 about
  1, random search and TPE less.
- ember-dlrm-regions (65 parameters): tune 3-4 minutes a run, Optuna's GP sampler 2-7.
- HyperMapper on the region objectives (its random forest and local search over 41 and 65 parameters): 380 s
  to 46 minutes a run on ember-gnn-regions, 18 to 80 minutes on ember-dlrm-regions (two runs at a time,
  other jobs beside them; seeds 4-9 took 19-26 minutes each on 2026-12-05).
- SMAC and TPE told the conditions, on the three Ember knob objectives, all 60 runs: 15 minutes in all.
- Before the 5 x budget skip cap (below), SMAC took over 85 s per run of hidden-tiles.

Ten seeds, not five: evaluations-to-95% is a heavy-tailed count, and its median over five seeds is decided by
one or two lucky draws. With five, random search's median on ember-hardware was 7 (two seeds hit the best
device at evaluation 7, where about 3% of the space lies within 95% of it); with ten it is 21.

Objectives (the first two are Ember's own, through ``torch_ember.autotune.Objective``):
- ember-knobs: opt_level, vector_width, unroll, buffer_bytes and tile of a small DLRM-like model (a
  weighted-sum and a mean embedding bag, hot tables, dim 64, 32 bags of uneven length pooling 16 and 2 rows
  on average) on the ``server`` device, forward and backward. Best known: all 7,128 configurations the known
  constraint allows, measured (2,143 distinct programs: knobs a level ignores share a measurement). Until
  the tile knob existed this objective ran on ``edge``, where 38% of its 792 configurations were within
  95% of the best and every method got there in 4-5 evaluations; here 1.1% are.
- ember-hardware: cores, queue capacity, request slots, queues, traversal units and cache size of a device
  based on ``server``, under the modeled area of the ``server`` preset (a known constraint); too few queues
  or traversal units for a region's program fail (unknown constraints). Best known: the best any run found.
- tsp-permutation: a closed tour of 9 cities at fixed random places, one permutation parameter. Best known:
  all 9! tours. A tour's length depends on which cities are adjacent, not on where each city stands in
  the permutation nor on pairwise order (Kendall); tune's default kernel mixes Kendall, adjacency and
  position distances with weights fit to the data, and is told nothing about which problem it faces.
- schedule-permutation: the order of 9 jobs on one machine (lengths, weights and due dates at fixed random
  values), minimizing total weighted tardiness, as a queue serves streams in some order. Best known: all 9!
  orders.
- hidden-tiles: a synthetic tiled kernel (two tile sizes, unroll, layout) whose register use, unknown to
  the tuner, makes large tiles fail, while large tiles are what make it fast. Best known: all 40,960
  configurations.

Methods: ``tune`` (Bayesian, default options; on the Ember objectives as ``torch_ember.autotune`` runs it:
told which configurations are equivalent, since knobs an opt_level ignores make the same program, and on the
region objectives told that the regions' times add up, each region's knobs with opt_level a group of an
additive GP; the peers are told neither, but see conditions below), ``tune batch`` (the same, proposing 4
configurations at a time by the Kriging believer, as ``tune.minimize(workers=4)`` does; compared with
sequential tune, not a peer), random search (``tune.RandomSampler``), and the peers of ``tune_peers.py``, each
given the space as faithfully as it can take it: Optuna's TPE and GP samplers (default options; ordinals as
integer indices, a permutation as its Lehmer code; failures told as violated constraints,
``Trial.set_constraint``, so they model them), SMAC3's hyperparameter-optimization facade (by ask and tell on
a ConfigSpace: ordinals as ordinal hyperparameters, a permutation as its Lehmer code, failures told as
crashes) and HyperMapper 2 (its own loop, with its feasibility classifier; its proposals outside a parameter's
range, a bug of its local search, are answered infeasible unmeasured). None of them can be told known
constraints up front: a proposal that breaks one is not evaluated, not charged to the budget, and told as a
failure (at most SKIPS x budget of them, 5 x, after which they are charged; it was 50 x until SMAC joined,
whose forest is refit at every ask, so that a run of hidden-tiles took over 85 s).

Conditions: on the Ember knob objectives a knob matters only at the opt_levels that read it
(``Objective.conditions``). SMAC takes that as ConfigSpace conditions and TPE define-by-run (a trial suggests
only the knobs its opt_level reads), and ``smac`` and ``tpe`` are told it; ``smac flat`` and ``tpe flat`` are
the same tuners given the flat space, as they were before they were told, and tune must beat both. The GP
sampler models only parameters every trial has, and HyperMapper 2 has no conditional parameters: both get
the flat space.

The emulator is deterministic, so each Ember objective measures every configuration once and serves
repeats from a cache; that changes no result, only the time. Per objective and method: the median over
seeds of the best value divided by the best known (1.0 is optimal), and the median number of evaluations
to get within 95% of the best known (best known / best so far >= 0.95; '>N' when most seeds never do).
tune beats a method on an objective when its median is lower, or equal and reached in fewer evaluations.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import torch
import torch.nn as nn
from tqdm import tqdm

import dae_emulator
import tune
from torch_ember.autotune import AreaModel, HardwareBudget, Objective
from tune_peers import run_hypermapper, run_optuna, run_smac

# what "tune beats" is judged against. "tpe flat" and "smac flat": TPE and SMAC not told the conditions
# (on an objective without conditions, the same runs as "tpe" and "smac")
PEERS = ("random", "tpe", "tpe flat", "gp", "smac", "smac flat", "hypermapper")
FLAT = " flat"
BATCH = 4
METHODS = ("tune", *PEERS, "tune batch")   # "tune batch": tune proposing BATCH at a time


@dataclass(frozen=True)
class Problem:
    name: str
    space: tune.Space
    objective: Callable[[dict], float]
    best_known: float | None          # None: the best that any run finds
    tune_options: tune.BayesianOptions = tune.BayesianOptions()     # as torch_ember.autotune gives them ...
    equivalent: Callable[[dict], tuple] | None = None                # ... with its configurations' equivalence
    conditions: dict[str, tuple[str, tuple]] = field(default_factory=dict)   # for the peers that take them


# the Ember objectives' start options. 'rest': 'eager' (the graph not decomposed for Inductor) is what every
# recorded run measured: autotune measured that graph whatever 'rest' said until it followed the user's
EMBER_OPTIONS = {"device": "server", "rest": "eager"}


class TwoTables(nn.Module):
    """A DLRM-like model reduced to its embedding work: a weighted-sum bag and a mean bag, then a linear."""

    def __init__(self, rows: tuple[int, int], dim: int) -> None:
        super().__init__()
        self.a, self.b = nn.EmbeddingBag(rows[0], dim, mode="sum"), nn.EmbeddingBag(rows[1], dim, mode="mean")
        self.top = nn.Linear(2 * dim, 1)

    def forward(self, ia, oa, wa, ib, ob):
        return self.top(torch.cat([self.a(ia, oa, per_sample_weights=wa), self.b(ib, ob)], 1)).squeeze(1)


def two_table_inputs(rows: tuple[int, int], batch: int, pooling: int) -> tuple:
    g = torch.Generator().manual_seed(0)
    ids = [(torch.rand(batch * pooling, generator=g) ** 3 * r).long() for r in rows]   # Zipf-like
    offsets = torch.arange(batch) * pooling
    return ids[0], offsets, torch.rand(batch * pooling, generator=g), ids[1], offsets


def uneven_bag_inputs(rows: tuple[int, int], batch: int, poolings: tuple[int, int]) -> tuple:
    """Bags of uneven length, as in real recommendation traffic (and ``examples/dlrm.py``): table ``k``'s
    lengths uniform in ``[0, 2 * poolings[k]]``, Zipf-like rows."""
    g = torch.Generator().manual_seed(0)
    ids, offsets = [], []
    for r, pooling in zip(rows, poolings):
        lengths = torch.randint(2 * pooling + 1, (batch,), generator=g)
        ids.append((torch.rand(int(lengths.sum()), generator=g) ** 3 * r).long())
        offsets.append(torch.cumsum(lengths, 0) - lengths)
    return ids[0], offsets[0], torch.rand(ids[0].numel(), generator=g), ids[1], offsets[1]


def ember_knobs() -> Problem:
    torch.manual_seed(0)
    rows = (64, 300)
    objective = Objective(TwoTables(rows, 64), uneven_bag_inputs(rows, 32, (16, 2)), EMBER_OPTIONS)
    names, values = objective.space.names, [p.values for p in objective.space.params]
    allowed = [c for c in (dict(zip(names, v)) for v in itertools.product(*values)) if objective.space.is_feasible(c)]
    return Problem("ember-knobs", objective.space, objective, min(_feasible_values(objective, allowed)),
                   equivalent=objective.key, conditions=objective.conditions)


def _feasible_values(objective, configs) -> list[float]:
    """The objective at every config it can run (the best known is the best of them)."""
    values = []
    for config in configs:
        try:
            values.append(objective(config))
        except tune.Infeasible:
            pass
    return values


def ember_hardware() -> Problem:
    torch.manual_seed(0)
    rows = (20000, 2000)
    budget = HardwareBudget(area_mm2=AreaModel().mm2(dae_emulator.preset("server")))
    objective = Objective(TwoTables(rows, 32), two_table_inputs(rows, 64, 8), EMBER_OPTIONS, budget)
    return Problem("ember-hardware", objective.space, objective, None)


def tsp_permutation(n: int = 9) -> Problem:
    places = np.random.default_rng(0).random((n, 2))
    dist = np.linalg.norm(places[:, None] - places[None], axis=-1)

    def length(config: dict) -> float:
        tour = config["tour"]
        return float(sum(dist[tour[i], tour[(i + 1) % n]] for i in range(n)))

    tours = np.asarray([(0, *p) for p in itertools.permutations(range(1, n))])   # rotations are equal
    best = float(dist[tours, np.roll(tours, -1, axis=1)].sum(axis=1).min())
    return Problem("tsp-permutation", tune.Space([tune.Permutation("tour", n)]), length, best)


def schedule_permutation(n: int = 9) -> Problem:
    """Single-machine total weighted tardiness: the order in which n jobs (streams) are served."""
    rng = np.random.default_rng(1)
    length, weight = rng.integers(1, 10, n), rng.integers(1, 5, n)
    due = rng.integers(1, int(length.sum()), n)

    def tardiness(orders: np.ndarray) -> np.ndarray:
        finish = np.cumsum(length[orders], axis=-1)
        return (weight[orders] * np.maximum(finish - due[orders], 0)).sum(axis=-1).astype(float)

    best = float(tardiness(np.asarray(list(itertools.permutations(range(n))))).min())
    return Problem("schedule-permutation", tune.Space([tune.Permutation("order", n)]),
                   lambda c: float(tardiness(np.asarray(c["order"]))), best)


def _tile_time(tx: int, ty: int, unroll: int, layout: str) -> float | None:
    """Modeled time of a tiled kernel: reuse grows with tile area over perimeter, unrolling hides latency;
    None when its registers (unknown to the tuner) overflow."""
    if tx * ty * (0.75 if layout == "col" else 1.0) + 16 * unroll > 1200:
        return None
    skew = 0.4 if layout == "row" and tx > 2 * ty else 0.0
    return 100 * (tx + ty) / (tx * ty) + 4 / unroll + 0.05 * unroll + skew + 1.0


def hidden_tiles() -> Problem:
    space = tune.Space([tune.Integer("tx", 1, 64), tune.Integer("ty", 1, 64), tune.Ordinal("unroll", (1, 2, 4, 8, 16)),
                        tune.Categorical("layout", ("row", "col"))], ["tx * unroll <= 256"])

    def objective(c: dict) -> float:
        value = _tile_time(c["tx"], c["ty"], c["unroll"], c["layout"])
        if value is None:
            raise tune.Infeasible("register spill")
        return value

    every = itertools.product(range(1, 65), range(1, 65), (1, 2, 4, 8, 16), ("row", "col"))
    best = min(v for c in every if c[0] * c[2] <= 256 and (v := _tile_time(*c)) is not None)
    return Problem("hidden-tiles", space, objective, best)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ember_dlrm_regions() -> Problem:
    """Per-region knobs of ``examples/dlrm.py``'s model (8 tables of different sizes, modes and pooling, bags
    of uneven length, Zipf-like rows; a batch of 64), forward and backward on ``server``: 16 regions x 4
    knobs and opt_level, 65 parameters, 16 known constraints."""
    sys.path.insert(0, str(EXAMPLES))
    import dlrm
    torch.manual_seed(0)
    dense, sparse, _ = dlrm.synthetic_batch(64, torch.Generator().manual_seed(0))
    objective = Objective(dlrm.DLRM(), (dense, sparse), EMBER_OPTIONS, per_region=True)
    return Problem("ember-dlrm-regions", objective.space, objective, None,
                   tune.BayesianOptions(groups=objective.groups), objective.key, objective.conditions)


def ember_gnn_regions() -> Problem:
    """Per-region knobs of ``examples/gnn.py``'s two-layer GCN on its power-law graph (300 nodes, 1,500 edges
    whose destinations follow a power law, plus self-loops; 16 features), forward and backward on ``server``:
    10 regions (degree scatters, normalization gathers, message passing and their gradients), 41 parameters."""
    sys.path.insert(0, str(EXAMPLES))
    import gnn
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    src, dst = gnn.power_law_graph(300, 1500, g)
    inputs = (torch.randn(300, 16, generator=g), src, dst)
    objective = Objective(gnn.GNN(gnn.GCNLayer, 16, 16, 4), inputs, EMBER_OPTIONS, per_region=True)
    return Problem("ember-gnn-regions", objective.space, objective, None,
                   tune.BayesianOptions(groups=objective.groups), objective.key, objective.conditions)


PROBLEMS = {"ember-knobs": ember_knobs, "ember-hardware": ember_hardware, "tsp-permutation": tsp_permutation,
            "schedule-permutation": schedule_permutation, "hidden-tiles": hidden_tiles,
            "ember-dlrm-regions": ember_dlrm_regions, "ember-gnn-regions": ember_gnn_regions}


def run(problem: Problem, method: str, budget: int, seed: int) -> list[float | None]:
    conditions = {} if method.endswith(FLAT) else problem.conditions
    method = method.removesuffix(FLAT)
    if method == "hypermapper":
        return run_hypermapper(problem.space, problem.objective, budget, seed)
    if method in ("tpe", "gp"):
        return run_optuna(problem.space, problem.objective, budget, seed, method, conditions)
    if method == "smac":
        return run_smac(problem.space, problem.objective, budget, seed, conditions)
    sampler = tune.RandomSampler(problem.space, seed) if method == "random" else None
    # batches of 4 as four workers would run them, evaluated inline: the same proposals, without nesting a
    # process pool in this objective's worker process
    batch = dict(workers=BATCH, executor="inline") if method == "tune batch" else {}
    result = tune.minimize(problem.objective, problem.space, budget, seed, sampler=sampler,
                           options=problem.tune_options, equivalent=problem.equivalent, **batch)
    return [e.value for e in result.history]


def run_problem(name: str, seeds: int, budget: int, methods: tuple[str, ...] = METHODS,
                cache: str | None = None) -> tuple[str, float, bool, dict[str, list[list[float | None]]]]:
    """Every method and seed on one objective (in one worker process), with its best known value and whether
    that is the true optimum (else the best any run found). With ``cache`` (a JSON-lines file), each finished
    run is appended there as it ends and a run found there is not run again: a long run that is stopped
    keeps what it finished."""
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = PROBLEMS[name]()
    done = {}
    if cache and Path(cache).exists():
        for line in Path(cache).read_text().splitlines():
            run_ = json.loads(line)
            done[(run_["objective"], run_["method"], run_["seed"], run_["budget"])] = run_["values"]
    traces = {}
    for method in methods:
        traces[method] = []
        # without conditions, a flat peer is the peer itself: the same runs
        ran = method if problem.conditions else method.removesuffix(FLAT)
        for seed in range(seeds):
            key = (name, ran, seed, budget)
            if key not in done:
                done[key] = run(problem, ran, budget, seed)
                if cache:
                    with open(cache, "a") as f:      # one short line per append: whole lines, even from two jobs
                        f.write(json.dumps({"objective": name, "method": ran, "seed": seed, "budget": budget,
                                            "values": done[key]}) + "\n")
            traces[method].append(done[key])
    seen = min(v for ts in traces.values() for t in ts for v in t if v is not None)
    exact = problem.best_known is not None
    return name, problem.best_known if exact else seen, exact, traces


@dataclass(frozen=True)
class Summary:
    relative: float     # median of best / best known
    reach: float        # median evaluations to within 95% of best known (inf: not reached)


def summarize(traces: list[list[float | None]], best: float, budget: int) -> Summary:
    relative, reach = [], []
    for trace in traces:
        so_far = list(itertools.accumulate((math.inf if v is None else v for v in trace), min))
        relative.append(so_far[-1] / best)
        reach.append(next((i + 1 for i, v in enumerate(so_far) if best / v >= 0.95), math.inf))
    return Summary(statistics.median(relative), statistics.median(reach))


def beats(a: Summary, b: Summary) -> bool:
    if not math.isclose(a.relative, b.relative, rel_tol=1e-9):
        return a.relative < b.relative
    return a.reach < b.reach


def _reach(reach: float, budget: int) -> str:
    return f">{budget}" if math.isinf(reach) else f"{reach:g}"


@dataclass
class Tally:
    """What the last lines say: objectives where tune beats every peer, every peer that ran, the peers that
    did not run where, and the (batched, sequential) evaluations to 95%."""

    every: int = 0
    every_that_ran: int = 0
    not_run: dict = field(default_factory=dict)
    batch_reach: list = field(default_factory=list)


def _row(name: str, best: float, exact: bool, traces: dict, budget: int, tally: Tally) -> None:
    """Print one objective's row and count it in ``tally``."""
    s = {m: summarize(traces[m], best, budget) for m in traces}
    cells = "".join(f" {s[m].relative:>8.4f} ({_reach(s[m].reach, budget):>5})" if m in s else f" {'-':>16}"
                    for m in METHODS)
    peers = [m for m in PEERS if m in s]
    won = [m for m in peers if beats(s["tune"], s[m])]
    print(f"{name:<20} {best:>10.5g}{' ' if exact else '*'}{cells}  {', '.join(won) or '-'}", flush=True)
    tally.every += len(won) == len(PEERS)
    tally.every_that_ran += len(won) == len(peers)
    for m in PEERS:
        if m not in s:
            tally.not_run.setdefault(m, []).append(name)
    if "tune batch" in s:
        tally.batch_reach.append((s["tune batch"].reach, s["tune"].reach))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="objectives run in this many processes")
    parser.add_argument("--only", nargs="*", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="*", choices=METHODS[1:], default=list(METHODS[1:]),
                        help="peers (and 'tune batch') to run beside tune; 'tune beats' still needs every peer")
    parser.add_argument("--cache", help="a JSON-lines file of finished runs: appended as runs end, read to skip "
                                        "them (resumes a stopped run)")
    args = parser.parse_args(argv)
    methods = ("tune", *args.methods)
    start = time.perf_counter()
    print(f"median over {args.seeds} seeds at budget {args.budget}: best / best known (evaluations to reach 95%)")
    print(f"{'objective':<20} {'best known':>11}" + "".join(f" {m:>16}" for m in METHODS) + "  tune beats", flush=True)
    tally, done, failed = Tally(), [], []
    with ProcessPoolExecutor(args.jobs) as pool:    # a row as each objective finishes (each takes minutes)
        runs = {pool.submit(run_problem, name, args.seeds, args.budget, methods, args.cache): name
                for name in args.only}
        for future in tqdm(as_completed(runs), total=len(runs), desc="objectives", unit="objective", file=sys.stderr):
            try:
                done.append(future.result())
            except Exception as error:      # noqa: BLE001 - one objective's failure must not lose the others' rows
                failed.append(runs[future])
                tqdm.write(f"{runs[future]}: failed: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            _row(*done[-1], args.budget, tally)
    if not all(exact for _, _, exact, _ in done):
        print("* best known = the best any run found (the space is too large to measure whole)")
    finite = [(b, s) for b, s in tally.batch_reach if math.isfinite(b) and math.isfinite(s)]
    if finite:
        print(f"tune in batches of {BATCH} against sequential tune, median evaluations to 95% summed over the "
              f"{len(finite)} objectives both reach: {sum(b for b, _ in finite):g} against "
              f"{sum(s for _, s in finite):g} ({sum(b for b, _ in finite) / sum(s for _, s in finite) - 1:+.0%}; "
              f"target at most +15%)")
    print(f"took {time.perf_counter() - start:.0f} s")
    if failed:
        print(f"failed (no row; the error is on stderr): {', '.join(failed)}")
    if tally.not_run:
        print("peers not run, so not beaten: " + "; ".join(f"{m} on {', '.join(names)}"
                                                          for m, names in tally.not_run.items())
              + f". tune beats every peer that ran on {tally.every_that_ran} of {len(done)} objectives")
    print(f"tune beats every peer ({', '.join(PEERS)}) on {tally.every} of {len(done)} objectives at budget "
          f"{args.budget}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
