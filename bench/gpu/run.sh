#!/usr/bin/env bash
# Runs lwin's benchmarks and a short paper-preset study on the machine at hand from the GPU kit (`npm run gpu-kit`),
# with nothing installed: the kit brings Node, Dawn, lwin and the Vulkan loader. Within LWIN_KIT_BUDGET seconds
# (default 480) it writes OUTDIR/gpu-kit.json and OUTDIR/gpu-kit.md (every figure, the adapter and the projection of
# the paper study) and OUTDIR/gpu-kit.log (everything printed).
#
#   bash bench/gpu/run.sh OUTDIR
#
# Environment: LWIN_KIT          the kit folder or its kit.tar.xz (default: .gpu-kit beside this repository's bench/)
#              LWIN_KIT_SIZE     'tiny' shrinks every size (the kit's own test on a software adapter)
#              LWIN_KIT_BUDGET   wall-time budget in seconds (default 480)
#              LWIN_KIT_BEFORE   environment assignments giving earlier kernels for a paper-size cells bench each,
#                                several variants separated by ';' (e.g. 'LWIN_REPLAY=off;LWIN_HOLD=0'; unset: none)
#              LWIN_KIT_BEFORE_BENCH  environment assignments for a before/after at the bench size too (cells and
#                                peers; unset: none)
#              LWIN_KIT_CELLS    the bench-size cells steps' cells, comma-separated (default: all)
#              LWIN_KIT_AB       variants for an interleaved A/B at the paper size (bench/ab.ts: ';'-separated sets of
#                                environment assignments, '' the defaults; unset: the defaults alone, whose medians
#                                the projection takes), with LWIN_KIT_AB_CELLS (default const,shared,diag,gru,lstm,linear)
#                                and LWIN_KIT_AB_ROUNDS (default 5); LWIN_KIT_AB_CAP its cap in seconds, not scaled
#                                with the budget (default 120 scaled: each variant autotunes its cells on a fresh card)
#              LWIN_KIT_OVERLAP_CELLS  the two cells of the overlap step (default gru,lstm)
#              LWIN_KIT_PAPER_RUN  cap in seconds of the paper-preset run (default: what is left of the budget)
#              LWIN_KIT_PAPER_EPOCHS  its epochs (default 2)
#              LWIN_KIT_PAPER_ARGS  more flags for it (e.g. '--diag-sequences 256 --transport-samples 1': a short
#                                diagnostic stage, when only the epochs are wanted)
#              LWIN_KIT_PAPER_BEFORE  environment assignments for the same run again, several variants ';'-separated
#                                (steps paper-run-before, paper-run-before-2, …; e.g. 'LWIN_PROFILE=all;LWIN_PIPELINE=off')
#              LWIN_KIT_SKIP     steps to skip, comma-separated (e.g. diagnostics-paper,torch)
set -uo pipefail

out=${1:?usage: bash bench/gpu/run.sh OUTDIR (a new or empty folder for gpu-kit.json, gpu-kit.md and gpu-kit.log)}
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "run.sh: $out is not empty; give a new or empty folder so nothing in it is overwritten" >&2
  exit 2
fi
mkdir -p "$out" || { echo "run.sh: cannot create $out" >&2; exit 2; }
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
kit=${LWIN_KIT:-$here/../../.gpu-kit}
[ -d "$kit" ] && kit=$kit/kit.tar.xz
if [ ! -f "$kit" ]; then
  echo "run.sh: no kit at $kit; build it with 'npm run gpu-kit' (and carry .gpu-kit to the GPU machine)" >&2
  exit 2
fi
budget=${LWIN_KIT_BUDGET:-480}
size=${LWIN_KIT_SIZE:-full}
started=$(date +%s)
deadline=$((started + budget))
work=$(mktemp -d "${TMPDIR:-/tmp}/lwin-gpu-kit.XXXXXX")
parts=$work/parts
mkdir -p "$parts"
exec > >(tee "$out/gpu-kit.log") 2>&1
tee_pid=$!
# At exit: let tee finish writing the log, then drop the unpacked kit.
trap 'exec 1>&- 2>&-; wait "$tee_pid" 2>/dev/null; rm -rf "$work"' EXIT

say() { echo "== $(date -u +%H:%M:%S) $*"; }

# Unpack: tar with xz where the machine has it, else Python's lzma.
say "unpacking $kit into $work"
if command -v xz >/dev/null 2>&1; then
  tar -C "$work" -xJf "$kit"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$kit" "$work"
fi || { echo "run.sh: could not unpack $kit" >&2; exit 2; }
cd "$work" || exit 2
chmod +x node
cat manifest.json

