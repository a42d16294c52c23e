"""Atomic files and bundles on the shared volumes.

A bundle (work/<video_id>/ or archive/<video_id>/) is built in a scratch sibling and renamed into
place in one step; its `manifest.json` (sizes and SHA-256 of every file) is written last, so a
bundle without a manifest is incomplete by definition and a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.fsio import fsync_dir, sha256_file

MANIFEST = "manifest.json"
BUNDLE_FORMAT = 1
LOWRES = "video_lowres.mp4"  # the archival copy
DETECTIONS = "detections.json"  # everything heavy found, read by finalize
SCRATCH = ".tmp"  # per-volume scratch area, same filesystem as the bundles so rename is atomic


class BundleError(RuntimeError):
    """A bundle is missing, incomplete or does not match its manifest."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write into a temporary sibling, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def new_scratch(volume_root: Path, video_id: str) -> Path:
    """A fresh per-run scratch folder; leftovers of earlier (crashed) runs for this video go first."""
    base = volume_root / SCRATCH
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob(f"{video_id}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = base / f"{video_id}.{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    return scratch


def file_entry(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def seal(scratch: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Fsync every file of a scratch bundle and write its manifest (last)."""
    files: dict[str, Any] = {}
    for p in sorted(scratch.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            with open(p, "rb") as f:
                os.fsync(f.fileno())
            files[p.relative_to(scratch).as_posix()] = file_entry(p)
    manifest = {**meta, "files": files}
    write_json_atomic(scratch / MANIFEST, manifest)
    for d in {scratch, *(p.parent for p in scratch.rglob("*"))}:
        fsync_dir(d)
    return manifest


def publish_dir(scratch: Path, final: Path) -> None:
    """Replace `final` with `scratch` (a re-run replaces its output, never appends)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        old = scratch.parent / f"{final.name}.old.{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
        os.replace(scratch, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(scratch, final)
    fsync_dir(final.parent)


def read_manifest(bundle: Path) -> dict[str, Any]:
    path = bundle / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle}: no {MANIFEST}, the bundle is incomplete or missing")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: unreadable manifest ({exc})") from exc


@dataclass(frozen=True)
class Mismatch:
    name: str
    reason: str


def verify(bundle: Path, manifest: dict[str, Any], names: list[str] | None = None) -> None:
    """Check sizes and checksums of the manifest's files (or just `names`); raise BundleError."""
    problems: list[Mismatch] = []
    for name, entry in manifest.get("files", {}).items():
        if names is not None and name not in names:
            continue
        p = bundle / name
        if not p.is_file():
            problems.append(Mismatch(name, "missing"))
        elif p.stat().st_size != entry["size"]:
            problems.append(Mismatch(name, f"size {p.stat().st_size} != {entry['size']}"))
        elif sha256_file(p) != entry["sha256"]:
            problems.append(Mismatch(name, "checksum differs"))
    if problems:
        detail = "; ".join(f"{m.name}: {m.reason}" for m in problems[:5])
        raise BundleError(f"{bundle}: {len(problems)} file(s) do not match the manifest ({detail})")
