"""The app database: finalized metadata, authoritative, on the main server.

Names are the project's names everywhere: `trip_id`, `video_id`, `plate_id`, `state` (a video's place in its
lifecycle; a "stage" is a flow: heavy, finalize, ...).
Times are UTC unless a column says `camera` (the dashcam's own clock, usually local time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import NaiveDatetime
from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# 64-bit where PostgreSQL needs it; SQLite's INTEGER is 64-bit already (and its migrations made
# plain INTEGER columns, which must keep comparing equal).
Int64 = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class State(StrEnum):
    """Where a video is in its lifecycle: `flows/lifecycle.py` says which flow sets which
    (docs/architecture.md, A video's states)."""

    ingested = "ingested"  # in the DB, heavy published
    processed = "processed"  # heavy's bundle is on `work` and validated
    finalized = "finalized"  # metadata committed, archive published
    archived = "archived"  # media on the Shed NAS, checksums verified
    failed = "failed"  # see `error`


class Trip(SQLModel, table=True):
    trip_id: str = Field(primary_key=True)
    folder: str = Field(index=True, description="raw/<folder>/ the clips came from")
    camera: str
    started_at: NaiveDatetime | None = Field(default=None, index=True, description="camera clock")
    ended_at: NaiveDatetime | None = None
    video_count: int = 0
    # Figures from the GPS of its videos, recomputed whenever one of them is finalized.
    distance_m: float | None = None
    duration_s: float | None = None
    avg_speed_mps: float | None = None
    max_speed_mps: float | None = None
    track_json: str | None = Field(
        default=None, sa_column=Column(Text), description="[[lat, lon], ...] simplified"
    )


class TripEvent(SQLModel, table=True):
    """Something a driver would want to find again: harsh braking or acceleration."""

    id: int | None = Field(default=None, primary_key=True)
    trip_id: str = Field(foreign_key="trip.trip_id", index=True)
    kind: str = Field(index=True)
    time_utc: datetime | None = Field(default=None, index=True)
    lat: float
    lon: float
    value_mps2: float


class Video(SQLModel, table=True):
    video_id: str = Field(primary_key=True)
    path: str = Field(unique=True, description="relative to the raw volume")
    trip_id: str | None = Field(default=None, foreign_key="trip.trip_id", index=True)
    camera: str = "generic"
    channel: str | None = None
    kind: str = "normal"
    recorded_at: NaiveDatetime | None = Field(default=None, index=True, description="camera clock")
    # 64-bit: PostgreSQL's INTEGER ends at 2 GiB, and long 4K clips pass that
    size_bytes: int = Field(default=0, sa_type=Int64)
    duration_s: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    has_gps: bool = False
    gps_source: str | None = Field(
        default=None, description="novatek, 70mai, gopro, nmea, ... or None"
    )
    gps_note: str | None = Field(
        default=None, sa_column=Column(Text), description="why there is no GPS"
    )
    clock_offset_s: float | None = Field(
        default=None, description="camera clock minus UTC, seconds"
    )
    started_at_utc: datetime | None = Field(default=None, index=True)
    state: str = Field(default=State.ingested, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    ingested_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    finalized_at: datetime | None = None
    archived_at: datetime | None = None
    heavy_seconds: float | None = None
    heavy_device: str | None = Field(default=None, description="the workhorse that processed it")
    plate_count: int = 0
    sighting_count: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class SeenFile(SQLModel, table=True):
    """Ingest's memory of files in `raw` that were not yet complete (size/mtime still changing)."""

    path: str = Field(primary_key=True)
    size_bytes: int = Field(sa_type=Int64)
    mtime_ns: int = Field(sa_type=Int64)  # nanoseconds since 1970: far past 32 bits
    first_seen_at: datetime = Field(default_factory=utcnow)
    checked_at: datetime = Field(default_factory=utcnow)


class GpsPoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(foreign_key="video.video_id")
    offset_s: float = Field(description="seconds from the start of the video")
    time_utc: datetime | None = Field(default=None, index=True)
    lat: float
    lon: float
    speed_mps: float | None = None
    bearing_deg: float | None = None

    __table_args__ = (Index("ix_gpspoint_video_offset", "video_id", "offset_s"),)


class Plate(SQLModel, table=True):
    """One physical plate seen in one video: its reads grouped, voted, with a best crop."""

    plate_id: str = Field(primary_key=True)
    video_id: str = Field(foreign_key="video.video_id", index=True)
    text: str = Field(index=True)
    confidence: float
    sighting_count: int
    first_seen_s: float
    last_seen_s: float
    first_seen_at: NaiveDatetime | None = Field(
        default=None, index=True, description="camera clock"
    )
    best_crop: str | None = Field(default=None, description="relative to the archive volume")
    best_frame_s: float | None = None
    first_seen_utc: datetime | None = Field(default=None, index=True)
    lat: float | None = None
    lon: float | None = None
    vehicle: str | None = Field(default=None, description="car, truck, bus, motorcycle or None")
    region: str | None = Field(
        default=None,
        description='whose plate formats read it: "us-ca", "gb", ... from the GPS or the setting; '
        'None when no region was known',
    )


class Sighting(SQLModel, table=True):
    """One observation: a plate box in one sampled frame and what OCR read there."""

    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(foreign_key="video.video_id")
    plate_id: str | None = Field(default=None, foreign_key="plate.plate_id", index=True)
    frame_s: float
    seen_at: NaiveDatetime | None = Field(default=None, index=True, description="camera clock")
    x1: float
    y1: float
    x2: float
    y2: float
    det_confidence: float
    text: str | None = Field(default=None, index=True)
    confidence: float | None = None
    time_utc: datetime | None = Field(default=None, index=True)
    lat: float | None = None
    lon: float | None = None
    speed_mps: float | None = None
    bearing_deg: float | None = None
    gps_gap_s: float | None = Field(default=None, description="seconds to the nearest fix")

    __table_args__ = (Index("ix_sighting_video_frame", "video_id", "frame_s"),)


class Frame(SQLModel, table=True):
    """Stored images: plate crops and frames, as paths on the archive volume."""

    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(foreign_key="video.video_id", index=True)
    plate_id: str | None = Field(default=None, foreign_key="plate.plate_id", index=True)
    kind: str = Field(description="best_crop | best_frame")
    frame_s: float
    path: str = Field(description="relative to the archive volume")
    width: int
    height: int


class Alert(SQLModel, table=True):
    """A watchlist hit: one per plate text per video, sent once (tasks/alerts.py).

    Not one of the video's replaceable rows: a finalize rerun keeps it, so nothing is sent twice.
    """

    __table_args__ = (UniqueConstraint("video_id", "text", name="uq_alert_video_text"),)

    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(foreign_key="video.video_id", index=True)
    text: str = Field(description="the plate text seen")
    plate_id: str | None = Field(default=None, description="the plate row when it was queued")
    watch_text: str = Field(description="the watchlist entry it matched")
    label: str = ""
    closeness: int = Field(description="0 exact, 1 OCR-equivalent, 2 one character off")
    state: str = Field(default="pending", index=True, description="pending, sent or failed")
    attempts: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    evented_at: datetime | None = Field(default=None, description="when its Prefect event went out")
    sent_at: datetime | None = None


class Watchlist(SQLModel, table=True):
    """A plate to look out for (tasks/watchlist.py), the only thing the dashboard writes to the DB.

    Created by migration 0003 and matched by tasks/watchlist.py.
    """

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(index=True, unique=True, description="normalized plate text")
    label: str = ""
    created_at: datetime = Field(default_factory=utcnow)


# Tables whose rows belong to one video and are replaced as a whole when it is finalized again.
PER_VIDEO_TABLES = (Frame, Sighting, Plate, GpsPoint)
