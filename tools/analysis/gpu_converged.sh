#!/usr/bin/env bash
# The converged regime (docs/accuracy.md, part B) on 128-px digit scenes
# (16x16 maps, where the 4x4 SW-TaT windows are real windows), every run in
# parallel on one GPU: written for about 10 minutes of an H100.
#
#   1. the teacher (10,000 iterations) and the undistilled student, seed 0,
#      at 8,000 and 4,000 iterations (the plateau check);
#   2. every (method, seed) as its own process, all at once, each at its
#      best weight and knobs of the default-regime sweep (SWEEP);
#   3. one merged report: DIR/table.{json,md,png}.
#
# DIR is $OUT/gpu_converged, or work_dirs/gpu_converged when OUT is unset;
# each process logs to DIR/<name>.log. mmengine's runner trains on the GPU
# when torch sees one. `--quick` runs the same steps with the benchmark's
# tiny --quick networks (a CPU smoke test of the command lines); `--print`
# only prints the commands.
#
#   bash tools/analysis/gpu_converged.sh [--quick|--print]   # PYTHON=...
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=${PYTHON:-python}
DIR=${OUT:-work_dirs}/gpu_converged
SWEEP=${SWEEP:-docs/accuracy/structure/sweep.json}
METHODS=${METHODS:-swtat_head fitnet_head cwd swtat_head+cwd fitnet_head+cwd}
SEEDS=${SEEDS:-0 1 2}
# e.g. KNOBS="global_pass=none window_size=2": the SW-TaT form of the
# recipes (each --knob reaches the SW-TaT components only).
KNOBS=${KNOBS:-}
MODE=${1:-}
case "$MODE" in
  ''|--quick|--print) ;;
  *) echo "usage: gpu_converged.sh [--quick|--print]" >&2; exit 2 ;;
esac
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
BENCH=(tools/analysis/accuracy_benchmark.py --regime converged --size 128
       --cache-dir "$DIR/cache" --best-from "$SWEEP")
[ "$MODE" = --quick ] && BENCH=(tools/analysis/accuracy_benchmark.py --quick
                               --cache-dir "$DIR/cache")

run() {  # NAME ARGS...: one benchmark process, logged
  local name=$1
  shift
  if [ "$MODE" = --print ]; then
    echo "RUN $name $PY ${BENCH[*]} --out-dir $DIR/$name $*"
    return
  fi
  "$PY" "${BENCH[@]}" --out-dir "$DIR/$name" --force "$@" \
    > "$DIR/$name.log" 2>&1
}

[ "$MODE" = --print ] || mkdir -p "$DIR"
run base --methods none --seeds 1 --baseline-factors 0.5 || {
  echo "gpu_converged: the teacher / baseline step failed; see $DIR/base.log"
  exit 1
}
pids=()
reports=("$DIR/base/table.json")
for seed in $SEEDS; do
  [ "$seed" = 0 ] || {
    run "none_s$seed" --methods none --first-seed "$seed" --seeds 1 \
      --baseline-factors 0.5 &
    pids+=($!)
    reports+=("$DIR/none_s$seed/table.json")
  }
  for m in $METHODS; do
    name="${m//+/_}_s$seed"
    knobs=()
    for k in $KNOBS; do knobs+=(--knob "$k"); done
    run "$name" --methods "$m" --first-seed "$seed" --seeds 1 \
      --baseline-factors "${knobs[@]}" &
    pids+=($!)
    reports+=("$DIR/$name/table.json")
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$MODE" = --print ] && {
  echo "RUN merge $PY ${BENCH[*]} --report-only --reuse ${reports[*]}"
  exit 0
}
"$PY" "${BENCH[@]}" --report-only --reuse "${reports[@]}" \
  --out-dir "$DIR" --force > "$DIR/merge.log" 2>&1 || failed=1
echo "gpu_converged: $DIR/table.md (failed: $failed)"
exit "$failed"
