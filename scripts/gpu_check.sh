#!/usr/bin/env bash
# The first-GPU check: the CUDA tests, a DDP run of each loader path (tensor, dataloader), trainer=ddp
# as users run it (SyncBatchNorm on a BatchNorm network, under speed=fast's torch.compile), PGD error
# with TF32 on against exact_fp32() evaluation, speed=fast's torch.compile recompiles, and a short
# gpu_bench. Its figures go to bench/gpu/<device>.json and bench/gpu/<device>.md (the logs and run
# folders to the git-ignored bench/gpu/tmp/). From the repository root, with the venv active:
#
#   mkdir -p gpu_data/MNIST/raw && cp ../shared/data/MNIST/raw/*.gz gpu_data/MNIST/raw/
#   bash scripts/gpu_check.sh              # on the GPU machine: about 10 min on one H100
#   bash scripts/gpu_check.sh --dry-run    # on a CPU: every command checked, nothing run (under a minute)
#   bash scripts/gpu_check.sh [--dry-run] ddp_tensor tf32_eval   # only the steps named
#
# Environment: BENIGN_DATA_DIR (the folder holding MNIST/raw/; default ./gpu_data), PYTHON (default
# python), GPU_CHECK_EXTRA (overrides appended to every `python -m benign_lightning` command).
# Every step runs even after one fails (the failure is recorded); the exit status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

PY=${PYTHON:-python}
STEPS=(cuda_tests ddp_tensor ddp_dataloader ddp_syncbn tf32_eval speed_fast gpu_bench)
CUDA_TESTS=(tests/test_hot_path.py tests/test_device_paths.py tests/test_compile.py)
# A tiny MNIST run: 4000 images, 2 epochs, a 5-step evaluation attack, no logger.
TINY=(+experiment=mnist_noise data.train_subset=4000 trainer.max_epochs=2 attack.steps=5 logger=none
      trainer.enable_progress_bar=false)
BENCH_ARGS=(--fraction 0.1 --epochs 1 --workloads resnet18_natural mnist_cnn_natural)
MAX_RECOMPILES=8
BUDGET_S=570  # the whole check ends within 10 minutes: each step's time cap is cut to what is left
read -r -a EXTRA <<< "${GPU_CHECK_EXTRA:-}"  # (split on spaces: one override per word)
export BENIGN_DATA_DIR=${BENIGN_DATA_DIR:-./gpu_data}

DRY_RUN=0
CHOSEN=()
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *)
      if [[ " ${STEPS[*]} " != *" $arg "* ]]; then
        echo "unknown argument $arg; the steps are: ${STEPS[*]}" >&2
        exit 2
      fi
      CHOSEN+=("$arg") ;;
  esac
