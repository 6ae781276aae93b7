#!/bin/sh
# The Python checks benchmark's native side: CPython with Datadog's own
# base class (datadog-checks-base from PyPI, pinned) in a venv of its own
# under target/, then bench/python_native.py with the given arguments.
# Used by `cargo bench -p runner --bench python`; see docs/BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
venv=target/bench-python/venv
if [ ! -f "$venv/installed" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    datadog-checks-base==38.7.0 lazy-loader==0.6 packaging==26.4
  touch "$venv/installed"
fi
exec "$venv/bin/python" bench/python_native.py "$@"
