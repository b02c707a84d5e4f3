#!/usr/bin/env bash
# The GPU measurements of issue 12 (cohorts of benchmark trials) in one script of at most about 9 minutes,
# each step under its own timeout so that a slow one cannot take the others with it. Results go to $OUT
# (or ./gpu-cohort-out): one bench_cohort JSON per step, *.log.
#
# Before the device call, here: bash ../shared/tools/gpu-bundle.sh && cp -r /work/stores/nb201-cifar10-valid .gpu/
#   && cp /work/ckpt/ssrl_nb201.pt .gpu/          (the store is 552 KB, the checkpoint 235 KB)
# On the lent GPU machine (device run with carry [".gpu"], timeout 600):
#   bash .gpu/install.sh && export PYTHONPATH=$PWD/.gpu/site PATH=$PWD/.gpu/site/bin:$PATH &&
#     bash experiments/gpu_cohort_check.sh
# Dry run on a CPU (checks the script, not the numbers):
#   DEVICE=cpu STORE=/work/stores/nb201-cifar10-valid CKPT=/work/ckpt/ssrl_nb201.pt \
#     EXTRA="--set epochs=2 --budget 20" bash experiments/gpu_cohort_check.sh
#
# 1. speed: per algorithm, the cohort size the CPU uses and larger ones (a GPU gains from more
#    predictors per batched fit), one-trial path timed on 2 trials and checked against the cohort's
#    (same architectures, same final best val: not guaranteed on a GPU, see the README)     ~5 min
# 2. equivalence where 1 found differences: NPENAS-NP, 100 paired trials on both paths, Wilcoxon  ~3 min
set -u
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-cohort-out}; mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
device=${DEVICE:-cuda}
store=${STORE:-.gpu/nb201-cifar10-valid}
ckpt=${CKPT:-.gpu/ssrl_nb201.pt}
extra=${EXTRA:-}
started=$(date +%s)
step() { echo; echo "== $1 ($(( $(date +%s) - started )) s in)"; }
bench() {  # bench NAME SECONDS ARGS...: one bench_cohort run, its JSON to $out/NAME.json
  local name=$1 limit=$2; shift 2
  # shellcheck disable=SC2086
  timeout "$limit" python3 -m experiments.bench_cohort --data "$store" --device "$device" --json "$@" $extra \
    > "$out/$name.json" 2> "$out/$name.log"
  local rc=$?
  python3 - "$out/$name.json" "$name" "$rc" <<'PY'
import json, sys
path, name, rc = sys.argv[1:]
try:
    rows = json.load(open(path))["rows"]
except Exception:
    sys.exit(f"{name}: no result (exit {rc}); see {path[:-5]}.log")
for r in rows:
    print(f"{name}: {r['algorithm']} C={r['cohort_size']} one-trial {r['single_s_per_trial']} s, cohort "
          f"{r['cohort_s_per_trial']} s/trial ({r['cohort_trials_per_hour_per_core']:,.0f} trials/h), "
          f"x{r['speedup']}, same archs {r['same_archs']}, same best val {r['same_final_best_val']}, "
          f"wilcoxon p {r['wilcoxon_p']}")
PY
}

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/device.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 \
  | tee -a "$out/device.txt"

step "1. cohort speed on $device"
bench np-24 60 --algos npenas-np --trials 24 --single-trials 2 --cohort-size 24
bench np-96 75 --algos npenas-np --trials 96 --single-trials 2 --cohort-size 96
bench bo-8 60 --algos npenas-bo --trials 8 --single-trials 2 --cohort-size 8
bench bo-64 90 --algos npenas-bo --trials 64 --single-trials 2 --cohort-size 64
bench bananas-32 60 --algos bananas --trials 32 --single-trials 2 --cohort-size 32
bench ssrl-64 60 --algos npenas-ssrl --trials 64 --single-trials 2 --cohort-size 64 --predictor "ss-rl=$ckpt"

step "2. one-trial path vs cohorts over 100 paired trials (NPENAS-NP)"
bench np-paired 170 --algos npenas-np --trials 100 --single-trials 100 --cohort-size 100

step "done"
echo "results in $out"
