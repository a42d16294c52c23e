"""The stage: probe the clip, read it in one ffmpeg pass, write and publish the bundle."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tasks import bundle
from tasks.gps import find_sidecars, read_track
from tasks.heavy.config import HeavyConfig, HeavyResult
from tasks.heavy.frame_loop import read_video
from tasks.heavy.located import attach_gps, gps_lookup
from tasks.media import FramesAndArchive, MediaError, probe
from tasks.volumes import fault_pause

log = logging.getLogger(__name__)


def run_heavy(
    config: HeavyConfig,
    video_id: str,
    raw_path: str,
    before_publish: Callable[[], None] | None = None,
) -> HeavyResult:
    """`before_publish` may raise to keep the finished bundle from replacing `work/<video_id>`
    (the flow uses it to check that its run still owns the video)."""
    t0 = time.monotonic()
    work_root = config.volume_root("work")
    scratch = bundle.new_scratch(work_root, video_id)
    meta: dict[str, Any] = {
        "format": bundle.BUNDLE_FORMAT,
        "video_id": video_id,
        "raw_path": raw_path,
        "created_at": datetime.now(UTC).isoformat(),
    }
    try:
        src = config.resolve("raw", raw_path)
        if not src.is_file():
            raise MediaError(f"{raw_path}: the file is no longer in the raw volume ({src})")
        info = probe(src)
        # One ffmpeg decodes the clip once for both the sampled frames and the archival copy.
        media = FramesAndArchive(
            src,
            config.sample_every_s,
            info,
            scratch / bundle.LOWRES,
            height=config.archive_height,
            crf=config.archive_crf,
        )
        # GPS first: the speed decides how often a standing car's frames are looked at.
        track = read_track(src, sidecars=find_sidecars(src), duration_s=info.duration_s)
        detections = read_video(
            config, video_id, src, info, scratch, media.frames(), gps_lookup(track, src)
        )
        attach_gps(detections, src, info, track)
        fault_pause(config.fault_hold_dir, "heavy", video_id)
        low = media.lowres
        assert low is not None  # frames() ran to the end, so the archive copy is sealed
        # transcode_s: what the archival copy cost beyond the frame loop (it runs alongside).
        detections["timings"]["transcode_s"] = round(media.tail_wait_s, 3)
        detections["timings"]["ffmpeg_s"] = round(media.ffmpeg_s, 3)
        detections["device"] = config.device_name  # which workhorse did it (video.heavy_device)
        detections["lowres"] = {
            "width": low.width,
            "height": low.height,
            "duration_s": low.duration_s,
        }
        bundle.write_json_atomic(scratch / bundle.DETECTIONS, detections)
        status, error = "ok", None
        plates, sightings = len(detections["plates"]), len(detections["sightings"])
    except MediaError as exc:
        # The clip itself is bad: an answer, not an infrastructure failure. Keep no partial media.
        log.warning("heavy %s: %s", video_id, exc)
        for p in list(scratch.iterdir()):
            if p.is_file():
                p.unlink()
            else:
                shutil.rmtree(p)
        status, error, plates, sightings = "failed", str(exc), 0, 0
    seconds = round(time.monotonic() - t0, 3)
    bundle.seal(scratch, {**meta, "status": status, "error": error, "heavy_seconds": seconds})
    if before_publish is not None:
        try:
            before_publish()
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    bundle.publish_dir(scratch, work_root / video_id)
    log.info(
        "heavy %s: %s, %d plates from %d sightings in %.1f s",
        video_id,
        status,
        plates,
        sightings,
        seconds,
    )
    return HeavyResult(video_id, status, error, plates, sightings, seconds)
