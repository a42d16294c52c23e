"""Ingest: find complete new clips in `raw`, record them as videos, group them into trips.

A file is taken only when its size and mtime have not changed across two scans at least
`stable_seconds` apart (a copy still in progress waits), and only when its container is
readable; anything else is recorded as `failed` with a reason and never blocks the rest.
Nothing in `raw` is ever modified here.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from models.db import session_scope
from models.tables import PER_VIDEO_TABLES, Alert, SeenFile, State, Trip, Video, utcnow
from tasks.media import MediaError, VideoInfo, probe
from tasks.naming import parse_clip_name
from tasks.volumes import Volumes

log = logging.getLogger(__name__)

# Names that copy tools use while a transfer is in progress.
_PARTIAL = re.compile(r"(\.part|\.partial|\.tmp|\.crdownload|~)$", re.IGNORECASE)


@dataclass(frozen=True)
class IngestConfig(Volumes):
    """What ingest reads of the settings (built by `flows.config.ingest_config`)."""

    database_url: str | None
    video_extensions: tuple[str, ...]
    stable_seconds: float  # a file unchanged this long (size and mtime) is complete
    trip_gap_minutes: float  # a longer pause between clips starts a new trip


@dataclass(frozen=True)
class NewVideo:
    video_id: str
    path: str  # relative to raw


@dataclass
class IngestResult:
    new: list[NewVideo] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def make_video_id(rel_path: str, src: Path, size: int) -> str:
    """Readable and stable: the clip's stem plus a short hash of path, size and first MiB."""
    h = hashlib.sha256(f"{rel_path}\0{size}\0".encode())
    with open(src, "rb") as f:
        h.update(f.read(1 << 20))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(rel_path).stem)[:48] or "video"
    return f"{stem}-{h.hexdigest()[:8]}"


def list_candidates(config: IngestConfig) -> list[str]:
    root = config.raw_root
    assert root is not None
    if not root.is_dir():
        return []
    exts = {e.lower() for e in config.video_extensions}
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or _PARTIAL.search(p.name):
            continue
        if p.suffix.lower() in exts and p.is_file():
            out.append(rel.as_posix())
    return sorted(out)


def scan(config: IngestConfig, session: Session, now: datetime | None = None) -> IngestResult:
    """One ingest pass over `raw`. Commits nothing itself: the caller owns the transaction."""
    now = now or utcnow()
    result = IngestResult()
    # Only the columns needed: this runs every minute over every video ever recorded.
    known = {p: (state, size) for p, state, size in session.exec(select(Video.path, Video.state, Video.size_bytes))}
    for rel in list_candidates(config):
        src = config.resolve("raw", rel)
        try:
            st = src.stat()
        except OSError:
            continue  # vanished between listing and stat: next scan decides
        if rel in known:
            state, size = known[rel]
            if state != State.failed or size == st.st_size:
                continue
            refresh_if_replaced(session, session.exec(select(Video).where(Video.path == rel)).one(), st.st_size)
        if not _is_stable(session, rel, st.st_size, st.st_mtime_ns, now, config.stable_seconds):
            result.waiting.append(rel)
            continue
        video = record_video(config, session, rel)
        if video.state == State.failed:
            result.failed.append((rel, video.error or ""))
        else:
            result.new.append(NewVideo(video.video_id, rel))
    return result


# A clip seen for the first time counts as complete only when a second look, stable_seconds later,
# finds it unchanged. Up to this long, the second look is taken in the same run instead of a whole
# schedule interval later (a clip copied in is then ingested by one run, not two).
SECOND_LOOK_MAX_S = 30.0


def scan_twice(config: IngestConfig, before_second_look: Callable[[int], None] = lambda n: None) -> IngestResult:
    """An ingest pass, and when files are waiting a second one `stable_seconds` later; each pass
    commits in its own transaction (the caller publishes after)."""
    assert config.database_url is not None
    with session_scope(config.database_url) as session:
        result = scan(config, session)
    if result.waiting and config.stable_seconds <= SECOND_LOOK_MAX_S:
        before_second_look(len(result.waiting))
        time.sleep(config.stable_seconds)
        with session_scope(config.database_url) as session:
            again = scan(config, session)
        result.new += again.new
        result.failed += again.failed
        result.waiting = again.waiting
    return result


def refresh_if_replaced(session: Session, video: Video | None, size: int) -> Video | None:
    """The video already recorded for a path, or None when there is none or it must be redone.

    A failed file that was replaced (re-copied, so its size changed) gets another chance.
    """
    if video is not None and video.state == State.failed and video.size_bytes != size:
        forget_video(session, video)
        return None
    return video


