"""Every query the dashboard runs: plain functions over a Session, testable without Streamlit.

Rules: read-only (the watchlist lives in dashboard/watchlist.py); user input only ever as bound
parameters; every list has a LIMIT and filters on indexed columns, so pages stay fast on a
large archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlmodel import Session

from dashboard import config
from dashboard.fuzzy import (
    has_wildcards,
    literal_prefix,
    neighbours,
    wildcard_glob,
    wildcard_match,
)
from models.tables import Frame, GpsPoint, Plate, Sighting, State, Trip, Video
from tasks.plate_text import canon, canon_sql, closeness, normalize
from tasks.trip_gps import trip_gpx as gps_of_trip
from tasks.trip_gps import trip_tracks

Row = dict[str, Any]

# The indexed canonical form of plate.text (see migration 0009 and tasks/plate_text.py).
PLATE_CANON = literal_column(canon_sql("plate.text"))


def _rows(session: Session, stmt: Any) -> list[Row]:
    return [dict(r) for r in session.execute(stmt).mappings().all()]


def day_start(d: date | None) -> datetime | None:
    return None if d is None else datetime.combine(d, time.min, tzinfo=UTC)


def day_end(d: date | None) -> datetime | None:
    """Exclusive end of day `d`, so a range of dates includes its last day."""
    return None if d is None else datetime.combine(d + timedelta(days=1), time.min, tzinfo=UTC)


def _naive(dt: datetime | None) -> datetime | None:
    # Camera-clock columns are naive; compare them with the same wall-clock numbers.
    return None if dt is None else dt.replace(tzinfo=None)


# --------------------------------------------------------------------------- home / health


def state_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Video.state, func.count()).group_by(Video.state)).all()
    counts = {s.value: 0 for s in State}
    counts.update({str(state): int(n) for state, n in rows})
    return counts


def failures(session: Session, limit: int = 50) -> list[Row]:
    stmt = (
        select(Video.video_id, Video.path, Video.error, Video.attempts, Video.updated_at)
        .where(Video.state == State.failed)
        .order_by(Video.updated_at.desc())
        .limit(limit)
    )
    return _rows(session, stmt)


def last_runs(session: Session) -> dict[str, datetime | None]:
    """When each stage last finished something, from the DB's own timestamps."""
    row = session.execute(
        select(
            func.max(Video.ingested_at),
            func.max(Video.processed_at),
            func.max(Video.finalized_at),
            func.max(Video.archived_at),
        )
    ).one()
    return dict(zip(("ingest", "heavy", "finalize", "archive"), row, strict=True))


def recent_trips(session: Session, limit: int = 10) -> list[Row]:
    stmt = select(Trip).order_by(Trip.started_at.desc()).limit(limit)
    return [t.model_dump() for t in session.scalars(stmt)]


def trips(session: Session, limit: int = 1000) -> list[Row]:
    """Trips for pickers, newest first."""
    stmt = (
        select(Trip.trip_id, Trip.started_at, Trip.video_count)
        .order_by(Trip.started_at.desc())
        .limit(limit)
    )
    return _rows(session, stmt)


def recent_plates(session: Session, limit: int = 20) -> list[Row]:
    stmt = (
        select(
            Plate.plate_id, Plate.text, Plate.confidence, Plate.sighting_count,
            Plate.first_seen_at, Plate.first_seen_utc, Plate.video_id, Plate.best_crop,
        )
        .order_by(Plate.first_seen_at.desc())
        .limit(limit)
    )
    return _rows(session, stmt)


# --------------------------------------------------------------------------- videos


def list_videos(
    session: Session,
    date_from: date | None = None,
    date_to: date | None = None,
    trip_id: str | None = None,
    state: str | None = None,
    limit: int = config.PAGE_SIZE,
    offset: int = 0,
) -> list[Row]:
    """Videos by camera-clock date (indexed), newest first."""
    stmt = select(
        Video.video_id, Video.trip_id, Video.recorded_at, Video.started_at_utc, Video.duration_s,
        Video.plate_count, Video.sighting_count, Video.has_gps, Video.state, Video.error,
    )
    if date_from:
        stmt = stmt.where(Video.recorded_at >= _naive(day_start(date_from)))
    if date_to:
        stmt = stmt.where(Video.recorded_at < _naive(day_end(date_to)))
    if trip_id:
        stmt = stmt.where(Video.trip_id == trip_id)
    if state:
        stmt = stmt.where(Video.state == state)
    stmt = stmt.order_by(Video.recorded_at.desc(), Video.video_id).limit(limit).offset(offset)
    return _rows(session, stmt)


def get_video(session: Session, video_id: str) -> Row | None:
    v = session.get(Video, video_id)
    return None if v is None else v.model_dump()


