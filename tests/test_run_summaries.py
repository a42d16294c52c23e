"""What a stage's run shows in the Prefect UI, without a server: the domain loggers are routed
to the run's logs, and the heavy and finalize artifacts say what the stage did.
(tests/test_e2e.py reads both back through a real server's API.)"""

from __future__ import annotations

import logging
import warnings

from flows import _artifacts, _runlogs
from tasks.finalize import FinalizeResult, TripFigures


def test_domain_loggers_let_info_through_with_one_api_handler() -> None:
    from prefect.logging.handlers import APILogHandler

    _runlogs.route()  # again: idempotent
    for name in _runlogs.DOMAIN_LOGGERS:
        logger = logging.getLogger(name)
        assert logger.getEffectiveLevel() <= logging.INFO
        assert sum(isinstance(h, APILogHandler) for h in logger.handlers) == 1, logger.handlers
    # Outside a flow run (the CLI, `dashcam process`) the handler stays quiet: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logging.getLogger("tasks.heavy").info("outside any run")


DET = {
    "device": "workhorse-1",
    "frames_sampled": 9,
    "gps": {"source": "novatek", "note": None, "points": []},
    "plates": [
        {"plate_id": "p1", "text": "KA12BCD", "confidence": 0.91, "alternates": {"KA12BC0": 0.06},
         "sighting_count": 3, "first_seen_s": 0.5, "last_seen_s": 1.5, "region": "in", "vehicle": "car"},
    ],
    "sightings": [
        {"frame_s": 0.5, "text": "KA12BCD", "confidence": 0.93, "det_confidence": 0.8, "plate_id": "p1"},
        {"frame_s": 1.0, "text": None, "confidence": None, "det_confidence": 0.7, "plate_id": "p1"},
        {"frame_s": 1.5, "text": "KA12BC|D", "confidence": 0.5, "det_confidence": 0.6, "plate_id": "p1"},
    ],
    "timings": {"detect_s": 0.42, "ocr_s": 0.3, "ocr_reads": 4, "tracks": 1, "tracks_unconfirmed": 0,
                "frames": 9, "frames_detected": 6, "frames_skipped": {"static": 2, "dark": 1},
                "scene_cuts": 0, "transcode_s": 0.1},
}  # fmt: skip


def test_heavy_markdown_names_plates_reads_frames_and_timings() -> None:
    md = _artifacts.heavy_markdown(
        "v-1", "trip/clip.mp4", {"status": "ok", "heavy_seconds": 2.5}, DET
    )
    assert "| `KA12BCD` | 0.91 | 3 | 0.5 | 1.5 | in | car | KA12BC0 0.06 |" in md
    assert (
        "| 0.5 | `KA12BCD` | 0.93 |" in md and "KA12BC\\|D" in md
    )  # a | in a read keeps the table whole
    assert "| 9 | 6 | 3 | dark 1, static 2 | 0 |" in md
    assert "| detect | 0.42 |" in md and "| heavy (all) | 2.5 |" in md
    assert "4 crops read on 1 tracks" in md


def test_heavy_markdown_of_a_failed_clip_gives_the_reason() -> None:
    md = _artifacts.heavy_markdown(
        "v-1", "a.mp4", {"status": "failed", "error": "no video stream"}, None
    )
    assert "**failed**" in md and "Failed: no video stream" in md


def test_finalize_markdown_rows_and_trip() -> None:
    trip = TripFigures("trip-1", 2, 1234.0, 60.0, 20.5, 25.0, {"harsh_braking": 1})
    result = FinalizeResult(
        "v-1",
        "finalized",
        rows={"plate": 2, "sighting": 7},
        plates=("KA12BCD", "MH04XY9"),
        trip=trip,
    )
    md = _artifacts.finalize_markdown(result)
    assert "| plate | 2 |" in md and "| sighting | 7 |" in md
    assert "## Trip trip-1" in md and "| 2 | 1.234 | 60 | 73.8 | 90 | harsh_braking 1 |" in md
    assert "Plates stored: `KA12BCD`, `MH04XY9`" in md
    assert _artifacts.finalize_description(result) == (
        "finalize v-1: finalized, KA12BCD, MH04XY9; 2 plate rows, 7 sighting rows"
    )
    failed = FinalizeResult("v-2", "failed", "heavy processing failed")
    assert "Failed: heavy processing failed" in _artifacts.finalize_markdown(failed)


def test_artifact_keys_are_what_prefect_accepts() -> None:
    assert (
        _artifacts.key_for("heavy", "2024_0601_083000_00001F-ab12cd34")
        == "heavy-2024-0601-083000-00001f-ab12cd34"
    )
