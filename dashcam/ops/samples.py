"""Sample footage for the demo: rendered plate clips with a real drive's GPS in them (Novatek
blocks, as a Viofo writes), plus real clips from ../shared/data if present."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tasks.gps.model import Fix
from tasks.synthetic import add_novatek_gps, render_plate_clip, synthetic_track

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "data"
SHARED_VIDEOS = SHARED / "videos"
REAL_SAMPLES = ["garmin_mini2/sample-1.mp4", "gopro/karma.mp4"]
# A real 70mai A810 drive (GPSBabel's test data, GPL-2.0): read from ../shared when it is there,
# never copied into the repository. Without it the demo draws a plausible drive of its own.
DRIVE_LOG = SHARED / "gps" / "gpsbabel_70mai_A810" / "GPSData000001-A810-Doriel.txt"

CLIP_S = 4
PLATES = ["KA12BCD", "MH04XY9"]
CAMERA_START = datetime(2024, 6, 1, 8, 30, 0)  # the file names' clock
CAMERA_MINUS_UTC = timedelta(hours=3)  # the camera is set to local time (summer, UTC+3)


def _at(fixes: list[Fix], when: datetime) -> Fix:
    """The position at `when`, between the two fixes around it (a log has gaps of 1-3 s)."""
    after = next(i for i, f in enumerate(fixes) if f.time is not None and f.time >= when)
    b = fixes[after]
    if after == 0 or b.time == when:
        return replace(b, time=when)
    a = fixes[after - 1]
    assert a.time is not None and b.time is not None
    k = (when - a.time).total_seconds() / (b.time - a.time).total_seconds()
    mix = lambda x, y: None if x is None or y is None else x + (y - x) * k  # noqa: E731
    return Fix(when, a.lat + (b.lat - a.lat) * k, a.lon + (b.lon - a.lon) * k,
               mix(a.speed_mps, b.speed_mps), b.bearing_deg)


def drive_fixes(seconds: int, log: Path = DRIVE_LOG, min_speed_mps: float = 8.0,
                max_gap_s: float = 3.0) -> tuple[list[Fix], str]:
    """`seconds` fixes a second apart of a moving car, and where they come from: the first
    stretch of the real log that long at city speed or more (its fixes every 1-3 s, resampled
    to 1 Hz along its path), else a synthetic drive. Times are the log's own; the caller moves
    them to the clip's."""
    if log.is_file():
        from tasks.gps.sidecar import parse_70mai_log, read_text

        run: list[Fix] = []
        for row in parse_70mai_log(read_text(log)):
            fix = row.fix
            if fix.time is None or (run and run[-1].time is not None and fix.time <= run[-1].time):
                continue  # the log repeats a second now and then
            moving = fix.valid and (fix.speed_mps or 0.0) >= min_speed_mps
            close = bool(run) and run[-1].time is not None \
                and (fix.time - run[-1].time).total_seconds() <= max_gap_s
            run = ([*run, fix] if close else [fix]) if moving else []
            if run and run[0].time is not None and (fix.time - run[0].time).total_seconds() >= seconds - 1:
                t0 = run[0].time
                return ([_at(run, t0 + timedelta(seconds=i)) for i in range(seconds)],
                        f"{log.name} (a real 70mai A810 drive, resampled to 1 Hz)")
    start = (CAMERA_START - CAMERA_MINUS_UTC).replace(tzinfo=UTC)
    return synthetic_track(start, seconds), "a synthetic drive (../shared/data/gps absent)"


def demo_gps(n_clips: int = len(PLATES), clip_s: int = CLIP_S) -> tuple[list[list[Fix]], str]:
    """Each clip's fixes, on one continuous drive, stamped with the clip's true UTC time."""
    fixes, origin = drive_fixes(n_clips * clip_s)
    utc0 = (CAMERA_START - CAMERA_MINUS_UTC).replace(tzinfo=UTC)
    stamped = [replace(f, time=utc0 + timedelta(seconds=i)) for i, f in enumerate(fixes)]
    return [stamped[i * clip_s:(i + 1) * clip_s] for i in range(n_clips)], origin


def make_samples(raw_root: Path, folder: str = "sample") -> list[Path]:
    """Write the demo clips into raw/<folder>/ (idempotent) and return them."""
    dest = raw_root / folder
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    tracks, _ = demo_gps()
    for i, (text, fixes) in enumerate(zip(PLATES, tracks, strict=True)):
        when = CAMERA_START + timedelta(seconds=i * CLIP_S)  # one clip after the other
        p = dest / f"{when:%Y_%m%d_%H%M%S}_{i + 1:05d}F.MP4"  # Viofo naming
        if not p.exists():
            tmp = p.with_name(f".{p.name}.rendering.mp4")  # ingest skips dot-files
            render_plate_clip(tmp, text=text, seconds=float(CLIP_S), seed=i)
            add_novatek_gps(tmp, fixes)
            tmp.replace(p)
        out.append(p)
    for rel in REAL_SAMPLES:
        src = SHARED_VIDEOS / rel
        if src.is_file():
            p = dest / src.name
            if not p.exists():
                shutil.copyfile(src, p)
            out.append(p)
    return out
