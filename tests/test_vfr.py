"""Variable-frame-rate clips whose video starts late are whole; cut ones are still truncated.

parkpow_cars.mp4 (a real toll-booth clip) has an empty edit: its video starts 1.28 s into the
container's 20.02 s, and ffmpeg's frame times start at 0, so its last frame is at 18.7 s. The
truncation checks once compared that with the 20.02 s and failed the clip as truncated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dashcam.settings import Settings
from flows.config import ingest_config
from models.db import session_scope, upgrade
from models.tables import State
from tasks.ingest import record_video
from tasks.media import FramesAndArchive, MediaError, iter_frames, probe
from tasks.media.probe import check_complete
from tests.conftest import shared

PARKPOW = "videos/real_plates/parkpow_cars.mp4"

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe not installed: run `bash infra/setup.sh`",
)


@pytest.fixture(scope="module")
def late_vfr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of irregularly spaced frames (26 fps on average) that start 1.3 s into the file,
    index first (+faststart), like parkpow_cars.mp4 but small."""
    out = tmp_path_factory.mktemp("vfr") / "late_vfr.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=60", "-t", "6",
         "-vf", r"select='not(mod(n\,3))+not(mod(n\,7))'", "-fps_mode", "vfr",
         "-output_ts_offset", "1.3", "-c:v", "libx264", "-preset", "ultrafast",
         "-movflags", "+faststart", str(out)],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    return out


def cut_at_sample(src: Path, dst: Path, fraction: float) -> Path:
    """Copy `src` up to the start of the video sample `fraction` of the way through: the index
    is intact and every sample left is whole (the demuxer still says "partial file" when it
    looks for the next one)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pos",
         "-of", "json", str(src)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    positions = [int(p["pos"]) for p in json.loads(out.stdout)["packets"]]
    dst.write_bytes(src.read_bytes()[: positions[int(len(positions) * fraction)]])
    return dst


def test_late_starting_vfr_clip_is_whole(late_vfr: Path, tmp_path: Path) -> None:
    info = probe(late_vfr)
    assert info.duration_s > 7.2  # the container counts the 1.3 s before the first frame
    assert info.video_end_s is not None and abs(info.video_end_s - 5.97) < 0.05
    times = [t for t, _ in iter_frames(late_vfr, 0.5, info)]
    assert times[0] == 0.0 and times[-1] >= 5.5 and len(times) == 12
    media = FramesAndArchive(late_vfr, 0.5, info, tmp_path / "low.mp4")
    assert [t for t, _ in media.frames()] == times
    assert media.lowres is not None and abs(media.lowres.duration_s - info.video_end_s) < 0.2


def test_late_starting_vfr_clip_cut_short_is_truncated(late_vfr: Path, tmp_path: Path) -> None:
    info = probe(late_vfr)  # the intact file's, as heavy holds it when the data goes missing
    cut = cut_at_sample(late_vfr, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(MediaError) as err:
        probe(cut)  # ingest's check
    assert err.value.code == "truncated" and cut.name in str(err.value)
    with pytest.raises(MediaError, match="ends early") as err:
        list(iter_frames(cut, 0.5, info))
    assert err.value.code == "truncated" and "re-copy it" in str(err.value)
    media = FramesAndArchive(cut, 0.5, info, tmp_path / "out" / "low.mp4")
    with pytest.raises(MediaError, match="ends early") as err:
        list(media.frames())
    assert err.value.code == "truncated"
    assert media.lowres is None and list((tmp_path / "out").iterdir()) == []


def test_frames_stopping_before_the_indexed_video_end_are_truncated(late_vfr: Path) -> None:
    """Without ffmpeg's "partial file" (data lost where the demuxer cannot tell, e.g. a
    container it reads to EOF), the frame times against the indexed end are the evidence."""
    info = probe(late_vfr)
    check_complete(late_vfr, info, 0.5, 12, 5.5, "")  # the whole clip's last sampled frame
    with pytest.raises(MediaError, match="ends at about 4.0 s .* up to 6.0 s") as err:
        check_complete(late_vfr, info, 0.5, 8, 3.5, "")
    assert err.value.code == "truncated" and "re-copy it" in str(err.value)


def test_parkpow_is_ingested(settings: Settings) -> None:
    clip = shared(PARKPOW).resolve()
    # Its folder as the raw volume: read in place (ingest never writes to raw), never copied.
    settings = settings.model_copy(update={"raw_root": clip.parent})
    upgrade(settings.database_url)
    with session_scope(settings.database_url) as s:
        video = record_video(ingest_config(settings), s, clip.name)  # what ingest's scan does with a clip
        assert video.state == State.ingested and video.error is None
        assert (video.width, video.height) == (1280, 720) and video.trip_id


def test_parkpow_goes_through_heavys_ffmpeg_pass(tmp_path: Path) -> None:
    clip = shared(PARKPOW)
    info = probe(clip)
    assert info.frame_count == 339 and abs(info.duration_s - 20.02) < 0.01
    assert info.video_end_s is not None and abs(info.video_end_s - 18.74) < 0.01
    # 360p rather than heavy's 720p keeps the test quick; the verdicts do not depend on it.
    media = FramesAndArchive(clip, 0.5, info, tmp_path / "low.mp4", height=360)
    times = [t for t, _ in media.frames()]
    assert len(times) == 38 and times[-1] > 18.5  # every step to the last frame (18.69 s)
    assert media.lowres is not None and abs(media.lowres.duration_s - 18.7) < 0.1
