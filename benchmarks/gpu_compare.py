"""The same regions on a GPU (Triton) and on the modeled DAE device, compared in one run.

    python benchmarks/gpu_compare.py                 # needs a CUDA GPU; --json results.json to keep them
    python benchmarks/gpu_compare.py --dae-only      # only the modeled DAE side (runs on the CPU)

1. Embedding-bag forward, kernel against kernel: the Triton kernel (``torch_ember.triton``) against
   PyTorch's CUDA ``embedding_bag`` on every DLRM table shape, on one bandwidth-bound shape (uniform ids over
   a table far larger than L2), and the table-batched launch against one PyTorch call per table. GB/s is
   logical bytes (ids, offsets, weights, looked-up rows, output) over time, against the GPU's HBM peak
   (NVML's memory clock x bus width, x2 for double data rate). Each is timed twice: called from Python as
   a model calls it (host launch cost included), and replayed from a CUDA graph (the kernels alone).
2. Workloads (examples/dlrm.py, gnn.py, moe.py, one training step: forward and backward): eager CUDA,
   Inductor, and ember with ``regions="triton"`` (the rest through Inductor). Wall times are CUDA-event
   medians after warm-up; board power is NVML's, sampled during the timed steps. The regions' own GPU time
   is the sum of the Triton region kernels in a profiled step.
3. Beside them, the same step with ``regions="dae"`` on the CPU: the modeled DAE time and energy of the
   regions on a device preset (``server``). DAE/GPU speedup and performance per watt compare the regions
   only (the DAE device runs no MLPs), with the assumptions printed. ``--dae-json`` takes that side from an
   earlier ``--dae-only --json`` run instead (it is deterministic), so that GPU time is spent on the GPU.

Before it is timed, every kernel and every ember-Triton step is checked against PyTorch on the same GPU
(the bag kernels' outputs; the workloads' loss and gradients after one step from the same weights); the
largest relative differences are printed and kept, and a mismatch beyond tolerance stops the script.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import re
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import dlrm, gnn, moe  # noqa: E402  (the example models are the workloads)

import dae_emulator  # noqa: E402
import torch_ember  # noqa: E402
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec  # noqa: E402

_REGION_KERNEL = re.compile(r"^_\w+_kernel$")   # the Triton region kernels' names (torch_ember/triton)


TOLERANCE = 1e-3   # relative, to the largest magnitude: atomics on the GPU sum in an order of their own


def relative_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest |got - want| over the largest |want|: one number per tensor, 0 when they are equal."""
    if not want.numel():
        return 0.0
    return (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)


def checked(what: str, difference: float) -> float:
    if not difference <= TOLERANCE:
        raise RuntimeError(f"{what}: ember-Triton differs from PyTorch on the GPU by {difference:.2e} "
                           f"(relative), above the tolerance {TOLERANCE:.0e}")
    return difference


def cuda_median(fn, warmup: int, iters: int, meter=None) -> float:
    """Median seconds of ``fn`` by CUDA events, after ``warmup`` calls; ``meter`` samples power meanwhile."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    with meter or _Nothing():
        for _ in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def graph_median(fn, warmup: int, iters: int) -> float:
    """Median seconds of ``fn`` captured once in a CUDA graph and replayed: the GPU's time for the kernels
    without the host's cost of launching them (NaN where ``fn`` cannot be captured)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()                                # warm up on a side stream, as graph capture asks
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn()
    except RuntimeError as error:
        print(f"  (not captured in a CUDA graph: {str(error).splitlines()[0]})")
        return float("nan")
    return cuda_median(graph.replay, warmup, iters)


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class PowerMeter:
    """Mean board power (W) by NVML while the ``with`` block runs, sampled every 5 ms in a thread."""

    def __init__(self, nvml, handle):
        self.nvml, self.handle, self.samples = nvml, handle, []

    def __enter__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.samples.append(self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    @property
    def watts(self) -> float:
        return statistics.mean(self.samples) if self.samples else float("nan")


def gpu_environment() -> tuple[dict, PowerMeter | None]:
    """Versions, the GPU, its HBM peak and a power meter (None without ``nvidia-ml-py``)."""
    import triton
    env = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
           "triton": triton.__version__, "cuda": torch.version.cuda, "command": " ".join(sys.argv),
           "driver": "n/a", "hbm_peak_gbs": float("nan")}
    try:
        import pynvml
    except ImportError:
        print("note: nvidia-ml-py is not installed (pip install nvidia-ml-py): no power, driver or HBM peak")
        return env, None
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    mem_mhz = pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM)
    bus_bits = pynvml.nvmlDeviceGetMemoryBusWidth(handle)
    env.update(driver=pynvml.nvmlSystemGetDriverVersion(), hbm_peak_gbs=2 * mem_mhz * 1e6 * bus_bits / 8 / 1e9)
    return env, PowerMeter(pynvml, handle)


