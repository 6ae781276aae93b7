#!/usr/bin/env python3
"""`runner run` under load, and its footprint next to Prometheus exporters.

Usage: bench/daemon.sh [--instances 1000] [--seconds 60]
                       [--groups 20] [--interval 15] [--minutes 4]

Builds the runner (cargo build --release), then spawns GROUPS named
process groups: group i is 1 + i % 3 copies of `sleep` renamed
`bench-g<i>` (so its process name is that), and measures:

1. Scheduling under load: the daemon with INSTANCES `process` instances
   at a 1 s interval (instance k selects group k % GROUPS by exact name),
   measured for SECONDS after a 10 s warm-up, twice:
   - with `--json-lines` to a file in /dev/shm: every run's `lag_ms` (due
     to start), so exact percentiles; CPU per run is the daemon's
     utime + stime over the window divided by the runs in it;
   - without: the same from `/metrics` (`runner_check_runs_total` and
     `runner_check_scheduling_lag_seconds_total` at both ends of the
     window), so the sink's JSON writing is not counted.
   RSS is sampled every 0.5 s from /proc/<pid>/status, PSS from
   /proc/<pid>/smaps_rollup: each instance maps its plugin's initial
   memory image copy-on-write from the compiled plugin file, and RSS
   counts those shared pages once per instance, PSS once in all.
2. Footprint, four daemons side by side in one run for MINUTES after a
   20 s warm-up, each scraped on /metrics every INTERVAL seconds as a
   Prometheus server would:
   - the runner with one `process` instance per group (exact name), at
     INTERVAL, against `prometheus-process-exporter` configured with the
     same groups (`comm: [bench-g<i>]`, its defaults otherwise);
   - the runner on its built-in default (an empty conf.d: `process`
     instances `all` and `runner`, `connections` of the runner, every
     15 s) against `prometheus-node-exporter` with its defaults.
   CPU is utime + stime over the window per minute; RSS the mean and peak
   of the samples, and the mean split into anonymous memory (RssAnon: heap,
   stacks) and file-backed pages (RssFile: the binary's code and data, the
   compiled plugins, shared libraries; clean, shared and reclaimable).

Prints Markdown tables and keeps them in target/bench-daemon/results.md.
Needs the Debian packages prometheus-process-exporter and
prometheus-node-exporter.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench-daemon"
RUNNER = ROOT / "target" / "release" / "runner"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port, timeout=10.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
        return r.read().decode()


def wait_for_metrics(port, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return scrape(port)
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{what} did not serve /metrics on 127.0.0.1:{port} within {timeout:.0f} s")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_kib(pid):
    """VmRSS, RssAnon, RssFile and Pss of a process, in KiB."""
    found = {}
    for name, keys in (("status", ("VmRSS", "RssAnon", "RssFile")), ("smaps_rollup", ("Pss",))):
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in keys:
                    found[key] = int(value.split()[0])
    return found


class RssSampler:
    """Samples the memory of some processes every 0.5 s while running."""

    def __init__(self, pids):
        self.samples = {pid: [] for pid in pids}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stopping.wait(0.5):
            for pid, samples in self.samples.items():
                try:
                    samples.append(memory_kib(pid))
                except OSError:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()

    def mean_mib(self, pid, key="VmRSS"):
        return statistics.mean(s[key] for s in self.samples[pid]) / 1024

    def peak_mib(self, pid):
        return max(s["VmRSS"] for s in self.samples[pid]) / 1024


def spawn_groups(work, groups):
    """Group i: 1 + i % 3 sleepers whose process name is bench-g<i>."""
    sleep = shutil.which("sleep")
    children = []
    for i in range(groups):
        binary = work / f"bench-g{i}"
        shutil.copy(sleep, binary)
        for _ in range(1 + i % 3):
            children.append(subprocess.Popen([str(binary), "100000"]))
    return children


def start_runner(work, name, conf_lines, port, json_lines=None, env_extra=None):
    """`runner run` over a conf.d of its own; stderr goes to <name>.log."""
    conf_d = work / f"{name}-conf.d"
    conf_d.mkdir()
    if conf_lines:
        (conf_d / "process.yaml").write_text("instances:\n" + "".join(conf_lines))
    cmd = [str(RUNNER), "--conf-d", str(conf_d), "--checks-d", str(work / "checks.d"),
           "run", "--listen", f"127.0.0.1:{port}"]
    if json_lines:
        cmd += ["--json-lines", str(json_lines)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env["RUST_LOG"] = "warn"
    env.update(env_extra or {})
    log = open(work / f"{name}.log", "w")
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
    wait_for_metrics(port, f"runner ({name}), see {work / (name + '.log')}")
    return process


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def metric_sum(text, name):
    """Sum of every sample of `name` (any labels) in a text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def under_load(work, args, with_json):
    """Part 1: INSTANCES process instances at 1 s for SECONDS."""
    conf = [
        f"  - {{name: i{k}, search_string: [bench-g{k % args.groups}], min_collection_interval: 1}}\n"
        for k in range(args.instances)
    ]
    port = free_port()
    shm = pathlib.Path("/dev/shm") if pathlib.Path("/dev/shm").is_dir() else work
    lines_path = shm / f"runner-bench-{os.getpid()}.jsonl" if with_json else None
    name = "load-json" if with_json else "load"
    # Flushed every second: at 1,000 runs a second, 15 s of lines would
    # pass the sink's 64 MiB bound on what waits for a flush.
    runner = start_runner(work, name, conf, port, lines_path,
                          {"RUNNER_FLUSH_INTERVAL": "1"} if with_json else None)
    try:
        time.sleep(10)
        with RssSampler([runner.pid]) as rss:
            t0, cpu0, metrics0 = time.time(), cpu_seconds(runner.pid), scrape(port)
            time.sleep(args.seconds)
            t1, cpu1, metrics1 = time.time(), cpu_seconds(runner.pid), scrape(port)
        cpu = cpu1 - cpu0
        result = {"rss_mean": rss.mean_mib(runner.pid), "rss_peak": rss.peak_mib(runner.pid),
                  "pss_mean": rss.mean_mib(runner.pid, "Pss"),
                  "cpu_per_min": cpu * 60 / (t1 - t0), "json": with_json}
        skipped = metric_sum(metrics1, "runner_check_skipped_runs_total")
        failed = metric_sum(metrics1, "runner_check_failures_total") - metric_sum(
            metrics0, "runner_check_failures_total")
        result.update(skipped=skipped, failed=failed)
        if with_json:
            lags = []
            with open(lines_path) as f:
                for line in f:
                    run = json.loads(line)
                    if t0 <= run["timestamp"] < t1:
                        lags.append(run["lag_ms"])
            result.update(runs=len(lags), p50=percentile(lags, 50), p99=percentile(lags, 99),
                          max=max(lags), mean=statistics.mean(lags))
        else:
            runs = metric_sum(metrics1, "runner_check_runs_total") - metric_sum(
                metrics0, "runner_check_runs_total")
            lag = metric_sum(metrics1, "runner_check_scheduling_lag_seconds_total") - metric_sum(
                metrics0, "runner_check_scheduling_lag_seconds_total")
            result.update(runs=runs, mean=lag / runs * 1000 if runs else float("nan"))
        result["cpu_per_run_ms"] = cpu / result["runs"] * 1000 if result["runs"] else float("nan")
        result["runs_per_s"] = result["runs"] / (t1 - t0)
        return result
    finally:
        stop(runner)
        if lines_path:
            lines_path.unlink(missing_ok=True)


