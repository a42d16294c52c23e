"""Core GPS types shared by every reader, the cleaner, the aligner and the exporters.

Two clocks meet here and must not be confused:

* `Fix.time` is true UTC (tz-aware) when the device told us so (NMEA, GPMF, Novatek, the
  70mai A810 log). It is None when a source only knows "camera clock" (Kaiser Bass logs, the
  70mai `GPS ` box) and nobody has told us that clock's offset to UTC.
* `Fix.offset_s` is seconds from the start of *this clip*, when the container says so (a 70mai
  record's second counter, a GoPro sample's decode time) or once `read_track` has worked it out.

`Track.camera_clock_offset_s` links them: camera clock (the file-name time, usually local time)
minus UTC, in seconds. +3600 means the camera runs one hour ahead of UTC (CET in winter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Aligned", "Fix", "GpsReadError", "NoGps", "Track"]


@dataclass(frozen=True)
class Fix:
    time: datetime | None  # aware UTC, or None when only the camera clock/offset is known
    lat: float  # decimal degrees, WGS84, north positive
    lon: float  # decimal degrees, east positive
    speed_mps: float | None = None  # as reported by the device (ground speed)
    bearing_deg: float | None = None  # course over ground, 0..360, true north
    valid: bool = True  # False: the device said "no fix" or the values are impossible
    # Extras beyond the minimum every reader can fill (defaults keep positional construction):
    offset_s: float | None = None  # seconds from clip start, when known
    alt_m: float | None = None  # altitude above sea level (or ellipsoid, device-dependent)

    def plausible(self) -> bool:
        """Coordinates a real receiver can report: finite, in range, not the 0,0 "null island"."""
        return (
            math.isfinite(self.lat)
            and math.isfinite(self.lon)
            and -90.0 <= self.lat <= 90.0
            and -180.0 <= self.lon <= 180.0
            and not (abs(self.lat) < 1e-9 and abs(self.lon) < 1e-9)
        )


@dataclass(frozen=True)
class Track:
    fixes: list[Fix] = field(default_factory=list)
    source: str = ""  # "novatek", "70mai", "gopro", "blackvue", "nmea", "gpx", "70mai-log", "kaiserbass-dat"
    camera_clock_offset_s: float | None = None  # camera clock minus UTC, seconds

    @property
    def valid_fixes(self) -> list[Fix]:
        return [f for f in self.fixes if f.valid]


@dataclass(frozen=True)
class NoGps:
    """No usable GPS for a clip, and why, in words a person can act on."""

    reason: str

    def __bool__(self) -> bool:  # `if track:` reads naturally for Track | NoGps
        return False


@dataclass(frozen=True)
class Aligned:
    lat: float
    lon: float
    speed_mps: float | None
    bearing_deg: float | None
    time: datetime | None  # UTC of the frame, when the clip's UTC start or the fixes say so
    gap_s: float  # seconds from the frame to the nearest fix
    approximate: bool  # gap_s > max_gap_s: position is a guess (held or extrapolated)


class GpsReadError(Exception):
    """A GPS source is unusable; `str(exc)` names the file and what is wrong with it.

    Readers raise it; `read_track` turns it into `NoGps` so no exception escapes a bad file.
    """