done
((${#CHOSEN[@]})) && STEPS=("${CHOSEN[@]}")

N_GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
DEVICES=$((N_GPUS >= 2 ? 2 : 1))
if ((DRY_RUN)); then
  # Nothing under bench/gpu/: records, logs and the trial report go to a folder removed at exit.
  DEVICE="dry run (no GPU)"
  OUT=$(mktemp -d -t gpu_check.XXXXXX) || exit 2
  trap 'rm -rf "$OUT"' EXIT
  REPORT_DIR=$OUT
  STEPS+=(config_values)
else
  if ((N_GPUS == 0)); then
    echo "nvidia-smi shows no GPU: this check is for a GPU machine (on a CPU: --dry-run)" >&2
    exit 2
  fi
  if ! ls "$BENIGN_DATA_DIR"/MNIST/raw/train-images-idx3-ubyte* >/dev/null 2>&1; then
    echo "no MNIST in $BENIGN_DATA_DIR/MNIST/raw/; copy it there first:" >&2
    echo "  mkdir -p gpu_data/MNIST/raw && cp ../shared/data/MNIST/raw/*.gz gpu_data/MNIST/raw/" >&2
    exit 2
  fi
  DEVICE=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
  OUT=bench/gpu/tmp
  rm -rf "$OUT"  # a run folder left from before would be resumed (resume=true), not rerun
  mkdir -p "$OUT"
  REPORT_DIR=bench/gpu
fi
: >"$OUT/steps.tsv"
: >"$OUT/overrides.tsv"
echo "gpu_check: ${DEVICE}, ${N_GPUS} GPU(s), DDP on ${DEVICES}; data ${BENIGN_DATA_DIR}; steps: ${STEPS[*]}"

# --- helpers: each step sets CMD (what the report shows), FIGURES, NOTE and DETAILS (a JSON file) ---
# logged STEP COMMAND...: run it with its output appended to the step's log; FIGURES becomes the last
# `gpu_check figures: ...` line that gpu_check.py printed there.
logged() {
  local log="$OUT/$1.log"
  shift
  echo "\$ $*" | tee -a "$log"
  "$@" >>"$log" 2>&1
  local rc=$?
  local line
  line=$(grep '^gpu_check figures: ' "$log" | tail -n 1)
  [[ -n $line ]] && FIGURES=${line#gpu_check figures: }
  if ((rc == 124 || rc == 137)); then  # timeout's exit status (137: killed after its grace period)
    NOTE="timed out"
    echo "timed out" >>"$log"
  fi
  return $rc
}

# limit CAP_S: the time cap of a command, cut to what is left of BUDGET_S (at least 1 s: 0 is no cap)
limit() {
  local left=$((BUDGET_S - SECONDS))
  echo $((left < $1 ? (left > 0 ? left : 1) : $1))
}

# benign STEP CAP_S WORLD_SIZE OVERRIDES...: one `python -m benign_lightning` run into
# bench/gpu/tmp/STEP, checked to end complete with that world size. In the dry run only composed
# (--cfg job); its overrides are kept for config_values' check of the values.
benign() {
  local step=$1 cap=$2 world=$3 o
  shift 3
  local overrides=("$@" "hydra.run.dir=$OUT/$step" "${EXTRA[@]}")
  CMD="$PY -m benign_lightning ${overrides[*]}"
  if ((DRY_RUN)); then
    for o in "${overrides[@]}"; do printf '%s\t%s\n' "$step" "$o"; done >>"$OUT/overrides.tsv"
    logged "$step" "$PY" -m benign_lightning "${overrides[@]}" --cfg job
    return
  fi
  # timeout signals the whole process group: DDP's other ranks stop too.
  logged "$step" timeout -k 10 "$(limit "$cap")" "$PY" -m benign_lightning "${overrides[@]}"
  local rc=$?
  # results.json says complete, with the expected world size (and its errors, in FIGURES)
  logged "$step" "$PY" scripts/gpu_check.py run-results "$OUT/$step" --world-size "$world" && ((rc == 0))
}

# --- the steps ---------------------------------------------------------------------------------------
step_cuda_tests() {
  local files=("${CUDA_TESTS[@]}") f
  # and every test file with a CUDA-only test (a skipif on torch.cuda.is_available())
  for f in $(grep -l 'torch.cuda.is_available()' tests/test_*.py); do
    [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
  done
  if ((DRY_RUN)); then
    CMD="$PY -m pytest --collect-only -q ${files[*]}"
    logged cuda_tests "$PY" -m pytest --collect-only -q "${files[@]}"
  else
    CMD="timeout 180 $PY -m pytest -q ${files[*]}"
    logged cuda_tests timeout -k 10 "$(limit 180)" "$PY" -m pytest -q "${files[@]}"
  fi
  local rc=$? summary word n
  # pytest's last line: "2 failed, 20 passed, 3 skipped in 41.2s" (or "25 tests collected in 4.6s")
  summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|errors?|tests? collected)' \
    "$OUT/cuda_tests.log" | tail -n 1)
  FIGURES=""
  for word in passed failed skipped error collected; do
    n=$(grep -oE "[0-9]+ (tests? )?$word" <<<"$summary" | grep -oE '^[0-9]+')
    [[ -n $n ]] && FIGURES+="${FIGURES:+ }$word=$n"
  done
  return $rc
}

ddp_run() {  # ddp_run LOADER: DDP on the GPUs (one process per GPU) with that data path
  # (++: data.loader is set whether or not the mnist data config has the key)
  benign "ddp_$1" 150 "$DEVICES" "${TINY[@]}" "++data.loader=$1" trainer.accelerator=gpu \
    trainer.strategy=ddp "trainer.devices=$DEVICES"
}
step_ddp_tensor() { ddp_run tensor; }
step_ddp_dataloader() { ddp_run dataloader; }
# trainer=ddp sets sync_batchnorm (BatchNorm over the global batch): PreAct ResNet-18 has BatchNorm, and
# torch.compile of SyncBatchNorm under DDP has open upstream reports, so speed=fast is on too.
step_ddp_syncbn() {
  benign ddp_syncbn 180 "$DEVICES" "${TINY[@]}" arch=preact_resnet18 trainer=ddp "trainer.devices=$DEVICES" \
    speed=fast
}

step_tf32_eval() {
  if ((DRY_RUN)); then
    CMD="$PY scripts/gpu_check.py tf32 --dry-run"
    logged tf32_eval "$PY" scripts/gpu_check.py tf32 --dry-run
    return
  fi
  CMD="$PY scripts/gpu_check.py tf32 --json $OUT/tf32.json"
  DETAILS=$OUT/tf32.json
  logged tf32_eval timeout -k 10 "$(limit 120)" "$PY" scripts/gpu_check.py tf32 --json "$OUT/tf32.json"
}

step_speed_fast() {
  # torch.compile's recompiles, logged by dynamo to stderr (one "Recompiling function" line each)
  export TORCH_LOGS=recompiles
  benign speed_fast 180 1 "${TINY[@]}" speed=fast trainer.accelerator=gpu trainer.devices=1
  local rc=$?
  unset TORCH_LOGS
  CMD="TORCH_LOGS=recompiles $CMD"
  ((DRY_RUN)) && return $rc
  local n
  n=$(grep -c 'Recompiling function' "$OUT/speed_fast.log")
  FIGURES="recompiles=$n (bound $MAX_RECOMPILES)${FIGURES:+; $FIGURES}"
  ((rc == 0 && n <= MAX_RECOMPILES))
}

step_gpu_bench() {
  if ((DRY_RUN)); then
    CMD="$PY scripts/gpu_bench.py --help"
    logged gpu_bench "$PY" scripts/gpu_bench.py --help || return 1
    # --help checks nothing of ours: at least every flag and workload we pass must be in it
    local word
    for word in "${BENCH_ARGS[@]}"; do
      [[ $word =~ ^[0-9.]+$ ]] && continue
      if ! grep -q -- "$word" "$OUT/gpu_bench.log"; then
        echo "gpu_bench.py --help does not name $word" | tee -a "$OUT/gpu_bench.log"
        return 1
      fi
    done
    return 0
  fi
  CMD="$PY scripts/gpu_bench.py ${BENCH_ARGS[*]} --json $OUT/bench.json"
  DETAILS=$OUT/bench.json
  logged gpu_bench timeout -k 10 "$(limit 240)" "$PY" scripts/gpu_bench.py "${BENCH_ARGS[@]}" \
    --json "$OUT/bench.json" && logged gpu_bench "$PY" scripts/gpu_check.py bench-summary "$OUT/bench.json"
}

step_config_values() {  # dry run only: every benign_lightning command's values, in one process
  CMD="$PY scripts/gpu_check.py check-config <the overrides of each command>"
  logged config_values "$PY" scripts/gpu_check.py check-config "$OUT/overrides.tsv"
}

# --- run them ----------------------------------------------------------------------------------------
FAILED=0
for step in "${STEPS[@]}"; do
  CMD="" FIGURES="" NOTE="" DETAILS=""
  echo "== $step"
  start=$(date +%s.%N)
  if ((!DRY_RUN && SECONDS > BUDGET_S - 15)); then
    NOTE="not run: the time budget ($BUDGET_S s) is spent"
    echo "$NOTE" >"$OUT/$step.log"
    status=FAILED FAILED=1
  elif "step_$step"; then
    status=ok
  else
    status=FAILED FAILED=1
  fi
  [[ -n $NOTE ]] && FIGURES="$NOTE${FIGURES:+; $FIGURES}"
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [[ $status == FAILED ]]; then
    echo "--- the end of $OUT/$step.log:"
    tail -n 25 "$OUT/$step.log"
  fi
  echo "$step: $status (${wall} s) ${FIGURES}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$status" "$wall" "$CMD" "$FIGURES" "$DETAILS" >>"$OUT/steps.tsv"
done

# The report: bench/gpu/<device>.json and .md (the dry run writes it to its temporary folder).
echo "== report"
if "$PY" scripts/gpu_check.py report "$OUT/steps.tsv" --out-dir "$REPORT_DIR" --device "$DEVICE" \
  --gpus "$N_GPUS" >"$OUT/report.log" 2>&1; then
  line=$(grep '^gpu_check figures: ' "$OUT/report.log" | tail -n 1)
  echo "report: ok ${line#gpu_check figures: }"
else
  cat "$OUT/report.log"
  echo "report: FAILED"
  FAILED=1
fi
((FAILED)) && echo "gpu_check: some steps FAILED" || echo "gpu_check: all ok"
exit $FAILED
