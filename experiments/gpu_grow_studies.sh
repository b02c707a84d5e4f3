#!/usr/bin/env bash
# Grow the committed 600-trial studies on a lent GPU, in one device call of at most about 9 minutes.
#
# The studies' slow algorithms (BANANAS' 5 x 10-layer MLP ensembles: 23-31 s of CPU a trial; NPENAS-BO's
# 1,000-epoch Gaussian head) are the work a 2-core CPU needs sessions for. Here each study's benchmark command
# runs with every algorithm's trials in GPU cohorts (--cohort-size, --gpus-per-task), under its own time
# limit; what finished is packed to $OUT and comes back. A trial made on the GPU is a valid sample of its
# algorithm but not bit-identical to the CPU's: the report's "platforms" line counts each kind.
#
# Before the device call, here (the stores are a few hundred KB each; packs and checkpoints are tracked):
#   bash ../shared/tools/gpu-bundle.sh && python -m experiments.prepare_tables --out .gpu/stores &&
#   for t in class_scene class_object jigsaw segmentsemantic autoencoder; do ssnenas data prepare \
#     transnas101-micro --source ../shared/data/transnas101/tnb101_micro.csv --task $t --out .gpu/tnb/$t; done
# On the GPU machine (device run, carry [".gpu"], timeout 600):
#   bash .gpu/install.sh && export PYTHONPATH=$PWD/.gpu/site PATH=$PWD/.gpu/site/bin:$PATH &&
#     STUDIES="c10-mape c100-mape" bash experiments/gpu_grow_studies.sh
# Back here: for each $OUT/<pack>.parquet, `ssnenas unpack` it into the study's run folder (next to the
# committed packs it grows), re-run the study's command (it runs only what is missing), report and pack.
# Dry run on a CPU (checks the script, not the speed):
#   GPUS=0 TRIALS=101 LIMIT=300 STUDIES=tnb-class_scene TNB=/tmp/tnb OUT=/tmp/grow \
#     bash experiments/gpu_grow_studies.sh       (one more trial of each algorithm, about 2 minutes)
set -u
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-grow-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
stores=${STORES:-.gpu/stores}; tnb=${TNB:-.gpu/tnb}
gpus=${GPUS:-0.1}        # GPU fraction per Ray task: 10 cohorts share the GPU
cohort=${COHORT:-50}     # trials per task, searched in lockstep, their fits batched into one model
trials=${TRIALS:-600}
limit=${LIMIT:-240}      # seconds per study; a study cut short keeps its finished tasks
extra=${EXTRA:-}
B=experiments/results/benchmark; T=experiments/results/transnas
nb201_ckpt="ss-rl=$B/packs/ssrl_nb201.pt ss-ccl=$B/packs/ccl_N10000.pt"
tnb_ckpt="ss-ccl=$T/packs/ssccl_tnb101.pt ss-rl=$T/packs/ssrl_tnb101.pt"
nb201_algos="random rea npenas-np npenas-bo npenas-ssrl npenas-ssccl bananas local-search ssnenas-plus bananas-mape"
tnb_algos="random rea local-search npenas-np npenas-ssccl npenas-ssrl ssnenas-plus npenas-bo bananas"
started=$(date +%s)

# grow NAME SPACE STORE "ALGOS" "PREDICTORS" PACK_OUT PACK_ALGOS "PACKS_IN": unpack, run under $limit, pack.
grow() {
  local name=$1 space=$2 store=$3 algos=$4 preds=$5 pack=$6 pack_algos=$7 packs=$8 run
  run=$(mktemp -d)/$name
  echo; echo "== $name ($(( $(date +%s) - started )) s in)"
  for p in $packs; do ssnenas unpack "$p" "$run" --json || return; done
  # shellcheck disable=SC2086
  timeout -s TERM -k 60 "$limit" ssnenas benchmark --space "$space" --data "$store" --algos $algos --predictor $preds \
    --trials "$trials" --budget 100 --seed 0 --out "$run" --gpus-per-task "$gpus" --cohort-size "$cohort" \
    --no-progress $extra > "$out/$name.log" 2>&1
  echo "benchmark exit $? (124: stopped at ${limit} s like Ctrl+C, finished tasks kept); last lines:"; tail -n 2 "$out/$name.log"
  # shellcheck disable=SC2086
  ssnenas pack "$run" "$out/$pack" --algos $pack_algos --json
}

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/device.txt"
for study in ${STUDIES:-c10-mape c100-mape}; do
  case $study in
    c10-mape|c100-mape)
      ds=cifar10-valid; [[ $study == c100-mape ]] && ds=cifar100
      packs="$B/packs/nb201-$ds-600.parquet $B/packs/nb201-$ds-600-bananas.parquet $B/packs/nb201-$ds-600-plus.parquet"
      [[ -f $B/packs/nb201-$ds-600-bananas-mape.parquet ]] && packs="$packs $B/packs/nb201-$ds-600-bananas-mape.parquet"
      grow "$study" nasbench201 "$stores/nb201-$ds" "$nb201_algos" "$nb201_ckpt" \
        "nb201-$ds-600-bananas-mape.parquet" bananas-mape "$packs" ;;
    tnb-*)
      task=${study#tnb-}
      packs=$(ls $T/packs/tnb101-$task-100.parquet $T/packs/tnb101-$task-600*.parquet 2>/dev/null)
      grow "$study" transnas101-micro "$tnb/$task" "$tnb_algos" "$tnb_ckpt" "tnb101-$task-600.parquet" \
        "$tnb_algos" "$packs" ;;
    *) echo "unknown study $study: choose c10-mape, c100-mape or tnb-TASK (class_scene, class_object, jigsaw, segmentsemantic, autoencoder)"; exit 2 ;;
  esac
done
echo; echo "== done ($(( $(date +%s) - started )) s); packs in $out"; ls -la "$out"
