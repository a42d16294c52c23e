"""Tracks rebuilt from the app DB (a trip's videos, in order) for export."""

from __future__ import annotations

from sqlmodel import select

from models.db import session_scope
from models.tables import GpsPoint, Video
from tasks.gps import Fix, Track


def trip_tracks(database_url: str, trip_id: str) -> list[Track]:
    """One Track per video of the trip that has GPS points, in recording order."""
    out = []
    with session_scope(database_url) as session:
        videos = session.exec(
            select(Video).where(Video.trip_id == trip_id, Video.has_gps).order_by(Video.recorded_at)
        ).all()
        for v in videos:
            points = session.exec(
                select(GpsPoint).where(GpsPoint.video_id == v.video_id).order_by(GpsPoint.offset_s)
            ).all()
            fixes = [
                Fix(p.time_utc, p.lat, p.lon, p.speed_mps, p.bearing_deg, offset_s=p.offset_s) for p in points
            ]
            out.append(Track(fixes, v.gps_source or "db", v.clock_offset_s))
    return out