def video_route(session: Session, video_id: str, max_points: int = config.MAX_ROUTE_POINTS) -> list[Row]:
    stmt = (
        select(GpsPoint.offset_s, GpsPoint.time_utc, GpsPoint.lat, GpsPoint.lon, GpsPoint.speed_mps)
        .where(GpsPoint.video_id == video_id)
        .order_by(GpsPoint.offset_s)
        .limit(max_points * 10)
    )
    return _thin(_rows(session, stmt), max_points)


def video_plates(session: Session, video_id: str, limit: int = 500) -> list[Row]:
    stmt = (
        select(
            Plate.plate_id, Plate.text, Plate.confidence, Plate.sighting_count,
            Plate.first_seen_s, Plate.last_seen_s, Plate.best_crop, Plate.best_frame_s,
            Plate.lat, Plate.lon, Plate.vehicle, Plate.region,
        )
        .where(Plate.video_id == video_id)
        .order_by(Plate.first_seen_s)
        .limit(limit)
    )
    return _rows(session, stmt)


def video_sightings(session: Session, video_id: str, limit: int = config.MAX_TIMELINE_ROWS) -> list[Row]:
    stmt = (
        select(
            Sighting.id, Sighting.plate_id, Sighting.frame_s, Sighting.text, Sighting.confidence,
            Sighting.time_utc, Sighting.lat, Sighting.lon, Plate.text.label("plate_text"),
        )
        .outerjoin(Plate, Plate.plate_id == Sighting.plate_id)
        .where(Sighting.video_id == video_id)
        .order_by(Sighting.frame_s)
        .limit(limit)
    )
    return _rows(session, stmt)


def video_frames(session: Session, video_id: str, limit: int = 200) -> list[Row]:
    stmt = (
        select(Frame.plate_id, Frame.kind, Frame.frame_s, Frame.path, Frame.width, Frame.height)
        .where(Frame.video_id == video_id, Frame.kind == "best_frame")
        .order_by(Frame.frame_s)
        .limit(limit)
    )
    return _rows(session, stmt)


# --------------------------------------------------------------------------- plate


def get_plate(session: Session, plate_id: str) -> Row | None:
    p = session.get(Plate, plate_id)
    return None if p is None else p.model_dump()


def plates_by_text(session: Session, text: str, limit: int = 500) -> list[Row]:
    """Every physical sighting-group (plate row) with this voted text, newest first."""
    stmt = (
        select(
            Plate.plate_id, Plate.video_id, Plate.text, Plate.confidence, Plate.sighting_count,
            Plate.first_seen_s, Plate.first_seen_at, Plate.first_seen_utc, Plate.best_crop,
            Plate.lat, Plate.lon, Plate.vehicle, Plate.region, Video.trip_id,
        )
        .join(Video, Video.video_id == Plate.video_id)
        .where(Plate.text == normalize(text))
        .order_by(Plate.first_seen_at.desc())
        .limit(limit)
    )
    return _rows(session, stmt)


def plate_timeline(session: Session, text: str, limit: int = config.MAX_TIMELINE_ROWS) -> list[Row]:
    """Every sighting of plates with this text, across frames, videos and trips, in time order."""
    stmt = (
        select(
            Sighting.id, Sighting.video_id, Sighting.plate_id, Sighting.frame_s, Sighting.seen_at,
            Sighting.time_utc, Sighting.text, Sighting.confidence, Sighting.det_confidence,
            Sighting.lat, Sighting.lon, Video.trip_id,
        )
        .join(Plate, Plate.plate_id == Sighting.plate_id)
        .join(Video, Video.video_id == Sighting.video_id)
        .where(Plate.text == normalize(text))
        .order_by(Sighting.seen_at, Sighting.video_id, Sighting.frame_s)
        .limit(limit)
    )
    return _rows(session, stmt)


def plate_crops(session: Session, text: str, limit: int = 24) -> list[Row]:
    """Best crops of every plate row with this text (the best one first, then alternates)."""
    stmt = (
        select(Plate.plate_id, Plate.video_id, Plate.best_crop, Plate.confidence, Plate.first_seen_at)
        .where(Plate.text == normalize(text))
        .order_by(Plate.confidence.desc())
        .limit(limit)
    )
    return _rows(session, stmt)


def confidence_breakdown(timeline: list[Row]) -> dict[str, Any]:
    """OCR reads per text and a confidence histogram, from the timeline already loaded."""
    reads: dict[str, int] = {}
    bins = [0] * 10
    unread = 0
    for r in timeline:
        reads[r["text"] or "(unread)"] = reads.get(r["text"] or "(unread)", 0) + 1
        if r["confidence"] is not None:
            bins[min(int(r["confidence"] * 10), 9)] += 1
        else:
            unread += 1
    histogram = {f"{i / 10:.1f}-{(i + 1) / 10:.1f}": n for i, n in enumerate(bins)}
    if unread:  # every sighting is counted, as the page's metric counts them
        histogram = {"not read": unread, **histogram}
    return {"reads": dict(sorted(reads.items(), key=lambda kv: -kv[1])), "histogram": histogram}


