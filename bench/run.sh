#!/bin/sh
# Run every runner benchmark (a few minutes on 2 cores) and print the
# results as Markdown tables. Extra arguments go to criterion, e.g. a
# filter: bench/run.sh process_run/all
# See docs/BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
cargo bench -p runner --bench empty_run --bench process_run --bench instantiate -- "$@"
python3 bench/summarize.py "${CRITERION_HOME:-target/criterion}"
