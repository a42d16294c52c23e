"""Heavy processing of one video (the workhorse): plates, reads, archival copy, bundle.

Reads the raw clip straight from `raw`, writes nothing but a complete bundle to
work/<video_id>/ (built in scratch, renamed into place). A clip that turns out to be damaged
gives a bundle whose manifest says `failed` and why, so the main server records the reason.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks import bundle
from tasks.gating import Gate, GateConfig
from tasks.gps import Aligned, NoGps, Track, align, find_sidecars, read_track
from tasks.grouping import (
    Observation,
    PlateGroup,
    Read,
    crop_quality,
    merge_tracks,
    split_by_reads,
    vote,
)
from tasks.media import FramesAndArchive, MediaError, VideoInfo, iter_frames, probe
from tasks.naming import parse_clip_name
from tasks.plate_formats import DEFAULT_FORMATS, PlateFormat, formats_for, repair_detail
from tasks.plates import (
    DEFAULT_RECOGNISERS,
    OnnxPlateDetector,
    PlateDetector,
    PlateReader,
    confirmed,
    crop_plate,
    default_reader,
)
from tasks.regions import formats_at, region_at
from tasks.tracking import Look, PlateTracker, likeness, look
from tasks.tracking import Track as PlateTrack
from tasks.vehicles import OnnxVehicleDetector, VehicleDetector, vehicle_for
from tasks.volumes import Volumes, fault_pause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeavyConfig(Volumes):
    """What heavy reads of the settings (built by `flows.config.heavy_config`)."""

    device_name: str  # recorded in the bundle: which workhorse did the video
    sample_every_s: float
    onnx_providers: tuple[str, ...]
    plate_model: Path | None  # None: the bundled detector
    plate_min_confidence: float
    plate_proposal_confidence: float
    plate_detector_int8: bool
    vehicles: bool
    vehicle_model: Path | None
    plate_regions: str
    ocr_min_confidence: float
    ocr_recognisers: tuple[str, ...]
    min_plate_chars: int
    ocr_crops_per_track: int
    archive_height: int
    archive_crf: int
    gate: GateConfig
    fault_hold_dir: Path | None = None  # the crash tests' pause point (tasks.volumes.fault_pause)


@dataclass(frozen=True)
class HeavyResult:
    video_id: str
    status: str  # "ok" | "failed"
    error: str | None
    plates: int
    sightings: int
    seconds: float


@lru_cache(maxsize=2)
def load_models(
    plate_model: str | None,
    providers: tuple[str, ...],
    min_conf: float,
    regions: str,
    int8: bool = False,
    recognisers: tuple[str, ...] = DEFAULT_RECOGNISERS,
) -> tuple[PlateDetector, PlateReader]:
    """Models load once per process (a worker's flow-run process handles one video at a time)."""
    detector = OnnxPlateDetector(
        Path(plate_model) if plate_model else None,
        providers=list(providers),
        conf_threshold=min_conf,
        # int8 is a CPU optimisation; a GPU provider runs the float model.
        int8=int8 and list(providers) == ["CPUExecutionProvider"],
    )
    return detector, default_reader(
        formats_for(regions), recognisers=recognisers, providers=list(providers)
    )


@lru_cache(maxsize=2)
def load_vehicle_detector(model: str | None, providers: tuple[str, ...]) -> VehicleDetector | None:
    try:
        return OnnxVehicleDetector(Path(model) if model else None, providers=list(providers))
    except FileNotFoundError as exc:
        log.warning("vehicle classes are not recorded: %s", exc)
        return None


def vehicles_for(config: HeavyConfig) -> VehicleDetector | None:
    if not config.vehicles:
        return None
    model = str(config.vehicle_model) if config.vehicle_model else None
    return load_vehicle_detector(model, tuple(config.onnx_providers))


def models_for(config: HeavyConfig) -> tuple[PlateDetector, PlateReader]:
    return load_models(
        str(config.plate_model) if config.plate_model else None,
        tuple(config.onnx_providers),
        # The detector proposes down to the proposal score; TrackReading confirms those by text.
        min(config.plate_proposal_confidence, config.plate_min_confidence),
        config.plate_regions,
        config.plate_detector_int8,
        tuple(config.ocr_recognisers),
    )


def sharpness(crop: np.ndarray) -> float:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


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
            config, video_id, src, info, scratch, media.frames(), _gps_lookup(track, src)
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
    formats_at_time = _formats_lookup(config, gps_at)
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

    groups = merge_tracks(
        reading.tracks,
        obs,
        min_confidence=config.ocr_min_confidence,
        min_chars=config.min_plate_chars,
        # A plate lost and found again within this is the same plate; at least one static
        # refresh, so a long red light never splits one plate in two.
        max_gap_s=max(10.0, config.gate.static_refresh_s + 2 * every),
        is_plate=plate_text_check(_clip_formats(config, formats_at_time, obs)),
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
        plates.append(_save_plate(scratch, plate_id, g, obs, crops[g.best], frames[g.best]))
        # Whose plate formats read it: the region GPS placed it in, or the setting's.
        plates[-1]["region"] = _region_of(config, gps_at, obs[g.best].frame_s)
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
            "gate_s": round(t_gate, 3),
            "vehicles_s": round(t_veh, 3),
            "frames": n,
            "frames_detected": gate.passed,
            "frames_skipped": dict(sorted(gate.skipped.items())),
            "scene_cuts": gate.cuts,
        },
    }


