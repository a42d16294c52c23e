"""The demo's footage: rendered plate clips that carry a real drive's GPS as Novatek blocks
(read back by the pipeline's own reader), a fallback drive without ../shared, and the demo's
summary of plates with their dashboard links."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashcam.ops import samples
from dashcam.ops.status import format_plates, plates_report
from tasks.gps import Track, read_track
from tasks.gps.clean import haversine_m


def _plays(clip: Path) -> None:
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: run `bash infra/setup.sh`")
    return samples.make_samples(tmp_path_factory.mktemp("raw"))[:2]


def test_rendered_clips_carry_the_drive_as_novatek_gps(clips: list[Path]) -> None:
    tracks, origin = samples.demo_gps()
    assert [c.name for c in clips] == ["2024_0601_083000_00001F.MP4", "2024_0601_083004_00002F.MP4"]
    previous = None
    for clip, written in zip(clips, tracks, strict=True):
        _plays(clip)
        track = read_track(clip)
        assert isinstance(track, Track) and track.source == "novatek", track
        assert track.camera_clock_offset_s == 3 * 3600  # file names in local time, UTC+3
        fixes = track.valid_fixes
        assert len(fixes) == samples.CLIP_S
        for got, want in zip(fixes, written, strict=True):
            assert got.time == want.time
            assert haversine_m(got.lat, got.lon, want.lat, want.lon) < 3  # float32 DDMM.mmmm
            assert got.speed_mps == pytest.approx(want.speed_mps, abs=0.01)
        if previous is not None:  # one drive: the second clip goes on where the first ended
            assert fixes[0].time - previous.time == timedelta(seconds=1)
            assert 5 < haversine_m(previous.lat, previous.lon, fixes[0].lat, fixes[0].lon) < 40
        previous = fixes[-1]
    if samples.DRIVE_LOG.is_file():
        assert "real 70mai A810 drive" in origin
        from tasks.gps.sidecar import parse_70mai_log, read_text

        logged = [r.fix for r in parse_70mai_log(read_text(samples.DRIVE_LOG)) if r.fix.valid]
        first = tracks[0][0]
        # The positions are the log's (resampled along it): within a few metres of a logged fix.
        assert min(haversine_m(first.lat, first.lon, f.lat, f.lon) for f in logged) < 5


def test_without_shared_the_drive_is_synthetic_but_the_same_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(samples, "DRIVE_LOG", Path("/nonexistent/GPSData000001.txt"))
    fixes, origin = samples.drive_fixes(8, samples.DRIVE_LOG)
    assert "synthetic" in origin and len(fixes) == 8
    steps = [haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in zip(fixes, fixes[1:], strict=False)]
    assert all(abs(s - 12.0) < 0.5 for s in steps)  # 12 m/s, a fix a second
    assert all((b.time - a.time) == timedelta(seconds=1) for a, b in zip(fixes, fixes[1:], strict=False))
    assert fixes[0].time is not None and fixes[0].time.tzinfo == UTC


@pytest.mark.slow
def test_the_demo_reads_located_plates_and_names_them_with_links(clips: list[Path], tmp_path: Path) -> None:
    """The demo's clips through the whole chain in this process (`dashcam process`): each
    plate read, on the map, and in the summary with its dashboard links."""
    import os
    import sys

    env = {**os.environ, "DASHCAM_DATA_DIR": str(tmp_path / "data"), "DASHCAM_STABLE_SECONDS": "0"}
    p = subprocess.run([sys.executable, "-m", "dashcam.cli", "process", *map(str, clips)],
                       capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    url = f"sqlite:///{tmp_path / 'data' / 'dashcam.db'}"
    rows = plates_report(url, "https://dashcam.home/")
    got: dict[str, Any] = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    for clip, text in zip(clips, samples.PLATES, strict=True):
        r = got[clip.name]
        assert r["has_gps"] and r["link"] == f"https://dashcam.home/video?video_id={r['video_id']}"
        assert [(x["text"], x["located"]) for x in r["plates"]] == [(text, True)]
        assert r["plates"][0]["link"] == f"https://dashcam.home/plate?text={text}"
    summary = format_plates(rows)
    for text in samples.PLATES:
        assert f"https://dashcam.home/plate?text={text}" in summary
    assert summary.count("on the map") == 2
