#!/usr/bin/env bash
# One GPU, under 8 minutes: every figure mmswtat has never measured on a GPU.
#
#   1. the tests that need CUDA (`pytest -m cuda`: half-precision teachers
#      against fp32, 'auto', AMP steps, one `tools/train.py --amp` iteration
#      of the VOC config with a bf16 (or fp16) teacher);
#   2. the loss benchmark at the paper's size (64x64 maps = a 512 crop at
#      stride 8, batch 4, 512->2048 and 512->512), SDPA vs explicit matmul;
#   3. the step benchmark at 512x512, batch 4, VOC config, with an fp32 and a
#      bf16 teacher: a, b, c, c/(a+b) and c_bf16/(a+b_fp32).
#
# Each step's output goes to DIR/<step>.log, each figure to DIR/*.json, and
# DIR/gpu_check.json sums up (exit code and seconds per step); DIR is
# $OUT/gpu_check, or work_dirs/gpu_check when OUT is unset. Without a GPU it
# says so and exits 0. `--print` only prints the commands (no GPU needed).
#
#   bash tools/analysis/gpu_check.sh            # PYTHON=... picks python
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=${PYTHON:-python}
DIR=${OUT:-work_dirs}/gpu_check
BENCH=tools/analysis/benchmark.py
PRINT=0
[ "${1:-}" = "--print" ] && PRINT=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

if [ "$PRINT" = 0 ]; then
  mkdir -p "$DIR"
  if ! GPU=$($PY -c "import torch
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  ); then
    echo "gpu_check: '$PY' cannot import torch; set PYTHON" >&2
    exit 1
  fi
  if [ -z "$GPU" ]; then
    echo "gpu_check: no GPU found (torch.cuda.is_available() is False):" \
      "nothing was run or measured. Run this script on a machine with one."
    echo '{"gpu": null, "status": "no GPU found"}' > "$DIR/gpu_check.json"
    exit 0
  fi
  echo "gpu_check on $GPU; output in $DIR"
fi

STEPS=""
FAILED=0
step() {  # NAME LIMIT_S COMMAND...: run it under `timeout`, log, record
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  if [ "$PRINT" = 1 ]; then echo "RUN $name $limit $*"; return; fi
  echo "== $name (at most ${limit} s): $*"
  timeout "$limit" "$@" 2>&1 | tee "$DIR/$name.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || FAILED=1
  STEPS="$STEPS${STEPS:+, }\"$name\": {\"rc\": $rc, \"seconds\": $((SECONDS - t0))}"
}

step cuda_tests 140 env GPU_CHECK_OUT="$DIR" "$PY" -m pytest -q -rs \
  -p no:cacheprovider -m cuda tests
for impl in sdpa matmul; do
  step "loss_$impl" 50 "$PY" "$BENCH" --part loss --device cuda --no-isolate \
    --sizes 64 --batch 4 --channels 512:2048 512:512 --attn-impl "$impl" \
    --out "$DIR/loss_64x64_b4_$impl.json"
done
step step_512_b4 210 "$PY" "$BENCH" --part step --device cuda --no-isolate \
  --crops 512 --step-batch 4 --teacher-precision fp32 bf16 \
  --out "$DIR/step_512_b4.json"

[ "$PRINT" = 1 ] && exit 0
echo "{\"gpu\": \"$GPU\", \"failed\": $FAILED, \"steps\": {$STEPS}}" \
  > "$DIR/gpu_check.json"
echo "gpu_check: written $DIR (failed steps: $FAILED)"
exit "$FAILED"
