#!/bin/sh
# The nginx and postgres checks against prometheus-nginx-exporter and
# prometheus-postgres-exporter: CPU and wall time per collection and RSS,
# side by side against the same servers on loopback (started and stopped
# by the script). Needs root (PostgreSQL runs as `postgres`) and the Debian
# packages nginx, postgresql, prometheus-nginx-exporter and
# prometheus-postgres-exporter. Options go to bench/networked.py, e.g.
#   bench/networked.sh --collections 50 --rounds 1
# See docs/BENCHMARKS.md §6.
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/networked.py "$@"
