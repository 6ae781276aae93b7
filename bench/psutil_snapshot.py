#!/usr/bin/env python3
"""The psutil peer of the runner's snapshot: every process with the fields
the runner reads, plus every inet socket with its owning pid.

Usage: python3 bench/psutil_snapshot.py [--iters N]   (needs psutil; see
bench/snapshot_compare.py, which runs it from target/bench-venv)

Prints one JSON object: per-iteration wall time and user/system CPU of this
process, split into "first" (iteration 0: psutil builds its Process
objects) and "refresh" (later iterations reuse them, as ours reuses its
per-process caches), with medians.

Not comparable field for field: psutil has no portable page fault counts
and no container id; swap would need memory_full_info(), which parses
/proc/<pid>/smaps (far slower), so it is left out. Kernel threads are
included (psutil cannot skip them without reading them).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import psutil

ATTRS = [
    "pid", "ppid", "name", "cmdline", "exe", "cwd", "username", "status",
    "create_time", "cpu_times", "cpu_percent", "memory_info", "num_threads",
    "num_fds", "io_counters", "num_ctx_switches",
]


def snapshot():
    # process_iter reads each process's files inside oneshot(); denied or
    # vanished fields come back as None.
    procs = [p.info for p in psutil.process_iter(ATTRS, ad_value=None)]
    conns = psutil.net_connections(kind="inet")
    return len(procs), len(conns)


def cpu_ms():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime * 1e3, ru.ru_stime * 1e3


def summary(samples):
    return {
        "samples": samples,
        "median": {k: statistics.median(v) for k, v in samples.items()},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    rows = []
    for _ in range(max(args.iters, 2)):
        u0, s0 = cpu_ms()
        t0 = time.perf_counter()
        procs, conns = snapshot()
        wall = (time.perf_counter() - t0) * 1e3
        u1, s1 = cpu_ms()
        rows.append({"wall_ms": wall, "user_ms": u1 - u0, "sys_ms": s1 - s0})
    runs = {
        "first": summary({k: [rows[0][k]] for k in rows[0]}),
        "refresh": summary({k: [r[k] for r in rows[1:]] for k in rows[0]}),
    }
    out = {
        "tool": f"psutil {psutil.__version__}",
        "iters": len(rows),
        "processes": procs,
        "connections": conns,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "runs": runs,
    }
    json.dump(out, sys.stdout)
    print()
    m = runs["refresh"]["median"]
    print(f"psutil: {procs} processes, {conns} connections: first {rows[0]['wall_ms']:.1f} ms, "
          f"refresh median {m['wall_ms']:.1f} ms (user {m['user_ms']:.1f}, sys {m['sys_ms']:.1f})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
