"""The models, loaded once per process: the plate detector and reader, the vehicle detector."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from tasks.heavy.config import HeavyConfig
from tasks.plate_formats import formats_for
from tasks.plates import (
    DEFAULT_RECOGNISERS,
    OnnxPlateDetector,
    PlateDetector,
    PlateReader,
    default_reader,
)
from tasks.vehicles import OnnxVehicleDetector, VehicleDetector

log = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def load_models(
    plate_model: str | None,
    providers: tuple[str, ...],
    min_conf: float,
    regions: str,
    int8: bool = False,
    recognisers: tuple[str, ...] = DEFAULT_RECOGNISERS,
    zoom: bool = True,
) -> tuple[PlateDetector, PlateReader]:
    """Models load once per process (a worker's flow-run process handles one video at a time)."""
    detector = OnnxPlateDetector(
        Path(plate_model) if plate_model else None,
        providers=list(providers),
        conf_threshold=min_conf,
        # int8 is a CPU optimisation; a GPU provider runs the float model.
        int8=int8 and list(providers) == ["CPUExecutionProvider"],
        zoom=zoom,
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
        config.plate_zoom,
    )
