#!/usr/bin/env python3
"""The networked checks against their Prometheus exporter peers, side by side.

Usage: bench/networked.sh [--collections 200] [--rounds 3]

1. Builds the runner (cargo build --release) and starts, on loopback ports
   in temp dirs: nginx 1.22 with stub_status, PostgreSQL (initdb + pg_ctl,
   a SCRAM password), prometheus-nginx-exporter and
   prometheus-postgres-exporter pointed at them (Debian packages; run as
   root: PostgreSQL runs as the `postgres` user).
2. For each pair, ROUNDS rounds of:
   - the exporter: COLLECTIONS scrapes of /metrics, one after another;
     CPU is the exporter process's utime + stime over them (from
     /proc/<pid>/stat), wall is the scrape's latency seen by the client,
     RSS the exporter's VmRSS after them;
   - the runner: `runner check <check> --check-times N --json` for N = 1
     and N = 1 + COLLECTIONS, one instance; CPU and wall per collection
     are the differences divided by COLLECTIONS (so start-up, loading the
     cached compiled plugin and printing are left out), RSS is the peak
     RSS of the larger run (the whole runner process with the instance).
3. Prints Markdown tables with medians over the rounds and the ratios, and
   keeps them in target/bench-networked/.

A collection is not quite the same work on both sides: an exporter scrape
also renders the Prometheus text exposition; a runner collection also
aggregates (the runner's own /metrics endpoint is a later issue).
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench-networked"
RUNNER = ROOT / "target" / "release" / "runner"
TICK = os.sysconf("SC_CLK_TCK")
PG_PASSWORD = "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"networked: {what} did not start listening on 127.0.0.1:{port}")


def start_nginx(tmp):
    port = free_port()
    prefix = tmp / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /nginx_status {{ stub_status on; }}
  }}
}}
""")
    subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                   check=True)
    wait_for_port(port, "nginx")
    stop = lambda: subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf), "-e",
                                   str(prefix / "error.log"), "-s", "stop"], check=False)
    return port, stop


def pg_bin(name):
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        sys.exit(f"networked: no /usr/lib/postgresql/*/bin/{name}: apt-get install postgresql")
    return str(found[-1])


def start_postgres(tmp):
    port = free_port()
    data = tmp / "pg"
    data.mkdir()
    user = pwd.getpwnam("postgres")
    os.chown(tmp, user.pw_uid, user.pw_gid)
    os.chown(data, user.pw_uid, user.pw_gid)
    pwfile = tmp / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    os.chown(pwfile, user.pw_uid, user.pw_gid)
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [pg_bin("initdb"), "-D", str(data / "db"), "-U", "postgres",
                            "--auth=scram-sha-256", f"--pwfile={pwfile}"],
                   check=True, stdout=subprocess.DEVNULL)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data / "db"), "-o", options,
                            "-l", str(data / "log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    stop = lambda: subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data / "db"), "-m",
                                           "fast", "stop"], check=False,
                                  stdout=subprocess.DEVNULL)
    return port, stop


def start_exporter(cmd, env, port):
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(port, cmd[0])
    return proc


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_exporter(proc, port, collections):
    url = f"http://127.0.0.1:{port}/metrics"
    for _ in range(5):
        urllib.request.urlopen(url, timeout=10).read()
    before = cpu_seconds(proc.pid)
    walls = []
    for _ in range(collections):
        start = time.perf_counter()
        body = urllib.request.urlopen(url, timeout=10).read()
        walls.append(time.perf_counter() - start)
    cpu = (cpu_seconds(proc.pid) - before) / collections
    return {"cpu_ms": cpu * 1000, "wall_ms": statistics.median(walls) * 1000,
            "rss_mib": rss_mib(proc.pid), "bytes": len(body)}


