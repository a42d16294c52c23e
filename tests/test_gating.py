"""Gating: which sampled frames skip the plate detector, on synthetic and real frames."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashcam.settings import Settings
from flows.config import heavy_config, volumes
from tasks.gating import Gate, GateConfig, frame_stats, scene_change
from tasks.media import iter_frames, probe
from tasks.synthetic import render_plate_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"real test data {p} is absent (../shared/data is beside the repo in CI)")
    return p


@pytest.fixture(scope="module")
def moving() -> list[np.ndarray]:
    """Synthetic drive at 2 fps: the car ahead moves and grows, the lane dashes move."""
    return list(render_plate_frames(seconds=3.0, fps=30, width=1280, height=720))[::15]


def noisy(frame: np.ndarray, seed: int, sigma: float = 6.0) -> np.ndarray:
    """The same scene with fresh sensor noise, as a camera standing still records it."""
    noise = np.random.default_rng(seed).normal(0, sigma, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_a_moving_scene_always_passes(moving: list[np.ndarray]) -> None:
    gate = Gate()
    assert [gate.decide(i * 0.5, f) for i, f in enumerate(moving)] == [None] * len(moving)
    # Measured: 5-7 % of the frame changes between samples 0.5 s apart; noise alone 0 %.
    thumbs = [frame_stats(f).thumb for f in moving]
    changes = [scene_change(a, b) for a, b in zip(thumbs, thumbs[1:], strict=False)]
    assert min(changes) > 5 * GateConfig().static_area_pct


def test_a_small_far_car_crossing_a_still_scene_passes(moving: list[np.ndarray]) -> None:
    """Standing at a light while a car crosses far ahead: a local change, not a global one."""
    still = moving[0]
    gate = Gate()
    assert gate.decide(0.0, still) is None
    crossing = noisy(still, 1)
    h, w = still.shape[:2]
    y, x = h // 2, w // 3  # a car 10 % of the frame wide (its plate ~50 px at 1080p), 1 % of it
    crossing[y : y + h // 10, x : x + w // 10] = (40, 40, 200)
    before, after = frame_stats(still).thumb, frame_stats(crossing).thumb
    assert GateConfig().static_area_pct < scene_change(before, after) < 1.5
    assert float(np.abs(before - after).mean()) < 1.0  # a global mean would call it static
    assert gate.decide(0.5, crossing) is None


def test_a_static_scene_skips_until_the_refresh(moving: list[np.ndarray]) -> None:
    gate = Gate(GateConfig(static_refresh_s=5.0))
    still = moving[0]
    reasons = [gate.decide(i * 0.5, noisy(still, i)) for i in range(14)]
    assert reasons[0] is None and set(reasons[1:10]) == {"static"}
    assert reasons[10] is None  # 5 s since the last detected frame: look again
    assert gate.skipped["static"] == 12 and gate.passed == 2
    # Change is measured from the last *detected* frame, so a slow drift adds up and passes.
    assert gate.decide(7.5, moving[2]) is None


def test_dark_and_blurred_frames_skip(moving: list[np.ndarray]) -> None:
    gate = Gate()
    frame = moving[0]
    assert gate.decide(0.0, (frame * 0.03).astype(np.uint8)) == "dark"
    assert gate.decide(0.5, cv2.GaussianBlur(frame, (0, 0), 12)) == "blurred"
    assert gate.decide(1.0, frame) is None
    assert dict(gate.skipped) == {"dark": 1, "blurred": 1}


def test_stationary_car_samples_less_often(moving: list[np.ndarray]) -> None:
    gate = Gate(GateConfig(stationary_every_s=1.0))
    # Standing: one frame a second, whatever moves in front; driving: every sampled frame.
    got = [gate.decide(i * 0.5, moving[i % len(moving)], 0.0) for i in range(6)]
    assert got == [None, "stationary", None, "stationary", None, "stationary"]
    got = [gate.decide(3.0 + i * 0.5, moving[i % len(moving)], 12.0) for i in range(4)]
    assert got == [None] * 4


def test_real_dashcam_frames_day_and_night_all_pass() -> None:
    """No real frame, night ones included, is thrown away as dark or blurred."""
    images = sorted(shared("plates/dashcam_frames_ro/images").glob("*.jpg"))
    assert len(images) == 30
    for path in images:
        frame = np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, :3])
        assert Gate().decide(0.0, frame) is None, path.name
        stats = frame_stats(frame)
        # Measured minimum over the set: luma 36, sharpness 80: far from the thresholds.
        assert (
            stats.luma > 2 * GateConfig().dark_luma and stats.sharpness > 5 * GateConfig().blur_var
        )
        gate = Gate()
        assert gate.decide(0.0, cv2.GaussianBlur(frame, (0, 0), 15)) == "blurred", path.name


def test_real_drive_with_a_stop() -> None:
    """A real Kaiser Bass clip (163 s, slows down and stops): some frames skip, most pass."""
    clip = shared("videos/kaiserbass_r50/DCIM/100video/20240113175633_163.MP4")
    gate = Gate()
    frames = list(iter_frames(clip, 0.5, probe(clip)))
    reasons = [gate.decide(t, f) for t, f in frames]
    assert gate.skipped["static"] >= 1 and set(gate.skipped) == {"static"}
    assert gate.passed >= 0.85 * len(frames)
    assert reasons[0] is None


def test_heavy_counts_skipped_frames(tmp_path: Path) -> None:
    """A car standing in front for 12 s (a red light): read once, the rest skipped, one plate."""
    from tasks.heavy import run_heavy

    frame = next(iter(render_plate_frames(seconds=0.1, fps=30, width=1280, height=720)))
    raw = tmp_path / "raw"
    raw.mkdir()
    cv2.imwrite(str(tmp_path / "still.png"), frame)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-loop", "1", "-i", str(tmp_path / "still.png"),
         "-t", "12", "-r", "30", "-vf", "noise=alls=6:allf=t", "-c:v", "libx264", "-preset",
         "veryfast", "-pix_fmt", "yuv420p", str(raw / "still.mp4")],
        check=True,
    )  # fmt: skip
    settings = Settings(data_dir=tmp_path / "data", raw_root=raw)
    res = run_heavy(heavy_config(settings), "still", "still.mp4")
    assert res.status == "ok" and res.plates == 1
    det = json.loads((volumes(settings).volume_root("work") / "still" / "detections.json").read_text())
    t = det["timings"]
    assert t["frames"] == 24 and t["frames_detected"] + sum(t["frames_skipped"].values()) == 24
    assert t["frames_skipped"].get("static", 0) >= 20, t
    # Longer than the static refresh (10 s): still one track, one plate, not two.
    assert t["tracks"] == 1 and det["plates"][0]["last_seen_s"] >= 10
