"""What heavy reads of the settings, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks.gating import GateConfig
from tasks.volumes import Volumes


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
    plate_zoom: bool
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
