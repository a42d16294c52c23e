"""Which sampled frames are worth the plate detector (the heavy stage's most expensive call).

A frame skips the detector when it is unusable (too dark, too blurred to read anything) or
adds nothing (the scene has not changed since the last frame that went through the detector:
a red light, a parked car), and, where GPS says the car is stationary, frames are taken less
often. Measures are on a small grey thumbnail, so gating costs ~2 ms a 1080p frame.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

_THUMB_W = 160  # change detection: enough to see a car move, too coarse to see sensor noise
_SHARP_W = 640  # blur measure: the detector's own input scale


@dataclass(frozen=True)
class GateConfig:
    # Percent of the 160-wide grey thumbnail that changed by more than 10 grey levels since the
    # last detected frame. A local measure on purpose: a far car crossing a still scene is
    # ~1.5 % of the frame and must pass, while a global mean would dilute it. Measured: pixel
    # noise up to sigma 20 changes 0 %; the rendered car ahead 5-7 % per 0.5 s; a real drive
    # 2-25 %, 0.3 % when it stops (tests/test_gating.py).
    static_area_pct: float = 0.5
    # Even a static scene goes through the detector this often (slow changes, safety net).
    static_refresh_s: float = 10.0
    dark_luma: float = 12.0  # mean luma: below this nothing is lit, not even a plate
    blur_var: float = 8.0  # variance of the Laplacian at 640 wide: below, nothing is sharp
    stationary_mps: float = 0.8  # GPS speed below this: the car is standing
    stationary_every_s: float = 1.0  # ... and then one frame a second is enough
    # Changed area (percent) above which a frame starts a new scene (a cut in edited or joined
    # footage): no plate track continues across it. A real drive changes 2-25 % per 0.5 s.
    cut_area_pct: float = 60.0


@dataclass(frozen=True)
class FrameStats:
    luma: float
    sharpness: float
    thumb: np.ndarray  # float32 grey, _THUMB_W wide


def frame_stats(frame_bgr: np.ndarray) -> FrameStats:
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
    h, w = gray.shape[:2]
    mid = (
        cv2.resize(gray, (_SHARP_W, max(1, round(h * _SHARP_W / w))), interpolation=cv2.INTER_AREA)
        if w > _SHARP_W
        else gray
    )
    thumb = cv2.resize(
        mid, (_THUMB_W, max(1, round(h * _THUMB_W / w))), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    sharp = float(cv2.Laplacian(mid, cv2.CV_32F).var())
    return FrameStats(luma=float(thumb.mean()), sharpness=sharp, thumb=thumb)


_CHANGED_LEVELS = 10.0  # per thumbnail pixel (each averages ~12x12 full-HD pixels: no noise)


def scene_change(a: np.ndarray, b: np.ndarray) -> float:
    """Percent of thumbnail pixels whose grey level changed by more than 10 (0-100)."""
    if a.shape != b.shape:
        return 100.0
    return float((np.abs(a - b) > _CHANGED_LEVELS).mean() * 100.0)


@dataclass
class Gate:
    """Stateful: call `decide` once per sampled frame, in time order."""

    config: GateConfig = field(default_factory=GateConfig)
    skipped: Counter[str] = field(default_factory=Counter)
    passed: int = 0
    cut: bool = False  # the last frame that passed starts a new scene
    cuts: int = 0
    _last_thumb: np.ndarray | None = None
    _last_s: float | None = None

    def decide(
        self, frame_s: float, frame_bgr: np.ndarray, speed_mps: float | None = None
    ) -> str | None:
        """None: run the detector on this frame. Otherwise the reason it is skipped."""
        reason = self._reason(frame_s, frame_bgr, speed_mps)
        if reason:
            self.skipped[reason] += 1
        else:
            self.passed += 1
        return reason

    def _reason(self, frame_s: float, frame_bgr: np.ndarray, speed_mps: float | None) -> str | None:
        c = self.config
        since = None if self._last_s is None else frame_s - self._last_s
        if (
            speed_mps is not None
            and speed_mps < c.stationary_mps
            and since is not None
            and since < c.stationary_every_s - 1e-6
        ):
            return "stationary"  # cheapest test first: no pixels touched
        stats = frame_stats(frame_bgr)
        if stats.luma < c.dark_luma:
            return "dark"
        if stats.sharpness < c.blur_var:
            return "blurred"
        if (
            self._last_thumb is not None
            and since is not None
            and since < c.static_refresh_s
            and scene_change(stats.thumb, self._last_thumb) < c.static_area_pct
        ):
            return "static"
        self.cut = (
            self._last_thumb is not None
            and scene_change(stats.thumb, self._last_thumb) > c.cut_area_pct
        )
        self.cuts += self.cut
        self._last_thumb, self._last_s = stats.thumb, frame_s
        return None
