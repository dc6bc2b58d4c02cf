"""Command line of ``torch_ember.bench``; ``python -m torch_ember.bench --help`` lists the options."""
from __future__ import annotations

import argparse
import sys

import dae_emulator
import torch_ember.bench as bench

from . import WORKLOADS, measure, plot_roofline, table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_ember.bench", description=bench.__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one untimed)")
    parser.add_argument("--size", choices=["small", "full"], default="full",
                        help="full: the sizes of examples/; small: a quick run")
    parser.add_argument("--device", default="server", choices=sorted(dae_emulator.PRESETS), help="DAE device preset")
    parser.add_argument("--rest", choices=["inductor", "eager"], default="inductor",
                        help="where the non-lookup part of the graph runs under ember")
    parser.add_argument("--timing", choices=["sampled", "full"], default="sampled",
                        help="device timing: a sample of launches in detail (default), or every launch")
    parser.add_argument("--plot", metavar="PATH", help="write a roofline PNG of the regions to PATH")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")

    options = {"device": args.device, "rest": args.rest, "timing": args.timing}
    measurements = [measure(w, args.steps, options) for w in WORKLOADS[args.workload](args.size == "small")]
    print(table(measurements))
    for m in measurements:
        print(f"\n{m.model}: regions over {m.steps} step(s)\n{m.report}")
    if args.plot:
        regions = [r for m in measurements for r in m.report.regions]
        plot_roofline(regions, dae_emulator.preset(args.device), args.plot,
                      f"{args.workload} on DAE device '{args.device}' ({args.size} size)")
        print(f"\nroofline written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
