# One instance per way of misbehaving (`mode`); `ok` is the healthy one.
import sys

from datadog_checks.base import AgentCheck


class HostileCheck(AgentCheck):
    def check(self, instance):
        mode = instance["mode"]
        if mode == "spin":
            while True:
                pass
        if mode == "memory":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "passwd":
            with open("/etc/passwd") as f:
                self.gauge("hostile.passwd_lines", len(f.readlines()))
        if mode == "subprocess":
            import subprocess

            subprocess.run(["id"], check=True)
        if mode == "socket":
            import socket

            socket.create_connection(("127.0.0.1", instance["port"]), timeout=2)
        if mode == "recursion":
            def down(n):
                return down(n + 1) + 1

            down(0)
        if mode == "abort":
            import os

            sys.stderr.write("giving up now\n")
            os.abort()
        self.gauge("hostile.healthy", 1)
