#!/usr/bin/env bash
# make bench: ndelab against its peers, side by side, in one run on this machine.
#   - whitened GW waveforms per second: ndelab (gw_bbh) vs bilby + lalsuite (bench/gw_whitened_waveforms.py)
#   - the N = 10^6 gw_bbh training set: wall time of `ndelab simulate`
#   - sweep parallelism: two single-threaded trials side by side vs one after the other
#   - training steps per second of every estimator kind vs PyTorch and zuko, 1 and 2 threads,
#     three runs each, and the share of the machine's f32 GEMM peak (bench/train_table.py;
#     also written to bench/results.parquet)
# The Python peers live in bench/.venv, created on first use (bilby, lalsuite, torch, zuko,
# pyarrow from PyPI). `bench/run.sh train` runs only the training table; `bench/run.sh large`
# trains from a 10^7 x 256 file under a 4 GiB memory cgroup (bench/large_files.py; about 25 GB
# of disk and 15 minutes; not part of the default run).
set -euo pipefail
cd "$(dirname "$0")/.."
N_NDELAB=${N_NDELAB:-100000}
N_PEER=${N_PEER:-2000}
N_TRAIN=${N_TRAIN:-1_000_000}
# The training table needs only torch, zuko and pyarrow; the rest needs bilby and lalsuite too.
case "${1:-}" in
  train) NEED="torch zuko pyarrow" ;;
  large) NEED="numpy pyarrow" ;;
  *) NEED="bilby lalsuite torch zuko pyarrow" ;;
esac
IMPORTS=$(echo "$NEED" | sed 's/lalsuite/lal/; s/ /, /g')
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import $IMPORTS" 2>/dev/null; then
  echo "bench: installing $NEED into bench/.venv (once)" >&2
  [ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q $NEED
fi
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/ndelab"
train_table() {
  echo
  bench/.venv/bin/python bench/train_table.py --bin "$BIN"
}
if [ "${1:-}" = train ]; then
  train_table
  exit 0
fi
if [ "${1:-}" = large ]; then
  bench/.venv/bin/python bench/large_files.py --bin "$BIN" "${@:2}"
  exit 0
fi
ours=$($BIN bench simulate experiments/gw_gaussian.yaml --n "$N_NDELAB")
peer=$(bench/.venv/bin/python bench/gw_whitened_waveforms.py --n "$N_PEER" --processes "$(nproc)")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s.%N)
$BIN --results "$tmp" simulate experiments/gw_gaussian.yaml "dataset.n_train=$N_TRAIN" >/dev/null 2>"$tmp/log"
end=$(date +%s.%N)
build_json=$(cat "$tmp"/cache/datasets/*/build.json)
# Sweep parallelism: the same two trials (gw_gaussian, 20k samples, 5 epochs, seeds 1 and 2),
# each single-threaded, one after the other (--jobs 1) and side by side (--jobs 2).
cat > "$tmp/pair.yaml" <<YAML
name: pair
base: $PWD/experiments/gw_gaussian.yaml
overrides: [dataset.n_train=20_000, dataset.n_val=2_000, training.epochs=5, training.early_stopping=null, "eval.metrics=[test_nll]"]
seeds: [1, 2]
YAML
sweep_time() { # results-dir jobs
  local s e
  s=$(date +%s.%N)
  $BIN --results "$1" sweep "$tmp/pair.yaml" --jobs "$2" --threads-per-trial 1 >/dev/null 2>&1
  e=$(date +%s.%N)
  awk "BEGIN { print $e - $s }"
}
# Datasets first, so that only training is timed.
for seed in 1 2; do
  $BIN --results "$tmp/warm" simulate experiments/gw_gaussian.yaml dataset.n_train=20_000 dataset.n_val=2_000 seed=$seed >/dev/null 2>&1
done
cp -r "$tmp/warm" "$tmp/serial"; cp -r "$tmp/warm" "$tmp/parallel"
serial=$(sweep_time "$tmp/serial" 1)
parallel=$(sweep_time "$tmp/parallel" 2)
bench/.venv/bin/python - "$ours" "$peer" "$build_json" "$start" "$end" "$N_TRAIN" "$serial" "$parallel" <<'PY'
import json, sys
ours, peer, build = (json.loads(a) for a in sys.argv[1:4])
wall = float(sys.argv[5]) - float(sys.argv[4])
print(f"whitened waveforms per second (H1, 256 Hz, 1 s, IMRPhenomD, aLIGO design PSD); peer: {peer['peer']}")
print(f"| {'':<22} | {'ndelab':>10} | {'peer':>10} | {'ndelab / peer':>13} |")
print(f"| {'-'*22} | {'-'*10} | {'-'*10} | {'-'*13} |")
for label, a, b in [("1 thread", ours["single_thread_per_s"], peer["single_thread_per_s"]),
                    (f"{ours['threads']} threads / processes", ours["all_threads_per_s"], peer["all_processes_per_s"])]:
    print(f"| {label:<22} | {a:>10,.0f} | {b:>10,.0f} | {a / b:>12.1f}x |")
print()
print(f"gw_bbh dataset with n_train = {sys.argv[6]} (+ val and SNR>=8 test): simulated in "
      f"{build['simulation_seconds']:.1f} s ({build['samples_per_second']:,.0f} samples/s on {build['threads']} threads); "
      f"`ndelab simulate` wall time {wall:.1f} s")
serial, parallel = float(sys.argv[7]), float(sys.argv[8])
print()
print(f"sweep of two single-threaded trials: one after the other {serial:.1f} s, side by side {parallel:.1f} s, "
      f"speed-up {serial / parallel:.2f}x")
PY
train_table
