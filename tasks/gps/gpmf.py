"""GoPro GPMF telemetry (the `gpmd` track) to fixes.

GPMF is KLV: 4-byte key, 1-byte type, 1-byte struct size, u16be repeat, data padded to 4
bytes; type 0 nests. Streams (STRM) carry "sticky" metadata before their data: SCAL (divisors),
TYPE (layout of '?' structs), GPSU (UTC of the payload), GPSF (fix: 0 none, 2 2D, 3 3D),
GPSP (DOP x100). We read, in order of preference:

* GPS9 (HERO11+): lat, lon, alt, 2D speed, 3D speed, days since 2000, seconds of day, DOP,
  fix — every sample has its own time;
* GPS5 (HERO5-10, MAX): lat, lon, alt, 2D speed, 3D speed; GPSU dates the first sample of
  each payload, the rest are spread evenly over the payload's duration;
* GLPI (Karma drone "Position"): boot-clock ms, lat, lon, alt, rel. alt, vx, vy, vz, heading;
  SYST maps the boot clock to Unix time. ExifTool's Karma points come from here;
* GPRI (Karma "GPS RAW"), when nothing else is there.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .model import Fix

__all__ = ["GpmfSample", "fixes_from_gpmf", "parse_klv"]

_SIMPLE = {  # GPMF type char -> struct code
    "b": "b", "B": "B", "c": "c", "d": "d", "f": "f", "F": "4s", "j": "q", "J": "Q",
    "l": "i", "L": "I", "q": "i", "Q": "q", "s": "h", "S": "H",
}
_MAX_DEPTH = 8
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Klv:
    key: bytes
    type: str  # "\0" for nested
    size: int  # bytes per struct
    repeat: int
    data: bytes
    children: tuple[Klv, ...] = ()


def parse_klv(data: bytes, depth: int = 0) -> list[Klv]:
    """KLV items in `data`; stops quietly at the first item that does not fit."""
    items: list[Klv] = []
    pos = 0
    while pos + 8 <= len(data):
        key = data[pos:pos + 4]
        type_byte, size, repeat = struct.unpack_from(">BBH", data, pos + 4)
        if key == b"\0\0\0\0":
            break  # padding at the end of a payload
        length = size * repeat
        end = pos + 8 + length
        if end > len(data):
            break
        body = data[pos + 8:end]
        children: tuple[Klv, ...] = ()
        if type_byte == 0 and depth < _MAX_DEPTH:
            children = tuple(parse_klv(body, depth + 1))
        items.append(Klv(key, chr(type_byte), size, repeat, body, children))
        pos = pos + 8 + ((length + 3) & ~3)
    return items


def _values(item: Klv, fmt: str | None = None) -> list[tuple]:
    """Decode an item into per-repeat tuples (using a TYPE string for '?' structs)."""
    if item.type == "?":
        if not fmt:
            return []
        codes = "".join(_SIMPLE.get(c, "") for c in fmt)
        if len(codes) != len(fmt):
            return []  # array notation or an unknown type: not a layout we read
    elif item.type in _SIMPLE:
        code = _SIMPLE[item.type]
        width = struct.calcsize(code)
        if width == 0 or item.size % width:
            return []
        codes = code * (item.size // width)
    else:
        return []
    st = struct.Struct(">" + codes)
    if st.size != item.size:
        return []
    return [st.unpack_from(item.data, i * item.size) for i in range(item.repeat)]


def _scales(item: Klv | None, n: int) -> list[float]:
    if item is None:
        return [1.0] * n
    flat = [v for row in _values(item) for v in row]
    if not flat:
        return [1.0] * n
    vals = [float(v) if v else 1.0 for v in flat]  # a zero divisor would be a corrupt SCAL
    return vals * n if len(vals) == 1 else (vals + [1.0] * n)[:n]


def _gpsu(item: Klv | None) -> datetime | None:
    if item is None:
        return None
    text = item.data[:16].decode("ascii", "replace").strip("\0 ")
    try:  # "yymmddhhmmss.sss"
        base = datetime.strptime(text[:12], "%y%m%d%H%M%S").replace(tzinfo=UTC)
        frac = float("0" + text[12:]) if len(text) > 12 else 0.0
    except ValueError:
        return None
    return base + timedelta(seconds=frac)


@dataclass(frozen=True)
class GpmfSample:
    data: bytes
    time_s: float  # decode time of the payload in the clip
    duration_s: float


def _streams(items: list[Klv]) -> Iterator[list[Klv]]:
    for devc in items:
        if devc.key != b"DEVC":
            continue
        for strm in devc.children:
            if strm.key == b"STRM":
                yield list(strm.children)


def _sticky(items: list[Klv], key: bytes, before: int) -> Klv | None:
    """The last `key` item before index `before` (GPMF metadata is sticky within a stream)."""
    for item in reversed(items[:before]):
        if item.key == key:
            return item
    return None


def _fmt(items: list[Klv], before: int) -> str | None:
    """The stream's TYPE string (layout of its '?' structs), if any."""
    item = _sticky(items, b"TYPE", before)
    return item.data.decode("latin-1").rstrip("\0") if item else None


