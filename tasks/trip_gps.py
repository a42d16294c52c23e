"""A trip's GPS from the app DB: one Track per video, in recording order.

The one reading of a trip's route: `dashcam gps --trip`, the dashboard's map and GPX download
and the evidence report all take it from here, so they show the same points. A track per video
(not one joined line) because the gap between two clips is not a road driven.
"""

from __future__ import annotations

from itertools import groupby

from sqlmodel import Session, col, select

from models.tables import GpsPoint, Video
from tasks.gps import Fix, Track, to_gpx


def trip_tracks(session: Session, trip_id: str) -> list[Track]:
    """One Track per video of the trip that has GPS points, in recording order."""
    rows = session.exec(
        select(GpsPoint, Video.gps_source, Video.clock_offset_s)
        .join(Video, col(Video.video_id) == col(GpsPoint.video_id))
        .where(Video.trip_id == trip_id)
        .order_by(col(Video.recorded_at), col(GpsPoint.video_id), col(GpsPoint.offset_s))
    ).all()
    out = []
    for _, group in groupby(rows, key=lambda r: r[0].video_id):
        items = list(group)
        fixes = [Fix(p.time_utc, p.lat, p.lon, p.speed_mps, p.bearing_deg, offset_s=p.offset_s)
                 for p, _, _ in items]
        _, source, offset = items[0]
        out.append(Track(fixes, source or "db", offset))
    return out


def trip_gpx(session: Session, trip_id: str) -> str | None:
    """The trip's route as GPX 1.1, a <trk> per video (None when it has no GPS)."""
    tracks = trip_tracks(session, trip_id)
    return to_gpx(tracks, name=f"trip {trip_id}") if tracks else None
