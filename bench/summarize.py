#!/usr/bin/env python3
"""Print criterion results as a Markdown table.

Usage: python3 bench/summarize.py [CRITERION_DIR]   (default: target/criterion)

For each benchmark: criterion's median estimate with its 95% confidence
interval, the mean, and the 95th percentile of the per-sample averages
(each criterion sample is the average of many iterations, so this is the
p95 of those averages, not of single iterations).
"""
import json
import pathlib
import sys


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def p95(values):
    values = sorted(values)
    k = (len(values) - 1) * 0.95
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> None:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    print("| benchmark | median | 95% CI of median | mean | p95 of samples | samples |")
    print("|---|---|---|---|---|---|")
    for bench in sorted(root.glob("**/new/benchmark.json")):
        new = bench.parent
        meta = json.loads(bench.read_text())
        est = json.loads((new / "estimates.json").read_text())
        sample = json.loads((new / "sample.json").read_text())
        per_iter = [t / n for t, n in zip(sample["times"], sample["iters"])]
        med = est["median"]
        ci = med["confidence_interval"]
        print(
            f"| {meta['full_id']} | {fmt(med['point_estimate'])} "
            f"| {fmt(ci['lower_bound'])} – {fmt(ci['upper_bound'])} "
            f"| {fmt(est['mean']['point_estimate'])} | {fmt(p95(per_iter))} "
            f"| {len(per_iter)} |"
        )


if __name__ == "__main__":
    main()