def run_runner(check, workdir, times):
    """One `runner check` run: its CPU seconds, wall seconds and peak RSS
    (MiB), from the kernel's accounting of that one process (wait4)."""
    cmd = [str(RUNNER), "check", check, "--check-times", str(times), "--json",
           "--conf-d", str(workdir / "conf.d")]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        report = json.loads(out.read())
        error = report[0]["runner"]["LastError"]
        if error:
            sys.exit(f"networked: runner check {check} failed: {error}\n{err.read().decode()}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def measure_runner(check, workdir, collections):
    run_runner(check, workdir, 1)  # compile cache and page cache warm
    cpu1, wall1, _ = run_runner(check, workdir, 1)
    cpun, walln, rss = run_runner(check, workdir, 1 + collections)
    return {"cpu_ms": (cpun - cpu1) / collections * 1000,
            "wall_ms": (walln - wall1) / collections * 1000,
            "rss_mib": rss}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    for tool in ["nginx", "runuser", "prometheus-nginx-exporter", "prometheus-postgres-exporter"]:
        if not shutil.which(tool):
            sys.exit(f"networked: `{tool}` not found: apt-get install nginx postgresql "
                     "prometheus-nginx-exporter prometheus-postgres-exporter")
    if not args.skip_build:
        subprocess.run(["cargo", "build", "--release", "-p", "runner"], cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)

    stops, procs = [], []
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="runner-bench-net-"))
    try:
        nginx_port, stop = start_nginx(tmp)
        stops.append(stop)
        pg_port, stop = start_postgres(tmp)
        stops.append(stop)
        nginx_exp = free_port()
        procs.append(start_exporter(
            ["prometheus-nginx-exporter", "-nginx.scrape-uri",
             f"http://127.0.0.1:{nginx_port}/nginx_status",
             "-web.listen-address", f"127.0.0.1:{nginx_exp}"], {}, nginx_exp))
        pg_exp = free_port()
        procs.append(start_exporter(
            ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{pg_exp}"],
            {"DATA_SOURCE_NAME":
             f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{pg_port}/postgres?sslmode=disable"},
            pg_exp))

        work = tmp / "runner"
        (work / "conf.d" / "nginx.d").mkdir(parents=True)
        (work / "conf.d" / "postgres.d").mkdir(parents=True)
        (work / "conf.d" / "nginx.d" / "conf.yaml").write_text(
            f"init_config:\ninstances:\n  - nginx_status_url: "
            f"http://127.0.0.1:{nginx_port}/nginx_status\n")
        (work / "conf.d" / "postgres.d" / "conf.yaml").write_text(
            f"init_config:\ninstances:\n  - host: 127.0.0.1\n    port: {pg_port}\n"
            f"    username: postgres\n    password: {PG_PASSWORD}\n")

        pairs = [("nginx", procs[0], nginx_exp, "prometheus-nginx-exporter"),
                 ("postgres", procs[1], pg_exp, "prometheus-postgres-exporter")]
        samples = {name: {"ours": [], "peer": []} for name, *_ in pairs}
        for round_ in range(args.rounds):
            for name, proc, port, _ in (pairs if round_ % 2 == 0 else pairs[::-1]):
                print(f"round {round_ + 1}: {name}", file=sys.stderr, flush=True)
                samples[name]["peer"].append(measure_exporter(proc, port, args.collections))
                samples[name]["ours"].append(measure_runner(name, work, args.collections))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        for stop in stops:
            stop()
        shutil.rmtree(tmp, ignore_errors=True)

    (OUT / "samples.json").write_text(json.dumps(samples, indent=1))
    med = lambda rows, key: statistics.median(r[key] for r in rows)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.release()}; "
        f"{args.rounds} rounds of {args.collections} collections; "
        f"{datetime.date.today().isoformat()}",
        "",
        "| check | peer | CPU / collection: runner | peer | ratio | wall / collection: runner "
        "| peer | ratio | RSS MiB: runner | peer |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, _, _, peer in pairs:
        ours, theirs = samples[name]["ours"], samples[name]["peer"]
        c_o, c_p = med(ours, "cpu_ms"), med(theirs, "cpu_ms")
        w_o, w_p = med(ours, "wall_ms"), med(theirs, "wall_ms")
        lines.append(
            f"| {name} | {peer} | {c_o:.3f} ms | {c_p:.3f} ms | {c_o / c_p:.2f}× "
            f"| {w_o:.3f} ms | {w_p:.3f} ms | {w_o / w_p:.2f}× "
            f"| {med(ours, 'rss_mib'):.1f} | {med(theirs, 'rss_mib'):.1f} |")
    table = "\n".join(lines)
    (OUT / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
