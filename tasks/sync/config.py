"""A camera's sync settings: `SyncConfig` and the parsers behind its string fields (address,
retention period, disk limit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Priority = Literal["oldest", "newest", "locked"]
Grouping = Literal["daily", "weekly", "monthly", "none"]
PRIORITIES: tuple[str, ...] = ("oldest", "newest", "locked")
GROUPINGS: tuple[str, ...] = ("daily", "weekly", "monthly", "none")
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".ts", ".avi", ".mkv")

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_period(value: str | timedelta) -> timedelta:
    """`30d`, `4w`, `12h`, `90m`, `3600s`, bare number = days (as viofosync's KEEP)."""
    if isinstance(value, timedelta):
        return value
    m = _PERIOD.match(str(value))
    if not m:
        raise ValueError(f"retention period {value!r}: expected e.g. '30d', '4w' or '12h'")
    return timedelta(seconds=float(m[1]) * _PERIOD_UNITS[m[2].lower()])


def parse_size(value: str | int) -> int:
    """`500G`, `1.5T`, `200000000` (bytes; binary multiples: 1G = 2**30)."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"disk limit {value!r}: expected bytes or e.g. '500G', '2T'")
    return int(float(m[1]) * 1024 ** " kmgt".index((m[2] or " ").lower()))


def parse_address(address: str) -> tuple[str, int]:
    """`host[:port]` (also `[v6]:port`, a leading http://) -> (host, port); port 80 by default."""
    a = re.sub(r"^https?://", "", address.strip(), flags=re.IGNORECASE).rstrip("/")
    port_s = ""
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else rest
    elif a.count(":") == 1:
        host, port_s = a.split(":")
    else:
        host = a
    try:
        port = int(port_s) if port_s else 80
    except ValueError:
        port = -1
    if not host or "/" in host or not 0 < port < 65536:
        raise ValueError(
            f"camera address {address!r}: expected 'host[:port]', e.g. '192.168.1.254'"
        )
    return host, port


@dataclass(frozen=True)
class SyncConfig:
    """One camera's sync settings (the caller maps Settings fields onto these)."""

    address: str  # "host[:port]", e.g. "192.168.1.254" (Viofo's AP) or the camera's LAN address
    priority: Priority = "oldest"  # "oldest" first, "newest" first, or "locked" (then oldest)
    grouping: Grouping = "daily"  # raw/<YYYY-MM-DD>/, <YYYY-Www>/, <YYYY-MM>/ or raw/ itself
    keep: timedelta | str | None = None  # retention, e.g. "30d"; None keeps everything
    max_disk_percent: float | None = 90.0  # stop downloading above this use of raw's filesystem
    max_disk_bytes: int | str | None = None  # ... or above this many used bytes ("500G")
    # 0.8 s: a camera on the LAN answers a SYN in milliseconds even in Wi-Fi power save; an absent
    # one never does, and this is what every no-op sync costs.
    connect_timeout: float = 0.8
    read_timeout: float = 20.0  # per socket read; a camera that drove off mid-file goes silent
    chunk_size: int = 1 << 20  # 256 KiB-4 MiB measured alike on loopback; 1 MiB: few syscalls
    attempts: int = 3  # per file per sync; each retry resumes where the last one stopped
    retry_delay: float = 1.0
    locked_only: bool = False  # only locked/event clips (viofosync's READ_ONLY)
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS  # photos and GPS logs are left on the card
    log_every: float = 10.0  # seconds between progress lines during a long transfer

    def __post_init__(self) -> None:
        parse_address(self.address)  # fail at configuration time, naming the value
        if self.priority not in PRIORITIES:
            raise ValueError(f"sync priority {self.priority!r}: expected one of {PRIORITIES}")
        if self.grouping not in GROUPINGS:
            raise ValueError(f"sync grouping {self.grouping!r}: expected one of {GROUPINGS}")
        if self.keep is not None:
            object.__setattr__(self, "keep", parse_period(self.keep))
        if self.max_disk_bytes is not None:
            object.__setattr__(self, "max_disk_bytes", parse_size(self.max_disk_bytes))
        if self.max_disk_percent is not None and not 0 < self.max_disk_percent <= 100:
            raise ValueError(f"max_disk_percent {self.max_disk_percent}: expected 0 < p <= 100")
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sync {name} must be > 0 seconds")
        if self.chunk_size < 4096 or self.attempts < 1 or self.retry_delay < 0:
            raise ValueError("sync chunk_size must be >= 4096, attempts >= 1, retry_delay >= 0")
        object.__setattr__(self, "extensions", tuple(e.lower() for e in self.extensions))

    @property
    def host(self) -> str:
        return parse_address(self.address)[0]

    @property
    def port(self) -> int:
        return parse_address(self.address)[1]

    @property
    def retention(self) -> timedelta | None:
        return self.keep if isinstance(self.keep, timedelta) else None
