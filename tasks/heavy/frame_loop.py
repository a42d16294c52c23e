"""The frame loop: gate, detect, track, read each track when it ends, group into plates."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.gating import Gate
from tasks.gps import Aligned
from tasks.grouping import (
    GLIMPSE_MIN_READ,
    Observation,
    merge_tracks,
    weak_glimpses,
)
from tasks.heavy.clip_formats import (
    clip_formats,
    formats_lookup,
    plate_text_check,
    region_of,
    vote_floor,
)
from tasks.heavy.config import HeavyConfig
from tasks.heavy.loading import models_for, vehicles_for
from tasks.heavy.output import save_plate
from tasks.heavy.track_reading import TrackReading
from tasks.media import VideoInfo, iter_frames
from tasks.plates import (
    crop_plate,
)
from tasks.tracking import PlateTracker, look
from tasks.vehicles import vehicle_for

log = logging.getLogger(__name__)


def sharpness(crop: np.ndarray) -> float:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def read_video(
    config: HeavyConfig,
    video_id: str,
    src: Path,
    info: VideoInfo,
    scratch: Path,
    sampled: Iterator[tuple[float, np.ndarray]] | None = None,
    gps_at: Callable[[float], Aligned | None] | None = None,
) -> dict[str, Any]:
    """Sample frames, detect and read plates, group the reads, save best crops and frames.

    `gps_at` (frame time -> position) gates a standing car's frames and picks each track's
    plate formats from where it was seen (`tasks.regions`)."""
    detector, reader = models_for(config)
    gate = Gate(config.gate)
    every = config.sample_every_s
    expected = max(1, int(info.duration_s / every) + 1)
    obs: list[Observation] = []
    tracker = PlateTracker(max_age_s=max(2.0, 4 * every))
    formats_at_time = formats_lookup(config, gps_at)
    reading = TrackReading(reader, config.ocr_crops_per_track, config, formats_at_time)
    t_det = 0.0
    n = 0
    last_log = time.monotonic()
    if sampled is None:
        sampled = iter_frames(src, every, info)
    t_gate = 0.0
    for frame_s, frame in sampled:
        n += 1
        t = time.perf_counter()
        pos = gps_at(frame_s) if gps_at else None
        skip = gate.decide(frame_s, frame, pos.speed_mps if pos is not None else None)
        t_gate += time.perf_counter() - t
        if skip:
            if skip == "static":  # nothing moved: the plates in view are still there
                tracker.hold(frame_s)
            continue
        if gate.cut:  # a new scene: nothing in view continues
            tracker.cut()
        t = time.perf_counter()
        dets = detector.detect(frame)
        t_det += time.perf_counter() - t
        indexes = []
        looks = [look(frame, d.box) for d in dets]
        for det, det_look in zip(dets, looks, strict=True):
            crop = crop_plate(frame, det.box)
            sharp = sharpness(crop)
            indexes.append(len(obs))
            obs.append(
                Observation(
                    frame_s=round(frame_s, 3),
                    box=tuple(round(v, 1) for v in det.box),  # type: ignore[arg-type]
                    det_confidence=round(det.confidence, 4),
                    text=None,  # filled in for the crops that are read, when the track ends
                    confidence=None,
                    sharpness=round(sharp, 1),
                )
            )
            reading.offer_later(
                indexes[-1], crop, frame, det.box, det.confidence, sharp, frame_s, det_look
            )
        ids = tracker.update(frame_s, [d.box for d in dets], indexes, looks)
        reading.assign(indexes, ids)
        for track in tracker.pop_finished(frame_s):  # read finished tracks, free their frames
            reading.finish(track, obs)
        if time.monotonic() - last_log > 10:
            last_log = time.monotonic()
            log.info(
                "heavy %s: frame %d/%d (%.0f%%), %d plate boxes so far, %d frames skipped",
                video_id,
                n,
                expected,
                100 * n / expected,
                len(obs),
                sum(gate.skipped.values()),
            )
    for track in tracker.pop_finished():
        reading.finish(track, obs)
    if gate.skipped:
        log.info(
            "heavy %s: %d of %d sampled frames skipped the detector (%s)",
            video_id,
            sum(gate.skipped.values()),
            n,
            ", ".join(f"{k} {v}" for k, v in sorted(gate.skipped.items())),
        )
    if reading.unconfirmed:
        log.info(
            "heavy %s: %d tracks the detector scored under %.2f read as no plate format: not plates",
            video_id,
            reading.unconfirmed,
            config.plate_min_confidence,
        )

    formats_here = clip_formats(config, formats_at_time, obs)
    groups = merge_tracks(
        reading.tracks,
        obs,
        min_confidence=config.ocr_min_confidence,
        min_chars=vote_floor(config, formats_here),
        # A plate lost and found again within this is the same plate; at least one static
        # refresh, so a long red light never splits one plate in two.
        max_gap_s=max(10.0, config.gate.static_refresh_s + 2 * every),
        is_plate=plate_text_check(formats_here),
    )
    groups, glimpses = weak_glimpses(groups, obs, config.plate_min_confidence)
    if glimpses:
        log.info(
            "heavy %s: %d plate%s seen in one frame only, the detector under %.2f and OCR under "
            "%.2f, not stored: %s",
            video_id,
            len(glimpses),
            "" if len(glimpses) == 1 else "s",
            config.plate_min_confidence,
            GLIMPSE_MIN_READ,
            ", ".join(g.text for g in glimpses),
        )
    crops, frames = reading.best_crops, reading.best_frames
    vehicles = vehicles_for(config)
    t_veh = 0.0
    plate_of: dict[int, str] = {}
    plates = []
    (scratch / "plate_crops").mkdir()
    (scratch / "frames").mkdir()
    for k, g in enumerate(groups, 1):
        plate_id = f"{video_id}-p{k:03d}"
        plates.append(save_plate(scratch, plate_id, g, obs, crops[g.best], frames[g.best]))
        # Whose plate formats read it: the region GPS placed it in, or the setting's.
        plates[-1]["region"] = region_of(config, gps_at, obs[g.best].frame_s)
        if vehicles is not None:
            # One vehicle detection per plate, on its best frame (not on every sampled frame).
            t = time.perf_counter()
            v = vehicle_for(obs[g.best].box, vehicles.detect(frames[g.best]))
            t_veh += time.perf_counter() - t
            plates[-1]["vehicle"] = v.kind if v else None
        for j in g.members:
            plate_of[j] = plate_id
    return {
        "video_id": video_id,
        "video": {
            "duration_s": info.duration_s,
            "fps": info.fps,
            "width": info.width,
            "height": info.height,
        },
        "params": {
            "sample_every_s": every,
            "plate_model": str(config.plate_model or "platedet"),
            "ocr": "+".join(config.ocr_recognisers),
        },
        "frames_sampled": n,
        "sightings": [
            {
                "frame_s": o.frame_s,
                "box": list(o.box),
                "det_confidence": o.det_confidence,
                "text": o.text,
                "confidence": o.confidence,
                "plate_id": plate_of.get(i),
            }
            for i, o in enumerate(obs)
            # A box the detector was unsure of and no plate confirmed was not a plate.
            if i in plate_of or o.det_confidence >= config.plate_min_confidence
        ],
        "plates": plates,
        "gps": {"source": None, "note": "not read yet", "points": []},  # see attach_gps
        "timings": {
            "detect_s": round(t_det, 3),
            "ocr_s": round(reading.ocr_s, 3),
            "ocr_reads": reading.reads,
            "tracks": len(reading.tracks),
            "tracks_unconfirmed": reading.unconfirmed,
            "glimpses_dropped": len(glimpses),
            "gate_s": round(t_gate, 3),
            "vehicles_s": round(t_veh, 3),
            "frames": n,
            "frames_detected": gate.passed,
            "frames_skipped": dict(sorted(gate.skipped.items())),
            "scene_cuts": gate.cuts,
        },
    }
