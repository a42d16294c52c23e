"""Reaching the camera: its errors (`CameraError`, `CameraUnreachable`) and `connect`, an
`http.client` connection whose name lookup and connect both fit the short connect timeout (an
absent camera costs that much and no more)."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading


class CameraError(Exception):
    """The camera answered, but not with something we can use (names the URL and what to do)."""


class CameraUnreachable(CameraError):
    """Nothing answered at the address: the normal case while the car is away."""


def _resolve(host: str, port: int, timeout: float) -> str:
    """An IP for `host`, within `timeout` (a stuck resolver must not stretch the no-op)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    box: list[str] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            box.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])
        except OSError as exc:
            failure.append(exc)

    t = threading.Thread(target=lookup, daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        why = f"name lookup failed: {failure[0]}" if failure else f"no name lookup in {timeout:g} s"
        raise CameraUnreachable(f"camera not reachable at {host}:{port} ({why})")
    return box[0]


def connect(
    host: str, port: int, connect_timeout: float, read_timeout: float
) -> http.client.HTTPConnection:
    """A connected HTTPConnection to the camera; raises CameraUnreachable when nothing answers."""
    ip = _resolve(host, port, connect_timeout)
    try:
        sock = socket.create_connection((ip, port), timeout=connect_timeout)
    except TimeoutError as exc:
        raise CameraUnreachable(
            f"camera not reachable at {host}:{port} (no answer in {connect_timeout:g} s)"
        ) from exc
    except OSError as exc:
        raise CameraUnreachable(
            f"camera not reachable at {host}:{port} ({exc.strerror or exc})"
        ) from exc
    sock.settimeout(read_timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = http.client.HTTPConnection(host, port, timeout=read_timeout)
    conn.sock = sock  # connected by us, with the short timeout; http.client uses it as is
    return conn
