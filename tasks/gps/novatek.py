"""Novatek-style `freeGPS ` blocks (Viofo, Vantrue, Azdome, Nextbase, Kenwood, ...).

Container: `moov/gps ` holds an index — u32be version (0x101), u32be count, then count pairs of
(u32be file offset, u32be size) — pointing at blocks, usually in `mdat`, one per second. Each
block starts `u32be size` + "freeGPS " and its layout depends on the camera firmware. We
decode the layouts we have real bytes or published vectors for (see
../shared/data/videos/novatek_vectors):

* binary float32 (Viofo A119 V3/A129/A139/A229 at 0x10, A119S at 0x30, Kenwood at 0x40):
  six u32le H,M,S,Y,Mo,D, then 'A'|'V', 'N'|'S', 'E'|'W', 0, then float32le lat (DDMM.mmmm),
  lon (DDDMM.mmmm), speed (knots), course (deg). The Transcend Body Camera 70 variant (16 KB
  block, A119S offsets, small values) stores decimal degrees and km/h. Rexing V1-4K firmware
  3.01.054 scrambles lat/lon in this layout and is indistinguishable here: it decodes wrong;
* Vantrue N4 (float64): u32le H,M,S at 16, 'A' at 28, f64 lat at 32 + ref at 40, f64 lon at
  48 + ref at 56, f64 speed (knots) at 64, f64 course at 72, u32le Y,Mo,D at 80;
* Azdome GS63H / EEEkit: ASCII XOR 0xAA from byte 18 ("...YYYYMMDDhhmmss" + label + N/S lat
  DDMMmmmm + E/W lon DDDMMmmmm + speed km/h);
* Nextbase 512GW: an NMEA $GPRMC sentence inside the block.

A block of zeros after the 12-byte header is what cameras write without a fix: no point.
Times in these blocks are UTC (year as 2 digits). Kenwood writes a 4-digit year and, per
ExifTool, sometimes local time; we keep it as UTC and let clock-offset detection show it.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime
from typing import BinaryIO

from . import nmea
from .model import Fix
from .mp4box import Box, read_at, read_payload

__all__ = ["parse_freegps_block", "parse_gps_index", "read_novatek_blocks"]

KNOT = 1852.0 / 3600.0  # m/s
MAX_BLOCK = 1 << 20  # real blocks are 0x4000/0x8000 bytes; a 1 MB "block" is corrupt
MAX_INDEX_ENTRIES = 200_000  # ~55 h at 1 Hz
_AZDOME_MAGIC = b"\xaa\xaa\xf2\xe1\xf0\xee\x54\x54"
_AZDOME_RE = re.compile(
    rb"^.{8}(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}).(.{15})([NS])(\d{8})([EW])(\d{9})(\d{8})?", re.S
)
_NEXTBASE_RE = re.compile(rb"^.{52}(\d{14})", re.S)
_RMC_RE = re.compile(rb"\$[A-Z]{2}RMC,[^\r\n$]*")


def ddmm_to_deg(value: float) -> float:
    """DDDMM.mmmm (NMEA style) to decimal degrees; works for either sign."""
    sign = -1.0 if value < 0 else 1.0
    value = abs(value)
    deg = int(value / 100)
    return sign * (deg + (value - deg * 100) / 60.0)


def _utc(y: int, mo: int, d: int, h: int, mi: int, s: float) -> datetime | None:
    if y < 100:
        y += 2000
    try:
        whole = int(s)
        return datetime(y, mo, d, h, mi, whole, int(round((s - whole) * 1e6)), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _signed(deg: float, ref: bytes, negative: bytes) -> float:
    return -abs(deg) if ref == negative else abs(deg)


def _fix(time: datetime | None, lat: float, lon: float, speed: float | None, course: float | None,
         valid: bool) -> Fix:
    fix = Fix(time, lat, lon, speed, course, valid)
    if fix.valid and not fix.plausible():
        fix = Fix(time, lat, lon, speed, course, False)
    return fix


def _binary_float32(block: bytes) -> Fix | None:
    """Viofo-style: 6 x u32 date/time, then 'A'/'V' + refs, then 4 x float32."""
    for at in (0x28, 0x48, 0x58):  # A129/A119V3/A139/A229, A119S, Kenwood (longer header)
        if len(block) < at + 20:
            continue
        status, lat_ref, lon_ref, zero = block[at:at + 1], block[at + 1:at + 2], block[at + 2:at + 3], block[at + 3]
        if status not in (b"A", b"V") or lat_ref not in (b"N", b"S") or lon_ref not in (b"E", b"W") or zero:
            continue
        h, mi, s, y, mo, d = struct.unpack_from("<6I", block, at - 24)
        if h > 23 or mi > 59 or s > 60 or not (1 <= mo <= 12) or not (1 <= d <= 31) or y > 2200:
            continue
        if block[at + 4:at + 8] == b"\0\0\0\0":
            return None  # Akaso V1 / Redtiger F7N: encrypted doubles follow; not decodable
        lat_raw, lon_raw, speed_raw, course = struct.unpack_from("<4f", block, at + 4)
        speed = speed_raw * KNOT
        if at == 0x48 and block[:4] == b"\0\0\x40\0" and abs(lat_raw) <= 90 and abs(lon_raw) <= 180:
            # Transcend Drive Body Camera 70 (ExifTool's rule): already decimal degrees, km/h
            lat, lon, speed = abs(lat_raw), abs(lon_raw), speed_raw / 3.6
        else:
            lat, lon = ddmm_to_deg(lat_raw), ddmm_to_deg(lon_raw)
        lat = _signed(lat, lat_ref, b"S")
        lon = _signed(lon, lon_ref, b"W")
        return _fix(_utc(y, mo, d, h, mi, s), lat, lon, speed, course % 360.0, status == b"A")
    return None


def _vantrue_f64(block: bytes) -> Fix | None:
    """Vantrue N4: doubles for lat/lon/speed/course."""
    if len(block) < 92 or block[28:29] != b"A":
        return None
    lat_ref, lon_ref = block[40:41], block[56:57]
    if lat_ref not in (b"N", b"S") or lon_ref not in (b"E", b"W"):
        return None
    h, mi, s = struct.unpack_from("<3I", block, 16)
    lat_raw, lon_raw, knots, course = (struct.unpack_from("<d", block, o)[0] for o in (32, 48, 64, 72))
    y, mo, d = struct.unpack_from("<3I", block, 80)
    lat = _signed(ddmm_to_deg(lat_raw), lat_ref, b"S")
    lon = _signed(ddmm_to_deg(lon_raw), lon_ref, b"W")
    return _fix(_utc(y, mo, d, h, mi, s), lat, lon, knots * KNOT, course % 360.0, True)


def _azdome(block: bytes) -> Fix | None:
    """Azdome GS63H / EEEkit: printable text XOR-ed with 0xAA from byte 18."""
    plain = bytes(b ^ 0xAA for b in block[18:18 + 0x101])
    m = _AZDOME_RE.match(plain)
    if m is None:
        return None  # Azdome writes the header (and accelerometer) even without a fix
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    lat = _signed(ddmm_to_deg(int(m[9]) / 1e4), m[8], b"S")
    lon = _signed(ddmm_to_deg(int(m[11]) / 1e4), m[10], b"W")
    speed = int(m[12]) / 3.6 if m[12] else None  # km/h (EEEkit omits it)
    return _fix(_utc(y, mo, d, h, mi, s), lat, lon, speed, None, True)


def _nextbase(block: bytes) -> Fix | None:
    """Nextbase 512GW: camera time at 0x34 and an NMEA RMC sentence further on."""
    if not _NEXTBASE_RE.match(block):
        return None
    m = _RMC_RE.search(block)
    if m is None:
        return None
    fixes = nmea.parse_nmea_text(m.group(0).decode("ascii", "replace"))
    return fixes[0] if fixes else None


def parse_freegps_block(block: bytes) -> Fix | None:
    """One `freeGPS ` block to a Fix, or None (no fix recorded, or a layout we do not know)."""
    if len(block) < 0x20 or block[4:12] != b"freeGPS ":
        return None
    if not any(block[12:]):
        return None
    if block[18:26] == _AZDOME_MAGIC:
        return _azdome(block)
    for decode in (_nextbase, _binary_float32, _vantrue_f64):
        fix = decode(block)
        if fix is not None:
            return fix
    return None


def parse_gps_index(payload: bytes) -> list[tuple[int, int]]:
    """(offset, size) pairs from a `moov/gps ` payload; raises ValueError when malformed."""
    if len(payload) < 8:
        raise ValueError("the GPS index box is shorter than its 8-byte header")
    _version, count = struct.unpack_from(">II", payload, 0)
    room = (len(payload) - 8) // 8
    if count > MAX_INDEX_ENTRIES:
        raise ValueError(f"the GPS index declares {count} blocks")
    if count > room:
        raise ValueError(f"the GPS index declares {count} blocks but holds only {room}")
    return [struct.unpack_from(">II", payload, 8 + 8 * i) for i in range(count)]


def read_novatek_blocks(f: BinaryIO, index_box: Box, file_size: int) -> tuple[list[Fix], list[str]]:
    """Fixes from every block the index points at, and notes about blocks we had to skip."""
    notes: list[str] = []
    entries = parse_gps_index(read_payload(f, index_box, 8 + 8 * MAX_INDEX_ENTRIES))
    fixes: list[Fix] = []
    bad = 0
    for offset, size in entries:
        if size < 12 or size > MAX_BLOCK:
            bad += 1
            continue
        block = read_at(f, offset, size, file_size)
        if block is None or block[4:12] != b"freeGPS ":
            bad += 1
            continue
        fix = parse_freegps_block(block)
        if fix is not None:
            fixes.append(fix)
    if bad:
        notes.append(f"{bad} of {len(entries)} GPS blocks point outside the file or are not freeGPS blocks")
    return fixes, notes