# --------------------------------------------------------------------------- map


@dataclass
class BBox:
    """A lat/lon box (south, west, north, east)."""

    south: float
    west: float
    north: float
    east: float


def map_sightings(
    session: Session,
    date_from: date | None = None,
    date_to: date | None = None,
    text: str | None = None,
    trip_id: str | None = None,
    limit: int = config.MAX_MAP_POINTS,
) -> list[Row]:
    """Located sightings in a UTC date range (indexed on time_utc), newest first, capped."""
    stmt = (
        select(
            Sighting.id, Sighting.video_id, Sighting.plate_id, Sighting.frame_s, Sighting.time_utc,
            Sighting.confidence, Sighting.lat, Sighting.lon,
            func.coalesce(Plate.text, Sighting.text).label("text"),
        )
        .outerjoin(Plate, Plate.plate_id == Sighting.plate_id)
        .where(Sighting.lat.is_not(None), Sighting.lon.is_not(None))
    )
    if date_from:
        stmt = stmt.where(Sighting.time_utc >= day_start(date_from))
    if date_to:
        stmt = stmt.where(Sighting.time_utc < day_end(date_to))
    if text:
        stmt = stmt.where(Plate.text == normalize(text))
    if trip_id:
        video_ids = select(Video.video_id).where(Video.trip_id == trip_id)
        stmt = stmt.where(Sighting.video_id.in_(video_ids))
    stmt = stmt.order_by(Sighting.time_utc.desc()).limit(limit)
    return _rows(session, stmt)


def _thin(points: list[Any], max_points: int) -> list[Any]:
    if len(points) <= max_points:
        return points
    step = len(points) / max_points
    return [points[int(i * step)] for i in range(max_points)]


def trip_route(session: Session, trip_id: str, max_points: int = config.MAX_ROUTE_POINTS) -> list[list[float]]:
    """A trip's route for the map, [lon, lat] per point, thinned to `max_points` over the trip;
    the same points as its GPX and `dashcam gps --trip` (`tasks.trip_gps`)."""
    points = [[f.lon, f.lat] for track in trip_tracks(session, trip_id) for f in track.valid_fixes]
    return _thin(points, max_points)


def trips_in_range(session: Session, date_from: date | None, date_to: date | None, limit: int = 50) -> list[str]:
    stmt = select(Trip.trip_id)
    if date_from:
        stmt = stmt.where(Trip.started_at >= _naive(day_start(date_from)))
    if date_to:
        stmt = stmt.where(Trip.started_at < _naive(day_end(date_to)))
    return list(session.scalars(stmt.order_by(Trip.started_at.desc()).limit(limit)))


def trip_gpx(session: Session, trip_id: str) -> str | None:
    """The trip's route as GPX 1.1 (None when it has no GPS); the evidence export's too."""
    return gps_of_trip(session, trip_id)


# --------------------------------------------------------------------------- search


@dataclass
class SearchFilters:
    date_from: date | None = None
    date_to: date | None = None
    min_confidence: float = 0.0
    trip_id: str | None = None
    bbox: BBox | None = None


def _filtered(stmt: Any, f: SearchFilters) -> Any:
    if f.date_from:
        stmt = stmt.where(Plate.first_seen_at >= _naive(day_start(f.date_from)))
    if f.date_to:
        stmt = stmt.where(Plate.first_seen_at < _naive(day_end(f.date_to)))
    if f.min_confidence > 0:
        stmt = stmt.where(Plate.confidence >= f.min_confidence)
    if f.trip_id:
        stmt = stmt.where(Video.trip_id == f.trip_id)
    if f.bbox:
        b = f.bbox
        stmt = stmt.where(
            Plate.lat.between(b.south, b.north), Plate.lon.between(b.west, b.east)
        )
    return stmt


_SEARCH_COLUMNS = (
    Plate.plate_id, Plate.video_id, Plate.text, Plate.confidence, Plate.sighting_count,
    Plate.first_seen_s, Plate.first_seen_at, Plate.first_seen_utc, Plate.lat, Plate.lon,
    Plate.best_crop, Video.trip_id,
)


