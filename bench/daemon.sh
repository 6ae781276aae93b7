#!/bin/sh
# `runner run` under load (1,000 process instances at 1 s: scheduling lag,
# RSS, CPU per run) and its footprint side by side with
# prometheus-process-exporter (the same named process groups) and
# prometheus-node-exporter (the runner's built-in default). Needs the
# Debian packages prometheus-process-exporter and prometheus-node-exporter.
# Options go to bench/daemon.py, e.g.
#   bench/daemon.sh --instances 100 --seconds 10 --minutes 1
# See docs/BENCHMARKS.md §7.
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/daemon.py "$@"
