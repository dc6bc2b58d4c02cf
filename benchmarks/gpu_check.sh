#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA GPU and PyTorch + Triton already installed (nothing is
# fetched or installed): the Triton kernel tests compiled and run on the GPU, and benchmarks/gpu_compare.py.
#   bash benchmarks/gpu_check.sh OUTDIR [DAE_JSON [GPU_COMPARE_ARGS...]]
# DAE_JSON: an earlier `gpu_compare.py --dae-only --json`; the arguments after it go to gpu_compare.py.
# Each step's log and the results land in OUTDIR; a step that fails does not stop the next.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu_check.sh OUTDIR [DAE_JSON [GPU_COMPARE_ARGS...]]}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  python3 -c "import sys, torch, triton; print(sys.version.split()[0], torch.__version__, torch.version.cuda, triton.__version__)"
} 2>&1 | tee "$out/environment.txt"
# Nothing is installed: the checkout goes on the path, beside a minimal record of the package that holds
# its torch.compile entry point (backend="ember"), which is all `pip install -e .` would add here.
meta=$(mktemp -d)
mkdir "$meta/torch_ember-0.1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: torch-ember\nVersion: 0.1.0\n' >"$meta/torch_ember-0.1.0.dist-info/METADATA"
printf '[torch_dynamo_backends]\nember = torch_ember.dynamo_backend:ember_backend\n' \
  >"$meta/torch_ember-0.1.0.dist-info/entry_points.txt"
export PYTHONPATH="$PWD:$meta${PYTHONPATH:+:$PYTHONPATH}"
dae=()
[ $# -ge 2 ] && dae=(--dae-json "$2" "${@:3}")
timeout "${GPU_COMPARE_SECONDS:-420}" python3 benchmarks/gpu_compare.py "${dae[@]}" --json "$out/gpu_results.json" 2>&1 \
  | tee "$out/gpu_compare.log"
echo "gpu_compare exit status: $?" | tee -a "$out/gpu_compare.log"
EMBER_TRITON_DEVICE=cuda timeout "${GPU_TESTS_SECONDS:-120}" python3 -m pytest -q -p no:cacheprovider tests/triton 2>&1 \
  | tee "$out/triton_tests_on_gpu.log"
echo "triton tests exit status: $?" | tee -a "$out/triton_tests_on_gpu.log"