def bag_shapes(batch: int) -> list[tuple[str, int, int, int, BagMode, bool]]:
    """(name, rows, dim, pooling, mode, weighted): the DLRM workload's tables, then a bandwidth-bound one."""
    shapes = [(f"dlrm table {k}", rows, 64, pooling, BagMode[mode.upper()], weighted)
              for k, (rows, mode, pooling, weighted) in enumerate(dlrm.TABLES)]
    return shapes + [("bandwidth-bound", 4_000_000, 128, 32, BagMode.SUM, False)]


def bag_kernels(args, meter) -> list[dict]:
    from torch_ember.triton import Bag, embedding_bags
    from torch_ember.triton.embedding_bag import forward
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows_out, batched, per_table_torch = [], [], []
    for name, rows, dim, pooling, mode, weighted in bag_shapes(args.batch):
        table = torch.randn(rows, dim, device="cuda", generator=gen)
        indices = torch.randint(0, rows, (args.batch * pooling,), device="cuda", generator=gen)
        offsets = torch.arange(0, args.batch * pooling + 1, pooling, device="cuda")
        psw = torch.rand(indices.numel(), device="cuda", generator=gen) if weighted else None
        spec = RegionSpec(RegionKind.EMBEDDING_BAG, name, mode=mode, has_weights=weighted)
        inputs = {"table": table, "indices": indices, "offsets": offsets, **({"weights": psw} if weighted else {})}
        nbytes = (indices.numel() * (8 + dim * 4 + (4 if weighted else 0)) + offsets.numel() * 8
                  + args.batch * dim * 4)

        def ours(spec=spec, inputs=inputs):
            return forward(spec, inputs, {})

        def theirs(table=table, indices=indices, offsets=offsets, mode=mode, psw=psw):
            return F.embedding_bag(indices, table, offsets, mode=mode.name.lower(), per_sample_weights=psw,
                                   include_last_offset=True)

        difference = checked(name, relative_difference(ours()["out"], theirs()))
        t_ours = cuda_median(ours, args.warmup, args.iters, meter)
        watts = meter.watts if meter else float("nan")
        t_torch = cuda_median(theirs, args.warmup, args.iters)
        g_ours, g_torch = graph_median(ours, args.warmup, args.iters), graph_median(theirs, args.warmup, args.iters)
        rows_out.append({"shape": f"{name}: {rows} x {dim}, batch {args.batch}, pooling {pooling}, {mode.name.lower()}",
                         "triton_us": t_ours * 1e6, "torch_us": t_torch * 1e6, "triton_gbs": nbytes / t_ours / 1e9,
                         "torch_gbs": nbytes / t_torch / 1e9, "watts": watts, "difference": difference,
                         "triton_graph_us": g_ours * 1e6, "torch_graph_us": g_torch * 1e6,
                         "triton_graph_gbs": nbytes / g_ours / 1e9, "torch_graph_gbs": nbytes / g_torch / 1e9})
        print(f"  {rows_out[-1]['shape']}: triton {t_ours * 1e6:.1f} us, torch {t_torch * 1e6:.1f} us; "
              f"kernels alone (CUDA graph): triton {g_ours * 1e6:.1f} us, torch {g_torch * 1e6:.1f} us", flush=True)
        if name.startswith("dlrm"):
            batched.append(Bag(table, indices, offsets, mode, psw))
            per_table_torch.append(theirs)
    t_batched = cuda_median(lambda: embedding_bags(batched), args.warmup, args.iters)
    t_loop = cuda_median(lambda: [f() for f in per_table_torch], args.warmup, args.iters)
    rows_out.append({"shape": f"all {len(batched)} dlrm tables: one batched launch vs one torch call per table",
                     "triton_us": t_batched * 1e6, "torch_us": t_loop * 1e6})
    return rows_out


def workloads(batch: int):
    """name -> (model, inputs on ``device``): each example's model at benchmark size."""
    def dlrm_case(device):
        torch.manual_seed(0)
        dense, sparse, _ = dlrm.synthetic_batch(batch, torch.Generator().manual_seed(0))
        sparse = [tuple(t.to(device) for t in feature) for feature in sparse]
        return dlrm.DLRM(dim=64).to(device), (dense.to(device), sparse)

    def gnn_case(device):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        src, dst = gnn.power_law_graph(50_000, 500_000, gen)
        x = torch.randn(50_000, 64, generator=gen)
        return gnn.GNN(gnn.GCNLayer, 64, 64, 8).to(device), (x.to(device), src.to(device), dst.to(device))

    def moe_case(device):
        torch.manual_seed(0)
        tokens = torch.randint(0, 500, (16, 128), generator=torch.Generator().manual_seed(0))
        return moe.MoEBlock(dim=256, heads=4, experts=8).to(device), (tokens.to(device),)

    return {"dlrm": dlrm_case, "gnn": gnn_case, "moe": moe_case}


