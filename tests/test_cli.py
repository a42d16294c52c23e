"""The command line as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import gpxpy

from tests.conftest import shared

EXE = [sys.executable, "-m", "dashcam.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120)


def test_gps_json_from_a_70mai_clip() -> None:
    p = run("gps", str(shared("videos/70mai/NO20191130-120156-000121.MP4")), "--format", "json")
    assert p.returncode == 0, p.stderr
    points = json.loads(p.stdout)
    assert len(points) == 61
    assert set(points[0]) == {"time", "lat", "lon", "speed_mps", "bearing_deg"}
    assert abs(points[0]["lat"] - 52.1905833) < 1e-6 and abs(points[0]["lon"] - 20.7894833) < 1e-6
    assert abs(points[0]["speed_mps"] * 3.6 - 105.33) < 0.05


def test_gps_gpx_and_csv_from_gopro() -> None:
    clip = str(shared("videos/gopro/karma.mp4"))
    p = run("gps", clip, "--format", "gpx")
    assert p.returncode == 0, p.stderr
    gpx = gpxpy.parse(p.stdout)
    pts = [pt for t in gpx.tracks for s in t.segments for pt in s.points]
    assert len(pts) > 10 and pts[0].time.year == 2017
    p = run("gps", clip, "--format", "csv")
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("time,") and len(lines) == len(pts) + 1


def test_gps_says_why_when_there_is_none() -> None:
    p = run("gps", str(shared("videos/garmin_mini2/sample-1.mp4")), "--format", "json")
    assert p.returncode == 1 and "no GPS" in p.stderr
    p = run("gps", "/nonexistent.mp4")
    assert p.returncode == 2 and "no such file" in p.stderr


def test_sync_camera_away_is_quick_and_clear(tmp_path) -> None:
    import os

    # A data folder that is not there yet (a fresh clone): the CLI makes Prefect's home in it.
    env = {**os.environ, "DASHCAM_DATA_DIR": str(tmp_path / "fresh" / "data")}
    # A loopback port nothing listens on: refused at once, like a camera whose Wi-Fi is off.
    p = subprocess.run([*EXE, "sync", "--address", "127.0.0.1:9"], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1 and "not reachable" in p.stdout
    assert "Failed to create the Prefect home" not in p.stderr, p.stderr


def test_read_plates_json_lines(tmp_path) -> None:
    img = shared("plates/openalpr_eu/test_054.jpg")
    junk = tmp_path / "notes.jpg"
    junk.write_text("not an image")
    p = run("read-plates", str(img), str(junk), "--json")
    assert p.returncode == 0, p.stderr  # one image was read
    first, second = (json.loads(line) for line in p.stdout.strip().splitlines())
    assert first["image"] == str(img) and first["plates"]
    top = first["plates"][0]
    assert set(top) == {"text", "confidence", "box", "vehicle"} and len(top["box"]) == 4
    assert "RK262AH" in {pl["text"] for pl in first["plates"]}
    assert {pl["vehicle"] for pl in first["plates"] if pl["text"] == "RK262AH"} == {"car"}
    assert "error" in second
    p = run("read-plates", str(junk), "--json")
    assert p.returncode != 0
