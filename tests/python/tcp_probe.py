# Connects to the instance's `host` and `port` (the endpoint it is
# granted) with the standard socket module, by name.
import socket

from datadog_checks.base import AgentCheck


class TcpProbeCheck(AgentCheck):
    def check(self, instance):
        address = socket.getaddrinfo(instance["host"], instance["port"])[0][4]
        with socket.create_connection((instance["host"], instance["port"]), timeout=5) as connection:
            connection.sendall(b"ping\n")
            reply = connection.recv(16)
        self.gauge("tcp_probe.reply_bytes", len(reply), tags=["address:%s" % address[0]])
