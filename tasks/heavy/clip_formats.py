"""Plate formats from where the car was (GPS), and which short reads are plates."""

from __future__ import annotations

from collections.abc import Callable

from tasks.gps import Aligned
from tasks.grouping import (
    Observation,
)
from tasks.heavy.config import HeavyConfig
from tasks.plate_formats import (
    DEFAULT_FORMATS,
    FORMATS_BY_REGION,
    PlateFormat,
    formats_for,
    repair_detail,
)
from tasks.regions import formats_at, region_at


def formats_lookup(
    config: HeavyConfig, gps_at: Callable[[float], Aligned | None] | None
) -> Callable[[float], tuple[PlateFormat, ...] | None] | None:
    """Frame time -> the plate formats where the car was (None: the reader's own, i.e. the
    setting's). Only when `DASHCAM_PLATE_REGIONS` is "all": a named region always wins."""
    if gps_at is None or config.plate_regions.strip().lower() != "all":
        return None

    def at(t: float) -> tuple[PlateFormat, ...] | None:
        pos = gps_at(t)
        return None if pos is None else formats_at(pos.lat, pos.lon, config.plate_regions)

    return at


def region_of(
    config: HeavyConfig, gps_at: Callable[[float], Aligned | None] | None, t: float
) -> str | None:
    if config.plate_regions.strip().lower() != "all":
        return config.plate_regions
    pos = gps_at(t) if gps_at else None
    return region_at(pos.lat, pos.lon) if pos is not None else None


def clip_formats(
    config: HeavyConfig,
    formats_at_time: Callable[[float], tuple[PlateFormat, ...] | None] | None,
    obs: list[Observation],
) -> tuple[PlateFormat, ...] | None:
    """The formats a short read must fit: the region's (GPS at the first sighting, else the
    setting when it names one); None when no region is known."""
    found = formats_at_time(obs[0].frame_s) if formats_at_time is not None and obs else None
    return region_formats(config, found)


def region_formats(
    config: HeavyConfig, found: tuple[PlateFormat, ...] | None
) -> tuple[PlateFormat, ...] | None:
    """The formats of where the car was: GPS's (`found`) where that region has formats of its
    own, else the setting's when it names a region; None when no region is known."""
    if found is not None and found != DEFAULT_FORMATS:
        return found
    if config.plate_regions.strip().lower() == "all":
        return None
    return formats_for(config.plate_regions)


# US vanity plates this short exist (`UNI`, one of the 250 US crops): where the region has
# short vanity plates, a 3-character vote counts; elsewhere `min_plate_chars` (4) holds, as
# 3 characters fit some layout of almost every country.
SHORT_VANITY_CHARS = 3


def vote_floor(config: HeavyConfig, formats: tuple[PlateFormat, ...] | None) -> int:
    """The fewest characters a plate's vote may have where the region is `formats`."""
    if formats is not None and any(f.short_vanity for f in formats):
        return min(config.min_plate_chars, SHORT_VANITY_CHARS)
    return config.min_plate_chars


SHORT_PLATE = 5  # characters: a read shorter than this is a plate only if it fits a format
# Longer than plates are (10: India's `UP16CU0006`), and fitting no region's pinned layout
# (a car from elsewhere is read too, so every region counts): a dealer frame or a slogan read
# as one line (`WWWUMENIESK`), not a plate.
LONG_PLATE = 10
_EVERY_FORMAT = tuple(f for fs in FORMATS_BY_REGION.values() for f in fs)


def plate_text_check(formats: tuple[PlateFormat, ...] | None) -> Callable[[str], bool]:
    """A short read that fits none of `formats` is a fragment or a sign, not a plate: 4-character
    stray reads (a plate's prefix, a sticker) were stored as plates. Where the region has
    short vanity plates (the US), a short read is one. With no region known
    (None), short reads are never plates: across all regions' formats some layout fits
    almost any 4 characters (German `T AA 5`). A read longer than every format's layouts is
    never a plate."""

    def is_plate(text: str) -> bool:
        if len(text) > LONG_PLATE:
            fmt = repair_detail(text, _EVERY_FORMAT).format
            return fmt is not None and fmt.specific
        if len(text) >= SHORT_PLATE:
            return True
        if formats is None:
            return False
        fmt = repair_detail(text, formats).format
        return fmt is not None and (fmt.specific or fmt.short_vanity)

    return is_plate
