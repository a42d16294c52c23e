"""Where a stage finds its volumes, and the crash tests' pause point: the part of every stage's
config that is about places, not tuning.

Each stage's config (`IngestConfig`, `HeavyConfig`, ...) extends `Volumes`; `flows/config.py`
builds them from `dashcam.settings.Settings`, so `tasks/` never imports `dashcam`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Volume = Literal["raw", "work", "archive"]


@dataclass(frozen=True)
class Volumes:
    """This device's mount points of the three volumes (None: not mounted here)."""

    raw_root: Path | None
    work_root: Path | None
    archive_root: Path | None

    def volume_root(self, volume: Volume) -> Path:
        root = {"raw": self.raw_root, "work": self.work_root, "archive": self.archive_root}[volume]
        assert root is not None, f"the {volume} volume is not configured on this device"
        return root

    def resolve(self, volume: Volume, rel: str | Path) -> Path:
        """Map a volume-relative location to this device's absolute path, refusing escapes."""
        root = self.volume_root(volume)
        p = (root / rel).resolve()
        if p != root and root not in p.parents:
            raise ValueError(f"{rel!s} is outside the {volume} volume ({root})")
        return p

    def relative(self, volume: Volume, path: Path) -> str:
        """The volume-relative location of `path` (what the DB and the handoffs carry)."""
        return path.resolve().relative_to(self.volume_root(volume)).as_posix()


def fault_pause(hold_dir: Path | None, stage: str, video_id: str) -> None:
    """The crash tests' barrier, keyed by video: a known point in the middle of a stage to kill
    it at. The test creates `<stage>.<video_id>.hold`, waits for `.reached`, pulls the power,
    and deletes the hold so the rerun goes straight through (no fixed sleeps)."""
    if hold_dir is None:
        return
    hold = hold_dir / f"{stage}.{video_id}.hold"
    if not hold.exists():
        return
    (hold_dir / f"{stage}.{video_id}.reached").touch()
    deadline = time.monotonic() + 900  # a test that died must not leave a run waiting for ever
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
