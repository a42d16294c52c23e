"""Sample footage for the demo: rendered plate clips, plus real clips from ../shared/data if present."""

from __future__ import annotations

import shutil
from pathlib import Path

from tasks.synthetic import render_plate_clip

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO_ROOT.parent / "shared" / "data" / "videos"
REAL_SAMPLES = ["garmin_mini2/sample-1.mp4", "gopro/karma.mp4"]


def make_samples(raw_root: Path, folder: str = "sample") -> list[Path]:
    """Write the demo clips into raw/<folder>/ (idempotent) and return them."""
    dest = raw_root / folder
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, text in enumerate(["KA12BCD", "MH04XY9"]):
        p = dest / f"2024_0601_0830{i:02d}_{i + 1:05d}F.MP4"  # Viofo naming
        if not p.exists():
            render_plate_clip(p, text=text, seconds=4.0, seed=i)
        out.append(p)
    for rel in REAL_SAMPLES:
        src = SHARED_VIDEOS / rel
        if src.is_file():
            p = dest / src.name
            if not p.exists():
                shutil.copyfile(src, p)
            out.append(p)
    return out
