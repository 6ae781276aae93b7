#!/usr/bin/env python3
"""A bounded synthetic load for the snapshot benchmarks: idle processes
holding loopback TCP connections between them.

Usage:
  python3 bench/snapshot_load.py [--procs 2000] [--conns 10000] [--servers N] [-- COMMAND...]

Starts PROCS idle processes (`sleep infinity`, argv[0] snapshot-load-server
or snapshot-load-client): SERVERS of them (default PROCS/20) each hold a
listening socket on 127.0.0.1 and the accepted ends of their connections;
the others each hold about CONNS/(PROCS-SERVERS) connected client sockets
(to one or two servers).
So the host gains PROCS processes and 2 x CONNS established TCP sockets
(plus SERVERS listeners), each owned by exactly one process.

With a COMMAND: runs it once the load is ready, tears the load down and
exits with the command's status. Without: prints "ready" and holds the load
until SIGINT or SIGTERM. Every load process is killed by the kernel when
this script dies (PR_SET_PDEATHSIG), even on SIGKILL.

Python 3 standard library only; Linux only.
"""
import argparse
import ctypes
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
# SO_LINGER on, timeout 0: a killed holder resets its connections instead of
# leaving thousands of TIME-WAIT sockets behind for the next run to see.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)
# Resolved before any fork so children only call it.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(sig=signal.SIGKILL):
    """Ask the kernel to send `sig` to this process when its parent exits."""
    _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def read_int_file(path, default=None):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return default


def check_limits(procs, conns, servers):
    """Fail early (with the reason) rather than half-way through set-up."""
    pid_max = read_int_file("/proc/sys/kernel/pid_max", [32768])[0]
    running = sum(1 for d in os.listdir("/proc") if d.isdigit())
    if running + procs + 100 > pid_max:
        sys.exit(f"snapshot_load: {running} + {procs} processes would exceed pid_max {pid_max}")
    nproc_soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if nproc_soft != resource.RLIM_INFINITY and running + procs + 100 > nproc_soft:
        sys.exit(f"snapshot_load: RLIMIT_NPROC {nproc_soft} is too low for {procs} more processes")
    lo, hi = read_int_file("/proc/sys/net/ipv4/ip_local_port_range", [32768, 60999])
    if conns + servers > hi - lo:
        # The kernel can reuse a local port towards different servers, but
        # a full range makes connect() slow or fail: say so up front.
        print(f"snapshot_load: warning: {conns} connections vs {hi - lo + 1} ephemeral ports",
              file=sys.stderr)
    # This process holds one server's listener and accepted ends and one
    # client's sockets at a time: raise the soft fd limit if that is short.
    need = conns // max(servers, 1) + conns // max(procs - servers, 1) + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            try:  # only root (CAP_SYS_RESOURCE) may raise the hard limit
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            except (ValueError, OSError):
                sys.exit(f"snapshot_load: needs {need} open files, hard limit is {hard}")
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class Load:
    """The load processes; `stop` kills and reaps them all."""

    def __init__(self):
        self.pids = []
        self.sleep = shutil.which("sleep") or "/bin/sleep"
        self.me = os.getpid()
        # All children hold the write end until their exec; EOF on the read
        # end once the parent closes its copy means every child has exec'd.
        self.exec_r, self.exec_w = os.pipe()  # both O_CLOEXEC

    def spawn(self, role, socks):
        """Fork a `sleep infinity` that keeps `socks` open (as inherited fds)."""
        pid = os.fork()
        if pid == 0:
            try:
                die_with_parent()
                if os.getppid() != self.me:  # parent died before prctl
                    os._exit(1)
                for s in socks:
                    os.set_inheritable(s.fileno(), True)
                os.execv(self.sleep, [f"snapshot-load-{role}", "infinity"])
            except BaseException:
                pass
            try:
                os.write(self.exec_w, b"!")
            finally:
                os._exit(127)
        self.pids.append(pid)
        for s in socks:
            s.close()

    def wait_exec(self):
        """Wait until every child has exec'd; False if one failed."""
        os.close(self.exec_w)
        failed = False
        while chunk := os.read(self.exec_r, 4096):
            failed = failed or b"!" in chunk
        os.close(self.exec_r)
        return not failed

    def stop(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids = []


def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


def start(load, procs, conns, servers):
    """Connection j goes to server j * servers // conns: servers fill up one
    after the other, so each is handed off as soon as it is full and this
    process never holds more than one server's accepted ends (forking with
    thousands of open fds is several times slower)."""
    clients = procs - servers
    started = 0
    current, listener, ends = None, None, []
    j = 0
    for c in range(clients):
        n = conns // clients + (1 if c < conns % clients else 0)
        socks = []
        for _ in range(n):
            target = j * servers // conns
            if target != current:
                if listener:
                    load.spawn("server", [listener] + ends)
                    started += 1
                current, listener, ends = target, listen(), []
            s = socket.create_connection(listener.getsockname())
            end = listener.accept()[0]
            for x in (s, end):
                x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
            socks.append(s)
            ends.append(end)
            j += 1
        load.spawn("client", socks)
    if listener:
        load.spawn("server", [listener] + ends)
        started += 1
    for _ in range(servers - started):  # fewer connections than servers
        load.spawn("server", [listen()])
    return load.wait_exec()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=2000, help="extra idle processes")
    ap.add_argument("--conns", type=int, default=10000, help="loopback TCP connections")
    ap.add_argument("--servers", type=int, help="listening processes (default procs/20)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND to run under the load")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    servers = args.servers if args.servers is not None else max(1, args.procs // 20)
    if args.conns and not 0 < servers < args.procs:
        sys.exit("snapshot_load: need at least one server and one client process")
    if not args.conns:
        servers = 0
    check_limits(args.procs, args.conns, servers)

    # SIGTERM and SIGHUP unwind like Ctrl-C, so `finally` cleans up; SIGINT
    # too when started in the background (where the shell ignores it).
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    load = Load()
    status = 0
    try:
        t0 = time.monotonic()
        if not start(load, args.procs, args.conns, servers):
            sys.exit("snapshot_load: a load process failed to start")
        print(f"snapshot_load: ready: {args.procs} processes ({servers} servers), "
              f"{args.conns} connections, set up in {time.monotonic() - t0:.1f} s",
              file=sys.stderr, flush=True)
        if command:
            # The command also goes when we go, so nothing outlives the run.
            child = subprocess.Popen(command, preexec_fn=lambda: die_with_parent(signal.SIGTERM))
            try:
                status = child.wait()
            finally:
                if child.poll() is None:
                    child.terminate()
                    try:
                        child.wait(5)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
            status = status if status >= 0 else 128 - status
        else:
            print("ready (Ctrl-C to stop)", flush=True)
            while True:
                signal.pause()
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, int) and e.code:
            print(e.code, file=sys.stderr)
    finally:
        n = len(load.pids)
        load.stop()
        print(f"snapshot_load: stopped {n} load processes", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
