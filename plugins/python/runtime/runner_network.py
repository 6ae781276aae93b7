"""Name lookups for Python checks, through the runner.

A check may not look names up itself (the sandbox denies it); the runner
resolves the endpoints an instance is granted (`network.resolve`). So
`socket.getaddrinfo` (and what calls it: `socket.create_connection`,
`socket.gethostbyname`) is answered here: an IP address as is, a name by
the runner, which says when the endpoint is not granted. The connection
itself is still checked by the runner against the grant.
"""

import ipaddress
import socket

from componentize_py_types import Err
from wit_world.imports import network


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if isinstance(host, bytes):
        host = host.decode("ascii")
    if isinstance(port, bytes):
        port = port.decode("ascii")
    if host is None:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    try:
        port = int(port or 0)
    except ValueError:
        raise socket.gaierror(socket.EAI_SERVICE, f"port {port!r} is not a number") from None
    try:
        addresses = [(str(ipaddress.ip_address(host.strip("[]"))), port)]
    except ValueError:
        try:
            resolved = network.resolve(host, port)
        except Err as e:
            raise socket.gaierror(socket.EAI_NONAME, f"cannot resolve {host}:{port}: {e.value}") from None
        addresses = [_split(text) for text in resolved.addresses]
    results = []
    for address, address_port in addresses:
        family_of = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family not in (0, socket.AF_UNSPEC, family_of):
            continue
        sockaddr = (address, address_port, 0, 0) if family_of == socket.AF_INET6 else (address, address_port)
        results.append((family_of, type or socket.SOCK_STREAM, proto or socket.IPPROTO_TCP, "", sockaddr))
    if not results:
        raise socket.gaierror(socket.EAI_FAMILY, f"{host} has no address of the family asked for")
    return results


def gethostbyname(host):
    return getaddrinfo(host, 0, socket.AF_INET)[0][4][0]


def _split(text):
    """`127.0.0.1:5432` or `[::1]:5432` as (address, port)."""
    address, _, port = text.rpartition(":")
    return address.strip("[]"), int(port)


def install():
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
