"""NMEA 0183 sentences (RMC, GGA, VTG, ZDA from any talker) to fixes, tolerant of real logs.

Hand-written rather than pynmea2: we need four sentence types, exact control over odd time
fields ("222509.", " 222519", "222517 ") and a parser that never raises on garbage.

Sentences that share a time of day form one *epoch* (one fix): position from RMC (else GGA),
altitude from GGA, speed/course from RMC (else VTG). The date comes from RMC or ZDA and is
carried forward (rolling over at midnight) and backward to epochs logged before the first
date. Sentences with a bad checksum or an unparseable time are dropped.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .model import Fix

__all__ = ["checksum_ok", "parse_nmea_lines", "parse_nmea_text"]

KNOT = 1852.0 / 3600.0
_TIME_RE = re.compile(r"^(\d{2})(\d{2})(\d{2})(?:\.(\d*))?$")
_STAMP_RE = re.compile(r"^\[(\d{9,16})\]")  # BlackVue: [unix ms]$GPRMC,...
_RECENT = 16  # epochs kept open for late sentences


def checksum_ok(sentence: str) -> bool:
    """True when there is no checksum, or the XOR of the body matches it."""
    body, star, given = sentence.partition("*")
    if not star:
        return True
    given = given.strip()[:2]
    calc = 0
    for ch in body.lstrip("$!"):
        calc ^= ord(ch)
    try:
        return int(given, 16) == calc
    except ValueError:
        return False


def _tod(field: str) -> float | None:
    """hhmmss[.sss] to seconds of day; None when malformed ("222515.x", ".1", "")."""
    m = _TIME_RE.match(field.strip())
    if not m:
        return None
    h, mi, s = int(m[1]), int(m[2]), int(m[3])
    if h > 23 or mi > 59 or s > 60:
        return None
    frac = float("0." + m[4]) if m[4] else 0.0
    return h * 3600 + mi * 60 + s + round(frac, 3)


def _coord(value: str, ref: str, negative: str, max_deg: float) -> float | None:
    value, ref = value.strip(), ref.strip().upper()
    if not value or ref not in ("N", "S", "E", "W"):
        return None
    try:
        raw = float(value)
    except ValueError:
        return None
    if not math.isfinite(raw) or raw < 0:
        return None
    deg = int(raw / 100)
    minutes = raw - deg * 100
    if minutes >= 60.0:
        return None
    out = deg + minutes / 60.0
    if out > max_deg:
        return None
    return -out if ref == negative else out


def _float(value: str) -> float | None:
    try:
        out = float(value.strip())
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def _ddmmyy(value: str) -> date | None:
    value = value.strip()
    if len(value) != 6 or not value.isdigit():
        return None
    d, mo, y = int(value[:2]), int(value[2:4]), int(value[4:])
    try:
        return date(2000 + y if y < 80 else 1900 + y, mo, d)
    except ValueError:
        return None


@dataclass
class _Epoch:
    tod: float
    lat: float | None = None
    lon: float | None = None
    rmc_pos: bool = False  # position came from RMC (preferred over GGA)
    alt: float | None = None
    speed: float | None = None
    course: float | None = None
    valid: bool | None = None
    day: date | None = None
    stamp_ms: int | None = None


def _finish(epochs: list[_Epoch]) -> list[Fix]:
    """Give every epoch a date (carried forward/backward, midnight-aware) and build fixes."""
    # forward: carry the last known date, adding a day when the clock wraps past midnight
    known: date | None = None
    last_tod: float | None = None
    for e in epochs:
        if e.day is not None:
            known = e.day
        elif known is not None and last_tod is not None and e.tod < last_tod - 43200:
            known = known + timedelta(days=1)
            e.day = known
        else:
            e.day = known
        last_tod = e.tod
    # backward: epochs before the first date take it (or the day before, across midnight)
    first = next((i for i, e in enumerate(epochs) if e.day is not None), None)
    if first is not None:
        day, ref_tod = epochs[first].day, epochs[first].tod
        for e in reversed(epochs[:first]):
            if day is not None and e.tod > ref_tod + 43200:
                day = day - timedelta(days=1)
            e.day, ref_tod = day, e.tod
    fixes: list[Fix] = []
    for e in epochs:
        if e.lat is None or e.lon is None:
            continue
        when: datetime | None = None
        if e.day is not None:
            when = datetime(e.day.year, e.day.month, e.day.day, tzinfo=UTC) + timedelta(seconds=e.tod)
        elif e.stamp_ms is not None:  # no date anywhere: fall back on the recorder's clock
            stamp = datetime.fromtimestamp(e.stamp_ms / 1000.0, tz=UTC)
            when = datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC) + timedelta(seconds=e.tod)
        fix = Fix(when, e.lat, e.lon, e.speed, e.course, bool(e.valid), alt_m=e.alt)
        if fix.valid and not fix.plausible():
            fix = Fix(when, e.lat, e.lon, e.speed, e.course, False, alt_m=e.alt)
        fixes.append(fix)
    # Chronological order (out-of-order sentences); fixes without a time keep log order.
    if all(f.time is not None for f in fixes):
        fixes.sort(key=lambda f: f.time)  # type: ignore[arg-type, return-value]
    return fixes


def parse_nmea_lines(lines: Iterable[str]) -> list[Fix]:
    """Fixes from NMEA lines (optionally prefixed "[unix_ms]" as BlackVue writes them)."""
    epochs: list[_Epoch] = []
    cur: _Epoch | None = None
    pending_day: date | None = None  # ZDA seen before the epoch it belongs to
    stamp: int | None = None
    # Receivers (and log merges) sometimes write an epoch's sentences out of order, so
    # sentences join the epoch with the same time among the last few, not just the last one.
    recent: dict[int, _Epoch] = {}
    for raw in lines:
        line = raw.strip()
        m = _STAMP_RE.match(line)
        if m:
            stamp = int(m[1])
            line = line[m.end():].strip()
        start = line.find("$")
        if start < 0:
            continue
        line = line[start:]
        if not checksum_ok(line):
            continue
        fields = line.partition("*")[0].split(",")
        kind = fields[0][3:] if len(fields[0]) >= 6 else ""
        if kind == "VTG":
            if cur is not None and len(fields) > 7:
                course = _float(fields[1]) if fields[1].strip() else None
                kmh = _float(fields[7]) if fields[7].strip() else None
                if cur.course is None and course is not None:
                    cur.course = course % 360.0
                if cur.speed is None and kmh is not None:
                    cur.speed = kmh / 3.6
            continue
        if kind not in ("RMC", "GGA", "ZDA") or len(fields) < 5:
            continue
        tod = _tod(fields[1])
        if tod is None:
            continue
        if kind == "ZDA":
            with contextlib.suppress(ValueError):
                pending_day = date(int(fields[4]), int(fields[3]), int(fields[2]))
            if cur is not None and abs(cur.tod - tod) < 1.0 and cur.day is None:
                cur.day = pending_day
            continue
        key = round(tod * 1000)
        cur = recent.get(key)
        if cur is None:
            cur = _Epoch(tod=tod, stamp_ms=stamp)
            if pending_day is not None:
                cur.day, pending_day = pending_day, None
            epochs.append(cur)
            recent[key] = cur
            if len(recent) > _RECENT:  # dicts keep insertion order: drop the oldest
                del recent[next(iter(recent))]
        if kind == "RMC" and len(fields) >= 10:
            lat = _coord(fields[3], fields[4], "S", 90.0)
            lon = _coord(fields[5], fields[6], "W", 180.0)
            if lat is not None and lon is not None:
                cur.lat, cur.lon, cur.rmc_pos = lat, lon, True
            cur.valid = fields[2].strip().upper() == "A" and lat is not None and lon is not None
            knots = _float(fields[7]) if fields[7].strip() else None
            course = _float(fields[8]) if fields[8].strip() else None
            cur.speed = knots * KNOT if knots is not None else cur.speed
            cur.course = course % 360.0 if course is not None else cur.course
            cur.day = _ddmmyy(fields[9]) or cur.day
        elif kind == "GGA" and len(fields) >= 10:
            lat = _coord(fields[2], fields[3], "S", 90.0)
            lon = _coord(fields[4], fields[5], "W", 180.0)
            quality = fields[6].strip()
            if not cur.rmc_pos and lat is not None and lon is not None:
                cur.lat, cur.lon = lat, lon
            if cur.valid is None:
                cur.valid = quality not in ("", "0") and lat is not None and lon is not None
            cur.alt = _float(fields[9]) if fields[9].strip() else cur.alt
    return _finish(epochs)


def parse_nmea_text(text: str) -> list[Fix]:
    return parse_nmea_lines(text.splitlines())
