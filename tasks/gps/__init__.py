"""GPS for dashcam clips: read (embedded or sidecar), clean, align to frames, export.

Plain functions, no Prefect. Typical use:

    track = read_track(clip, sidecars=find_sidecars(clip))
    if isinstance(track, NoGps):
        log(track.reason)
    else:
        positions = align(track, frame_offsets_s, clip_start_utc)

Readers (each also usable alone): 70mai `GPS ` box, Novatek `freeGPS ` blocks (Viofo, Vantrue,
Azdome, Nextbase, Kenwood), GoPro GPMF, BlackVue NMEA box; sidecars: NMEA, GPX, 70mai
`GPSData*.txt`, Kaiser Bass `gps/YYYYMMDD.dat`.
"""

from .align import align
from .clean import MAX_SPEED_MPS, clean_track, detect_clock_offset, haversine_m, initial_bearing_deg
from .embedded import read_embedded
from .export import iso_utc, to_csv, to_gpx, to_json
from .gpmf import GpmfSample, fixes_from_gpmf
from .model import Aligned, Fix, GpsReadError, NoGps, Track
from .nmea import parse_nmea_lines, parse_nmea_text
from .novatek import parse_freegps_block, parse_gps_index
from .reader import read_track
from .seventymai import parse_70mai_gps
from .sidecar import find_sidecars, parse_70mai_log, parse_kaiserbass_dat, read_gpx, read_nmea

__all__ = [
    "MAX_SPEED_MPS",
    "Aligned",
    "Fix",
    "GpmfSample",
    "GpsReadError",
    "NoGps",
    "Track",
    "align",
    "clean_track",
    "detect_clock_offset",
    "find_sidecars",
    "fixes_from_gpmf",
    "haversine_m",
    "initial_bearing_deg",
    "iso_utc",
    "parse_70mai_gps",
    "parse_70mai_log",
    "parse_freegps_block",
    "parse_gps_index",
    "parse_kaiserbass_dat",
    "parse_nmea_lines",
    "parse_nmea_text",
    "read_embedded",
    "read_gpx",
    "read_nmea",
    "read_track",
    "to_csv",
    "to_gpx",
    "to_json",
]
