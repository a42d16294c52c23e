"""70mai Dash Cam (Pro, 1S, ...) `GPS ` box: a top-level box of fixed 36-byte records.

Record layout (little-endian), worked out against ExifTool and mzdun/dashcam-gps:

    0  u32  record present (0 = end of data; the rest of the box is zero padding)
    4  u32  has fix (0 = no fix this second)
    8  u32  seconds from clip start
    12 u32  speed, metres per hour (105330 = 105.33 km/h)
    16 char 'N'/'S'    17 u32 latitude as DDMMmmm (DDMM.mmm * 1000)
    21 char 'E'/'W'    22 u32 longitude as DDDMMmmm
    26..35  zero

There is no date or UTC time: points are tied to the clip only by the second counter (the
container's mvhd creation time is a factory default on these cameras: 2014-11-14 in our
sample). So fixes carry `offset_s` and `time=None` until the clip's UTC start is known.
"""

from __future__ import annotations

import math
import struct

from .model import Fix

__all__ = ["RECORD_SIZE", "parse_70mai_gps"]

RECORD_SIZE = 36
_REC = struct.Struct("<IIIIcIcI")  # 26 bytes used of 36
_MAX_OFFSET_S = 6 * 3600  # 70mai clips are 1-5 minutes; parking timelapse still far below this


def _coord(value: int, ref: bytes, positive: bytes, negative: bytes, max_deg: int) -> float | None:
    deg, milli_min = divmod(value, 100_000)
    minutes = milli_min / 1000.0
    if ref not in (positive, negative) or deg > max_deg or minutes >= 60.0:
        return None
    out = deg + minutes / 60.0
    if out > max_deg:
        return None
    return -out if ref == negative else out


def parse_70mai_gps(payload: bytes) -> tuple[list[Fix], bool]:
    """Fixes from a `GPS ` box payload, and whether the payload ended mid-record.

    Records without a fix, or with impossible coordinates (fuzzed files), become
    `valid=False` fixes so the caller can tell "no fix" from "no data".
    """
    fixes: list[Fix] = []
    n_full = len(payload) // RECORD_SIZE
    for i in range(n_full):
        present, has_fix, seconds, speed_mph, lat_ref, lat_raw, lon_ref, lon_raw = _REC.unpack_from(
            payload, i * RECORD_SIZE
        )
        if not present:
            break  # the camera pre-allocates the box; zeros mean "no more records"
        offset = float(seconds) if seconds <= _MAX_OFFSET_S else None
        lat = _coord(lat_raw, lat_ref, b"N", b"S", 90)
        lon = _coord(lon_raw, lon_ref, b"E", b"W", 180)
        speed = speed_mph / 3600.0  # metres per hour -> m/s
        ok = bool(has_fix) and lat is not None and lon is not None and offset is not None and speed < 150
        fixes.append(
            Fix(
                time=None,
                lat=lat if lat is not None else math.nan,
                lon=lon if lon is not None else math.nan,
                speed_mps=speed if ok else None,
                bearing_deg=None,  # the box has no course; align() derives it from motion
                valid=ok,
                offset_s=offset,
            )
        )
    # A partial record with data in it means the box was cut short (not just padded).
    truncated = any(payload[n_full * RECORD_SIZE:])
    return fixes, truncated