def train_step(model, inputs):
    def step():
        model.zero_grad(set_to_none=True)
        model(*inputs).float().sum().backward()
    return step


def region_kernel_seconds(step) -> float:
    """GPU time of the Triton region kernels in one step, from the profiler's CUDA kernel events."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    return sum(e.device_time_total for e in prof.key_averages() if _REGION_KERNEL.match(e.key)) / 1e6


def step_difference(eager, compiled, inputs) -> float:
    """One step of each from the same weights: the largest relative difference of the loss and the grads."""
    losses = []
    for model in (eager, compiled):
        model.zero_grad(set_to_none=True)
        losses.append(model(*inputs).float().sum())
        losses[-1].backward()
    differences = [relative_difference(losses[1].detach(), losses[0].detach())]
    for (name, want), got in zip(eager.named_parameters(), compiled.parameters()):
        if want.grad is not None or got.grad is not None:
            if want.grad is None or got.grad is None:
                raise RuntimeError(f"parameter {name}: a gradient on one side only")
            differences.append(relative_difference(got.grad, want.grad))
    return max(differences)


def gpu_workload(name, case, args, meter) -> dict:
    model, inputs = case("cuda")
    result = {}
    reference = copy.deepcopy(model)
    for variant, compiled in (("eager", model), ("inductor", torch.compile(copy.deepcopy(model))),
                              ("ember_triton", torch.compile(copy.deepcopy(model), backend="ember",
                                                             options={"regions": "triton"}))):
        if variant == "ember_triton":
            result["difference"] = checked(name, step_difference(reference, compiled, inputs))
        result[f"{variant}_ms"] = cuda_median(train_step(compiled, inputs), args.warmup, args.iters, meter) * 1e3
        result[f"{variant}_watts"] = meter.watts if meter else float("nan")
        if variant == "ember_triton":
            result["triton_regions_ms"] = region_kernel_seconds(train_step(compiled, inputs)) * 1e3
    if result["triton_regions_ms"] == 0:
        raise RuntimeError(f"{name}: no Triton region kernel ran, so the lookups stayed on the host; check "
                           f"torch_ember.explain(model, *inputs) for the reason")
    return result


def dae_workload(case, device: str) -> dict:
    """One step on the CPU with regions on the modeled DAE device (after a compiling step)."""
    model, inputs = case("cpu")
    compiled = torch.compile(model, backend="ember", options={"device": device})
    train_step(compiled, inputs)()
    torch_ember.reset()
    train_step(compiled, inputs)()
    total = torch_ember.report().total()
    return {"dae_regions_ms": total.modeled_seconds * 1e3, "dae_energy_mj": total.energy_joules * 1e3,
            "region_bytes": total.bytes_read + total.bytes_written}


def assumptions(device: str) -> str:
    cfg = dae_emulator.preset(device)
    return (f"DAE side: modeled, not measured: the '{device}' preset ({cfg.cores} cores at {cfg.clock_ghz} GHz, "
            f"{cfg.dram_bandwidth_gbs} GB/s DRAM, {cfg.energy_dram_pj_per_byte} pJ/B DRAM, {cfg.energy_static_w} W "
            "static), event-count energy, regions only. GPU side: measured kernel time of the Triton region "
            "kernels, times NVML board power averaged over the whole ember-Triton step (MLPs included, so the "
            "regions' own power is overstated when the MLPs draw more). Speedup = GPU region time / DAE region "
            "time; performance per watt = steps per joule of region work on each side.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", nargs="+", choices=["dlrm", "gnn", "moe"], default=["dlrm", "gnn", "moe"])
    parser.add_argument("--batch", type=int, default=8192, help="bags per table (DLRM and the kernel shapes)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--dae-device", default="server")
    parser.add_argument("--dae-only", action="store_true", help="only the modeled DAE side, on the CPU")
    parser.add_argument("--dae-json", type=Path, help="the modeled DAE side from an earlier --dae-only --json run")
    parser.add_argument("--json", type=Path, help="write the results here (after each part, so a part survives)")
    args = parser.parse_args(argv)
    if not args.dae_only and not torch.cuda.is_available():
        print(f"gpu_compare.py needs a CUDA GPU, and torch {torch.__version__} sees none (CUDA build: "
              f"{torch.version.cuda}); --dae-only runs the modeled DAE side alone", file=sys.stderr)
        return 2
    cases = workloads(args.batch)
    results = {"dae_setting": dae_setting(args), "workloads": dae_side(args, cases)}
    save = (lambda: args.json.write_text(json.dumps(results, indent=2))) if args.json else (lambda: None)
    save()
    failures = results["failures"] = {}
    if not args.dae_only:
        env, meter = gpu_environment()
        results["environment"] = env
        with part_of(failures, "bag kernels"):
            results["bag_kernels"] = bag_kernels(args, meter)
        save()
        for name in args.workloads:
            with part_of(failures, name):
                results["workloads"][name].update(gpu_workload(name, cases[name], args, meter))
                print(f"  {name}: {results['workloads'][name]}", flush=True)
            save()
    print_results(results, args.dae_device)
    for part, error in failures.items():
        print(f"FAILED: {part}: {error}", file=sys.stderr)
    return 1 if failures else 0


@contextlib.contextmanager
def part_of(failures: dict, part: str):
    """Run one part; an error in it is printed and kept, and the other parts still run (one GPU session)."""
    try:
        yield
    except Exception as error:  # noqa: BLE001  (reported, and the exit status says so)
        traceback.print_exc()
        failures[part] = f"{type(error).__name__}: {error}"


def dae_side(args, cases) -> dict:
    """name -> the modeled DAE results: run here, or read from ``--dae-json`` (same batch and device)."""
    if args.dae_json is None:
        return {name: dae_workload(cases[name], args.dae_device) for name in args.workloads}
    earlier = json.loads(args.dae_json.read_text())
    if earlier.get("dae_setting") != dae_setting(args):
        raise SystemExit(f"{args.dae_json} was run with {earlier.get('dae_setting')}, not {dae_setting(args)}")
    missing = set(args.workloads) - set(earlier["workloads"])
    if missing:
        raise SystemExit(f"{args.dae_json} has no modeled results for {sorted(missing)}")
    return {name: earlier["workloads"][name] for name in args.workloads}


def dae_setting(args) -> dict:
    return {"batch": args.batch, "dae_device": args.dae_device}


def print_results(results: dict, device: str) -> None:
    env = results.get("environment")
    if env and "bag_kernels" in results:
        print(", ".join(f"{k}: {v}" for k, v in env.items()))
        peak = env["hbm_peak_gbs"]
        print(f"\nembedding-bag forward (us, GB/s; HBM peak {peak:.0f} GB/s)")
        for r in results["bag_kernels"]:
            line = f"  {r['shape']}: triton {r['triton_us']:.1f} us, torch {r['torch_us']:.1f} us"
            if "triton_gbs" in r:
                line += (f"; triton {r['triton_gbs']:.0f} GB/s ({r['triton_gbs'] / peak:.0%} of peak), "
                         f"torch {r['torch_gbs']:.0f} GB/s; {r['watts']:.0f} W; "
                         f"differs from torch by {r['difference']:.1e}\n    kernels alone (CUDA graph replay): "
                         f"triton {r['triton_graph_us']:.1f} us, {r['triton_graph_gbs']:.0f} GB/s "
                         f"({r['triton_graph_gbs'] / peak:.0%} of peak); torch {r['torch_graph_us']:.1f} us, "
                         f"{r['torch_graph_gbs']:.0f} GB/s")
            print(line + ("" if r["triton_us"] < r["torch_us"] else "   <- NOT faster than torch"))
        bound = next(r for r in results["bag_kernels"] if r["shape"].startswith("bandwidth-bound"))
        print(f"  target >= 80% of HBM peak on the bandwidth-bound shape: "
              f"{'met' if bound['triton_gbs'] >= 0.8 * peak else 'NOT met'} with the launch, "
              f"{'met' if bound['triton_graph_gbs'] >= 0.8 * peak else 'NOT met'} by the kernel alone")
    print(f"\nworkloads, one training step (regions modeled on the DAE '{device}' preset)")
    for name, w in results["workloads"].items():
        print(f"  {name}: DAE regions {w['dae_regions_ms']:.3f} ms modeled, {w['dae_energy_mj']:.3f} mJ, "
              f"{w['region_bytes'] / 1e6:.1f} MB moved by the regions")
        if "eager_ms" in w:
            gpu_j = w["triton_regions_ms"] / 1e3 * w["ember_triton_watts"]
            print(f"    GPU: eager {w['eager_ms']:.3f} ms ({w['eager_watts']:.0f} W), inductor {w['inductor_ms']:.3f} ms,"
                  f" ember-triton {w['ember_triton_ms']:.3f} ms ({w['ember_triton_watts']:.0f} W), of which region "
                  f"kernels {w['triton_regions_ms']:.3f} ms ({w['region_bytes'] / w['triton_regions_ms'] / 1e6:.0f} GB/s);"
                  f" loss and grads differ from eager by {w['difference']:.1e}")
            print(f"    DAE/GPU speedup {w['triton_regions_ms'] / w['dae_regions_ms']:.2f}x; performance per watt "
                  f"DAE/GPU {gpu_j / (w['dae_energy_mj'] / 1e3):.2f}x")
    print("\n" + assumptions(device))


if __name__ == "__main__":
    sys.exit(main())
