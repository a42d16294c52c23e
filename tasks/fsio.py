"""Durable writes, file digests and cross-process file locks: the one place that fsyncs files
and folders and takes a flock.

A leaf module (standard library only), so the NAS's sync, which runs every minute, imports it
without pulling numpy or OpenCV.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:  # the devices are Linux; elsewhere we run without the cross-process lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable. Some filesystems (SMB, Windows) cannot
    open or fsync a folder; there the rename is as durable as the filesystem makes it."""
    with contextlib.suppress(OSError):
        fsync_file(path)


def fsync_file(path: Path) -> None:
    """Flush what was written to a closed file (or a folder's entries) to disk; OSError where
    the disk refuses."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed (constant memory for multi-GB clips)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@contextlib.contextmanager
def file_lock(path: Path, wait_s: float = 0.0) -> Iterator[bool]:
    """Hold an exclusive flock on `path` (made, with its folder, if missing) for the block and
    yield True; yield False when another process still holds it after `wait_s` seconds. The
    kernel drops a flock when its process dies, so a power cut or kill -9 leaves nothing held.
    Where the filesystem has no locks (some network mounts), yield True with a warning: going
    on unlocked beats stopping the device's work for good."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        if fcntl is None:
            yield True
            return
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.5)
            except OSError as exc:
                log.warning("cannot lock %s (%s); going on without the lock", path, exc)
                yield True
                return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