# The Vulkan loader and the NVIDIA driver's manifest (NOTES.md, from the GPU machine's documentation).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null 2>&1; then
    say "no Vulkan loader: unpacking the kit's loader packages into / (as the machine's documentation does)"
    for f in debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    say "no Vulkan loader: unpacking the kit's loader packages into $work/sys"
    mkdir -p sys
    for f in debs/*.deb; do dpkg-deb -x "$f" sys 2>/dev/null || (mkdir -p sys/x && cd sys/x && ar x "../../$f" && tar -C .. -xf data.tar.*); done
    export LD_LIBRARY_PATH=$work/sys/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  say "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$parts/nvidia-smi.csv" 2>&1

# Sizes: the bench size and the paper's (SPEC §10), or tiny ones for the kit's own test.
if [ "$size" = tiny ]; then
  cell_sizes=(4x16x8x4 8x32x16x4); diag_size=4x64x8x4; diag_lags=4:32:4; kernel_scale=0.125
  run_args=(--train-sequences 16 --diag-sequences 4 --batch 8 --transport-samples 1 --steps 64 --hidden 8
    --task-lags 4,8 --task-coeffs 0.6,0.4 --lag-min 4 --lag-max 32 --num-lags 4 --budgets 4,8,16)
else
  cell_sizes=(64x256x64x16 512x1024x128x16); diag_size=64x1024x128x16; diag_lags=4:256:128; kernel_scale=1
  run_args=()
fi
# shellcheck disable=SC2206
run_args+=(${LWIN_KIT_PAPER_ARGS:-})

# Each step gets at most its cap (written for the default 480 s budget, scaled with LWIN_KIT_BUDGET, unless the
# command starts with `--unscaled SECONDS`) and never runs past the deadline (less a reserve for the summary).
step() {
  local name=$1 cap=$(( $2 * budget / 480 )); shift 2
  if [ "${1:-}" = --unscaled ]; then cap=$2; shift 2; fi
  if [[ ",${LWIN_KIT_SKIP:-}," == *",$name,"* ]]; then say "$name: skipped (LWIN_KIT_SKIP)"; echo skipped-by-request > "$parts/$name.status"; return; fi
  local left=$((deadline - $(date +%s) - 20))
  local limit=$(( cap < left ? cap : left ))
  if [ "$limit" -lt 5 ]; then say "$name: skipped, the time budget is spent"; echo skipped > "$parts/$name.status"; return; fi
  say "$name (at most ${limit} s): $*"
  local t0; t0=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  echo "$rc $(( ($(date +%s%N) - t0) / 1000000 ))" > "$parts/$name.status"
  [ "$rc" = 124 ] && say "$name: stopped at its time limit (${limit} s); what it measured so far is kept"
  [ "$rc" != 0 ] && [ "$rc" != 124 ] && say "$name: exited with $rc"
}

step doctor 60 ./node lwin.mjs doctor
./node lwin.mjs doctor --json > "$parts/doctor.json" 2>/dev/null
step kernels 40 ./node bench.mjs kernels --kernel-scale "$kernel_scale" --json "$parts/kernels.json"
# The host's ms per paper-size batch (nothing submitted: seconds on any card), against the cells' GPU ms below.
step host 20 ./node bench.mjs host --cells const,gru,lstm --json "$parts/host.json"
if command -v python3 >/dev/null 2>&1; then
  step torch 60 env PYTHONUNBUFFERED=1 python3 torch_anchor.py "$parts/torch.json" "${cell_sizes[@]}"
fi
cell_only=(); [ -n "${LWIN_KIT_CELLS:-}" ] && cell_only=(--cells "$LWIN_KIT_CELLS")
# A freshly lent H200 ran its first ~40 s of load ~2.8x slower, every kernel alike (bench/RESULTS.md): load the card
# for a while first, results thrown away, so the first table's rows are comparable with the later ones.
# The bench repeats until the step's cap (LWIN_KIT_WARMUP seconds), so the card is loaded that long: one pass took
# 16 s, and an A/B right after it still ran its first cell ~3× slower (bench/RESULTS.md, 2026-11-27 run e).
[ "$size" = tiny ] || step warm-up "${LWIN_KIT_WARMUP:-30}" bash -c 'while ./node bench.mjs cells --cells gru,lstm --cell-size "$1" --json "$2" > /dev/null; do :; done' warm-up "${cell_sizes[0]}" "$work/warm-up.json"
step cells-bench 50 ./node bench.mjs cells "${cell_only[@]}" --cell-size "${cell_sizes[0]}" --json "$parts/cells-bench.json"
# The bench size again with LWIN_KIT_BEFORE_BENCH (environment assignments), when set: the cells here and the peers
# below, before and after on one card for the sizes the lavapipe tables use.
before_bench=${LWIN_KIT_BEFORE_BENCH:-}
[ -n "$before_bench" ] && echo "$before_bench" > "$parts/bench-before.txt"
# shellcheck disable=SC2086
[ -n "$before_bench" ] && step cells-bench-before 50 env $before_bench ./node bench.mjs cells "${cell_only[@]}" --cell-size "${cell_sizes[0]}" --json "$parts/cells-bench-before.json"
# The paper size autotunes first on a fresh card: with split and held candidates 12–15 tiles a cell (6–9 before) to compile and time.
step cells-paper 160 ./node bench.mjs cells --cell-size "${cell_sizes[1]}" --json "$parts/cells-paper.json"
# The same with earlier kernel choices forced back (LWIN_KIT_BEFORE, environment assignments): before and after in
# one run on one card.
# Several variants, ';'-separated, run one after another: steps cells-paper-before, cells-paper-before-2, …
IFS=";" read -r -a befores <<< "${LWIN_KIT_BEFORE:-}"
for i in "${!befores[@]}"; do
  name=cells-paper-before; [ "$i" -gt 0 ] && name=cells-paper-before-$((i + 1))
  echo "${befores[$i]}" > "$parts/$name.txt"
  # shellcheck disable=SC2086
  step "$name" 60 env ${befores[$i]} ./node bench.mjs cells --cell-size "${cell_sizes[1]}" --json "$parts/$name.json"
done
# The variants of LWIN_KIT_AB timed interleaved, round by round, in one process: comparable where separate benches
# are not (the card's speed drifts between them).
# Unset, the defaults alone: each cell's median GPU ms per step, the projection's batch times.
ab_variants=${LWIN_KIT_AB-}
echo "$ab_variants" > "$parts/ab.txt"
step ab 120 ${LWIN_KIT_AB_CAP:+--unscaled "$LWIN_KIT_AB_CAP"} ./node bench.mjs ab --cells "${LWIN_KIT_AB_CELLS:-const,shared,diag,gru,lstm,linear}" --cell-size "${cell_sizes[1]}" --variants "$ab_variants" --rounds "${LWIN_KIT_AB_ROUNDS:-5}" --json "$parts/ab.json"
# Two cells' batches apart and submitted together at the paper size (bench/overlap.ts): whether the card runs
# independent batches side by side (a recurrent kernel there fills a small part of a large GPU).
step overlap 60 ./node bench.mjs overlap --cells "${LWIN_KIT_OVERLAP_CELLS:-gru,lstm}" --cell-size "${cell_sizes[1]}" --rounds "${LWIN_KIT_AB_ROUNDS:-5}" --json "$parts/overlap.json"
# PyTorch's layers as 2-layer stacks (SPEC §13) at the bench size
step cells-stack 30 ./node bench.mjs cells --cells torch_gru,torch_lstm --layers 2 --cell-size "${cell_sizes[0]}" --json "$parts/cells-stack.json"
step diagnostics-paper 90 ./node bench.mjs diagnostics --diag-size "$diag_size" --diag-lags "$diag_lags" --transport-pairs 1 --json "$parts/diagnostics-paper.json"
# lwin against TF.js (tfjs-layers on tfjs-backend-webgpu) on this adapter: both layers at the bench size, then the
# GRU at the paper size (TF.js takes seconds per paper-size batch); what finishes within a cap is kept.
step peers 100 ./node bench.mjs peers --cell-size "${cell_sizes[0]}" --json "$parts/peers.json"
# shellcheck disable=SC2086
[ -n "$before_bench" ] && step peers-before 100 env $before_bench ./node bench.mjs peers --cell-size "${cell_sizes[0]}" --json "$parts/peers-before.json"
[ "$size" = tiny ] || step peers-paper 120 ./node bench.mjs peers --cells gru --cell-size "${cell_sizes[1]}" --json "$parts/peers-paper.json"
# The paper preset for one cell, 2 epochs; its progress lines give the epoch times if the budget stops it early.
# LWIN_TRACE=on: each epoch's batches (recorded, queued, done) and evaluations on stderr, kept in the log.
step paper-run "${LWIN_KIT_PAPER_RUN:-100000}" env LWIN_PROGRESS=lines LWIN_TRACE=on ./node lwin.mjs run --preset paper --cells gru --epochs "${LWIN_KIT_PAPER_EPOCHS:-2}" "${run_args[@]}" --out "$work/study" 2> "$parts/paper-run.progress"
cat "$parts/paper-run.progress"
# The same with LWIN_KIT_PAPER_BEFORE (environment assignments, e.g. LWIN_PIPELINE=off), when set: its epoch times
# against the run above on one card.
# Several variants, ';'-separated, run one after another: steps paper-run-before, paper-run-before-2, …
IFS=";" read -r -a paper_befores <<< "${LWIN_KIT_PAPER_BEFORE:-}"
for i in "${!paper_befores[@]}"; do
  name=paper-run-before; [ "$i" -gt 0 ] && name=paper-run-before-$((i + 1))
  echo "${paper_befores[$i]}" > "$parts/$name.txt"
  # shellcheck disable=SC2086
  step "$name" "${LWIN_KIT_PAPER_RUN:-100000}" env LWIN_PROGRESS=lines LWIN_TRACE=on ${paper_befores[$i]} ./node lwin.mjs run --preset paper --cells gru --epochs "${LWIN_KIT_PAPER_EPOCHS:-2}" "${run_args[@]}" --out "$work/study-$name" 2> "$parts/$name.progress"
  cat "$parts/$name.progress"
done
[ -f "$work/study/study.json" ] && cp "$work/study/study.json" "$parts/paper-run-study.json"

say "summary"
if ! ./node summarize.mjs "$parts" "$out" --size "$size" --budget "$budget" --elapsed $(( $(date +%s) - started )); then
  say "the summary failed; the parts were:"; ls -la "$parts"; exit 1
fi
say "done in $(( $(date +%s) - started )) s: $out/gpu-kit.json, $out/gpu-kit.md"