@dataclass
class _Candidate:
    index: int
    crop: np.ndarray
    frame: np.ndarray
    quality: float
    frame_s: float = 0.0
    look: Look | None = None


# A track seen this long is also read where it looks unlike its best read crop (its best crop
# per `_SPREAD_S`, at most `_SPREAD_READS` of them, spread over its length): two plates joined
# into one track show as reads that change text midway. A plate that looks the same all along
# (a car ahead for minutes) costs no extra reads.
_LONG_TRACK_S = 3.0
_SPREAD_S = 1.5
_SPREAD_READS = 4
_SPREAD_KEEP = 8  # candidates (each holds its frame) kept per track: bins widen past this
_DRIFTED = 0.7  # plate thumbnails correlate less than this: the track may hold another plate


@dataclass
class _Spread:
    """A track's best candidate per time bin; bins double in width to keep at most
    `_SPREAD_KEEP`, so a car ahead for minutes holds 8 frames, not hundreds."""

    width_s: float = _SPREAD_S
    bins: dict[int, _Candidate] = field(default_factory=dict)

    def offer(self, c: _Candidate) -> None:
        self._put(self.bins, c)
        while len(self.bins) > _SPREAD_KEEP:
            self.width_s *= 2
            old, self.bins = self.bins, {}
            for kept in old.values():
                self._put(self.bins, kept)

    def _put(self, bins: dict[int, _Candidate], c: _Candidate) -> None:
        b = int(c.frame_s // self.width_s)
        if b not in bins or c.quality > bins[b].quality:
            bins[b] = c


class TrackReading:
    """OCR per track, not per box: a track's best crops are read when it ends.

    Each track keeps its 2 x `per_track` best crops by quality (size, sharpness, detector
    confidence); when it ends, the best `per_track` are read, and the next ones only if those
    reads disagree; a long track's `_Spread` candidates are read where they look unlike the
    crops read, and its reads may split it (`split_by_reads`). Only the winning read's crop
    and frame stay in memory afterwards.
    """

    def __init__(
        self,
        reader: PlateReader,
        per_track: int,
        config: HeavyConfig,
        formats_at: Callable[[float], tuple[PlateFormat, ...] | None] | None = None,
    ) -> None:
        self.reader, self.per_track = reader, per_track
        self.formats_at = formats_at  # frame time -> the plate formats where the car was
        self.min_confidence = config.ocr_min_confidence
        self.min_chars = config.min_plate_chars
        self.sure_confidence = config.plate_min_confidence
        self.tracks: list[tuple[list[Read], list[int]]] = []  # (reads, members) per track
        self.best_crops: dict[int, np.ndarray] = {}
        self.best_frames: dict[int, np.ndarray] = {}
        self.ocr_s = 0.0
        self.reads = 0
        self.unconfirmed = 0  # tracks the detector was unsure of whose text fit no format
        self._pending: dict[int, _Candidate] = {}  # this frame's boxes, before assignment
        self._kept: dict[int, list[_Candidate]] = {}  # track id -> best candidates
        self._spread: dict[int, _Spread] = {}  # track id -> best candidate per time bin

    def offer_later(
        self,
        index: int,
        crop: np.ndarray,
        frame: np.ndarray,
        box: tuple[float, float, float, float],
        det_confidence: float,
        sharp: float,
        frame_s: float = 0.0,
        box_look: Look | None = None,
    ) -> None:
        q = crop_quality(box[2] - box[0], sharp, det_confidence)
        self._pending[index] = _Candidate(index, crop, frame, q, frame_s, box_look)

    def assign(self, indexes: list[int], track_ids: list[int]) -> None:
        for i, tid in zip(indexes, track_ids, strict=True):
            c = self._pending.pop(i)
            kept = self._kept.setdefault(tid, [])
            kept.append(c)
            kept.sort(key=lambda c: (-c.quality, c.index))
            del kept[2 * self.per_track :]
            self._spread.setdefault(tid, _Spread()).offer(c)

    def finish(self, track: PlateTrack, obs: list[Observation]) -> None:
        cands = self._kept.pop(track.track_id, [])
        spread = self._spread.pop(track.track_id, _Spread()).bins
        # A track the detector was never sure of is a plate only if its text fits a format.
        det_confidence = max(obs[i].det_confidence for i in track.members)
        reads: list[Read] = []
        read_cands: dict[int, _Candidate] = {}
        middle = obs[track.members[len(track.members) // 2]].frame_s
        formats = self.formats_at(middle) if self.formats_at else None
        tried: set[int] = set()

        def read(c: _Candidate) -> None:
            tried.add(c.index)
            t = time.perf_counter()
            r = self.reader.read(c.crop, formats)
            self.ocr_s += time.perf_counter() - t
            self.reads += 1
            if r is None or not confirmed(det_confidence, r, self.sure_confidence):
                return
            obs[c.index] = replace(obs[c.index], text=r.text, confidence=round(r.confidence, 4))
            reads.append(Read(c.index, r.text, round(r.confidence, 4), c.quality))
            read_cands[c.index] = c

        for start in range(0, len(cands), self.per_track):
            for c in cands[start : start + self.per_track]:
                read(c)
            if self._agreed(reads, track.members):
                break
        times = [obs[i].frame_s for i in track.members]
        if max(times) - min(times) >= _LONG_TRACK_S:
            for c in _drifted(spread, read_cands, tried):
                read(c)
        for part_reads, part_members in split_by_reads(reads, track.members, obs):
            self._close(part_reads, part_members, det_confidence, read_cands)

    def _close(
        self,
        reads: list[Read],
        members: list[int],
        det_confidence: float,
        read_cands: dict[int, _Candidate],
    ) -> None:
        """One track (or one part of a split track) is done: vote, keep its best crops."""
        self.tracks.append((reads, list(members)))
        g = vote(reads, members, min_confidence=self.min_confidence, min_chars=self.min_chars)
        self.unconfirmed += g is None and det_confidence < self.sure_confidence
        if g is not None:  # keep only what may become the plate's best crop
            c = read_cands[g.best]
            self.best_crops[c.index], self.best_frames[c.index] = c.crop, c.frame
            # A merged plate may pick another read of the same text: keep those crops too.
            for r in reads:
                if r.text == g.text and r.index != g.best:
                    self.best_crops[r.index] = read_cands[r.index].crop
                    self.best_frames[r.index] = read_cands[r.index].frame

    def _agreed(self, reads: list[Read], members: list[int]) -> bool:
        g = vote(reads, members, min_confidence=self.min_confidence, min_chars=self.min_chars)
        if g is None:
            return False
        # Settled: the winner holds most of the weight and, with 2+ reads, was read twice.
        winners = sum(r.text == g.text for r in reads)
        share = 1.0 - sum(g.alternates.values())
        return share >= 0.6 and (winners >= 2 or len(reads) == 1)


def _drifted(
    spread: dict[int, _Candidate], read_cands: dict[int, _Candidate], tried: set[int]
) -> list[_Candidate]:
    """The spread candidates worth reading: unread, and unlike every crop read so far."""
    looks = [c.look for c in read_cands.values()]
    out = [
        c
        for c in spread.values()
        if c.index not in tried and all(likeness(c.look, other)[0] < _DRIFTED for other in looks)
    ]
    out.sort(key=lambda c: c.frame_s)
    if len(out) > _SPREAD_READS:  # evenly over the track's length
        step = len(out) / _SPREAD_READS
        out = [out[int(k * step)] for k in range(_SPREAD_READS)]
    return out


def _formats_lookup(
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


def _region_of(
    config: HeavyConfig, gps_at: Callable[[float], Aligned | None] | None, t: float
) -> str | None:
    if config.plate_regions.strip().lower() != "all":
        return config.plate_regions
    pos = gps_at(t) if gps_at else None
    return region_at(pos.lat, pos.lon) if pos is not None else None


def _clip_formats(
    config: HeavyConfig,
    formats_at_time: Callable[[float], tuple[PlateFormat, ...] | None] | None,
    obs: list[Observation],
) -> tuple[PlateFormat, ...] | None:
    """The formats a short read must fit: the region's (GPS at the first sighting, else the
    setting when it names one); None when no region is known."""
    if formats_at_time is not None and obs:
        found = formats_at_time(obs[0].frame_s)
        if found is not None and found != DEFAULT_FORMATS:  # a region with formats of its own
            return found
    if config.plate_regions.strip().lower() == "all":
        return None
    return formats_for(config.plate_regions)


_SHORT_PLATE = 5  # characters: a read shorter than this is a plate only if it fits a format


def plate_text_check(formats: tuple[PlateFormat, ...] | None) -> Callable[[str], bool]:
    """A short read that fits none of `formats` is a fragment or a sign, not a plate: 4-character
    stray reads (a plate's prefix, a sticker) were stored as plates. Where the region has
    short vanity plates (the US), a short read is one. With no region known
    (None), short reads are never plates: across all regions' formats some layout fits
    almost any 4 characters (German `T AA 5`)."""

    def is_plate(text: str) -> bool:
        if len(text) >= _SHORT_PLATE:
            return True
        if formats is None:
            return False
        fmt = repair_detail(text, formats).format
        return fmt is not None and (fmt.specific or fmt.short_vanity)

    return is_plate


def _clip_start_utc(track: Track, src: Path) -> datetime | None:
    name = parse_clip_name(src.name)
    if name.recorded_at is not None and track.camera_clock_offset_s is not None:
        return name.recorded_at.replace(tzinfo=UTC) - timedelta(seconds=track.camera_clock_offset_s)
    return None


def _gps_lookup(track: Track | NoGps, src: Path) -> Callable[[float], Aligned | None] | None:
    """Frame time -> the GPS position there, None where no fix is near enough to trust."""
    if isinstance(track, NoGps):
        return None
    start_utc = _clip_start_utc(track, src)

    def at(t: float) -> Aligned | None:
        [pos] = align(track, [t], start_utc)
        return pos if pos is not None and not pos.approximate else None

    return at


def attach_gps(
    detections: dict[str, Any], src: Path, info: VideoInfo, track: Track | NoGps | None = None
) -> None:
    """The clip's track (embedded or sidecar) and a position for every sighting and plate."""
    if track is None:
        track = read_track(src, sidecars=find_sidecars(src), duration_s=info.duration_s)
    if isinstance(track, NoGps):
        detections["gps"] = {"source": None, "note": track.reason, "points": []}
        log.info("heavy: %s has no GPS: %s", src.name, track.reason)
        return
    start_utc = _clip_start_utc(track, src)
    detections["gps"] = {
        "source": track.source,
        "note": None,
        "camera_clock_offset_s": track.camera_clock_offset_s,
        "start_utc": start_utc.isoformat() if start_utc else None,
        "points": [
            {
                "offset_s": f.offset_s,
                "time_utc": f.time.isoformat() if f.time else None,
                "lat": f.lat,
                "lon": f.lon,
                "speed_mps": f.speed_mps,
                "bearing_deg": f.bearing_deg,
            }
            for f in track.valid_fixes
            if f.offset_s is not None
        ],
    }
    rows = detections["sightings"]
    for row, pos in zip(rows, align(track, [r["frame_s"] for r in rows], start_utc), strict=True):
        row.update(_position(pos))
    for plate in detections["plates"]:
        [pos] = align(track, [plate["best_frame_s"]], start_utc)
        plate.update({k: v for k, v in _position(pos).items() if k in ("lat", "lon")})
        first = start_utc + timedelta(seconds=plate["first_seen_s"]) if start_utc else None
        plate["first_seen_utc"] = first.isoformat() if first else None


def _position(pos: Aligned | None) -> dict[str, Any]:
    if pos is None:
        return {}
    return {
        "lat": pos.lat,
        "lon": pos.lon,
        "speed_mps": pos.speed_mps,
        "bearing_deg": pos.bearing_deg,
        "time_utc": pos.time.isoformat() if pos.time else None,
        "gps_gap_s": round(pos.gap_s, 3),
    }


def _save_plate(
    scratch: Path,
    plate_id: str,
    g: PlateGroup,
    obs: list[Observation],
    crop: np.ndarray,
    frame: np.ndarray,
) -> dict[str, Any]:
    best = obs[g.best]
    crop_name = f"plate_crops/{plate_id}_best_crop.jpg"
    frame_name = f"frames/{plate_id}_best_frame.jpg"
    _write_jpeg(scratch / crop_name, crop, 95)
    # The best frame is for the dashboard: mark the plate, cap the width to keep the archive small.
    marked = frame.copy()
    x1, y1, x2, y2 = (int(v) for v in best.box)
    cv2.rectangle(marked, (x1, y1), (x2, y2), (0, 255, 0), max(2, frame.shape[1] // 400))
    if marked.shape[1] > 1280:
        scale = 1280 / marked.shape[1]
        marked = cv2.resize(
            marked, (1280, int(marked.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    _write_jpeg(scratch / frame_name, marked, 85)
    members = [obs[j] for j in g.members]
    return {
        "plate_id": plate_id,
        "text": g.text,
        "confidence": g.confidence,
        "alternates": g.alternates,
        "sighting_count": len(members),
        "first_seen_s": members[0].frame_s,
        "last_seen_s": members[-1].frame_s,
        "best_frame_s": best.frame_s,
        "best_crop": crop_name,
        "best_crop_size": [int(crop.shape[1]), int(crop.shape[0])],
        "best_frame": frame_name,
        "best_frame_size": [int(marked.shape[1]), int(marked.shape[0])],
    }


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"could not encode {path.name} as JPEG")
    path.write_bytes(buf.tobytes())
