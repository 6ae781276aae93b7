#!/usr/bin/env python3
"""The snapshot benchmark, side by side with its peers, under load.

Usage: bench/snapshot.sh [--procs 2000] [--conns 10000] [--rounds 3] [--iters 10]
                         [--skip-ours | --bench-bin PATH]

1. Builds the `snapshot` bench binary (`cargo bench --no-run`) and creates
   target/bench-venv with psutil if it is missing.
2. Starts bench/snapshot_load.py (PROCS idle processes, CONNS loopback TCP
   connections) and, under that load, runs ROUNDS rounds of: the runner's
   snapshot bench, the ps + ss pair, psutil (ITERS iterations each per
   round; the order rotates each round so slow drift hits all alike).
3. Tears the load down and prints Markdown tables: medians over all
   rounds, the issue's ratios with their goals, and the machine. Raw
   samples and the tables are kept in target/bench-snapshot/.

--skip-ours runs only the peers (no Rust build); --bench-bin uses an
already built bench binary.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = ROOT / "target" / "bench-snapshot"
VENV = ROOT / "target" / "bench-venv"


def build_bench():
    """Builds the bench binary and returns its path (from cargo's JSON)."""
    cmd = ["cargo", "bench", "-p", "runner", "--bench", "snapshot", "--no-run",
           "--message-format=json-render-diagnostics"]
    print("building:", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        target = msg.get("target", {})
        if (msg.get("reason") == "compiler-artifact" and target.get("name") == "snapshot"
                and "bench" in target.get("kind", []) and msg.get("executable")):
            return msg["executable"]
    sys.exit("snapshot_compare: cargo built no `snapshot` bench executable")


def venv_python():
    """target/bench-venv's python, with psutil (created on first use)."""
    python = VENV / "bin" / "python"
    has_psutil = python.exists() and subprocess.run(
        [python, "-c", "import psutil"], capture_output=True).returncode == 0
    if not has_psutil:
        print(f"creating {VENV} with psutil", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "psutil"], check=True)
    return str(python)


def run_json(cmd, env=None):
    """Runs one tool; its stdout is one JSON object, stderr passes through."""
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True,
                         env={**os.environ, **(env or {})}).stdout
    return json.loads(out.strip().splitlines()[-1])


def under_load(args):
    """Step 2, run by snapshot_load.py once the load is up."""
    tools = {
        "ps+ss": lambda: run_json([sys.executable, BENCH / "ps_ss_snapshot.py",
                                   "--iters", str(args.iters)]),
        "psutil": lambda: run_json([args.python, BENCH / "psutil_snapshot.py",
                                    "--iters", str(args.iters)]),
    }
    if args.bench_bin:
        tools["runner"] = lambda: run_json([args.bench_bin],
                                           {"RUNNER_BENCH_ITERS": str(args.iters)})
    order = sorted(tools, key=["runner", "ps+ss", "psutil"].index)
    results = {name: [] for name in order}
    load_start = os.getloadavg()
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
            results[name].append(tools[name]())
    results["_machine"] = machine(load_start, os.getloadavg())
    pathlib.Path(args.results).write_text(json.dumps(results))


def machine(load_start, load_end):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "load_avg_1m": [round(load_start[0], 2), round(load_end[0], 2)],
        "date": datetime.date.today().isoformat(),
    }


def pooled(rounds, run):
    """All samples of one run kind over every round."""
    keys = rounds[0]["runs"][run]["samples"].keys()
    return {k: [x for r in rounds for x in r["runs"][run]["samples"][k]] for k in keys}


def fmt_ms(ms):
    return f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"


