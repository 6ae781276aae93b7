#!/bin/sh
# Runner memory with many idle instances: `runner run` over N instances of
# the misbehave test guest in mode `idle` (its run does nothing), once with
# the pooling allocator (the default) and once allocating on demand
# (RUNNER_INSTANCE_POOL=0), reading VmRSS/VmHWM from /proc while it runs.
# Usage: bench/idle_rss.sh [N] [SECONDS]   (defaults: 1000 instances, 20 s)
# See docs/BENCHMARKS.md §4.
set -eu
cd "$(dirname "$0")/.."
n=${1:-1000}
secs=${2:-20}
cargo build --release -p runner >/dev/null
guest=target/plugins/wasm32-wasip2/plugin/misbehave.wasm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/checks.d" "$work/conf.d"
cp "$guest" "$work/checks.d/misbehave.wasm"
{
  echo "instances:"
  i=0
  while [ "$i" -lt "$n" ]; do
    echo "  - {name: idle$i, mode: idle, min_collection_interval: 5}"
    i=$((i + 1))
  done
} >"$work/conf.d/misbehave.yaml"
for pool in 1 0; do
  RUNNER_INSTANCE_POOL=$pool ./target/release/runner --conf-d "$work/conf.d" \
    --checks-d "$work/checks.d" run --exit-after "$secs" >"$work/out.jsonl" 2>"$work/err.log" &
  pid=$!
  rss=0
  while kill -0 "$pid" 2>/dev/null; do
    now=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$now" ] && rss=$now
    [ -n "$hwm" ] && peak=$hwm
    sleep 0.5
  done
  wait "$pid" || true
  runs=$(grep -c '"status":"ok"' "$work/out.jsonl" || true)
  errors=$(grep -c '"status":"error"' "$work/out.jsonl" || true)
  echo "pool=$pool instances=$n: RSS at end ${rss} KiB, peak ${peak:-?} KiB, ok runs $runs, failed runs $errors"
done
