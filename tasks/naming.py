"""Recognise dashcam clip file names: which camera, when (camera clock), which channel, what kind.

Cameras encode a lot in their file names and the name is often the only trustworthy clock we
have (container `creation_time` tags are frequently missing, UTC-vs-local confused, or the
camera's factory default). Parsing must never raise: an odd name is just a "generic" clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath, PurePosixPath, PureWindowsPath

__all__ = ["ClipName", "parse_clip_name"]

CAMERAS = ("viofo", "70mai", "blackvue", "kaiserbass", "garmin", "gopro", "generic")
KINDS = ("normal", "event", "parking")


@dataclass(frozen=True)
class ClipName:
    camera: str  # "viofo", "70mai", "blackvue", "kaiserbass", "garmin", "gopro", "generic"
    recorded_at: datetime | None  # camera clock, naive (cameras write local time)
    channel: str | None  # "F", "R", "I" (front/rear/interior) where the name says
    kind: str  # "normal", "event", "parking" where the name says, else "normal"


# Viofo (Novatek firmware): 2024_0101_120000_00001F.MP4, older 2019_0815_093512_012.MP4,
# parking "..._00001PF.MP4", event "..._00001EF.MP4" or "..._00001F_E.MP4". The letters after
# the counter are a small set of flags; we read them as a bag rather than one fixed order.
_VIOFO = re.compile(
    r"^(?P<date>\d{4}_\d{4})_(?P<time>\d{6})(?:_(?P<counter>\d+))?"
    r"(?P<flags>[A-Z]*)(?:_(?P<suffix>[A-Z]{1,3}))?$",
    re.IGNORECASE,
)
# 70mai: NO20191130-120156-000121.MP4 (NO normal, EV event, PA parking); dual-channel models
# append F (front) / B (back).
_70MAI = re.compile(
    r"^(?P<prefix>[A-Z]{2})(?P<date>\d{8})-(?P<time>\d{6})-(?P<counter>\d+)(?P<chan>[FBRI])?$",
    re.IGNORECASE,
)
# BlackVue: 20240112_181119_NF.mp4, 20240112_181119_ERS.mp4 (S = sub stream, L = live/upload).
_BLACKVUE = re.compile(
    r"^(?P<date>\d{8})_(?P<time>\d{6})_(?P<type>[A-Z])(?P<chan>[FRI])(?P<extra>[LS])?$",
    re.IGNORECASE,
)
# Kaiser Bass R50: 20240112181119_180.MP4 (start time + "_" + duration in seconds).
_KAISERBASS = re.compile(r"^(?P<stamp>\d{14})_(?P<duration>\d{1,5})$")
# GoPro: GOPR0123 (HERO5 and older), GP010123 (chaptered), GH/GX/GS/GL010123 (HERO6+, MAX, LRV).
_GOPRO = re.compile(r"^(?:GOPR\d{4}|GP\d{6}|G[HXSL]\d{6})$", re.IGNORECASE)
# Garmin Dash Cam (Mini 2, 47/57/67...): GRMN0001.MP4 — no time in the name.
_GARMIN = re.compile(r"^GRMN\d{4}$", re.IGNORECASE)
# Anything else: the first embedded YYYY[-_]MM[-_]DD[-_T ]hh[-_:]mm[-_:]ss not inside a
# longer digit run (VID_20240101_120000, 2019-07-15-12-00-00, REC_2020_01_01_12_00_00_F).
_GENERIC_TS = re.compile(
    r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})[-_T ]?(\d{2})[-_:.]?(\d{2})[-_:.]?(\d{2})(?!\d)"
)

# BlackVue recording-type letter -> kind. Everything a driver or a sensor flagged (manual,
# impact, overspeed, harsh driving, geofence) counts as an event; only P is plain parking.
_BLACKVUE_KIND = {"N": "normal", "P": "parking"}
_70MAI_KIND = {"NO": "normal", "EV": "event", "PA": "parking"}
# Folder names cameras use to separate protected/event and parking recordings.
_EVENT_DIRS = {"ro", "event", "events", "emr", "emergency", "locked", "protect", "protected", "ev"}
_PARKING_DIRS = {"parking", "park", "pa", "parked"}
# Extensions we strip before matching; anything else is kept as part of the stem.
_VIDEO_EXTS = {".mp4", ".mov", ".avi", ".ts", ".mkv", ".lrv", ".360", ".m4v", ".mts", ".thm"}


def _dt(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime | None:
    """A naive datetime, or None when the camera wrote an impossible date (reset clock, fuzz)."""
    try:
        value = datetime(year, month, day, hour, minute, second)
    except (ValueError, OverflowError):
        return None
    # 1970 is the earliest an RTC-less camera plausibly reports; much later than 2100 is garbage.
    return value if 1970 <= value.year <= 2100 else None


def _from_digits(date8: str, time6: str) -> datetime | None:
    return _dt(int(date8[:4]), int(date8[4:6]), int(date8[6:8]),
               int(time6[:2]), int(time6[2:4]), int(time6[4:6]))


def _split(name: str) -> tuple[str, tuple[str, ...]]:
    """The bare stem and the lower-cased parent folder names (for folder-based event hints)."""
    path: PurePath = PureWindowsPath(name) if "\\" in name else PurePosixPath(name)
    base = path.name or name
    suffix = PurePosixPath(base).suffix
    stem = base[: -len(suffix)] if suffix and suffix.lower() in _VIDEO_EXTS else base
    return stem.strip(), tuple(p.lower() for p in path.parent.parts)


def _folder_kind(folders: tuple[str, ...]) -> str | None:
    for folder in reversed(folders):  # the nearest folder wins
        if folder in _EVENT_DIRS:
            return "event"
        if folder in _PARKING_DIRS:
            return "parking"
    return None


def _viofo(m: re.Match[str], folder_kind: str | None) -> ClipName:
    date, time = m["date"].replace("_", ""), m["time"]
    flags = (m["flags"] + (m["suffix"] or "")).upper()
    channel = next((c for c in reversed(flags) if c in "FRI"), None)
    if "E" in flags:
        kind = "event"
    elif "P" in flags:
        kind = "parking"
    else:
        kind = folder_kind or "normal"
    return ClipName("viofo", _from_digits(date, time), channel, kind)


def _seventymai(m: re.Match[str], folder_kind: str | None) -> ClipName:
    kind = _70MAI_KIND.get(m["prefix"].upper())
    chan = (m["chan"] or "").upper()
    channel = {"F": "F", "B": "R", "R": "R", "I": "I"}.get(chan)
    return ClipName("70mai", _from_digits(m["date"], m["time"]), channel,
                    kind or folder_kind or "normal")


def _blackvue(m: re.Match[str], folder_kind: str | None) -> ClipName:
    kind = _BLACKVUE_KIND.get(m["type"].upper(), "event")
    return ClipName("blackvue", _from_digits(m["date"], m["time"]), m["chan"].upper(), kind)


def _generic(stem: str, folder_kind: str | None) -> ClipName:
    for m in _GENERIC_TS.finditer(stem):
        when = _dt(*(int(g) for g in m.groups()))
        if when is not None:
            return ClipName("generic", when, None, folder_kind or "normal")
    return ClipName("generic", None, None, folder_kind or "normal")


def parse_clip_name(name: str) -> ClipName:
    """Recognise a clip's file name (a bare name, or a relative path for folder hints).

    Never raises: anything unrecognised is a "generic" clip with whatever timestamp could be
    found in it. Extensions are matched case-insensitively and are optional.
    """
    try:
        stem, folders = _split(str(name))
    except Exception:  # a name must never break ingest
        return ClipName("generic", None, None, "normal")
    folder_kind = _folder_kind(folders)
    if m := _VIOFO.match(stem):
        return _viofo(m, folder_kind)
    if m := _70MAI.match(stem):
        return _seventymai(m, folder_kind)
    if m := _BLACKVUE.match(stem):
        return _blackvue(m, folder_kind)
    if m := _KAISERBASS.match(stem):
        stamp = m["stamp"]
        return ClipName("kaiserbass", _from_digits(stamp[:8], stamp[8:]), None,
                        folder_kind or "normal")
    if _GOPRO.match(stem):
        return ClipName("gopro", None, None, folder_kind or "normal")
    if _GARMIN.match(stem):
        return ClipName("garmin", None, None, folder_kind or "normal")
    return _generic(stem, folder_kind)
