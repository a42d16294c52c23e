"""Synthetic dashcam footage with a readable license plate, for end-to-end tests and demos.

The clip is rendered with OpenCV and encoded with the real ffmpeg/libx264, so the pipeline
under test sees genuine H.264 artefacts (chroma subsampling, blocking) rather than clean frames.
The plate design was tuned until the ONNX plate detector finds it and the rec-only OCR reads
the exact text on every sampled frame of decoded 1080p and 720p clips.

Pick plate texts the OCR can read unambiguously: like on real plates, the recogniser decides
O vs 0 (and I vs 1) from the neighbouring characters, so "GD55OOD" comes back as "GD5500D".
Below ~720p the plate is too small for reliable exact reads.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from tasks.gps.model import Fix

__all__ = [
    "add_novatek_gps",
    "graft_novatek_blocks",
    "novatek_block",
    "render_plate_clip",
    "render_plate_frames",
    "render_plate_image",
    "synthetic_track",
]

_PLATE_MM = (520, 110)  # EU plate size; only the aspect ratio matters here
_SUPERSAMPLE = 4  # draw the plate big, then downscale: anti-aliased glyph edges like a lens
_INK = np.array([22, 22, 22], dtype=np.float32)
_FONT = cv2.FONT_HERSHEY_SIMPLEX  # reads Q vs O better than DUPLEX
_STROKE = 1.8  # stroke thickness per unit of font scale

# Design values below were picked by measuring the platedet detector's confidence over many
# positions, sizes and car colours: a light-grey (not pure white) plate with a thin border,
# characters ~55% of the plate height, sitting in a dark recess on a shaded car body, scored
# consistently higher than big bold text on pure white.


def _text_mask(text: str, font: int, thickness_per_scale: float) -> np.ndarray:
    """Ink coverage (0..1) of ``text``, cropped tight to the glyphs."""
    scale = 4.0
    thickness = max(1, round(scale * thickness_per_scale))
    (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    canvas = np.zeros((th + baseline + 2 * thickness, tw + 2 * thickness), dtype=np.uint8)
    cv2.putText(canvas, text, (thickness, th + thickness), font, scale, 255, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    if ys.size == 0:
        return np.zeros((1, 1), dtype=np.float32)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0


def render_plate_image(text: str, width_px: int) -> np.ndarray:
    """A light plate with a thin dark border and dark characters, ``width_px`` wide (BGR)."""
    w = width_px * _SUPERSAMPLE
    h = round(w * _PLATE_MM[1] / _PLATE_MM[0])
    plate = np.full((h, w, 3), (200, 203, 203), dtype=np.float32)
    border = max(2, round(h * 0.025))
    cv2.rectangle(plate, (0, 0), (w - 1, h - 1), (25, 25, 25), thickness=border * 2)
    if text:
        mask = _text_mask(text, _FONT, _STROKE)
        fit = min(h * 0.55 / mask.shape[0], (w - 2 * border) * 0.88 / mask.shape[1])
        mw, mh = max(1, int(mask.shape[1] * fit)), max(1, int(mask.shape[0] * fit))
        mask = cv2.resize(mask, (mw, mh), interpolation=cv2.INTER_AREA)[..., None]
        ox, oy = (w - mw) // 2, (h - mh) // 2
        region = plate[oy : oy + mh, ox : ox + mw]
        plate[oy : oy + mh, ox : ox + mw] = region * (1 - mask) + _INK * mask
    small = cv2.resize(plate, (width_px, round(h / _SUPERSAMPLE)), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0, 255).astype(np.uint8)


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
        half0, half1 = (2 + 10 * s0) * width / 1920, (2 + 10 * s1) * width / 1920
        quad = np.array(
            [[cx - half0, y0], [cx + half0, y0], [cx + half1, y1], [cx - half1, y1]],
            dtype=np.int32,
        )
        cv2.fillConvexPoly(frame, quad, color, lineType=cv2.LINE_AA)


def _draw_car(
    frame: np.ndarray,
    plate: np.ndarray,
    center_x: int,
    bottom_y: int,
    body_color: tuple[int, int, int],
) -> None:
    """Rear view of a simple car (body, window, lights, bumper, wheels) with the plate on it."""
    ph, pw = plate.shape[:2]
    car_w = int(pw * 2.7)
    body_h = int(car_w * 0.3)
    cab_h = int(car_w * 0.24)
    x0, x1 = center_x - car_w // 2, center_x + car_w // 2
    top = bottom_y - body_h
    # Soft shadow on the road.
    overlay = frame.copy()
    axes = (int(car_w * 0.55), max(2, int(car_w * 0.03)))
    cv2.ellipse(overlay, (center_x, bottom_y + 6), axes, 0, 0, 360, (30, 30, 30), -1)
    cv2.addWeighted(overlay, 0.5, frame, 0.5, 0, dst=frame)
    # Wheels peeking below the body.
    wheel_w, wheel_h = int(car_w * 0.13), int(body_h * 0.16)
    for wx in (x0 + int(car_w * 0.06), x1 - int(car_w * 0.06) - wheel_w):
        cv2.rectangle(
            frame, (wx, bottom_y - 4), (wx + wheel_w, bottom_y + wheel_h), (18, 18, 18), -1
        )
    # Cabin (trapezoid) with a dark rear window.
    cabin = np.array(
        [
            [x0 + int(car_w * 0.14), top - cab_h],
            [x1 - int(car_w * 0.14), top - cab_h],
            [x1 - int(car_w * 0.04), top + 2],
            [x0 + int(car_w * 0.04), top + 2],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(frame, cabin, body_color, lineType=cv2.LINE_AA)
    window = np.array(
        [
            [x0 + int(car_w * 0.18), top - cab_h + int(cab_h * 0.14)],
            [x1 - int(car_w * 0.18), top - cab_h + int(cab_h * 0.14)],
            [x1 - int(car_w * 0.09), top - int(cab_h * 0.08)],
            [x0 + int(car_w * 0.09), top - int(cab_h * 0.08)],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(frame, window, (70, 55, 45), lineType=cv2.LINE_AA)
    # Body with top-lit shading (a flat fill looks less like a car to the detector).
    shade = np.linspace(1.15, 0.75, body_h + 1, dtype=np.float32)[:, None, None]
    body = np.asarray(body_color, dtype=np.float32)[None, None, :] * shade
    bx0, bx1 = max(0, x0), min(frame.shape[1], x1 + 1)
    frame[top : bottom_y + 1, bx0:bx1] = np.clip(body, 0, 255).astype(np.uint8)
    # Tail lights and bumper.
    light_w, light_h = int(car_w * 0.16), int(body_h * 0.2)
    light_y = top + int(body_h * 0.12)
    cv2.rectangle(
        frame, (x0 + 12, light_y), (x0 + 12 + light_w, light_y + light_h), (40, 40, 200), -1
    )
    cv2.rectangle(
        frame, (x1 - 12 - light_w, light_y), (x1 - 12, light_y + light_h), (40, 40, 200), -1
    )
    bumper_top = bottom_y - int(body_h * 0.3)
    cv2.rectangle(frame, (x0, bumper_top), (x1, bottom_y), (45, 45, 48), -1)
    # Plate centred above the bumper in a dark recess.
    py = bumper_top - ph - int(body_h * 0.06)
    px = center_x - pw // 2
    recess = max(2, ph // 9)
    cv2.rectangle(
        frame, (px - recess, py - recess), (px + pw + recess, py + ph + recess), (35, 35, 35), -1
    )
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
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"plate text must be printable ASCII (OpenCV's Hershey fonts): {text!r}")
    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    horizon = int(height * 0.42)
    # Sensor noise: a fixed pattern (it helps the detector, and static noise costs the encoder
    # little) plus a few weak per-frame fields, cycled, so the video still "shimmers".
    fixed = rng.normal(0.0, 6.0, size=(height, width, 1))
    noise = [
        (fixed + rng.normal(0.0, 2.0, size=(height, width, 1))).astype(np.int16) for _ in range(4)
    ]
    r, g, b = (int(c) for c in rng.integers(40, 210, size=3))
    body_color = (r, g, b)
    # Plate ~210 px wide at 1080p, growing to ~290 px as the gap to the car ahead closes.
    plate_w0 = width * 0.11
    x_start, x_end = rng.uniform(0.36, 0.42), rng.uniform(0.58, 0.64)
    n_frames = max(1, round(seconds * fps))
    for i in range(n_frames):
        t = i / max(1, n_frames - 1)
        frame = background.copy()
        _draw_lane_dashes(frame, horizon, phase=(i * 0.08) % 1.0, color=(225, 225, 225))
        plate = render_plate_image(text, int(plate_w0 * (1.0 + 0.35 * t)))
        center_x = int(width * (x_start + (x_end - x_start) * t))
        bottom_y = int(height * (0.80 + 0.05 * t) + 3 * np.sin(i * 0.7))  # road bumps
        _draw_car(frame, plate, center_x, bottom_y, body_color)
        # Mild optical blur, then sensor noise.
        frame = cv2.GaussianBlur(frame, (0, 0), 1.0)
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
    Same arguments give the same frames (and, with the same ffmpeg build, the same bytes).
    """
    if width % 2 or height % 2:
        raise ValueError("width and height must be even for yuv420p")
    if width < 320 or not 1.0 <= width / height <= 2.4:
        raise ValueError(f"unsupported frame size {width}x{height}: use a landscape video size")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found on PATH; it is needed to encode synthetic clips")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique hidden name in the same directory (same filesystem, so the rename is atomic);
    # ffmpeg creates it, so it gets the usual umask permissions rather than mkstemp's 0600.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    cmd = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0",
        "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast",
        "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]  # fmt: skip
    try:
        # stderr goes to a file, not a pipe: a chatty ffmpeg can't deadlock us while we write.
        with tempfile.TemporaryFile() as errlog:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=errlog)
            assert proc.stdin is not None
            try:
                for frame in render_plate_frames(text, seconds, fps, width, height, seed):
                    proc.stdin.write(frame.tobytes())
            except BrokenPipeError:
                pass  # ffmpeg exited early; its log below says why
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
                returncode = proc.wait()
            if returncode != 0:
                errlog.seek(0)
                detail = errlog.read().decode(errors="replace").strip()
                raise RuntimeError(f"ffmpeg failed encoding {path} (exit {returncode}): {detail}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- GPS in the clip
# Novatek `freeGPS ` blocks, the way Viofo A129/A139/A229 firmware writes them (the layout
# tasks/gps/novatek.py reads; offsets as in ../shared/data/videos/novatek_vectors): one block a
# second, indexed by `moov/gps `, stored after `moov` in a top-level `free` box.

_KNOT = 1852.0 / 3600.0
NOVATEK_BLOCK = 0x100  # cameras write 16 KB blocks, mostly zeros; the reader needs 0x3C bytes


def _ddmm(deg: float) -> float:
    d = int(abs(deg))
    return d * 100 + (abs(deg) - d) * 60


def novatek_block(fix: Fix) -> bytes:
    """One `freeGPS ` block (Viofo float32 layout): UTC time, A/V, N/S, E/W, DDMM.mmmm, knots."""
    raw = bytearray(NOVATEK_BLOCK)
    struct.pack_into(">I8s", raw, 0, NOVATEK_BLOCK, b"freeGPS ")
    t = fix.time
    if t is None or not fix.valid:
        return bytes(raw)  # zeros after the header: what a camera without a fix writes
    struct.pack_into("<6I", raw, 0x10, t.hour, t.minute, t.second, t.year % 100, t.month, t.day)
    raw[0x28:0x2C] = b"A" + (b"N" if fix.lat >= 0 else b"S") + (b"E" if fix.lon >= 0 else b"W") + b"\0"
    struct.pack_into("<4f", raw, 0x2C, _ddmm(fix.lat), _ddmm(fix.lon),
                     (fix.speed_mps or 0.0) / _KNOT, (fix.bearing_deg or 0.0) % 360.0)
    return bytes(raw)


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, btype = struct.unpack_from(">I4s", data, pos)
        if size < 8:
            raise ValueError(f"box {btype!r} at byte {pos} has size {size}: not a plain MP4")
        out.append((btype, pos, size))
        pos += size
    return out


def graft_novatek_blocks(src: Path, dst: Path, blocks: Sequence[bytes]) -> Path:
    """`dst`: `src` with `blocks` indexed by a `moov/gps ` box and stored after `moov`.

    `moov` must be the last box (ffmpeg without +faststart): growing it then moves no media
    data, so every chunk offset stays right and the file still plays.
    """
    data = Path(src).read_bytes()
    moovs = [b for b in _boxes(data) if b[0] == b"moov"]
    if len(moovs) != 1 or moovs[0][1] + moovs[0][2] != len(data):
        raise ValueError(f"{src}: moov is not the last box; write it without +faststart")
    _, start, size = moovs[0]
    index_size = 8 + 8 + 8 * len(blocks)
    first = start + size + index_size + 8  # after the grown moov and the `free` header
    entries, offset = [], first
    for b in blocks:
        entries.append(struct.pack(">II", offset, len(b)))
        offset += len(b)
    index = struct.pack(">I4sII", index_size, b"gps ", 0x101, len(blocks)) + b"".join(entries)
    moov = struct.pack(">I4s", size + index_size, b"moov") + data[start + 8:start + size] + index
    store = b"".join(blocks)
    Path(dst).write_bytes(data[:start] + moov + struct.pack(">I4s", 8 + len(store), b"free") + store)
    return Path(dst)


def add_novatek_gps(clip: Path, fixes: Sequence[Fix]) -> Path:
    """Give a rendered clip the GPS a Viofo writes: one block per fix, in place (atomically).
    A +faststart clip is first remuxed (stream copy) to put `moov` last."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found on PATH; it is needed to remux the clip")
    clip = Path(clip)
    tmp = clip.with_name(f".{clip.name}.{uuid.uuid4().hex[:8]}.gps.tmp")
    plain = clip.with_name(f".{clip.name}.{uuid.uuid4().hex[:8]}.plain.mp4")
    try:
        subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip),
                        "-map", "0", "-c", "copy", "-f", "mp4", str(plain)], check=True,
                       capture_output=True, timeout=300)
        graft_novatek_blocks(plain, tmp, [novatek_block(f) for f in fixes])
        os.replace(tmp, clip)
    finally:
        tmp.unlink(missing_ok=True)
        plain.unlink(missing_ok=True)
    return clip


def synthetic_track(start_utc: datetime, seconds: int, lat: float = 46.8403, lon: float = 29.4631,
                    speed_mps: float = 12.0, bearing_deg: float = 35.0) -> list[Fix]:
    """A plausible 1 Hz drive: steady speed along a gently turning road (3 degrees a second)."""
    fixes = []
    for i in range(seconds):
        fixes.append(Fix(start_utc + timedelta(seconds=i), lat, lon, speed_mps, bearing_deg % 360.0))
        step = speed_mps / 6_371_000.0
        lat += math.degrees(step * math.cos(math.radians(bearing_deg)))
        lon += math.degrees(step * math.sin(math.radians(bearing_deg)) / math.cos(math.radians(lat)))
        bearing_deg += 3.0
    return fixes
