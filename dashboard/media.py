"""Media from the archive volume only: a crafted path can never escape the archive root."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from dashboard import config


def safe_path(archive_root: Path | str, rel: str | None) -> Path | None:
    """The file at `rel` inside the archive root, or None if it escapes, is missing or odd.

    Resolving first (symlinks and `..` included) and then checking containment is what stops
    `../../etc/passwd`, absolute paths and links pointing out of the volume.
    """
    if not rel or "\x00" in rel:
        return None
    root = Path(archive_root).resolve()
    try:
        p = (root / rel).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if p == root or root not in p.parents:
        return None
    return p if p.is_file() else None


def media_url(rel: str | None) -> str | None:
    """A URL under the configured media base URL, or None when serving from the volume."""
    if not rel or not config.MEDIA_BASE_URL:
        return None
    parts = Path(rel).parts
    if rel.startswith("/") or ".." in parts:  # same rule as safe_path, for URLs
        return None
    return config.MEDIA_BASE_URL.rstrip("/") + "/" + quote(Path(rel).as_posix())


def video_rel(video_id: str) -> str:
    """Archive layout: archive/<video_id>/video_lowres.mp4."""
    return f"{video_id}/video_lowres.mp4"


def source(archive_root: Path | str, rel: str | None) -> str | Path | None:
    """What to hand st.image / st.video: a URL, a checked local path, or None (placeholder)."""
    return media_url(rel) or safe_path(archive_root, rel)
