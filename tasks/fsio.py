"""Durable writes and file digests: the one place that fsyncs files and folders.

A leaf module (standard library only), so the NAS's sync, which runs every minute, imports it
without pulling numpy or OpenCV.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


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