def _ok(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180 and (
        abs(lat) > 1e-9 or abs(lon) > 1e-9
    )


def _unix(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def fixes_from_gpmf(samples: list[GpmfSample]) -> tuple[list[Fix], str]:
    """Fixes from all payloads of a gpmd track, and which GPMF stream they came from."""
    found: dict[str, list[Fix]] = {"GPS9": [], "GPS5": [], "GLPI": [], "GPRI": []}
    syst: list[tuple[float, float]] = []  # (boot seconds, unix seconds), Karma
    parsed = [(s, parse_klv(s.data)) for s in samples]
    for _sample, items in parsed:  # SYST first: GLPI before the first SYST still needs it
        for strm in _streams(items):
            for i, item in enumerate(strm):
                if item.key == b"SYST":
                    scal = _scales(_sticky(strm, b"SCAL", i), 2)
                    for row in _values(item, _fmt(strm, i)):
                        if len(row) >= 2:
                            syst.append((row[0] / scal[0], row[1] / scal[1]))
    for sample, items in parsed:
        for strm in _streams(items):
            for i, item in enumerate(strm):
                if item.key not in (b"GPS5", b"GPS9", b"GLPI", b"GPRI"):
                    continue
                rows = _values(item, _fmt(strm, i))
                if not rows:
                    continue
                n = len(rows)
                step = sample.duration_s / n if n else 0.0
                scal = _scales(_sticky(strm, b"SCAL", i), len(rows[0]))
                key = item.key.decode()
                for j, row in enumerate(rows):
                    v = [x / s if isinstance(x, int | float) else 0.0 for x, s in zip(row, scal, strict=False)]
                    offset = sample.time_s + j * step
                    fix = _decode(key, v, j, step, strm, i, syst, offset)
                    if fix is not None:
                        found[key].append(fix)
    for key in ("GPS9", "GPS5", "GLPI", "GPRI"):
        if found[key]:
            return found[key], key
    return [], ""


def _decode(key: str, v: list[float], j: int, step: float, strm: list[Klv], i: int,
            syst: list[tuple[float, float]], offset: float) -> Fix | None:
    if key == "GPS5" and len(v) >= 4:
        lat, lon, alt, speed = v[0], v[1], v[2], v[3]
        fix_item = _sticky(strm, b"GPSF", i)
        fix_vals = _values(fix_item) if fix_item else []
        fix_kind = int(fix_vals[0][0]) if fix_vals else 3  # absent GPSF: HERO5 early firmware
        base = _gpsu(_sticky(strm, b"GPSU", i))
        when = base + timedelta(seconds=j * step) if base else None
        valid = fix_kind >= 2 and _ok(lat, lon)
        return Fix(when, lat, lon, speed, None, valid, offset_s=offset, alt_m=alt)
    if key == "GPS9" and len(v) >= 9:
        lat, lon, alt, speed, days, secs, _dop, fix_kind = v[0], v[1], v[2], v[3], v[5], v[6], v[7], v[8]
        when = _EPOCH_2000 + timedelta(days=days, seconds=secs) if 0 < days < 40000 else None
        valid = fix_kind >= 2 and _ok(lat, lon)
        return Fix(when, lat, lon, speed, None, valid, offset_s=offset, alt_m=alt)
    if key == "GLPI" and len(v) >= 9:
        boot, lat, lon, alt = v[0], v[1], v[2], v[3]
        speed = math.hypot(v[5], v[6])
        when = _boot_to_utc(boot, syst)
        return Fix(when, lat, lon, speed, v[8] % 360.0, _ok(lat, lon), offset_s=offset, alt_m=alt)
    if key == "GPRI" and len(v) >= 9:
        boot, lat, lon, alt, vel, cog, fix_kind = v[0], v[1], v[2], v[3], v[6], v[7], v[8]
        when = _boot_to_utc(boot, syst)
        valid = fix_kind >= 2 and _ok(lat, lon)
        return Fix(when, lat, lon, vel, cog % 360.0, valid, offset_s=offset, alt_m=alt)
    return None


def _boot_to_utc(boot_s: float, syst: list[tuple[float, float]]) -> datetime | None:
    """Karma timestamps count from power-on; SYST pairs give the Unix time at a boot time."""
    if not syst:
        return None
    ref_boot, ref_unix = min(syst, key=lambda p: abs(p[0] - boot_s))
    return _unix(ref_unix + (boot_s - ref_boot))
