"""One sync: `sync` lists the camera, takes the lock and runs it; `SyncResult` says what
happened. The run applies retention, picks the wanted files in priority order, skips what the
ledger has, downloads the rest (retries, disk limit, progress lines) and renames each complete
`.part` into place."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tasks.fsio import file_lock, fsync_dir
from tasks.sync.config import SyncConfig
from tasks.sync.connection import CameraError, CameraUnreachable
from tasks.sync.download import FileFailed, Retry, Stop, download_attempt
from tasks.sync.layout import group_folder, local_name, part_path
from tasks.sync.ledger import LOCK_NAME, STATE_DIR, Ledger
from tasks.sync.listing import CameraFile, list_camera_files
from tasks.sync.retention import over_limit, retain

log = logging.getLogger(__name__)


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


def _ordered(files: list[CameraFile], priority: str) -> list[CameraFile]:
    timed = [f for f in files if f.time is not None]
    untimed = sorted((f for f in files if f.time is None), key=lambda f: f.name)
    timed.sort(key=lambda f: (f.time, f.name), reverse=priority == "newest")
    out = timed + untimed  # clips with no known time last either way
    if priority == "locked":
        out = [f for f in out if f.locked] + [f for f in out if not f.locked]
    return out


# on_progress(bytes done, bytes to fetch, "file i/n NAME"): told of every chunk received and of
# every file begun, for a caller's progress bar (the CLI's); the log lines below stay regardless.
OnProgress = Callable[[int, int, str], None]


class _Progress:
    def __init__(
        self,
        total_files: int,
        total_bytes: int,
        every: float,
        on_progress: OnProgress | None = None,
    ) -> None:
        self.total_files, self.total_bytes, self.every = total_files, total_bytes, every
        self.start = self.last = time.monotonic()
        self.done = 0
        self.index = 0
        self.name = ""
        self.on_progress = on_progress

    def begin(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        self.tell()

    def tell(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                self.done, self.total_bytes, f"file {self.index}/{self.total_files} {self.name}"
            )

    def add(self, n: int) -> None:
        self.done += n
        self.tell()
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
    on_progress: OnProgress | None = None
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

    def run(self, files: list[CameraFile]) -> SyncResult:
        cfg = self.config
        ledger = Ledger(self.raw_root)
        self.deleted += retain(cfg, self.raw_root, ledger, self.is_archived)
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
            group = group_folder(f.time, cfg.grouping)
            todo.append((f, f"{group}/{name}" if group else name))
        progress = _Progress(
            len(todo), sum(f.size or 0 for f, _ in todo), cfg.log_every, self.on_progress
        )
        if todo:
            log.info(
                "sync: %d new file(s) on the camera, %.1f MB", len(todo), progress.total_bytes / 1e6
            )
        for i, (f, rel) in enumerate(todo, 1):
            if self.stopped:
                self.pending.append(f.name)
                continue
            progress.begin(i, f.name)
            try:
                self.fetch(f, rel, ledger, progress)
            except FileFailed as exc:
                self.failed.append((f.name, str(exc)))
                log.warning("sync: %s: %s", f.name, exc)
            except Stop as exc:
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

    def fetch(self, f: CameraFile, rel: str, ledger: Ledger, progress: _Progress) -> None:
        cfg = self.config
        dest = self.raw_root / rel
        if dest.exists():
            have = dest.stat().st_size
            if f.size is None or have == f.size:
                ledger.add(f, rel, have)  # there already (copied by hand, or a lost ledger)
                self.skipped.append(f.name)
                return
            raise FileFailed(
                f"raw/{rel} already exists with {have} bytes but the camera has {f.size}; "
                "move it away if the camera's copy should replace it"
            )
        part = part_path(dest)
        have = part.stat().st_size if part.is_file() else 0
        if why := over_limit(cfg, self.raw_root, max((f.size or 0) - have, 0)):
            raise Stop(why)
        dest.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        before = self.received
        last = ""

        def on_data(n: int) -> None:
            self.received += n
            progress.add(n)

        for attempt in range(1, cfg.attempts + 1):
            if attempt > 1 and cfg.retry_delay:
                time.sleep(cfg.retry_delay)
            try:
                size = download_attempt(cfg, f, part, on_data)
            except Retry as exc:
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
        raise FileFailed(
            f"gave up after {cfg.attempts} attempt(s): {last}; the partial "
            f"{part.relative_to(self.raw_root)} is kept and resumed next sync"
        )


def sync(
    config: SyncConfig,
    raw_root: Path,
    is_archived: Callable[[str], bool] = lambda _: False,
    on_progress: OnProgress | None = None,
) -> SyncResult:
    """Bring `raw_root` up to date with the camera at `config.address`; never raises for camera
    trouble (the result says what happened). `is_archived(rel_path)` gates retention deletes.
    `on_progress(bytes done, bytes to fetch, note)` follows the downloads (see OnProgress)."""
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
    # One sync per raw folder at a time: an overlapping schedule would share the .part files.
    with file_lock(raw_root / STATE_DIR / LOCK_NAME) as mine:
        if not mine:
            why = f"another sync is running in {raw_root} ({STATE_DIR}/{LOCK_NAME} is locked)"
            log.info("sync: %s", why)
            return SyncResult(reachable=True, seconds=time.monotonic() - start, stopped=why)
        return _Run(config, raw_root, is_archived, start, on_progress=on_progress).run(files)
