"""The address students' phones reach this machine at, chosen from its network interfaces.

A classroom server (``make classroom``) listens on every interface, and its class links must
name one that a phone on the school's Wi-Fi can reach: not loopback, not link-local
(169.254.0.0/16, fe80::/10), not a container or virtual machine's bridge (docker0, br-…,
veth…, virbr…), nor a VPN's tunnel; a private LAN address (192.168/16, then 10/8, then
172.16/12) before any other. ``PLAYGROUND_PUBLIC_URL`` overrides the choice.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys
from collections.abc import Iterable
from typing import NamedTuple

# Interfaces a phone on the room's network never reaches this machine through.
VIRTUAL_PREFIXES = (
    "docker", "br-", "veth", "virbr", "vboxnet", "vmnet", "lxc", "lxd", "cni", "flannel",
    "kube", "podman", "tun", "tap", "wg", "zt", "tailscale", "utun",
)  # fmt: skip
PRIVATE_V4_ORDER = [  # home and school routers hand out 192.168 and 10; 172.16/12 is often a VM's
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
]
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


class Interface(NamedTuple):
    name: str
    address: str


def _rank(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """Lower is better: private IPv4 by PRIVATE_V4_ORDER, other IPv4, private IPv6, IPv6."""
    if ip.version == 4:
        for rank, network in enumerate(PRIVATE_V4_ORDER):
            if ip in network:
                return rank
        return len(PRIVATE_V4_ORDER)
    return len(PRIVATE_V4_ORDER) + (1 if ip.is_private else 2)


def choose_address(interfaces: Iterable[Interface]) -> str | None:
    """The best address of `interfaces` for phones on the LAN (first listed wins a tie); None
    when none of them will do."""
    best: tuple[int, int, str] | None = None
    for order, (name, address) in enumerate(interfaces):
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            continue
        if name.lower().startswith(VIRTUAL_PREFIXES):
            continue
        candidate = (_rank(ip), order, str(ip))
        if best is None or candidate < best:
            best = candidate
    return None if best is None else best[2]


def base_url(address: str, port: int) -> str:
    """``http://address:port`` (an IPv6 address in brackets)."""
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def _linux_interfaces() -> list[Interface]:
    import fcntl

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            with contextlib.suppress(OSError):  # an interface without an IPv4 address
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
                found.append(Interface(name, socket.inet_ntoa(answer[20:24])))
    return found


def _routed_interface() -> list[Interface]:
    """The address this machine would send from to another network (a UDP socket's connect
    sends nothing), named "route"; where interfaces cannot be listed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never a real host
        except OSError:
            return []
        return [Interface("route", probe.getsockname()[0])]


def machine_interfaces() -> list[Interface]:
    """This machine's interfaces and their IPv4 addresses (reading them listens on nothing)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            found = _linux_interfaces()
            if found:
                return found
    return _routed_interface()


def lan_base_url(port: int, interfaces: Iterable[Interface] | None = None) -> str | None:
    """``http://<the LAN address>:<port>`` for this machine (or the `interfaces` given)."""
    address = choose_address(machine_interfaces() if interfaces is None else interfaces)
    return None if address is None else base_url(address, port)
