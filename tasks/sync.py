"""Dashcam Wi-Fi sync: copy new clips from a Novatek-API camera (Viofo and many others) to `raw`.

The camera lists its card at `/?custom=1&cmd=3015&par=1` (XML `File` entries: NAME, FPATH, SIZE,
TIMECODE, TIME, ATTR) and serves each file over plain HTTP at its FPATH (`A:\\DCIM\\Movie\\X.MP4`
is `/DCIM/Movie/X.MP4`; locked clips live in `Movie/RO` or `EMR`, parking ones in `Parking`).

What a sync guarantees:
- A clip appears as `raw/<group>/<name>` only complete: it is written to `.<name>.part` (ingest
  ignores dot-files and `.part`), fsynced, size-checked and renamed in one step.
- An interrupted download is resumed with an HTTP Range request (restarted where the camera
  ignores Range); a download that never completes never looks complete.
- Nothing is downloaded twice: a ledger (`raw/.sync/downloaded.jsonl`) remembers name and size of
  every clip fetched, so clips that the pipeline (or our retention) has since deleted from `raw`
  are not fetched again while the camera still holds them.
- Retention only deletes clips this sync downloaded, older than the keep period, and only when
  the caller's `is_archived(rel_path)` says the pipeline archived them.
- The camera being away is the normal case: one short connect attempt, then a result that says
  "not reachable" (no exception, nothing written).

Plain Python on purpose (stdlib `http.client`: no Prefect, no DB): the caller wires Settings and
the DB-backed `is_archived` in.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.client
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PureWindowsPath
from typing import Literal
from urllib.parse import quote

from tasks.fsio import fsync_dir
from tasks.naming import parse_clip_name

try:  # the NAS is Linux; elsewhere we run without the cross-process lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CameraError",
    "CameraFile",
    "CameraUnreachable",
    "SyncConfig",
    "SyncResult",
    "list_camera_files",
    "parse_file_list",
    "parse_period",
    "parse_size",
    "sync",
]

log = logging.getLogger(__name__)

Priority = Literal["oldest", "newest", "locked"]
Grouping = Literal["daily", "weekly", "monthly", "none"]
PRIORITIES: tuple[str, ...] = ("oldest", "newest", "locked")
GROUPINGS: tuple[str, ...] = ("daily", "weekly", "monthly", "none")

LISTING_PATH = "/?custom=1&cmd=3015&par=1"
STATE_DIR = ".sync"  # inside raw; dot-prefixed so ingest never looks inside
LEDGER_NAME = "downloaded.jsonl"
LOCK_NAME = "lock"
PART_SUFFIX = ".part"
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".ts", ".avi", ".mkv")
_NAME_MAX = 255  # bytes per path component on ext4, btrfs, xfs, zfs
_LISTING_MAX = 64 << 20  # a list bigger than this is not a dashcam's
# Hand written data to the disk every this many bytes while the download goes on, so the fsync
# before the rename has little left to do (the kernel alone waits for ~10% of RAM to be dirty).
# Measured on loopback (5 x 50 MB, fsync per file): none 1.15 GB/s, 32 MiB 1.39, 2-8 MiB ~1.7.
_WRITEBACK_EVERY = 8 << 20


class CameraError(Exception):
    """The camera answered, but not with something we can use (names the URL and what to do)."""


class CameraUnreachable(CameraError):
    """Nothing answered at the address: the normal case while the car is away."""


# --- configuration ---

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


@dataclass(frozen=True)
class SyncResult:
    reachable: bool
    downloaded: tuple[str, ...] = ()  # raw-relative paths of the clips that arrived complete
    skipped: tuple[str, ...] = ()  # camera names already downloaded earlier
    failed: tuple[tuple[str, str], ...] = ()  # (camera name or "file list", reason)
    bytes: int = 0  # bytes received over the network this sync
    seconds: float = 0.0
    deleted: tuple[str, ...] = ()  # raw-relative paths removed by retention
    pending: tuple[str, ...] = ()  # camera names not tried because the sync stopped early
    stopped: str | None = None  # why it stopped early: camera not reachable/gone, disk limit...

    @property
    def summary(self) -> str:
        if not self.reachable:
            return self.stopped or "camera not reachable"
        mb = self.bytes / 1e6
        rate = mb / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"{len(self.downloaded)} downloaded ({mb:.1f} MB, {rate:.1f} MB/s), "
            f"{len(self.skipped)} already here, {len(self.failed)} failed, "
            f"{len(self.deleted)} deleted by retention"
        )
        return f"{text}; stopped: {self.stopped}" if self.stopped else text


# --- the file list ---


@dataclass(frozen=True)
class CameraFile:
    name: str  # as listed (NAME, else the last part of FPATH)
    url_path: str  # decoded path on the camera, e.g. "/DCIM/Movie/RO/2024_0101_120000_00001F.MP4"
    size: int | None  # as listed; None when the camera left SIZE out
    time: datetime | None  # camera clock: from the name, else the TIME field
    attr: int | None  # FAT attributes: 32 normal, 33 read-only (locked)
    channel: str | None  # "F", "R", "I" where the name says
    kind: str  # "normal", "event", "parking" (name flags or folder)
    fpath: str = ""

    @property
    def locked(self) -> bool:
        return self.kind == "event" or bool((self.attr or 0) & 1)


def _fields_from_xml(text: str) -> list[dict[str, str]] | None:
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, UnicodeError):
        return None
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() == "file":
            out.append(
                {c.tag.upper(): (c.text or "").strip() for c in el if isinstance(c.tag, str)}
            )
    return out


_FILE_BLOCK = re.compile(r"<File\s*>(.*?)</File\s*>", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"<([A-Za-z_]+)\s*>(.*?)</\1\s*>", re.DOTALL)


def _fields_from_text(text: str) -> list[dict[str, str]]:
    """Fallback for firmware that writes names unescaped (a bare `&` breaks a strict parser)."""
    return [
        {k.upper(): html.unescape(v).strip() for k, v in _FIELD.findall(block)}
        for block in _FILE_BLOCK.findall(text)
    ]


def _int(value: str | None) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _parse_time(value: str | None) -> datetime | None:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime((value or "").strip(), fmt)
        except ValueError:
            continue
    return None


def _url_path(fpath: str, name: str) -> str:
    if not fpath:
        return "/DCIM/Movie/" + name  # where Novatek cameras keep normal clips
    p = re.sub(r"^[A-Za-z]:", "", fpath.replace("\\", "/"))
    return p if p.startswith("/") else "/" + p


def _camera_file(fields: dict[str, str]) -> CameraFile | None:
    fpath = fields.get("FPATH", "")
    name = fields.get("NAME") or (PureWindowsPath(fpath).name if fpath else "")
    if not name:
        return None
    attr = _int(fields.get("ATTR"))
    parsed = parse_clip_name(fpath or name)  # FPATH carries the RO/Parking folder hint
    when = parsed.recorded_at or _parse_time(fields.get("TIME"))
    return CameraFile(
        name=name,
        url_path=_url_path(fpath, name),
        size=_int(fields.get("SIZE")),
        time=when,
        attr=attr,
        channel=parsed.channel,
        kind=parsed.kind,
        fpath=fpath,
    )


def parse_file_list(body: bytes, source: str = "camera") -> list[CameraFile]:
    """Parse a cmd=3015 answer. Odd names and missing fields are tolerated; entries with neither
    NAME nor FPATH are dropped with a warning; an answer that is not the list raises CameraError."""
    # surrogateescape: a name in a legacy encoding keeps its exact bytes for the URL and the disk
    text = body.decode("utf-8", "surrogateescape")
    entries = _fields_from_xml(text)
    if entries is None:
        entries = _fields_from_text(text)
    if not entries and not re.search(r"<\s*LIST\b", text, re.IGNORECASE):
        head = re.sub(r"\s+", " ", text[:80])
        raise CameraError(
            f"{source}: the file list ({LISTING_PATH}) is not the Novatek XML list (it starts "
            f"{head!r}); check the address is a Novatek-API camera (Viofo and others) and that "
            "its Wi-Fi file access is on"
        )
    out = []
    for fields in entries:
        f = _camera_file(fields)
        if f is None:
            log.warning("%s: file list entry without NAME or FPATH ignored: %s", source, fields)
        else:
            out.append(f)
    return out


# --- HTTP (stdlib http.client: 1 MiB readinto into one buffer, measured faster than curl) ---


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


def _connect(
    host: str, port: int, connect_timeout: float, read_timeout: float
) -> http.client.HTTPConnection:
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


def _quote(path: str) -> str:
    return quote(path, safe="/", encoding="utf-8", errors="surrogateescape")


def _fetch_listing(host: str, port: int, connect_timeout: float, read_timeout: float) -> bytes:
    url = f"http://{host}:{port}{LISTING_PATH}"
    conn = _connect(host, port, connect_timeout, read_timeout)
    try:
        conn.request("GET", LISTING_PATH, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(_LISTING_MAX)
        status = resp.status
    except (OSError, http.client.HTTPException) as exc:
        raise CameraError(
            f"{url}: the camera accepted the connection but the file list failed "
            f"({type(exc).__name__}: {exc}); it may be busy or leaving, the next sync retries"
        ) from exc
    finally:
        conn.close()
    if status != 200:
        raise CameraError(
            f"{url}: HTTP {status} instead of the file list; check the address is a "
            "Novatek-API camera (Viofo and others)"
        )
    return body


def list_camera_files(
    address: str, timeout: float = 0.8, read_timeout: float = 20.0
) -> list[CameraFile]:
    """The camera's files. `timeout` bounds the connect (an absent camera costs that much);
    raises CameraUnreachable when nothing answers, CameraError when the answer is unusable."""
    host, port = parse_address(address)
    body = _fetch_listing(host, port, timeout, read_timeout)
    return parse_file_list(body, source=f"http://{host}:{port}{LISTING_PATH}")


# --- local layout ---


def _group(when: datetime | None, grouping: str) -> str:
    when = when or datetime.now()  # no time on the name or the list: file it under today
    if grouping == "daily":
        return f"{when:%Y-%m-%d}"
    if grouping == "weekly":
        iso = when.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grouping == "monthly":
        return f"{when:%Y-%m}"
    return ""


def local_name(name: str) -> str | None:
    """A safe file name for a camera name: no folders (`..` or slashes from a confused camera),
    no control characters, no leading dot (ingest would ignore it), and short enough that
    `.<name>.part` fits the file system (very long names keep their start, a hash and the
    extension). None when nothing usable is left."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch >= " " and ch != "\x7f").strip()
    if base in ("", ".", ".."):
        return None
    if base.startswith("."):
        base = "_" + base[1:]
    room = _NAME_MAX - 1 - len(PART_SUFFIX)
    if len(os.fsencode(base)) <= room:
        return base
    stem, dot, ext = base.rpartition(".")
    if not dot or len(ext) > 8:
        stem, ext = base, ""
    tail = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:10] + (f".{ext}" if ext else "")
    budget = room - len(os.fsencode(tail))
    while len(os.fsencode(stem)) > budget:
        stem = stem[:-1]
    return stem + tail