def search_plates(
    session: Session,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = config.MAX_SEARCH_RESULTS,
    fuzzy: bool = True,
) -> list[Row]:
    """Plate rows matching `query`, best first.

    Plain text: exact, OCR-confusion-equivalent and (if `fuzzy`) one-edit neighbours, all as
    indexed lookups on the canonical form. `?`/`*`: GLOB on the canonical form, with the
    literal prefix as an indexed range. Each row gets `match` (0 exact, 1 OCR-equivalent,
    2 one off, 3 wildcard).
    """
    f = filters or SearchFilters()
    if has_wildcards(query):
        glob = wildcard_glob(query)
        if not glob.strip("*"):
            return []  # "*" alone would list the whole archive; ask for something
        keys = _wildcard_keys(session, glob, cap=limit * 2)
        rows = [r for r in _plates_by_keys(session, keys, f, limit * 4) if wildcard_match(query, r["text"])]
        for r in rows:
            r["match"] = 0 if normalize(query) == r["text"] else 3
    else:
        q = normalize(query)
        if not q:
            return []
        keys = sorted(neighbours(q)) if fuzzy else [canon(q)]
        rows = _plates_by_keys(session, keys, f, limit * 4)
        for r in rows:
            r["match"] = closeness(q, r["text"])
        rows = [r for r in rows if r["match"] <= 2]
    rows.sort(key=lambda r: (r["match"], -(r["confidence"] or 0), str(r["first_seen_at"] or "")))
    return rows[:limit]


def _plates_by_keys(session: Session, keys: list[str], f: SearchFilters, limit: int) -> list[Row]:
    """Plate rows whose canonical text is one of `keys`: indexed IN lookups, in bounded chunks."""
    rows: list[Row] = []
    for i in range(0, len(keys), 900):
        stmt = (
            select(*_SEARCH_COLUMNS)
            .join(Video, Video.video_id == Plate.video_id)
            .where(PLATE_CANON.in_(keys[i : i + 900]))
        )
        rows.extend(_rows(session, _filtered(stmt, f).limit(limit - len(rows))))
        if len(rows) >= limit:
            break
    return rows


def _wildcard_keys(session: Session, glob: str, cap: int) -> list[str]:
    """Distinct canonical texts matching the pattern, read from the expression index alone.

    A literal prefix narrows it to an index range; a leading wildcard scans the index (about
    100k short entries: ~10 ms), which is still far cheaper than matching on the plate rows.
    """
    prefix = literal_prefix(glob)
    cond = PLATE_CANON.op("GLOB")(glob) if _is_sqlite(session) else _like(glob)
    stmt = select(PLATE_CANON).select_from(Plate).where(cond).distinct()
    if prefix:
        stmt = stmt.where(PLATE_CANON.between(prefix, prefix + "\U0010ffff"))
    return [k for (k,) in session.execute(stmt.limit(cap))]


def _is_sqlite(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "sqlite"


def _like(glob: str) -> Any:
    # PostgreSQL has no GLOB; the pattern alphabet is A-Z0-9?* so no LIKE escaping is needed.
    return PLATE_CANON.like(glob.replace("*", "%").replace("?", "_"))


def search_sightings_for_export(session: Session, plate_ids: list[str], limit: int = 50_000) -> list[Row]:
    """Sightings of the found plates, for the CSV export."""
    if not plate_ids:
        return []
    out: list[Row] = []
    for i in range(0, len(plate_ids), 500):  # bounded IN lists
        stmt = (
            select(
                Sighting.video_id, Sighting.plate_id, Plate.text.label("plate_text"),
                Sighting.text, Sighting.confidence, Sighting.frame_s, Sighting.seen_at,
                Sighting.time_utc, Sighting.lat, Sighting.lon,
            )
            .join(Plate, Plate.plate_id == Sighting.plate_id)
            .where(Sighting.plate_id.in_(plate_ids[i : i + 500]))
            .limit(limit - len(out))
        )
        out.extend(_rows(session, stmt))
        if len(out) >= limit:
            break
    return out


def watch_hits(session: Session, texts: list[str], limit: int = 200) -> list[Row]:
    """Recent plate rows near any watched text (exact, OCR-equivalent, one off)."""
    keys: set[str] = set()
    for t in texts:
        keys |= neighbours(t)
    if not keys:
        return []
    rows: list[Row] = []
    sorted_keys = sorted(keys)
    for i in range(0, len(sorted_keys), 900):
        stmt = (
            select(*_SEARCH_COLUMNS)
            .join(Video, Video.video_id == Plate.video_id)
            .where(PLATE_CANON.in_(sorted_keys[i : i + 900]))
            .order_by(Plate.first_seen_at.desc())
            .limit(limit)
        )
        rows.extend(_rows(session, stmt))
    rows.sort(key=lambda r: str(r["first_seen_at"] or ""), reverse=True)
    return rows[:limit]


def near_filter(rows: list[Row], texts: list[str]) -> list[Row]:
    """Keep rows whose text is near one of `texts` (the neighbour set over-approximates nothing,
    but a shared canonical key between two watched texts can pull in both)."""
    return [r for r in rows if any(closeness(t, r["text"]) <= 2 for t in texts)]

