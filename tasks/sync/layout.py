"""Where a camera file lands in `raw`: its group folder (`group_folder`), a safe local file name
(`local_name`) and the dot-prefixed `.part` it is written to until complete (`part_path`)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path

PART_SUFFIX = ".part"
_NAME_MAX = 255  # bytes per path component on ext4, btrfs, xfs, zfs


def group_folder(when: datetime | None, grouping: str) -> str:
    """The folder under raw for a clip recorded `when` ("" for grouping "none")."""
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


def part_path(dest: Path) -> Path:
    """`.<name>.part` next to `dest` (ingest ignores dot-files and `.part`)."""
    return dest.with_name(f".{dest.name}{PART_SUFFIX}")
