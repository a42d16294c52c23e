"""Test hosts on one machine: a Linux network namespace per host, veth pairs to a private switch.

The switch is a bridge inside its own namespace, so the hosts reach only each other: nothing
is added to the machine's own network, and everything is removed afterwards. Needs root (or
CAP_NET_ADMIN and CAP_SYS_ADMIN); callers skip when `available()` says no.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from dataclasses import dataclass, field


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    probe = f"dcprobe{uuid.uuid4().hex[:6]}"
    p = _ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        return f"cannot create network namespaces here: {p.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Network:
    """`hosts` maps a host name to its address on 10.<n>.0.0/24; `exec(host, args)` runs in it."""

    subnet: str = "10.77.0"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    hosts: dict[str, str] = field(default_factory=dict)

    @property
    def switch(self) -> str:
        return f"dc{self.tag}sw"

    def ns(self, host: str) -> str:
        return f"dc{self.tag}{host}"

    def _port(self, host: str) -> str:
        # interface names are limited to 15 characters
        return f"v{self.tag}{list(self.hosts).index(host)}"

    def __enter__(self) -> Network:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        return self

    def add_host(self, host: str) -> str:
        addr = f"{self.subnet}.{len(self.hosts) + 1}"
        self.hosts[host] = addr
        ns, port = self.ns(host), self._port(host)
        _ip("netns", "add", ns)
        _ip("link", "add", port, "type", "veth", "peer", "name", f"{port}h")
        _ip("link", "set", port, "netns", self.switch)
        _ip("link", "set", f"{port}h", "netns", ns)
        _ip("-n", ns, "link", "set", f"{port}h", "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        return addr

    def cut(self, host: str) -> None:
        """Pull the host's cable: its switch port goes down."""
        _ip("-n", self.switch, "link", "set", self._port(host), "down")

    def restore(self, host: str) -> None:
        _ip("-n", self.switch, "link", "set", self._port(host), "up")

    def exec_args(self, host: str, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *args]

    def __exit__(self, *exc: object) -> None:
        for host in list(self.hosts):
            # any process still inside would keep the namespace's interfaces alive
            pids = _ip("netns", "pids", self.ns(host), check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            _ip("netns", "del", self.ns(host), check=False)
        _ip("netns", "del", self.switch, check=False)
