"""GPS logs written beside the video: NMEA, GPX, 70mai `GPSData*.txt`, Kaiser Bass `.dat`.

Each parser returns raw fixes (no cleaning) and never raises on bad content; unreadable files
raise GpsReadError naming the file. Matching rows to a clip happens in reader.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy
import gpxpy.gpx

from .model import Fix, GpsReadError
from .nmea import parse_nmea_text

__all__ = [
    "DatRow",
    "LogRow",
    "find_sidecars",
    "parse_70mai_log",
    "parse_kaiserbass_dat",
    "read_gpx",
    "read_nmea",
    "read_text",
    "sniff_kind",
]

MAX_SIDECAR_BYTES = 256 << 20  # a year of 1 Hz NMEA is ~2 GB; day logs are far smaller
SIDECAR_EXTS = {".nmea", ".gpx", ".txt", ".dat", ".log"}
_GPS_DIRS = ("gps", "GPS", "Gps", "gpslog", "GPSLOG")


def read_text(path: Path) -> str:
    """The file as text (latin-1 never fails), refusing absurd sizes."""
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise GpsReadError(f"{path}: {size} bytes is too large for a GPS log")
        return path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise GpsReadError(f"{path}: cannot read GPS log ({exc.strerror or exc})") from exc


def sniff_kind(path: Path, head: str | None = None) -> str | None:
    """"nmea", "gpx", "70mai-log", "kaiserbass-dat" or None, from the first bytes."""
    if head is None:
        try:
            with open(path, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
        except OSError:
            return None
    stripped = head.lstrip("\ufeff \r\n\t")
    if stripped.startswith("<?xml") or "<gpx" in stripped[:1000]:
        return "gpx"
    if stripped.startswith("$V0") or re.search(r"^\d{9,10},[AV],", stripped, re.M):
        return "70mai-log"
    if re.search(r"^\d{14},\s*\d+\.\d+,\s*[NS],", stripped, re.M):
        return "kaiserbass-dat"
    if re.search(r"\$[A-Z]{2}(RMC|GGA),", stripped):
        return "nmea"
    return None


# --------------------------------------------------------------------------- NMEA, GPX


def read_nmea(path: Path) -> list[Fix]:
    return parse_nmea_text(read_text(path))


def _ext_value(point: gpxpy.gpx.GPXTrackPoint, names: tuple[str, ...]) -> float | None:
    """speed/course from GPX 1.1 extensions (Garmin TrackPointExtension and friends)."""
    stack = list(point.extensions or [])
    while stack:
        el = stack.pop()
        tag = el.tag.rsplit("}", 1)[-1].lower()
        if tag in names and el.text:
            try:
                return float(el.text)
            except ValueError:
                return None
        stack.extend(list(el))
    return None


def read_gpx(path: Path) -> list[Fix]:
    text = read_text(path)
    try:
        gpx = gpxpy.parse(text)
    except Exception as exc:  # gpxpy raises several types (GPXXMLSyntaxException, ValueError, ...)
        raise GpsReadError(f"{path}: not a readable GPX file ({exc})") from exc
    points: list[gpxpy.gpx.GPXTrackPoint] = [
        p for t in gpx.tracks for s in t.segments for p in s.points
    ] or [p for r in gpx.routes for p in r.points]
    fixes: list[Fix] = []
    for p in points:
        when = p.time
        if when is not None:
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        speed = p.speed if p.speed is not None else _ext_value(p, ("speed",))
        course = p.course if getattr(p, "course", None) is not None else _ext_value(p, ("course", "bearing"))
        fix = Fix(when, float(p.latitude), float(p.longitude), speed,
                  course % 360.0 if course is not None else None, True, alt_m=p.elevation)
        fixes.append(fix if fix.plausible() else Fix(when, fix.lat, fix.lon, speed, None, False))
    return fixes


# --------------------------------------------------------------------------- 70mai log


@dataclass(frozen=True)
class LogRow:
    fix: Fix
    clip: str  # video file name the row was recorded into ("" when the column is empty)
    session: int  # counts "$V02" header lines: a new one at each camera start


def parse_70mai_log(text: str) -> list[LogRow]:
    """Rows of a 70mai `GPSData000001.txt` (A500/A810/Omni): unix time, A/V, lat, lon,
    course (centidegrees), speed (cm/s), 3 accelerometer values, clip file name, 3 more."""
    rows: list[LogRow] = []
    session = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("$V"):
            session += 1
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 10:
            continue
        try:
            stamp = int(parts[0])
            lat, lon = float(parts[2]), float(parts[3])
            course = float(parts[4]) / 100.0
            speed = float(parts[5]) / 100.0
        except ValueError:
            continue
        when = datetime.fromtimestamp(stamp, tz=UTC) if 946684800 <= stamp <= 4102444800 else None
        ok = parts[1] == "A" and when is not None and math.isfinite(lat) and math.isfinite(lon)
        fix = Fix(when, lat, lon, speed if ok else None,
                  course % 360.0 if ok and 0 <= course <= 360 else None, ok)
        if fix.valid and not fix.plausible():
            fix = Fix(when, lat, lon, None, None, False)
        rows.append(LogRow(fix, parts[9], max(session, 1)))
    return rows


# --------------------------------------------------------------------------- Kaiser Bass


@dataclass(frozen=True)
class DatRow:
    camera_time: datetime  # naive: the camera clock (same clock as the clip file names)
    fix: Fix  # time=None: the log has no UTC


_DAT_RE = re.compile(
    r"^(\d{14}),\s*(\d+\.\d+),\s*([NS]),\s*(\d+\.\d+),\s*([EW]),\s*(-?\d+(?:\.\d+)?)(?:,\s*(-?\d+(?:\.\d+)?))?"
)


def parse_kaiserbass_dat(text: str) -> list[DatRow]:
    """Kaiser Bass R50 `gps/YYYYMMDD.dat`: `YYYYMMDDhhmmss, ddmm.mmmmm, N/S, dddmm.mmmmm, E/W,
    speed_knots[, altitude_m]`, 1 Hz, a `#` line (sometimes glued to the previous row) at each
    camera start."""
    from .novatek import KNOT, ddmm_to_deg  # the same DDMM.mmmm and knots as everywhere

    rows: list[DatRow] = []
    for line in text.replace("#", "\n").splitlines():
        m = _DAT_RE.match(line.strip())
        if not m:
            continue
        try:
            when = datetime.strptime(m[1], "%Y%m%d%H%M%S")
        except ValueError:
            continue
        lat = ddmm_to_deg(float(m[2])) * (-1 if m[3] == "S" else 1)
        lon = ddmm_to_deg(float(m[4])) * (-1 if m[5] == "W" else 1)
        fix = Fix(None, lat, lon, float(m[6]) * KNOT, None, True,
                  alt_m=float(m[7]) if m[7] else None)
        if not fix.plausible():
            fix = Fix(None, lat, lon, None, None, False)
        rows.append(DatRow(when, fix))
    return rows


# --------------------------------------------------------------------------- discovery


def _date_tokens(video: Path) -> set[str]:
    from tasks.naming import parse_clip_name

    when = parse_clip_name(video.name).recorded_at
    if when is None:
        return set()
    days = (when, when + timedelta(days=1))  # a clip started before midnight ends in the next log
    return {d.strftime(fmt) for d in days for fmt in ("%Y%m%d", "%Y-%m-%d", "%Y_%m%d")}


def find_sidecars(video: Path) -> list[Path]:
    """GPS log candidates for a clip: same-stem logs beside it, 70mai `GPSData*.txt` and any
    `gps/` folder in the clip's folder or up to three folders above it (Kaiser Bass keeps
    `gps/YYYYMMDD.dat` at the SD-card root, beside DCIM). Logs in a `gps/` folder are kept
    when their name carries the clip's date or stem, or when the clip's date is unknown."""
    video = Path(video)
    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        if p.is_file() and p.suffix.lower() in SIDECAR_EXTS and p != video:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                found.append(p)

    folder = video.parent
    # Same-stem logs: probe the few possible names rather than list a DCIM folder of
    # thousands of clips once per clip.
    for ext in sorted(SIDECAR_EXTS):
        for variant in (ext, ext.upper()):
            try:
                add(video.with_suffix(variant))
            except OSError:
                continue
    tokens = _date_tokens(video)
    ancestors = [folder, *list(folder.parents)[:3]]
    for base in ancestors:
        try:
            for p in sorted(base.glob("GPSData*.txt")):
                add(p)
            for name in _GPS_DIRS:
                gdir = base / name
                if not gdir.is_dir():
                    continue
                for p in sorted(gdir.iterdir())[:5000]:
                    if tokens and not any(t in p.name for t in tokens) and video.stem not in p.name:
                        continue
                    add(p)
        except OSError:
            continue
    return found
