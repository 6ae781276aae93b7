#!/usr/bin/env python3
"""The ps + ss peer of the runner's snapshot: the process table and every
TCP socket with its owning process, as two commands run back to back.

Usage: python3 bench/ps_ss_snapshot.py [--iters N]

One iteration runs `ps -eo pid,ppid,user,pcpu,rss,vsz,nlwp,args` then
`ss -tanp`, output to /dev/null. Prints one JSON object: per-iteration wall
time of the pair and user/system CPU of the two children (getrusage
RUSAGE_CHILDREN deltas), with medians; the process and connection counts
come from one extra, untimed run.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

PS = ["ps", "-eo", "pid,ppid,user,pcpu,rss,vsz,nlwp,args"]
SS = ["ss", "-tanp"]


def children_cpu_ms():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime * 1e3, ru.ru_stime * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    samples = {"wall_ms": [], "user_ms": [], "sys_ms": []}
    for _ in range(args.iters):
        u0, s0 = children_cpu_ms()
        t0 = time.perf_counter()
        for cmd in (PS, SS):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        wall = (time.perf_counter() - t0) * 1e3
        u1, s1 = children_cpu_ms()
        samples["wall_ms"].append(wall)
        samples["user_ms"].append(u1 - u0)
        samples["sys_ms"].append(s1 - s0)
    # Header lines excluded.
    procs = len(subprocess.run(PS, capture_output=True, text=True).stdout.splitlines()) - 1
    conns = len(subprocess.run(SS, capture_output=True, text=True).stdout.splitlines()) - 1
    median = {k: statistics.median(v) for k, v in samples.items()}
    out = {
        "tool": "ps + ss -tanp",
        "iters": args.iters,
        "processes": procs,
        "connections": conns,
        # The largest of the children, not of the pair together.
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "runs": {"snapshot": {"samples": samples, "median": median}},
    }
    json.dump(out, sys.stdout)
    print()
    print(f"ps+ss: {procs} processes, {conns} TCP sockets: median {median['wall_ms']:.1f} ms "
          f"(user {median['user_ms']:.1f}, sys {median['sys_ms']:.1f})", file=sys.stderr)


if __name__ == "__main__":
    main()
