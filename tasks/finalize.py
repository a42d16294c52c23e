"""Finalize (main server): validate heavy's bundle and replace the video's metadata in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, delete, select

from models.tables import (
    PER_VIDEO_TABLES,
    Frame,
    GpsPoint,
    Plate,
    Sighting,
    State,
    Trip,
    TripEvent,
    Video,
    utcnow,
)
from tasks import alerts, bundle, trips
from tasks.trips import Point
from tasks.volumes import Volumes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalizeConfig(Volumes):
    """What finalize reads of the settings (built by `flows.config.finalize_config`)."""

    database_url: str | None
    harsh_brake_mps2: float
    harsh_accel_mps2: float
    track_simplify_m: float
    alert_urls: tuple[str, ...] = field(repr=False)  # watchlist alert targets: tokens, kept out of logs
    dashboard_url: str | None


@dataclass(frozen=True)
class TripFigures:
    """The video's trip as finalize left it (figures from all its videos' GPS)."""

    trip_id: str
    videos: int
    distance_m: float | None
    duration_s: float | None
    avg_speed_mps: float | None
    max_speed_mps: float | None
    events: dict[str, int]  # harsh_braking / harsh_acceleration -> count


@dataclass(frozen=True)
class FinalizeResult:
    video_id: str
    state: str
    error: str | None = None
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written for the video
    plates: tuple[str, ...] = ()  # the texts of the plates stored
    trip: TripFigures | None = None


def archive_path(video_id: str, bundle_name: str) -> str:
    """Where a bundle file lives on the archive volume (plate_crops/ becomes plates/)."""
    if bundle_name.startswith("plate_crops/"):
        bundle_name = "plates/" + bundle_name.split("/", 1)[1]
    return f"{video_id}/{bundle_name}"


def load_bundle(config: FinalizeConfig, video_id: str) -> tuple[dict, dict | None]:
    """Manifest (and detections when the run succeeded), checksums verified."""
    path = config.resolve("work", video_id)
    manifest = bundle.read_manifest(path)
    if manifest.get("video_id") != video_id:
        raise bundle.BundleError(
            f"{path}: manifest is for {manifest.get('video_id')!r}, not {video_id!r}"
        )
    bundle.verify(path, manifest)
    if manifest.get("status") != "ok":
        return manifest, None
    return manifest, json.loads((path / bundle.DETECTIONS).read_text())


def mark_processed(session: Session, video_id: str) -> Video:
    video = session.get(Video, video_id)
    if video is None:
        raise LookupError(f"video {video_id} is not in the database (was it ingested here?)")
    if video.state in (State.ingested, State.processed):
        video.state = State.processed
        video.processed_at = utcnow()
        video.updated_at = utcnow()
        session.add(video)
    return video


def apply_bundle(
    session: Session, video_id: str, manifest: dict, det: dict | None, config: FinalizeConfig | None = None
) -> FinalizeResult:
    """Replace everything this video owns with the bundle's content (re-runs never append).

    With `config`, the video's trip figures and events are recomputed in the same transaction.
    """
    video = session.get(Video, video_id)
    if video is None:
        raise LookupError(f"video {video_id} is not in the database")
    for table in PER_VIDEO_TABLES:
        session.exec(delete(table).where(table.video_id == video_id))  # type: ignore[arg-type]
    video.heavy_seconds = manifest.get("heavy_seconds")
    video.updated_at = utcnow()
    if det is None:
        video.state, video.error = State.failed, manifest.get("error") or "heavy processing failed"
        video.plate_count = video.sighting_count = 0
        session.add(video)
        log.warning("finalize %s: heavy failed, no rows written: %s", video_id, video.error)
        return FinalizeResult(video_id, State.failed, video.error)

    start = video.recorded_at
    gps = det.get("gps") or {}
    video.gps_source, video.gps_note = gps.get("source"), gps.get("note")
    video.heavy_device = det.get("device")
    video.clock_offset_s = gps.get("camera_clock_offset_s")
    video.started_at_utc = _utc(gps.get("start_utc"))
    video.has_gps = bool(gps.get("points"))
    for p in gps.get("points", []):
        session.add(
            GpsPoint(video_id=video_id, offset_s=p["offset_s"], time_utc=_utc(p["time_utc"]), lat=p["lat"],
                     lon=p["lon"], speed_mps=p["speed_mps"], bearing_deg=p["bearing_deg"])
        )

    def camera_time(offset: float):  # noqa: ANN202
        return start + timedelta(seconds=offset) if start else None

    for p in det["plates"]:
        session.add(
            Plate(
                plate_id=p["plate_id"],
                video_id=video_id,
                text=p["text"],
                confidence=p["confidence"],
                sighting_count=p["sighting_count"],
                first_seen_s=p["first_seen_s"],
                last_seen_s=p["last_seen_s"],
                first_seen_at=camera_time(p["first_seen_s"]),
                best_crop=archive_path(video_id, p["best_crop"]),
                best_frame_s=p["best_frame_s"],
                first_seen_utc=_utc(p.get("first_seen_utc")),
                lat=p.get("lat"),
                lon=p.get("lon"),
                vehicle=p.get("vehicle"),
                region=p.get("region"),
            )
        )
    session.flush()  # plates before the rows that point at them
    for p in det["plates"]:
        for kind, key in (("best_crop", "best_crop"), ("best_frame", "best_frame")):
            w, h = p[f"{key}_size"]
            session.add(
                Frame(
                    video_id=video_id,
                    plate_id=p["plate_id"],
                    kind=kind,
                    frame_s=p["best_frame_s"],
                    path=archive_path(video_id, p[key]),
                    width=w,
                    height=h,
                )
            )
    for s in det["sightings"]:
        x1, y1, x2, y2 = s["box"]
        session.add(
            Sighting(
                video_id=video_id,
                plate_id=s["plate_id"],
                frame_s=s["frame_s"],
                seen_at=camera_time(s["frame_s"]),
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                det_confidence=s["det_confidence"],
                text=s["text"],
                confidence=s["confidence"],
                time_utc=_utc(s.get("time_utc")),
                lat=s.get("lat"),
                lon=s.get("lon"),
                speed_mps=s.get("speed_mps"),
                bearing_deg=s.get("bearing_deg"),
                gps_gap_s=s.get("gps_gap_s"),
            )
        )
    video.plate_count = len(det["plates"])
    video.sighting_count = len(det["sightings"])
    video.state, video.error = State.finalized, None
    video.finalized_at = utcnow()
    session.add(video)
    rows = {
        "plate": len(det["plates"]),
        "sighting": len(det["sightings"]),
        "frame": 2 * len(det["plates"]),  # best crop and best frame of each plate
        "gpspoint": len(gps.get("points", [])),
    }
    figures = None
    if config is not None:
        trip = update_trip(session, video.trip_id, config.harsh_brake_mps2, config.harsh_accel_mps2,
                           config.track_simplify_m)
        figures = trip_figures(session, trip) if trip is not None else None
    log.info(
        "finalize %s: wrote %d plates, %d sightings, %d frames, %d GPS points%s",
        video_id, rows["plate"], rows["sighting"], rows["frame"], rows["gpspoint"],
        "" if figures is None else f"; trip {figures.trip_id}: {_trip_line(figures)}",
    )  # fmt: skip
    texts = tuple(p["text"] for p in det["plates"])
    return FinalizeResult(video_id, State.finalized, rows=rows, plates=texts, trip=figures)


def trip_figures(session: Session, trip: Trip) -> TripFigures:
    session.flush()
    videos = session.exec(select(Video.video_id).where(Video.trip_id == trip.trip_id)).all()
    kinds = session.exec(select(TripEvent.kind).where(TripEvent.trip_id == trip.trip_id)).all()
    events: dict[str, int] = {}
    for kind in kinds:
        events[kind] = events.get(kind, 0) + 1
    return TripFigures(trip.trip_id, len(videos), trip.distance_m, trip.duration_s, trip.avg_speed_mps,
                       trip.max_speed_mps, dict(sorted(events.items())))


def _trip_line(t: TripFigures) -> str:
    if t.distance_m is None:
        return f"{t.videos} videos, no GPS"
    events = ", ".join(f"{n} {kind}" for kind, n in t.events.items()) or "no harsh events"
    return (f"{t.videos} videos, {t.distance_m / 1000:.2f} km in {t.duration_s or 0:.0f} s, "
            f"avg {3.6 * (t.avg_speed_mps or 0):.0f} km/h, max {3.6 * (t.max_speed_mps or 0):.0f} km/h, {events}")


def update_trip(session: Session, trip_id: str | None, brake_mps2: float, accel_mps2: float,
                simplify_m: float) -> Trip | None:
    """Recompute a trip's figures, simplified track and events from all its videos' GPS points."""
    trip = session.get(Trip, trip_id) if trip_id else None
    if trip is None:
        return None
    session.flush()
    rows = session.exec(
        select(GpsPoint)
        .join(Video, GpsPoint.video_id == Video.video_id)  # type: ignore[arg-type]
        .where(Video.trip_id == trip_id)
        .order_by(Video.recorded_at, GpsPoint.offset_s)  # type: ignore[arg-type]
    ).all()
    points = [Point(_aware(r.time_utc), r.lat, r.lon, r.speed_mps) for r in rows]
    session.exec(delete(TripEvent).where(TripEvent.trip_id == trip_id))  # type: ignore[arg-type]
    if not points:
        trip.distance_m = trip.duration_s = trip.avg_speed_mps = trip.max_speed_mps = None
        trip.track_json = None
    else:
        figures = trips.stats(points)
        trip.distance_m, trip.duration_s = figures.distance_m, figures.duration_s
        trip.avg_speed_mps, trip.max_speed_mps = figures.avg_speed_mps, figures.max_speed_mps
        trip.track_json = json.dumps(trips.simplify(points, simplify_m))
        for e in trips.harsh_events(points, brake_mps2, accel_mps2):
            session.add(TripEvent(trip_id=trip.trip_id, kind=e.kind, time_utc=e.time, lat=e.lat, lon=e.lon,
                                  value_mps2=e.value_mps2))
    session.add(trip)
    return trip


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def fail_video(session: Session, video_id: str, reason: str) -> None:
    video = session.get(Video, video_id)
    if video is not None:
        video.state, video.error, video.updated_at = State.failed, reason, utcnow()
        session.add(video)


def confirm_archived(session: Session, video_id: str) -> Video:
    """The archived confirmation: the Shed NAS verified the media."""
    video = session.get(Video, video_id)
    if video is None:
        raise LookupError(f"video {video_id} is not in the database")
    if video.state in (State.finalized, State.archived):
        video.state = State.archived
        video.archived_at = video.archived_at or utcnow()
        video.updated_at = utcnow()
        session.add(video)
    return video


def send_watchlist_alerts(
    config: FinalizeConfig,
    video_id: str,
    matcher_for: Callable[[Session], alerts.Matcher],
    emit: alerts.Emit,
) -> alerts.SendResult:
    """After the commit: the video's watchlist hits, each sent once (tasks/alerts.py)."""

    def crop_of(plate: Plate) -> Path | None:
        # Before archive the crop is in the bundle (plate_crops/); on a late rerun, in the archive.
        if not plate.best_crop:
            return None
        name = plate.best_crop.rsplit("/", 1)[-1]
        for volume, rel in (("work", f"{video_id}/plate_crops/{name}"), ("archive", plate.best_crop)):
            try:
                path = config.resolve(volume, rel)
            except (ValueError, AssertionError):
                continue
            if path.is_file():
                return path
        return None

    cfg = alerts.AlertConfig(urls=list(config.alert_urls), dashboard_url=config.dashboard_url)
    assert config.database_url is not None
    return alerts.run_alerts(config.database_url, video_id, cfg, matcher_for, emit, crop_of)