def forget_video(session: Session, video: Video) -> None:
    """Drop a failed video's rows so a replaced file is ingested afresh."""
    for table in (*PER_VIDEO_TABLES, Alert):
        for row in session.exec(select(table).where(table.video_id == video.video_id)):
            session.delete(row)
    session.delete(video)
    session.flush()


def _is_stable(
    session: Session, rel: str, size: int, mtime_ns: int, now: datetime, stable_seconds: float
) -> bool:
    seen = session.get(SeenFile, rel)
    if seen is None:
        session.add(SeenFile(path=rel, size_bytes=size, mtime_ns=mtime_ns, checked_at=now))
        return stable_seconds <= 0
    if seen.size_bytes != size or seen.mtime_ns != mtime_ns:
        seen.size_bytes, seen.mtime_ns, seen.checked_at = size, mtime_ns, now
        session.add(seen)
        return False
    return (now - _aware(seen.checked_at)).total_seconds() >= stable_seconds


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def record_video(config: IngestConfig, session: Session, rel: str) -> Video:
    """Probe one complete file and add its Video row (ingested or failed) and its trip."""
    src = config.resolve("raw", rel)
    st = src.stat()
    name = parse_clip_name(src.name)
    video = Video(
        video_id=make_video_id(rel, src, st.st_size),
        path=rel,
        camera=name.camera,
        channel=name.channel,
        kind=name.kind,
        size_bytes=st.st_size,
    )
    try:
        info = probe(src)
    except MediaError as exc:
        # Name the file as the user sees it in raw, not by this device's mount point.
        video.state, video.error = State.failed, str(exc).replace(str(src), rel)
        log.warning("ingest: %s failed: %s", rel, exc)
    else:
        _apply_info(video, info)
        video.recorded_at = name.recorded_at or _fallback_time(info, st.st_mtime)
        video.trip_id = assign_trip(session, config, rel, video).trip_id
        log.info(
            "ingest: %s -> %s (%.1f s, %dx%d)",
            rel,
            video.video_id,
            info.duration_s,
            info.width,
            info.height,
        )
    if (seen := session.get(SeenFile, rel)) is not None:
        session.delete(seen)
    session.add(video)
    session.flush()
    return video


def _apply_info(video: Video, info: VideoInfo) -> None:
    video.duration_s, video.fps = info.duration_s, info.fps
    video.width, video.height, video.codec = info.width, info.height, info.codec


def _fallback_time(info: VideoInfo, mtime: float) -> datetime:
    if info.creation_time is not None:
        return info.creation_time.replace(tzinfo=None)
    return datetime.fromtimestamp(mtime)


def assign_trip(session: Session, config: IngestConfig, rel: str, video: Video) -> Trip:
    """Same folder, same camera and less than `trip_gap_minutes` apart = same trip."""
    folder = rel.split("/", 1)[0] if "/" in rel else ""
    start = video.recorded_at
    end = start + timedelta(seconds=video.duration_s or 0) if start else None
    gap = timedelta(minutes=config.trip_gap_minutes)
    trips: Iterable[Trip] = session.exec(
        select(Trip).where(Trip.folder == folder, Trip.camera == video.camera)
    )
    for trip in trips:
        if start is None or trip.started_at is None:
            if start is None and trip.started_at is None:
                return _extend(session, trip, start, end)
            continue
        t_end = trip.ended_at or trip.started_at
        if trip.started_at - gap <= start <= t_end + gap:
            return _extend(session, trip, start, end)
    stamp = start.strftime("%Y%m%d-%H%M%S") if start else "undated"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", folder)[:40] or "raw"
    trip = Trip(
        trip_id=f"{slug}-{video.camera}-{stamp}",
        folder=folder,
        camera=video.camera,
        started_at=start,
        ended_at=end,
        video_count=0,
    )
    if session.get(Trip, trip.trip_id) is not None:  # same start second, another channel
        trip = session.get(Trip, trip.trip_id)  # type: ignore[assignment]
    return _extend(session, trip, start, end)


def _extend(session: Session, trip: Trip, start: datetime | None, end: datetime | None) -> Trip:
    if start is not None:
        trip.started_at = min(trip.started_at or start, start)
        trip.ended_at = max(trip.ended_at or end or start, end or start)
    trip.video_count += 1
    session.add(trip)
    session.flush()
    return trip
