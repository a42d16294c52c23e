"""A plate's files in the bundle: its best crop, its best frame marked, its row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.grouping import (
    Observation,
    PlateGroup,
)


def save_plate(
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
    write_jpeg(scratch / crop_name, crop, 95)
    # The best frame is for the dashboard: mark the plate, cap the width to keep the archive small.
    marked = frame.copy()
    x1, y1, x2, y2 = (int(v) for v in best.box)
    cv2.rectangle(marked, (x1, y1), (x2, y2), (0, 255, 0), max(2, frame.shape[1] // 400))
    if marked.shape[1] > 1280:
        scale = 1280 / marked.shape[1]
        marked = cv2.resize(
            marked, (1280, int(marked.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    write_jpeg(scratch / frame_name, marked, 85)
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


def write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"could not encode {path.name} as JPEG")
    path.write_bytes(buf.tobytes())