def report(path, args):
    results = json.loads(pathlib.Path(path).read_text())
    m = results.pop("_machine")
    rows = {}  # label -> pooled samples, peak RSS, counts
    for name, label_runs in [("runner", [("first", "runner, first snapshot (new Reader)"),
                                          ("refresh", "runner, refresh (same Reader)")]),
                             ("ps+ss", [("snapshot", "`ps -eo …` + `ss -tanp`, back to back")]),
                             ("psutil", [("first", "psutil, first iteration"),
                                         ("refresh", "psutil, later iterations")])]:
        rounds = results.get(name)
        if not rounds:
            continue
        for run, label in label_runs:
            rows[(name, run)] = {
                "label": label,
                "s": pooled(rounds, run),
                "peak": max(r["peak_rss_kib"] or 0 for r in rounds),
                "procs": rounds[-1]["processes"],
                "conns": rounds[-1]["connections"],
                "tool": rounds[-1]["tool"],
            }

    def med(key, field="wall_ms"):
        return statistics.median(rows[key]["s"][field]) if key in rows else None

    lines = ["| | wall (median) | user CPU | system CPU | peak RSS | processes seen | sockets seen | samples |",
             "|---|---|---|---|---|---|---|---|"]
    for key, row in rows.items():
        s = row["s"]
        lines.append(
            f"| {row['label']} | **{fmt_ms(statistics.median(s['wall_ms']))}** "
            f"| {fmt_ms(statistics.median(s['user_ms']))} | {fmt_ms(statistics.median(s['sys_ms']))} "
            f"| {row['peak'] / 1024:.1f} MiB | {row['procs']} | {row['conns']} | {len(s['wall_ms'])} |")
    if ("runner", "first") not in rows:
        lines.append("| runner | not run (--skip-ours) | | | | | | |")

    def user_share(key):
        # Sums, not a median of ratios: the kernel splits a process's CPU
        # time into user and system by sampling at ticks, so one short
        # iteration's split is coarse; the total over many is not.
        if key not in rows:
            return None
        s = rows[key]["s"]
        return sum(s["user_ms"]) / sum(s["sys_ms"]) if sum(s["sys_ms"]) else None

    def cpu(key):
        s = rows[key]["s"]
        return statistics.median([u + k for u, k in zip(s["user_ms"], s["sys_ms"])])

    def ratio(a, b):
        return a / b if a is not None and b else None

    first, refresh = ("runner", "first"), ("runner", "refresh")
    pair = ("ps+ss", "snapshot")
    ours = first in rows
    goals = [
        ("runner first snapshot / (ps + ss), wall", ratio(med(first), med(pair)), "≤ 0.5", lambda x: x <= 0.5),
        ("runner refresh / (ps + ss), wall", ratio(med(refresh), med(pair)), "", None),
        ("psutil later iterations / runner refresh, wall", ratio(med(("psutil", "refresh")), med(refresh)), "≥ 10", lambda x: x >= 10),
        ("psutil first / runner first snapshot, wall", ratio(med(("psutil", "first")), med(first)), "", None),
        ("runner user CPU / system CPU, first snapshot", user_share(first), "≤ 25 %", lambda x: x <= 0.25),
        ("runner user CPU / system CPU, refresh", user_share(refresh), "≤ 25 %", lambda x: x <= 0.25),
        ("runner refresh / first snapshot, wall", ratio(med(refresh), med(first)), "≤ 0.6", lambda x: x <= 0.6),
        ("runner refresh / first snapshot, user + system CPU", ratio(cpu(refresh), cpu(first)) if ours else None, "", None),
        ("(context) ps + ss user CPU / system CPU", user_share(pair), "", None),
    ]
    lines += ["", "| ratio | value | goal | met? |", "|---|---|---|---|"]
    for label, value, goal, ok in goals:
        if value is None:
            shown, met = "—", ""
        else:
            shown = f"{value * 100:.0f} %" if "%" in goal or "user CPU" in label else f"{value:.2f}×"
            met = ("yes" if ok(value) else "**no**") if ok else ""
        lines.append(f"| {label} | {shown} | {goal} | {met} |")
    if ours:
        lines.append(f"| runner peak RSS (VmHWM) | {rows[first]['peak'] / 1024:.1f} MiB | (report) | |")

    tools = ", ".join(sorted({row["tool"] for row in rows.values()}))
    lines += ["", "| machine | |", "|---|---|",
              f"| CPU | {m['cpu']}, `nproc` = {m['nproc']} |",
              f"| Memory | {m['memory_gib']} GiB |",
              f"| Kernel | Linux {m['kernel']} |",
              f"| Load | `--procs {args.procs} --conns {args.conns}`: processes seen by ps "
              f"{rows[pair]['procs'] if pair in rows else '?'}, TCP sockets seen by ss "
              f"{rows[pair]['conns'] if pair in rows else '?'} |",
              f"| Load average (1 min), start → end | {m['load_avg_1m'][0]} → {m['load_avg_1m'][1]} |",
              f"| Rounds × iterations | {args.rounds} × {args.iters} per tool |",
              f"| Tools | {tools}; procps {ps_version()} |",
              f"| Date | {m['date']} |"]
    return "\n".join(lines)


def ps_version():
    try:
        out = subprocess.run(["ps", "--version"], capture_output=True, text=True).stdout
        return out.split()[-1]
    except (OSError, IndexError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10, help="iterations per tool per round")
    ap.add_argument("--skip-ours", action="store_true", help="peers only (no Rust build)")
    ap.add_argument("--bench-bin", help="an already built snapshot bench binary")
    # Internal: the step that runs under the load.
    ap.add_argument("--under-load", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--results", help=argparse.SUPPRESS)
    ap.add_argument("--python", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.under_load:
        return under_load(args)

    bench_bin = None if args.skip_ours else (args.bench_bin or build_bench())
    python = venv_python()
    OUT.mkdir(parents=True, exist_ok=True)
    results = OUT / "results.json"
    results.unlink(missing_ok=True)
    inner = [sys.executable, __file__, "--under-load", "--results", str(results),
             "--python", python, "--rounds", str(args.rounds), "--iters", str(args.iters)]
    if bench_bin:
        inner += ["--bench-bin", bench_bin]
    status = subprocess.run([sys.executable, BENCH / "snapshot_load.py", "--procs", str(args.procs),
                             "--conns", str(args.conns), "--", *inner]).returncode
    if status != 0:
        sys.exit(f"snapshot_compare: the run under load failed (status {status})")
    table = report(results, args)
    (OUT / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    sys.exit(main())
