#!/usr/bin/env bash
# A full disk: the results folder on a small tmpfs of several sizes, so that the disk fills
# while the dataset, the checkpoint, the run folder or the evaluation is being written. Each
# run must end with exit 0, with 2 where the dataset cannot fit at all (refused before anything
# is written, with the figures), or with 1 and the message naming the full disk; `ndelab cache verify` must then find every entry intact, and a rerun on a larger
# disk must finish. Needs a private mount namespace: root, or unprivileged user namespaces
# (`unshare -rm`).
#
#   scripts/full_disk.sh [path/to/ndelab]
set -u
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/ndelab}")
SPEC=$(realpath experiments/linear_gaussian.yaml)
if ! unshare -rm true 2>/dev/null; then
  echo "error: cannot make a private mount namespace (unshare -rm); run as root or allow user namespaces" >&2
  exit 2
fi
MNT=$(mktemp -d)
trap 'rm -rf "$MNT"' EXIT
pass=0
for size in 200k 1200k 2200k 2400k 2500k 2600k 2700k 2800k 2900k 6m; do
  out=$(unshare -rm sh -c "mount -t tmpfs -o size=$size tmpfs '$MNT' && cd '$MNT' && \
    '$BIN' --results '$MNT/r' run '$SPEC' dataset.n_train=20000 training.epochs=2 eval.metrics=[test_nll,pp,loss_curve] 2>&1; \
    echo \"exit \$?\"; '$BIN' --results '$MNT/r' cache verify 2>&1; echo \"verify \$?\"; \
    mount -o remount,size=64m '$MNT' && '$BIN' --results '$MNT/r' run '$SPEC' dataset.n_train=20000 training.epochs=2 \
    eval.metrics=[test_nll,pp,loss_curve] >/dev/null 2>&1; echo \"rerun \$?\"")
  code=$(echo "$out" | sed -n 's/^exit //p')
  verify=$(echo "$out" | sed -n 's/^verify //p')
  case "$code" in
    0) what="finished" ;;
    1) echo "$out" | grep -q "No space left on device" || { echo "FAIL ($size): exit 1 without the full-disk message:"; echo "$out"; exit 1; }
       where=$(echo "$out" | grep -m1 '^error:' | sed -n 's#.*/r/\([a-z]*\)/.*#\1#p')
       what="stopped writing under $where/ with the full-disk message" ;;
    2) echo "$out" | grep -q "the dataset needs about .* but only .* are free there" || { echo "FAIL ($size): exit 2 without the free-space figures:"; echo "$out"; exit 1; }
       what="refused before writing: the dataset does not fit" ;;
    *) echo "FAIL ($size): exit $code"; echo "$out"; exit 1 ;;
  esac
  [ "$verify" = 0 ] || { echo "FAIL ($size): cache verify after the full disk exited $verify"; echo "$out"; exit 1; }
  rerun=$(echo "$out" | sed -n 's/^rerun //p')
  [ "$rerun" = 0 ] || { echo "FAIL ($size): the rerun on a larger disk exited $rerun"; exit 1; }
  echo "tmpfs $size: $what; cache verify: every entry intact; rerun with room: finished"
  pass=$((pass + 1))
done
echo "$pass full-disk cases: clear message or success, no corrupt entry"
