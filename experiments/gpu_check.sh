#!/usr/bin/env bash
# Every GPU measurement of issue 13 in one script of at most 9.5 minutes (each step under its own timeout, so
# a slow step cannot take the others with it). Results go to $OUT (or ./gpu-check-out): *.json, *.log.
#
# On the lent GPU machine (after `bash ../shared/tools/gpu-bundle.sh` here; device run with carry [".gpu"]):
#   bash .gpu/install.sh && export PYTHONPATH=$PWD/.gpu/site PATH=$PWD/.gpu/site/bin:$PATH &&
#     bash experiments/gpu_check.sh
#
# 1. tests/test_darts_step.py with the GPU: CUDA graphs, compile + CUDA graphs and inductor vs
#    eager losses (the CUDA tests skip on a CPU-only machine)                           ~2 min
# 2. bench_darts_throughput: eager vs graph, fp32 and bf16, Ray vs plain loop of the
#    captured step, 1/2/4/8/16 packed candidates, busy sync vs async, projection       ~4.5 min
# 3. torch.compile and compile + CUDA graphs (bf16), for the choice of the default      ~1.5 min
# 4. `ssnenas search` end to end on the GPU: packing by the memory model, --async       ~1.5 min
set -u
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-check-out}; mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
py=python3
started=$(date +%s)
step() { echo; echo "== $1 ($(( $(date +%s) - started )) s in)"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/device.txt"
$py -c "import torch, ray; print('torch', torch.__version__, 'ray', ray.__version__, 'cuda', torch.cuda.is_available())" \
  2>&1 | tee -a "$out/device.txt"

step "1. CUDA tests of the step modes"
SSNENAS_TEST_INDUCTOR=1 timeout 120 $py -m pytest -q -p no:cacheprovider tests/test_darts_step.py 2>&1 \
  | tail -15 | tee "$out/tests.log"

step "2. throughput: step modes, Ray vs plain, packing, projection"
# 5,000 training images per epoch (the search's epochs have 25,000: images/s does not depend on it)
# the busy fraction needs an NB201 store: copy one into .gpu/ before the device call (552 KB), e.g.
#   cp -r /work/stores/nb201-cifar10-valid .gpu/
store=${SSNENAS_NB201_STORE:-}
[[ -z $store && -d .gpu/nb201-cifar10-valid ]] && store=.gpu/nb201-cifar10-valid
timeout 260 $py -m experiments.bench_darts_throughput --json --images-per-batch 2000 --epochs 3 \
  --modes eager graph --precisions fp32 bf16 --pack 1 2 4 8 16 ${store:+--store "$store"} \
  > "$out/bench.json" 2> "$out/bench.log"
echo "exit $?"; grep -v "^\s*$" "$out/bench.log" | grep -E "img/s|packed|busy|projection|Error|error" | tail -30

step "3. torch.compile and compile + CUDA graphs (bf16)"
timeout 100 $py -m experiments.bench_darts_throughput --json --images-per-batch 2000 --epochs 3 \
  --modes compile compile-graph --precisions bf16 --ray-modes --pack \
  > "$out/bench_compile.json" 2> "$out/bench_compile.log"
echo "exit $?"; grep -E "img/s|Error|error" "$out/bench_compile.log" | tail -10

step "memory model vs measured peak (one candidate, bench's data size)"
$py - "$out/bench.json" <<'PY' 2>&1 | tee "$out/memory.txt"
import json, sys
from ssnenas.darts.packing import PROCESS_OVERHEAD_BYTES, candidate_memory_bytes
try:
    bench = json.load(open(sys.argv[1]))
except Exception as exc:
    sys.exit(f"no bench.json: {exc}")
images = bench["images_per_epoch"] * 2 + bench["images_per_epoch"] * 2 // 5  # train + val + test batch
for precision, modes in bench["single"].items():
    for mode, r in modes.items():
        if r.get("peak_memory_bytes"):
            model = candidate_memory_bytes(channels=16, layers=8, batch_size=64, input_shape=(3, 32, 32),
                                           num_classes=10, dataset_images=images, bf16=precision == "bf16")
            print(f"{precision} {mode}: measured peak {r['peak_memory_bytes'] / 2**20:.0f} MiB allocated; model "
                  f"{(model - PROCESS_OVERHEAD_BYTES) / 2**20:.0f} MiB + {PROCESS_OVERHEAD_BYTES / 2**20:.0f} "
                  f"MiB context (worst-case cell, DARTS-V2 measured)")
PY

step "4. ssnenas search on the GPU: packed by the memory model, asynchronous"
syn=$(mktemp -d)
$py -c "from pathlib import Path; from experiments.bench_darts_throughput import write_synthetic_cifar as w; w(Path('$syn/cifar-10-batches-py'), 1000)"
timeout 90 $py -m ssnenas search --data "cifar10:$syn/cifar-10-batches-py" --budget 12 --num-init 4 --k 4 \
  --epochs 2 --async --out "$syn/run" > "$out/search.log" 2>&1
echo "exit $?"; tail -6 "$out/search.log"
$py -c "import json; c = json.load(open('$syn/run/config.json')); print('resources', c['resources'], 'slots', c['max_concurrent_trials'], 'packing', c['packing'])" 2>&1 | tee -a "$out/search.log"

step "done"
echo "results in $out"; ls -la "$out"
