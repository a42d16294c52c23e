"""GPS embedded in the video file: sniff the boxes (by seeking), then run the matching reader.

Formats, by where they live:

* top-level `GPS ` box ............ 70mai (fixed 36-byte records; seventymai.py)
* `moov/gps ` (or `moov/udta/gps `) Novatek index of `freeGPS ` blocks (novatek.py)
* a `trak` with sample format gpmd  GoPro GPMF (gpmf.py)
* top-level `free` box with a `gps ` child holding "[unix_ms]$GPRMC..." lines: BlackVue

Hostile files are the norm on SD cards: any structural problem ends as `NoGps` with the reason
(or a partly read `Track`), never as an exception.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import novatek
from .gpmf import GpmfSample, fixes_from_gpmf
from .model import Fix, NoGps, Track
from .mp4box import (
    Box,
    Mp4Error,
    find_path,
    iter_traks,
    list_boxes,
    read_at,
    read_payload,
    track_samples,
    trak_info,
)
from .nmea import parse_nmea_text
from .seventymai import parse_70mai_gps

__all__ = ["read_embedded"]

log = logging.getLogger(__name__)

_FIRST_BOXES = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"pdin", b"styp",
    b"sidx", b"moof", b"junk", b"GPS ",
}
_MAX_GPS_BOX = 64 << 20  # a 70mai box is ~4 KB per minute; BlackVue text ~10 KB per minute
_MAX_GPMF_SAMPLE = 4 << 20
_ERRORS = (Mp4Error, ValueError, struct.error, OSError, OverflowError, UnicodeError)


def _has_valid(fixes: list[Fix]) -> bool:
    return any(f.valid for f in fixes)


def _read_70mai(f: BinaryIO, box: Box) -> Track | NoGps:
    payload = read_payload(f, box, _MAX_GPS_BOX)
    fixes, cut = parse_70mai_gps(payload)
    truncated = box.truncated or cut
    where = min(box.end, box.limit)
    if _has_valid(fixes):
        return Track(fixes, "70mai")  # a truncated box still gives the fixes before the cut
    if truncated:
        return NoGps(f"GPS box truncated at byte {where}, before any complete fix")
    if fixes:
        return NoGps("GPS box holds no fix (the camera had no satellite lock)")
    return NoGps("GPS box is empty")


def _read_novatek(f: BinaryIO, box: Box, size: int) -> Track | NoGps:
    fixes, notes = novatek.read_novatek_blocks(f, box, size)
    if _has_valid(fixes):
        return Track(fixes, "novatek")
    extra = f" ({'; '.join(notes)})" if notes else ""
    if fixes:
        return NoGps(f"Novatek GPS blocks hold no valid fix{extra}")
    return NoGps(f"Novatek GPS index holds no decodable fix (no satellite lock, or an unknown layout){extra}")


def _read_gopro(f: BinaryIO, trak: Box, size: int) -> Track | NoGps:
    samples: list[GpmfSample] = []
    for s in track_samples(f, trak, size):
        if s.size > _MAX_GPMF_SAMPLE:
            raise Mp4Error(f"GPMF sample at byte {s.offset} claims {s.size} bytes")
        data = read_at(f, s.offset, s.size, size)
        if data is None:
            raise Mp4Error(f"GPMF sample at byte {s.offset} lies outside the file")
        samples.append(GpmfSample(data, s.time_s, s.duration_s))
    fixes, stream = fixes_from_gpmf(samples)
    if _has_valid(fixes):
        return Track(fixes, f"gopro-{stream.lower()}")
    if fixes:
        return NoGps("GoPro GPS stream holds no fix (GPS off or no satellite lock)")
    return NoGps("GoPro telemetry has no GPS stream (GPS was off)")


def _read_blackvue(f: BinaryIO, box: Box) -> Track | NoGps | None:
    payload = read_payload(f, box, _MAX_GPS_BOX)
    text = payload.replace(b"\0", b"\n").decode("ascii", "replace")
    if "$" not in text:
        return None
    fixes = parse_nmea_text(text)
    if _has_valid(fixes):
        return Track(fixes, "blackvue")
    return NoGps("BlackVue GPS box holds no valid NMEA fix")


def read_embedded(video: Path) -> Track | NoGps:
    """Raw (uncleaned) fixes embedded in `video`, or NoGps with the reason."""
    try:
        size = video.stat().st_size
    except OSError as exc:
        return NoGps(f"cannot read {video}: {exc.strerror or exc}")
    if size == 0:
        return NoGps("the file is empty")
    try:
        with open(video, "rb") as f:
            return _sniff(f, size)
    except _ERRORS as exc:
        return NoGps(f"GPS data is unreadable: {exc}")
    except Exception as exc:  # a reader bug on an odd file must not take ingest down
        log.exception("GPS reader failed on %s", video)
        return NoGps(f"GPS reader failed on this file ({type(exc).__name__}: {exc})")


def _sniff(f: BinaryIO, size: int) -> Track | NoGps:
    top, problem = list_boxes(f, 0, size)
    if not top or top[0].type not in _FIRST_BOXES:
        return NoGps("not an MP4/MOV file (no box structure at byte 0)")
    results: list[NoGps] = []

    def attempt(fn: Callable[..., Track | NoGps | None], *args: object) -> Track | None:
        """Run one reader; keep its NoGps reason (or error) for the final answer."""
        try:
            out = fn(*args)
        except _ERRORS as exc:
            results.append(NoGps(str(exc)))
            return None
        if isinstance(out, Track):
            return out
        if isinstance(out, NoGps):
            results.append(out)
        return None

    for box in top:
        if box.type == b"GPS " and (track := attempt(_read_70mai, f, box)):
            return track
    moov = next((b for b in top if b.type == b"moov"), None)
    if moov is not None:
        index = find_path(f, top, [b"moov", b"gps "]) or find_path(f, top, [b"moov", b"udta", b"gps "])
        if index is not None and (track := attempt(_read_novatek, f, index, size)):
            return track
        for trak in iter_traks(f, moov):
            info = _trak_format(f, trak)
            if info == b"gpmd" and (track := attempt(_read_gopro, f, trak, size)):
                return track
    for box in top:
        if box.type != b"free":
            continue
        kids, _ = list_boxes(f, box.payload_start, min(box.end, box.limit))
        for kid in kids:
            if kid.type == b"gps " and (track := attempt(_read_blackvue, f, kid)):
                return track
    if problem and not any(b.type == b"GPS " for b in top):
        # The top-level walk broke (fuzzed or half-written header). 70mai puts its GPS box
        # last, so look for its 4CC in the tail and read whatever records survive there.
        box = _scan_for_box(f, top[-1].start if top else 0, size, b"GPS ")
        if box is not None and (track := attempt(_read_70mai, f, box)):
            return track
    if results:
        return results[0]
    if problem:
        return NoGps(f"no GPS box found; the file structure breaks: {problem}")
    if moov is None:
        return NoGps("no GPS box in the file (and no moov box: the recording was not finalised)")
    return NoGps("no GPS box in the file")


def _trak_format(f: BinaryIO, trak: Box) -> bytes:
    try:
        info = trak_info(f, trak)
    except _ERRORS:
        return b""
    return info.format if info else b""


_SCAN_LIMIT = 16 << 20  # bytes searched after a broken header; never the whole multi-GB file
_SCAN_CHUNK = 1 << 20


def _scan_for_box(f: BinaryIO, start: int, size: int, btype: bytes) -> Box | None:
    """The first plausible `btype` box header in the file's tail, for recovery after a break."""
    begin = max(start, size - _SCAN_LIMIT)
    pos = begin
    while pos < size:
        f.seek(pos)
        chunk = f.read(min(_SCAN_CHUNK + 8, size - pos))
        at = chunk.find(btype, 4)
        while at >= 0:
            box_size = struct.unpack(">I", chunk[at - 4:at])[0]
            # 70mai boxes are 8 + n * 36 bytes; anything else is a chance match in other data
            if box_size >= 8 + 36 and (box_size - 8) % 36 == 0:
                start_at = pos + at - 4
                return Box(btype, start_at, 8, start_at + box_size, size)
            at = chunk.find(btype, at + 1)
        if len(chunk) <= _SCAN_CHUNK:
            break
        pos += _SCAN_CHUNK
    return None
