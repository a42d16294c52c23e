"""Synthetic dashcam footage with a readable license plate, for end-to-end tests and demos.

The clip is rendered with OpenCV and encoded with the real ffmpeg/libx264, so the pipeline
under test sees genuine H.264 artefacts (chroma subsampling, blocking) rather than clean frames.
The plate design was tuned until the ONNX plate detector finds it and the rec-only OCR reads
the exact text on essentially every frame of a decoded 1080p clip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

__all__ = ["render_plate_clip", "render_plate_frames", "render_plate_image"]

_PLATE_MM = (520, 110)  # EU plate size; only the aspect ratio matters here
_SUPERSAMPLE = 4  # draw the plate big, then downscale: anti-aliased glyph edges like a lens


def render_plate_image(text: str, width_px: int) -> np.ndarray:
    """A white plate with a dark border and large dark characters, ``width_px`` wide (BGR)."""
    w = width_px * _SUPERSAMPLE
    h = round(w * _PLATE_MM[1] / _PLATE_MM[0])
    plate = np.full((h, w, 3), (236, 240, 240), dtype=np.uint8)  # slightly warm white
    border = max(2, round(h * 0.05))
    cv2.rectangle(plate, (0, 0), (w - 1, h - 1), (25, 25, 25), thickness=border * 2)
    font = cv2.FONT_HERSHEY_DUPLEX
    # Fit the text to ~68% of the plate height and ~88% of its width, like a real plate.
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(h * 0.68 / th, w * 0.88 / tw)
    thickness = max(1, round(scale * 2.2))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(plate, text, origin, font, scale, (20, 20, 20), thickness, cv2.LINE_AA)
    return cv2.resize(plate, (width_px, round(h / _SUPERSAMPLE)), interpolation=cv2.INTER_AREA)


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Sky gradient, grass verges and an asphalt road narrowing to the horizon."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    horizon = int(height * 0.42)
    t = np.linspace(0.0, 1.0, horizon)[:, None]
    sky_top, sky_low = np.array([200, 150, 110]), np.array([235, 215, 195])  # BGR
    img[:horizon] = (sky_top * (1 - t) + sky_low * t)[:, None, :].astype(np.uint8)
    img[horizon:] = (70, 120, 80)  # grass
    road = np.array(
        [
            [int(width * 0.47), horizon],
            [int(width * 0.53), horizon],
            [int(width * 1.05), height],
            [int(-width * 0.05), height],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(img, road, (95, 95, 98))
    # Static grain so the road and verges have texture the encoder has to spend bits on.
    grain = rng.normal(0.0, 9.0, size=(height, width, 1)).astype(np.float32)
    textured = img.astype(np.float32)
    textured[horizon:] += grain[horizon:]
    return np.clip(textured, 0, 255).astype(np.uint8)


def _draw_lane_dashes(
    frame: np.ndarray, horizon: int, phase: float, color: tuple[int, int, int]
) -> None:
    """Centre-line dashes that flow towards the camera as the car drives forward."""
    height, width = frame.shape[:2]
    cx = width // 2
    for k in range(12):
        # Position along the road in [0, 1): 0 at the horizon, 1 at the bottom edge.
        s0 = ((k + phase) / 12.0) ** 2
        s1 = min(1.0, ((k + phase + 0.45) / 12.0) ** 2)
        y0, y1 = horizon + s0 * (height - horizon), horizon + s1 * (height - horizon)
        half0, half1 = 2 + 10 * s0, 2 + 10 * s1
        quad = np.array(
            [[cx - half0, y0], [cx + half0, y0], [cx + half1, y1], [cx - half1, y1]],
            dtype=np.int32,
        )
        cv2.fillConvexPoly(frame, quad, color, lineType=cv2.LINE_AA)


def _draw_car(
    frame: np.ndarray, plate: np.ndarray, center_x: int, bottom_y: int, body_color: tuple[int, int, int]
) -> None:
    """Rear view of a simple car (body, window, lights, bumper, wheels) with the plate on it."""
    ph, pw = plate.shape[:2]
    car_w = int(pw * 3.4)  # ~1.8 m wide car vs a 0.52 m plate
    body_h = int(car_w * 0.36)
    cab_h = int(car_w * 0.24)
    x0, x1 = center_x - car_w // 2, center_x + car_w // 2
    body_top = bottom_y - body_h
    # Soft shadow on the road.
    overlay = frame.copy()
    cv2.ellipse(overlay, (center_x, bottom_y + 6), (int(car_w * 0.55), 22), 0, 0, 360, (30, 30, 30), -1)
    cv2.addWeighted(overlay, 0.5, frame, 0.5, 0, dst=frame)
    # Wheels peeking below the body.
    wheel_w, wheel_h = int(car_w * 0.13), int(body_h * 0.16)
    for wx in (x0 + int(car_w * 0.06), x1 - int(car_w * 0.06) - wheel_w):
        cv2.rectangle(frame, (wx, bottom_y - 4), (wx + wheel_w, bottom_y + wheel_h), (18, 18, 18), -1)
    # Cabin (trapezoid) with a dark rear window.
    cabin = np.array(
        [
            [x0 + int(car_w * 0.14), body_top - cab_h],
            [x1 - int(car_w * 0.14), body_top - cab_h],
            [x1 - int(car_w * 0.04), body_top + 2],
            [x0 + int(car_w * 0.04), body_top + 2],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(frame, cabin, body_color, lineType=cv2.LINE_AA)
    window = np.array(
        [
            [x0 + int(car_w * 0.18), body_top - cab_h + int(cab_h * 0.14)],
            [x1 - int(car_w * 0.18), body_top - cab_h + int(cab_h * 0.14)],
            [x1 - int(car_w * 0.09), body_top - int(cab_h * 0.08)],
            [x0 + int(car_w * 0.09), body_top - int(cab_h * 0.08)],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(frame, window, (70, 55, 45), lineType=cv2.LINE_AA)
    # Body, tail lights, bumper.
    cv2.rectangle(frame, (x0, body_top), (x1, bottom_y), body_color, -1)
    light_w, light_h = int(car_w * 0.16), int(body_h * 0.2)
    light_y = body_top + int(body_h * 0.12)
    cv2.rectangle(frame, (x0 + 12, light_y), (x0 + 12 + light_w, light_y + light_h), (40, 40, 200), -1)
    cv2.rectangle(frame, (x1 - 12 - light_w, light_y), (x1 - 12, light_y + light_h), (40, 40, 200), -1)
    bumper_top = bottom_y - int(body_h * 0.2)
    cv2.rectangle(frame, (x0, bumper_top), (x1, bottom_y), (45, 45, 48), -1)
    # Plate centred on the lower body, above the bumper, inside a slightly recessed frame.
    py = bumper_top - ph - int(body_h * 0.06)
    px = center_x - pw // 2
    cv2.rectangle(frame, (px - 6, py - 6), (px + pw + 6, py + ph + 6), (35, 35, 35), -1)
    frame[py : py + ph, px : px + pw] = plate


def render_plate_frames(
    text: str = "KA12BCD",
    seconds: float = 4.0,
    fps: int = 30,
    width: int = 1920,
    height: int = 1080,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """Yield the BGR frames of :func:`render_plate_clip` (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    horizon = int(height * 0.42)
    # A few pre-drawn sensor-noise fields, cycled: per-frame noise without per-frame RNG cost.
    noise = [rng.normal(0.0, 4.0, size=(height, width, 1)).astype(np.int16) for _ in range(4)]
    body_color = tuple(int(c) for c in rng.integers(60, 200, size=3))
    plate_w0 = int(width * 0.12)  # ~230 px at 1080p, growing as the gap closes
    x_start, x_end = rng.uniform(0.36, 0.42), rng.uniform(0.58, 0.64)
    n_frames = max(1, round(seconds * fps))
    for i in range(n_frames):
        t = i / max(1, n_frames - 1)
        frame = background.copy()
        _draw_lane_dashes(frame, horizon, phase=(i * 0.08) % 1.0, color=(225, 225, 225))
        scale = 1.0 + 0.25 * t  # the car ahead gets a little closer
        plate = render_plate_image(text, int(plate_w0 * scale))
        center_x = int(width * (x_start + (x_end - x_start) * t))
        bottom_y = int(height * (0.80 + 0.05 * t) + 3 * np.sin(i * 0.7))  # road bumps
        _draw_car(frame, plate, center_x, bottom_y, body_color)  # type: ignore[arg-type]
        # Mild optical blur, then sensor noise.
        frame = cv2.GaussianBlur(frame, (3, 3), 0.8)
        noisy = frame.astype(np.int16) + noise[i % len(noise)]
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def render_plate_clip(
    path: Path,
    text: str = "KA12BCD",
    seconds: float = 4.0,
    fps: int = 30,
    width: int = 1920,
    height: int = 1080,
    seed: int = 0,
) -> Path:
    """Render a clip of a car with plate ``text`` driving ahead, encoded as H.264 MP4.

    Frames are piped as raw BGR into ffmpeg/libx264 (yuv420p). The file is written to a
    temporary name beside ``path`` and renamed, so readers never see a half-written clip.
    """
    if width % 2 or height % 2:
        raise ValueError("width and height must be even for yuv420p")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found on PATH; it is needed to encode synthetic clips")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.mp4", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0",
        "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast",
        "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]  # fmt: skip
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in render_plate_frames(text, seconds, fps, width, height, seed):
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg died; its stderr below says why
        finally:
            proc.stdin.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed encoding {path}: {stderr.strip()}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
