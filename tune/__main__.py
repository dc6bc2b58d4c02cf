"""``python -m tune scenario.json``: tune an external command, write every evaluation to CSV."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tune.driver import minimize
from tune.progress import progress
from tune.scenario import load_scenario


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tune", description=__doc__)
    parser.add_argument("scenario", help="the JSON scenario file")
    parser.add_argument("--budget", type=int, help="evaluations (overrides the scenario)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the scenario)")
    parser.add_argument("--output", help="CSV path (overrides the scenario)")
    parser.add_argument("--workers", type=int, help="evaluations at a time (overrides the scenario)")
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    budget = args.budget if args.budget is not None else scenario.budget
    seed = args.seed if args.seed is not None else scenario.seed
    workers = args.workers if args.workers is not None else scenario.workers
    if workers < 1:
        parser.error(f"--workers must be at least 1, got {workers}")
    with progress(budget) as callback:
        result = minimize(
            scenario.objective(), scenario.space, budget, seed, options=scenario.options, callback=callback,
            workers=workers, executor=scenario.executor if workers > 1 else None,
        )
    output = args.output or scenario.output
    result.write_csv(output, scenario.space.names)
    print(json.dumps({"best_config": result.best_config, "best_value": result.best_value, "csv": str(output)}))
    return 0 if result.best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