def _part_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}{PART_SUFFIX}")


def disk_usage(path: Path) -> tuple[int, int]:
    """(used, total) bytes of the filesystem holding `path` (tests replace this)."""
    du = shutil.disk_usage(path)
    return du.used, du.total


class _Ledger:
    """Append-only record of completed downloads in raw/.sync/downloaded.jsonl."""

    def __init__(self, raw_root: Path) -> None:
        self.path = raw_root / STATE_DIR / LEDGER_NAME
        self.entries: list[dict] = []
        self._by_name: dict[str, set[int | None]] = {}
        self._torn = False  # the last line was cut by a crash: start the next entry on a new line
        if self.path.is_file():
            text = self.path.read_text(encoding="utf-8", errors="surrogateescape")
            self._torn = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    self._index(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a torn or hand-edited line: ignore it

    def _index(self, entry: dict) -> None:
        self._by_name.setdefault(entry["name"], set()).add(entry.get("size"))
        self.entries.append(entry)

    def has(self, name: str, size: int | None) -> bool:
        sizes = self._by_name.get(name)
        return bool(sizes) and (size is None or size in sizes)

    def add(self, f: CameraFile, rel: str, size: int) -> None:
        entry = {
            "name": f.name,
            "size": size,
            "path": rel,
            "time": f.time.isoformat() if f.time else None,
            "kind": f.kind,
            "locked": f.locked,
            "channel": f.channel,
            "camera_path": f.url_path,
            "downloaded_at": datetime.now().isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as out:
            out.write(("\n" if self._torn else "") + json.dumps(entry) + "\n")
            self._torn = False
            out.flush()
            os.fsync(out.fileno())
        self._index(entry)


@contextlib.contextmanager
def _exclusive(raw_root: Path) -> Iterator[bool]:
    """One sync per raw folder at a time (an overlapping schedule would share the .part files)."""
    state = raw_root / STATE_DIR
    state.mkdir(exist_ok=True)
    with open(state / LOCK_NAME, "a+") as fh:
        if fcntl is None:
            yield True
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError as exc:  # e.g. a network filesystem without locks
            log.warning(
                "sync: cannot lock %s (%s); going on without the lock", state / LOCK_NAME, exc
            )
            yield True
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- the sync ---


class _Retry(Exception):
    """This attempt failed in a way the next attempt may fix (cut connection, timeout)."""


class _FileFailed(Exception):
    """This file cannot be fetched this sync (reason in the message)."""


class _Stop(Exception):
    """Nothing more can be done this sync (camera gone, disk full); reason in the message."""


def _ordered(files: list[CameraFile], priority: str) -> list[CameraFile]:
    timed = [f for f in files if f.time is not None]
    untimed = sorted((f for f in files if f.time is None), key=lambda f: f.name)
    timed.sort(key=lambda f: (f.time, f.name), reverse=priority == "newest")
    out = timed + untimed  # clips with no known time last either way
    if priority == "locked":
        out = [f for f in out if f.locked] + [f for f in out if not f.locked]
    return out


class _Progress:
    def __init__(self, total_files: int, total_bytes: int, every: float) -> None:
        self.total_files, self.total_bytes, self.every = total_files, total_bytes, every
        self.start = self.last = time.monotonic()
        self.done = 0
        self.index = 0
        self.name = ""

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            log.info("sync: %s", self.line(now))

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = max(self.total_bytes - self.done, 0)
        eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
        return (
            f"file {self.index}/{self.total_files} {self.name}: {self.done / 1e6:.1f} of "
            f"{self.total_bytes / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s{eta}"
        )


@dataclass
class _Run:
    config: SyncConfig
    raw_root: Path
    is_archived: Callable[[str], bool]
    start: float
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    received: int = 0
    stopped: str | None = None

    def result(self) -> SyncResult:
        return SyncResult(
            reachable=True,
            downloaded=tuple(self.downloaded),
            skipped=tuple(self.skipped),
            failed=tuple(self.failed),
            bytes=self.received,
            seconds=time.monotonic() - self.start,
            deleted=tuple(self.deleted),
            pending=tuple(self.pending),
            stopped=self.stopped,
        )

    # -- retention --
    def retain(self, ledger: _Ledger) -> None:
        keep = self.config.retention
        if keep is None:
            return
        cutoff = datetime.now() - keep
        for entry in ledger.entries:
            rel = entry.get("path") or ""
            p = self.raw_root / rel
            if not rel or not p.is_file():
                continue  # already gone (the pipeline's cleanup, or an earlier retention pass)
            when = _parse_iso(entry.get("time")) or datetime.fromtimestamp(p.stat().st_mtime)
            if when >= cutoff:
                continue
            try:
                archived = bool(self.is_archived(rel))
            except Exception as exc:  # never delete on doubt
                log.warning("sync retention: is_archived(%r) failed (%s); keeping it", rel, exc)
                continue
            if not archived:
                continue
            try:
                p.unlink()
            except OSError as exc:
                log.warning("sync retention: cannot delete raw/%s (%s)", rel, exc)
                continue
            self.deleted.append(rel)
            log.info("sync retention: deleted raw/%s (recorded %s, archived)", rel, when)
            with contextlib.suppress(OSError):
                p.parent.rmdir()  # only succeeds when the group folder is now empty
        # Our partials untouched for the whole period will not be resumed (the card moved on).
        stale = cutoff.timestamp()
        for part in self.raw_root.rglob(f".*{PART_SUFFIX}"):
            clip = part.name[1 : -len(PART_SUFFIX)]
            if os.path.splitext(clip)[1].lower() not in self.config.extensions:
                continue  # not one of ours
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < stale:
                    part.unlink()
                    log.info("sync retention: removed stale partial %s", part)

    # -- disk limit --
    def over_limit(self, need: int) -> str | None:
        pct, cap = self.config.max_disk_percent, self.config.max_disk_bytes
        if pct is None and cap is None:
            return None
        used, total = disk_usage(self.raw_root)
        after = used + need
        if pct is not None and total and after > total * pct / 100:
            return (
                f"disk limit: the raw filesystem would be {after / total:.1%} full "
                f"(limit {pct:g}%); free space or raise max_disk_percent"
            )
        if isinstance(cap, int) and after > cap:
            return (
                f"disk limit: the raw filesystem would use {after / 1e9:.2f} GB "
                f"(limit {cap / 1e9:.2f} GB); free space or raise max_disk_bytes"
            )
        return None

    # -- downloads --
    def run(self, files: list[CameraFile]) -> SyncResult:
        cfg = self.config
        ledger = _Ledger(self.raw_root)
        self.retain(ledger)
        wanted = [
            f
            for f in files
            if os.path.splitext(f.name)[1].lower() in cfg.extensions
            and (f.locked or not cfg.locked_only)
        ]
        todo: list[tuple[CameraFile, str]] = []
        for f in _ordered(wanted, cfg.priority):
            name = local_name(f.name)
            if name is None:
                self.failed.append(
                    (f.name, "unusable file name (empty or only dots); left on the camera")
                )
                continue
            if ledger.has(f.name, f.size):
                self.skipped.append(f.name)
                continue
            group = _group(f.time, cfg.grouping)
            todo.append((f, f"{group}/{name}" if group else name))
        progress = _Progress(len(todo), sum(f.size or 0 for f, _ in todo), cfg.log_every)
        if todo:
            log.info(
                "sync: %d new file(s) on the camera, %.1f MB", len(todo), progress.total_bytes / 1e6
            )
        for i, (f, rel) in enumerate(todo, 1):
            if self.stopped:
                self.pending.append(f.name)
                continue
            progress.index, progress.name = i, f.name
            try:
                self.fetch(f, rel, ledger, progress)
            except _FileFailed as exc:
                self.failed.append((f.name, str(exc)))
                log.warning("sync: %s: %s", f.name, exc)
            except _Stop as exc:
                self.stopped = str(exc)
                if not str(exc).startswith("disk limit"):
                    self.failed.append((f.name, str(exc)))
                else:
                    self.pending.append(f.name)
                log.warning("sync stopped at %s: %s", f.name, exc)
            except OSError as exc:  # local trouble (permissions, a vanished mount): stop, say where
                self.stopped = f"raw/{rel}: {exc}; check that raw is mounted and writable"
                self.failed.append((f.name, self.stopped))
                log.error("sync stopped at %s: %s", f.name, self.stopped)
        result = self.result()
        busy = result.downloaded or result.failed or result.deleted or result.stopped
        # camera parked at home with nothing new: one sync a minute, not one log line a minute
        log.log(
            logging.INFO if busy else logging.DEBUG,
            "sync: %s in %.1f s",
            result.summary,
            result.seconds,
        )
        return result

    def fetch(self, f: CameraFile, rel: str, ledger: _Ledger, progress: _Progress) -> None:
        cfg = self.config
        dest = self.raw_root / rel
        if dest.exists():
            have = dest.stat().st_size
            if f.size is None or have == f.size:
                ledger.add(f, rel, have)  # there already (copied by hand, or a lost ledger)
                self.skipped.append(f.name)
                return
            raise _FileFailed(
                f"raw/{rel} already exists with {have} bytes but the camera has {f.size}; "
                "move it away if the camera's copy should replace it"
            )
        part = _part_path(dest)
        have = part.stat().st_size if part.is_file() else 0
        if why := self.over_limit(max((f.size or 0) - have, 0)):
            raise _Stop(why)
        dest.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        before = self.received
        last = ""
        for attempt in range(1, cfg.attempts + 1):
            if attempt > 1 and cfg.retry_delay:
                time.sleep(cfg.retry_delay)
            try:
                size = self.attempt(f, part, progress)
            except _Retry as exc:
                last = str(exc)
                log.info("sync: %s attempt %d/%d: %s", f.name, attempt, cfg.attempts, last)
                continue
            if f.time is not None:  # the clip's own time, as on the card (and for retention)
                with contextlib.suppress(OSError, OverflowError, ValueError):
                    ts = f.time.timestamp()
                    os.utime(part, (ts, ts))
            os.replace(part, dest)
            fsync_dir(dest.parent)
            ledger.add(f, rel, size)
            self.downloaded.append(rel)
            secs = time.monotonic() - t0
            got = self.received - before
            log.info(
                "sync: raw/%s complete (%.1f MB in %.1f s, %.1f MB/s) [%s]",
                rel,
                size / 1e6,
                secs,
                got / 1e6 / max(secs, 1e-9),
                progress.line(time.monotonic()),
            )
            return
        raise _FileFailed(
            f"gave up after {cfg.attempts} attempt(s): {last}; the partial "
            f"{part.relative_to(self.raw_root)} is kept and resumed next sync"
        )

    def attempt(self, f: CameraFile, part: Path, progress: _Progress) -> int:
        """One GET into `part`, resuming it with Range. Returns the final size once it is right."""
        cfg = self.config
        have = part.stat().st_size if part.is_file() else 0
        if f.size is not None and have > f.size:
            part.unlink()  # from a different file of the same name: start over
            have = 0
        if f.size is not None and have == f.size and have:
            return have  # a previous attempt got everything but was cut before the rename
        try:
            conn = _connect(cfg.host, cfg.port, cfg.connect_timeout, cfg.read_timeout)
        except CameraUnreachable as exc:
            raise _Stop(
                f"camera disappeared during {f.name} ({exc}); the partial file is kept "
                "and resumed next sync"
            ) from exc
        url = f"http://{cfg.address}{_quote(f.url_path)}"
        try:
            headers = {"Connection": "close"}
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                conn.request("GET", _quote(f.url_path), headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise _Retry(f"{url}: no answer ({type(exc).__name__}: {exc})") from exc
            if resp.status == 404:
                part.unlink(missing_ok=True)  # the card no longer has it: nothing to resume
                raise _FileFailed(
                    f"{url}: 404 Not Found although listed (overwritten by loop recording or "
                    "deleted since the list?); the next sync lists again"
                )
            if resp.status == 416:
                part.unlink(missing_ok=True)
                raise _Retry(f"{url}: camera refused to resume at byte {have}; starting over")
            if resp.status == 206:  # also unasked-for: fine when it starts where we are
                start = _content_range_start(resp.getheader("Content-Range"))
                if start != have:
                    part.unlink(missing_ok=True)
                    raise _Retry(
                        f"{url}: camera resumed at byte {start}, not {have}; starting over"
                    )
            elif resp.status == 200:
                if have:
                    log.info("sync: %s: camera ignores Range; downloading from the start", f.name)
                have = 0
            else:
                raise _FileFailed(f"{url}: HTTP {resp.status} {resp.reason}; the next sync retries")
            total = have + resp.length if resp.length is not None else None
            if f.size is not None and total is not None and total != f.size:
                part.unlink(missing_ok=True)
                raise _FileFailed(
                    f"{url}: the camera lists {f.size} bytes but serves {total}; "
                    "the file changed on the card, the next sync lists again"
                )
            return self.receive(
                resp, part, have, f.size if f.size is not None else total, url, progress
            )
        finally:
            conn.close()

    def receive(
        self,
        resp: http.client.HTTPResponse,
        part: Path,
        have: int,
        expected: int | None,
        url: str,
        progress: _Progress,
    ) -> int:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC)
        try:
            fd = os.open(part, flags, 0o644)
        except OSError as exc:
            raise _Stop(
                f"cannot write {part} ({exc.strerror}); check raw is mounted and writable"
            ) from exc
        view = memoryview(bytearray(self.config.chunk_size))
        pos = flushed = have
        try:
            while True:
                try:
                    n = resp.readinto(view)
                except (OSError, http.client.HTTPException) as exc:
                    kind = "timed out" if isinstance(exc, TimeoutError) else "cut"
                    raise _Retry(f"{url}: transfer {kind} ({type(exc).__name__})") from exc
                if not n:
                    break
                _write_all(fd, view[:n], part)
                self.received += n
                progress.add(n)
                pos += n
                if pos - flushed >= _WRITEBACK_EVERY:
                    _start_writeback(fd, flushed, pos - flushed)
                    flushed = pos
            os.fsync(fd)  # the data is on disk before the name says "complete"
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if expected is not None and size < expected:
            raise _Retry(f"{url}: connection closed at {size} of {expected} bytes")
        if expected is not None and size > expected:
            part.unlink(missing_ok=True)
            raise _FileFailed(
                f"{url}: got {size} bytes, more than the {expected} listed; discarded"
            )
        return size


def _write_all(fd: int, data: memoryview, part: Path) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as exc:
        raise _Stop(
            f"cannot write {part} ({exc.strerror}); free space on raw or fix its mount"
        ) from exc


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start (not wait for) writing a written range to disk: Linux's POSIX_FADV_DONTNEED flushes
    dirty pages asynchronously and only drops the ones already clean."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"\s*bytes\s+(\d+)-", value or "")
    return int(m[1]) if m else None


def _parse_iso(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def sync(
    config: SyncConfig, raw_root: Path, is_archived: Callable[[str], bool] = lambda _: False
) -> SyncResult:
    """Bring `raw_root` up to date with the camera at `config.address`; never raises for camera
    trouble (the result says what happened). `is_archived(rel_path)` gates retention deletes."""
    start = time.monotonic()
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise FileNotFoundError(
            f"raw volume {raw_root} does not exist: mount it or create it (DASHCAM_RAW_ROOT)"
        )
    try:
        files = list_camera_files(config.address, config.connect_timeout, config.read_timeout)
    except CameraUnreachable as exc:
        log.debug("sync: %s", exc)  # the car is away: the normal case, not worth a log line
        return SyncResult(reachable=False, seconds=time.monotonic() - start, stopped=str(exc))
    except CameraError as exc:
        log.warning("sync: %s", exc)
        return SyncResult(
            reachable=True,
            failed=(("file list", str(exc)),),
            seconds=time.monotonic() - start,
            stopped=str(exc),
        )
    with _exclusive(raw_root) as mine:
        if not mine:
            why = f"another sync is running in {raw_root} ({STATE_DIR}/{LOCK_NAME} is locked)"
            log.info("sync: %s", why)
            return SyncResult(reachable=True, seconds=time.monotonic() - start, stopped=why)
        return _Run(config, raw_root, is_archived, start).run(files)
