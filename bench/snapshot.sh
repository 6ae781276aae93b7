#!/bin/sh
# The snapshot benchmark against ps + ss and psutil, under a synthetic load
# of 2,000 idle processes and 10,000 loopback TCP connections (torn down
# afterwards); prints Markdown tables. Options go to
# bench/snapshot_compare.py, e.g. a quick try at a tenth of the scale:
#   bench/snapshot.sh --procs 200 --conns 1000
# or the peers only, without building the runner: --skip-ours
# See docs/BENCHMARKS.md §5.
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/snapshot_compare.py "$@"
