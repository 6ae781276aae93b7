"""The native side of the Python checks benchmark: a check run by CPython
with Datadog's own `datadog_checks.base` (the stub aggregator it uses
outside the Agent), measured the way the runner side is (see
host/benches/python.rs). Prints one JSON object.

Usage: python_native.py <check.py> <runs> <fresh> <instances>
"""

import gc
import importlib.util
import json
import statistics
import sys
import time

from datadog_checks.base import AgentCheck
from datadog_checks.base.stubs import aggregator


def load(path):
    spec = importlib.util.spec_from_file_location("bench_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, AgentCheck) and value is not AgentCheck:
            return value
    raise SystemExit(f"no AgentCheck subclass in {path}")


def new(cls, index):
    instance = {"name": f"i{index}", "tags": ["team:bench"]}
    check = cls(name="bench", init_config={}, instances=(instance,))
    check.check_id = f"bench:i{index}"
    return check


def run(check):
    error = check.run()
    if error:
        raise SystemExit(error)


def memory():
    """VmRSS and the private bytes of this process (smaps_rollup)."""
    rollup = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                rollup[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return {
        "rss": rollup["Rss"],
        "pss": rollup["Pss"],
        "private": rollup["Private_Clean"] + rollup["Private_Dirty"],
    }


def main():
    path, runs, fresh, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cls = load(path)

    # Per run: one instance, run after run (the stub aggregator is emptied
    # between runs, outside the timing, as the Agent flushes it).
    check = new(cls, 0)
    run(check)
    per_run = []
    for _ in range(runs):
        aggregator.reset()
        start = time.perf_counter()
        run(check)
        per_run.append(time.perf_counter() - start)

    # A fresh instance: build it and run it once.
    fresh_times = []
    for i in range(fresh):
        aggregator.reset()
        start = time.perf_counter()
        run(new(cls, i))
        fresh_times.append(time.perf_counter() - start)

    # Memory: `count` live instances, each run once, in one interpreter
    # (as the Agent holds them).
    aggregator.reset()
    gc.collect()
    before = memory()
    kept = []
    for i in range(count):
        check = new(cls, i)
        run(check)
        kept.append(check)
        aggregator.reset()
    gc.collect()
    after = memory()

    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "run_median_s": statistics.median(per_run),
                "run_mean_s": statistics.fmean(per_run),
                "fresh_median_s": statistics.median(fresh_times),
                "instances": count,
                "process_rss": after["rss"],
                "process_pss": after["pss"],
                "rss_per_instance": (after["rss"] - before["rss"]) / count,
                "private_per_instance": (after["private"] - before["private"]) / count,
            }
        )
    )


main()
