"""Tracks out as JSON, CSV and GPX. Only valid fixes are written.

JSON: a list of {"time": "2019-09-27T05:47:03Z" (UTC, milliseconds when fractional) or null
when only the camera clock is known, "lat", "lon", "speed_mps" (or null), "bearing_deg" (or
null)}. GPX 1.1 via gpxpy; speed and course go in Garmin's TrackPointExtension v2 (GPX 1.1 has
no element for them), which gpxpy and most tools read back.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

import gpxpy.gpx

from .model import Fix, Track

__all__ = ["iso_utc", "to_csv", "to_gpx", "to_json"]

GPXTPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"


def iso_utc(when: datetime | None) -> str | None:
    if when is None:
        return None
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    spec = "milliseconds" if when.microsecond else "seconds"
    return when.isoformat(timespec=spec).replace("+00:00", "Z")


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: a non-finite reading is "unknown"."""
    return value if value is not None and math.isfinite(value) else None


def _valid(track: Track) -> list[Fix]:
    return [f for f in track.fixes if f.valid and f.plausible()]


def to_json(track: Track) -> str:
    return json.dumps(
        [
            {
                "time": iso_utc(f.time),
                "lat": f.lat,
                "lon": f.lon,
                "speed_mps": _num(f.speed_mps),
                "bearing_deg": _num(f.bearing_deg),
            }
            for f in _valid(track)
        ]
    )


def to_csv(track: Track) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time", "offset_s", "lat", "lon", "speed_mps", "bearing_deg", "alt_m"])

    def cell(v: float | None) -> str:
        v = _num(v)
        return "" if v is None else repr(float(v))

    for f in _valid(track):
        w.writerow([iso_utc(f.time) or "", cell(f.offset_s), cell(f.lat), cell(f.lon),
                    cell(f.speed_mps), cell(f.bearing_deg), cell(f.alt_m)])
    return buf.getvalue()


def to_gpx(tracks: Track | Sequence[Track], name: str) -> str:
    """GPX 1.1 with one <trk> per Track (named after the export and the source)."""
    items = [tracks] if isinstance(tracks, Track) else list(tracks)
    gpx = gpxpy.gpx.GPX()
    gpx.name = name
    gpx.creator = "dashcam"
    gpx.nsmap["gpxtpx"] = GPXTPX_NS
    for n, track in enumerate(items, 1):
        trk = gpxpy.gpx.GPXTrack(name=f"{name} {n}" if len(items) > 1 else name)
        trk.source = track.source or None
        seg = gpxpy.gpx.GPXTrackSegment()
        for f in _valid(track):
            p = gpxpy.gpx.GPXTrackPoint(f.lat, f.lon, elevation=f.alt_m, time=f.time)
            speed, course = _num(f.speed_mps), _num(f.bearing_deg)
            if speed is not None or course is not None:
                ext = ET.Element(f"{{{GPXTPX_NS}}}TrackPointExtension")
                if speed is not None:
                    ET.SubElement(ext, f"{{{GPXTPX_NS}}}speed").text = f"{speed:.3f}"
                if course is not None:
                    ET.SubElement(ext, f"{{{GPXTPX_NS}}}course").text = f"{course:.2f}"
                p.extensions.append(ext)
            seg.points.append(p)
        trk.segments.append(seg)
        gpx.tracks.append(trk)
    return gpx.to_xml(version="1.1")
