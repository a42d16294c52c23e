"""Archive (Shed NAS) and cleanup (Indoor NAS) of one video's files."""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tasks import bundle
from tasks.finalize import archive_path
from tasks.volumes import Volumes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveConfig(Volumes):
    """Archive and cleanup need only the volumes (built by `flows.config.archive_config`)."""


@dataclass(frozen=True)
class ArchiveResult:
    video_id: str
    files: int
    bytes: int


def media_files(manifest: dict) -> list[str]:
    """Bundle files that belong on the archive: the low-res video, plate crops and frames."""
    return sorted(
        n
        for n in manifest.get("files", {})
        if n == bundle.LOWRES or n.startswith(("plate_crops/", "frames/"))
    )


def run_archive(config: ArchiveConfig, video_id: str) -> ArchiveResult:
    """Copy the bundle's media to archive/<video_id>/, verify every checksum, swap in atomically."""
    src = config.resolve("work", video_id)
    manifest = bundle.read_manifest(src)
    names = media_files(manifest)
    bundle.verify(src, manifest, names)
    archive_root = config.volume_root("archive")
    scratch = bundle.new_scratch(archive_root, video_id)
    files: dict[str, dict] = {}
    for name in names:
        rel = archive_path(video_id, name).split("/", 1)[1]
        dst = scratch / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, dst)
        files[rel] = manifest["files"][name]
    # Read back what landed on the archive disk before calling it archived.
    bundle.verify(scratch, {"files": files})
    bundle.seal(
        scratch,
        {"video_id": video_id, "archived_at": datetime.now(UTC).isoformat(), "source": "work"},
    )
    bundle.publish_dir(scratch, archive_root / video_id)
    total = sum(f["size"] for f in files.values())
    log.info("archive %s: %d files, %.1f MB verified", video_id, len(files), total / 1e6)
    return ArchiveResult(video_id, len(files), total)


ARCHIVED_MARKS = ".archived"  # on `work`: how the Indoor NAS knows, without the DB, what is safe


def _mark(config: ArchiveConfig, raw_path: str) -> Path:
    digest = hashlib.sha256(raw_path.encode()).hexdigest()[:32]
    return config.volume_root("work") / ARCHIVED_MARKS / digest


def is_archived(config: ArchiveConfig, raw_path: str) -> bool:
    """Whether the pipeline archived this raw clip (read from marks cleanup leaves on `work`)."""
    return _mark(config, raw_path).is_file()


def run_cleanup(config: ArchiveConfig, video_id: str, raw_path: str, delete_raw: bool = False) -> list[str]:
    """After `archived`: mark the clip archived, drop the work bundle and, when asked, the raw clip."""
    bundle.write_atomic(_mark(config, raw_path), f"{video_id}\n{raw_path}\n".encode())
    removed = []
    work = config.resolve("work", video_id)
    if work.exists():
        shutil.rmtree(work)
        removed.append(f"work/{video_id}")
    if delete_raw:
        raw = config.resolve("raw", raw_path)
        if raw.is_file():
            raw.unlink()
            removed.append(f"raw/{raw_path}")
    log.info("cleanup %s: removed %s", video_id, ", ".join(removed) or "nothing")
    return removed