def side_by_side(work, args):
    """Part 2: four daemons at once, each scraped every INTERVAL seconds."""
    daemons = {}
    groups_conf = [
        f"  - {{name: g{i}, search_string: [bench-g{i}], min_collection_interval: {args.interval}}}\n"
        for i in range(args.groups)
    ]
    port = free_port()
    daemons["runner-groups"] = (start_runner(work, "groups", groups_conf, port), port)
    port = free_port()
    daemons["runner-default"] = (start_runner(work, "default", [], port), port)

    exporter_conf = work / "process-exporter.yaml"
    exporter_conf.write_text("process_names:\n" + "".join(
        f"  - name: g{i}\n    comm: [bench-g{i}]\n" for i in range(args.groups)))
    port = free_port()
    process = subprocess.Popen(
        ["prometheus-process-exporter", "-config.path", str(exporter_conf),
         "-web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(work / "process-exporter.log", "w"))
    wait_for_metrics(port, "prometheus-process-exporter")
    daemons["process-exporter"] = (process, port)
    port = free_port()
    process = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(work / "node-exporter.log", "w"))
    wait_for_metrics(port, "prometheus-node-exporter")
    daemons["node-exporter"] = (process, port)

    stopping = threading.Event()
    scrapes = {name: 0 for name in daemons}

    def scraper():
        # Like a Prometheus server: every daemon, every INTERVAL seconds.
        while True:
            for name, (_, port) in daemons.items():
                try:
                    scrape(port)
                    scrapes[name] += 1
                except OSError:
                    pass
            if stopping.wait(args.interval):
                return

    try:
        thread = threading.Thread(target=scraper, daemon=True)
        thread.start()
        time.sleep(20)
        pids = [p.pid for p, _ in daemons.values()]
        with RssSampler(pids) as rss:
            t0 = time.time()
            cpu0 = {name: cpu_seconds(p.pid) for name, (p, _) in daemons.items()}
            time.sleep(args.minutes * 60)
            t1 = time.time()
            cpu1 = {name: cpu_seconds(p.pid) for name, (p, _) in daemons.items()}
        stopping.set()
        thread.join()
        minutes = (t1 - t0) / 60
        return {
            name: {"cpu_per_min": (cpu1[name] - cpu0[name]) / minutes,
                   "rss_mean": rss.mean_mib(p.pid), "rss_peak": rss.peak_mib(p.pid),
                   "anon_mean": rss.mean_mib(p.pid, "RssAnon"),
                   "file_mean": rss.mean_mib(p.pid, "RssFile"),
                   "scrapes": scrapes[name]}
            for name, (p, _) in daemons.items()
        }
    finally:
        stopping.set()
        for process, _ in daemons.values():
            stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--interval", type=float, default=15)
    parser.add_argument("--minutes", type=float, default=4)
    args = parser.parse_args()
    for tool in ("prometheus-process-exporter", "prometheus-node-exporter"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install {tool}")
    subprocess.run(["cargo", "build", "--release", "-p", "runner"], cwd=ROOT, check=True)

    work = pathlib.Path(tempfile.mkdtemp(prefix="runner-bench-daemon-"))
    (work / "checks.d").mkdir()
    children = spawn_groups(work, args.groups)
    try:
        load = [under_load(work, args, with_json) for with_json in (True, False)]
        footprint = side_by_side(work, args)
    finally:
        for child in children:
            child.kill()
            child.wait()
        shutil.rmtree(work, ignore_errors=True)

    out = []
    version = subprocess.run([str(RUNNER), "--version"], capture_output=True, text=True).stdout
    out.append(f"{version.strip()}, "
               f"{platform.node()}, {os.cpu_count()} CPUs, {datetime.datetime.now().isoformat(timespec='minutes')}\n")
    out.append(f"### {args.instances} `process` instances at 1 s, {args.seconds:.0f} s "
               f"(after a 10 s warm-up), {args.groups} groups\n")
    out.append("| sink | runs/s | lag mean | lag p50 | lag p99 | lag max | skipped | failed "
               "| CPU / run | CPU s / min | RSS mean | RSS peak | PSS mean |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in load:
        exact = lambda key: f"{r[key]:.1f} ms" if key in r else "–"
        out.append(
            f"| {'JSON lines + /metrics' if r['json'] else '/metrics only'} | {r['runs_per_s']:.0f} "
            f"| {r['mean']:.1f} ms | {exact('p50')} | {exact('p99')} | {exact('max')} "
            f"| {r['skipped']:.0f} | {r['failed']:.0f} | {r['cpu_per_run_ms']:.3f} ms "
            f"| {r['cpu_per_min']:.1f} | {r['rss_mean']:.1f} MiB | {r['rss_peak']:.1f} MiB "
            f"| {r['pss_mean']:.1f} MiB |")
    out.append("")
    out.append(f"### Footprint side by side, {args.minutes:g} min after a 20 s warm-up, "
               f"scraped every {args.interval:g} s, {args.groups} groups\n")
    out.append("| pair | CPU s / min: runner | peer | ratio | RSS mean MiB: runner | peer | ratio "
               "| RSS peak MiB: runner | peer | anon MiB: runner | peer | ratio "
               "| file-backed MiB: runner | peer |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for runner, peer, label in (("runner-groups", "process-exporter",
                                 f"{args.groups} process groups vs prometheus-process-exporter"),
                                ("runner-default", "node-exporter",
                                 "built-in default vs prometheus-node-exporter")):
        a, b = footprint[runner], footprint[peer]
        ratio = lambda x, y: f"{x / y:.2f}×" if y else "–"
        out.append(
            f"| {label} | {a['cpu_per_min']:.3f} | {b['cpu_per_min']:.3f} "
            f"| {ratio(a['cpu_per_min'], b['cpu_per_min'])} | {a['rss_mean']:.1f} | {b['rss_mean']:.1f} "
            f"| {ratio(a['rss_mean'], b['rss_mean'])} | {a['rss_peak']:.1f} | {b['rss_peak']:.1f} "
            f"| {a['anon_mean']:.1f} | {b['anon_mean']:.1f} | {ratio(a['anon_mean'], b['anon_mean'])} "
            f"| {a['file_mean']:.1f} | {b['file_mean']:.1f} |")
    text = "\n".join(out) + "\n"
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.md").write_text(text)
    (OUT / "results.json").write_text(json.dumps({"load": load, "footprint": footprint}, indent=2))


if __name__ == "__main__":
    main()
