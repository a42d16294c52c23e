"""Keeping `raw` within bounds: retention (`retain` deletes this sync's own downloads older than
the keep period once archived, and stale partials) and the disk limit (`over_limit`)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tasks.sync.config import SyncConfig
from tasks.sync.layout import PART_SUFFIX
from tasks.sync.ledger import Ledger

log = logging.getLogger(__name__)


def disk_usage(path: Path) -> tuple[int, int]:
    """(used, total) bytes of the filesystem holding `path` (tests replace this)."""
    du = shutil.disk_usage(path)
    return du.used, du.total


def _parse_iso(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def retain(
    config: SyncConfig, raw_root: Path, ledger: Ledger, is_archived: Callable[[str], bool]
) -> list[str]:
    """Delete the ledger's clips older than `config.retention` that `is_archived(rel)` confirms
    (never on doubt), and our partials untouched that long. Returns the raw-relative paths
    deleted; a no-op when the config keeps everything."""
    deleted: list[str] = []
    keep = config.retention
    if keep is None:
        return deleted
    cutoff = datetime.now() - keep
    for entry in ledger.entries:
        rel = entry.get("path") or ""
        p = raw_root / rel
        if not rel or not p.is_file():
            continue  # already gone (the pipeline's cleanup, or an earlier retention pass)
        when = _parse_iso(entry.get("time")) or datetime.fromtimestamp(p.stat().st_mtime)
        if when >= cutoff:
            continue
        try:
            archived = bool(is_archived(rel))
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
        deleted.append(rel)
        log.info("sync retention: deleted raw/%s (recorded %s, archived)", rel, when)
        with contextlib.suppress(OSError):
            p.parent.rmdir()  # only succeeds when the group folder is now empty
    # Our partials untouched for the whole period will not be resumed (the card moved on).
    stale = cutoff.timestamp()
    for part in raw_root.rglob(f".*{PART_SUFFIX}"):
        clip = part.name[1 : -len(PART_SUFFIX)]
        if os.path.splitext(clip)[1].lower() not in config.extensions:
            continue  # not one of ours
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < stale:
                part.unlink()
                log.info("sync retention: removed stale partial %s", part)
    return deleted


def over_limit(config: SyncConfig, raw_root: Path, need: int) -> str | None:
    """Why `need` more bytes in raw would break the disk limit (a message saying what to do), or
    None when they fit or there is no limit."""
    pct, cap = config.max_disk_percent, config.max_disk_bytes
    if pct is None and cap is None:
        return None
    used, total = disk_usage(raw_root)
    after = used + need
    if pct is not None and total and after > total * pct / 100:
        return (
            f"disk limit: the raw filesystem would be {after / total:.1%} full "
            f"(limit {pct:g}%); free space or raise DASHCAM_SYNC_MAX_DISK_PERCENT"
        )
    if isinstance(cap, int) and after > cap:
        return (
            f"disk limit: the raw filesystem would use {after / 1e9:.2f} GB "
            f"(limit {cap / 1e9:.2f} GB); free space or raise DASHCAM_SYNC_MAX_DISK_BYTES"
        )
    return None
