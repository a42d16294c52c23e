"""tasks.media on real camera files (../shared/data) and tiny clips made with ffmpeg testsrc2."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tasks.media import (
    FFmpegUnavailableError,
    MediaError,
    VideoInfo,
    iter_frames,
    probe,
    sha256_file,
    transcode_lowres,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEOS = DATA / "videos"
SEVENTY_MAI = VIDEOS / "70mai"
GARMIN = VIDEOS / "garmin_mini2"
GOOD_70MAI = "NO20191130-120156-000121.MP4"
KNOWN_CODES = {"missing", "empty", "too_small", "not_video", "no_moov", "corrupt", "no_video",
               "bad_duration", "bad_stream", "decode_error", "truncated", "timeout", "unreadable",
               "ffmpeg_failed"}

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe not installed: run `bash infra/setup.sh`",
)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (expects ../shared/data beside the repo)")
    return path


def make_clip(dst: Path, size: str = "320x240", seconds: float = 2, *, rate: int = 30,
              audio: bool = False, faststart: bool = False, source: str = "testsrc2",
              pix_fmt: str = "yuv420p") -> Path:
    sep = ":" if "=" in source else "="  # "testsrc2=size=..." or "color=c=red:size=..."
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"{source}{sep}size={size}:rate={rate}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    cmd += ["-c:a", "aac"] if audio else ["-an"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    subprocess.run([*cmd, str(dst)], check=True, timeout=60, capture_output=True)
    return dst


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order."""
    data, out, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[i + 8:i + 16])
        out.append(kind.decode("latin-1"))
        if size < 8:
            break
        i += size
    return out


def cut_in_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def ffprobe_json(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json",
                          str(path)], check=True, capture_output=True, timeout=30)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "small": make_clip(d / "small.mp4"),  # 320x240, moov at the end like a camera file
        "small_fast": make_clip(d / "small_fast.mp4", faststart=True),
        "hd": make_clip(d / "hd.mp4", "1920x1080", audio=True),
        "qhd": make_clip(d / "qhd.mp4", "960x540"),
        "odd": make_clip(d / "odd.mp4", "321x241", pix_fmt="yuv444p"),
        "red": make_clip(d / "red.mp4", "64x48", 1, source="color=c=red"),
    }


def assert_clear(err: MediaError, path: Path) -> None:
    """A MediaError names the file and says something useful."""
    text = str(err)
    assert path.name in text
    assert len(text) > len(str(path)) + 20
    assert err.code in KNOWN_CODES


# --------------------------------------------------------------------------- probe


def test_probe_synthetic_clip(clips: dict[str, Path]) -> None:
    info = probe(clips["small"])
    assert (info.width, info.height, info.codec) == (320, 240, "h264")
    assert info.fps == pytest.approx(30)
    assert info.duration_s == pytest.approx(2, abs=0.05)
    assert info.frame_count == 60
    assert not info.has_audio
    assert probe(clips["hd"]).has_audio


def _seventy_mai_files() -> list[Path]:
    return sorted(SEVENTY_MAI.glob("*.MP4")) if SEVENTY_MAI.is_dir() else []


@pytest.mark.parametrize(
    "path",
    _seventy_mai_files() or [pytest.param(SEVENTY_MAI, marks=pytest.mark.skip(
        reason=f"real test data not found at {SEVENTY_MAI}"))],
    ids=lambda p: p.name,
)
def test_probe_70mai_corpus_is_ok_or_media_error(path: Path) -> None:
    """Fuzzed files: sane info or a clear MediaError, never another exception, never a hang."""
    t0 = time.monotonic()
    try:
        info = probe(path, timeout_s=20)
    except MediaError as err:
        assert_clear(err, path)
    else:
        assert isinstance(info, VideoInfo)
        assert 0 < info.width <= 16384 and 0 < info.height <= 16384
        assert 0 < info.duration_s < 24 * 3600
        assert 0 < info.fps <= 1000
    assert time.monotonic() - t0 < 20


def test_probe_70mai_good_file() -> None:
    info = probe(need(SEVENTY_MAI / GOOD_70MAI))
    assert (info.width, info.height, info.codec) == (48, 144, "h264")
    assert info.fps == pytest.approx(12)
    assert info.duration_s == pytest.approx(1.0, abs=0.01)
    assert not info.has_audio


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("XA20191130-120856-000128.MP4", "bad_duration", "impossible duration"),  # 1099511627776 s
        ("NO20191130-123556-000155.MP4", "too_small", "1 byte"),
        ("NO20191130-123656-000156.MP4", "too_small", "4 bytes"),
        ("BB20191130-123456-000154.MP4", "not_video", "not an MP4"),  # text, not an MP4
        ("EV20191130-121056-000130.MP4", "no_moov", "moov atom"),  # ftyp, then nothing
    ],
)
def test_probe_70mai_known_bad(name: str, code: str, words: str) -> None:
    path = need(SEVENTY_MAI / name)
    with pytest.raises(MediaError) as info:
        probe(path)
    assert info.value.code == code
    assert words in str(info.value)
    assert_clear(info.value, path)


@pytest.mark.parametrize("name", ["sample-1.mp4", "sample-2.mp4", "sample-3.mp4"])
def test_probe_garmin(name: str) -> None:
    info = probe(need(GARMIN / name))
    assert (info.width, info.height) == (960, 540)
    assert info.duration_s == pytest.approx(1.007, abs=0.01)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.has_audio and info.frame_count == 30


def test_probe_gopro_and_kaiserbass() -> None:
    karma = probe(need(VIDEOS / "gopro" / "karma.mp4"))
    assert (karma.width, karma.height) == (854, 480)
    assert karma.duration_s == pytest.approx(12.08, abs=0.05)
    assert karma.creation_time is not None and karma.creation_time.utcoffset() is not None
    kb = probe(need(VIDEOS / "kaiserbass_r50" / "DCIM" / "100video" / "20240112181119_180.MP4"))
    assert (kb.width, kb.height) == (214, 120)
    assert kb.duration_s == pytest.approx(180.13, abs=0.05)


def test_probe_random_bytes() -> None:
    path = need(GARMIN / "sample-invalid.mp4")
    with pytest.raises(MediaError, match="not an MP4") as info:
        probe(path)
    assert_clear(info.value, path)


def test_probe_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "GRMN0001.MP4"
    path.touch()
    with pytest.raises(MediaError, match="empty") as info:
        probe(path)
    assert info.value.code == "empty"
    assert_clear(info.value, path)


def test_probe_rejects_still_images(tmp_path: Path) -> None:
    jpg = tmp_path / "20240112181119.JPG"  # a camera thumbnail sits beside the clips
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=64x48", "-frames:v", "1", str(jpg)], check=True, timeout=30)
    with pytest.raises(MediaError, match="still image") as info:
        probe(jpg)
    assert info.value.code == "not_video"


def test_probe_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist") as info:
        probe(tmp_path / "nope.mp4")
    assert info.value.code == "missing"
    with pytest.raises(MediaError, match="not a regular file"):
        probe(tmp_path)


def test_probe_real_clip_cut_in_half(tmp_path: Path) -> None:
    """A camera file (index at the end) cut in half has no moov atom."""
    half = cut_in_half(need(GARMIN / "sample-1.mp4"), tmp_path / "sample-1-half.mp4")
    with pytest.raises(MediaError, match="moov") as info:
        probe(half)
    assert info.value.code == "no_moov"
    assert_clear(info.value, half)


def test_probe_faststart_clip_cut_in_half(clips: dict[str, Path], tmp_path: Path) -> None:
    """Index first, data cut: the header looks fine, so only the decode checks can tell."""
    half = cut_in_half(clips["small_fast"], tmp_path / "fast-half.mp4")
    with pytest.raises(MediaError) as info:
        probe(half)
    assert info.value.code in {"truncated", "decode_error"}
    assert_clear(info.value, half)


def test_probe_synthetic_clip_cut_in_half(clips: dict[str, Path], tmp_path: Path) -> None:
    half = cut_in_half(clips["small"], tmp_path / "small-half.mp4")
    with pytest.raises(MediaError, match="moov"):
        probe(half)


def test_probe_times_out_as_media_error(clips: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as info:
        probe(clips["small"], timeout_s=0.001)
    assert info.value.code == "timeout"


def test_missing_ffmpeg_is_not_a_media_error(clips: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FFmpegUnavailableError, match="infra/setup.sh"):
        probe(clips["small"])


# --------------------------------------------------------------------------- transcode


def test_transcode_1080_to_720_with_faststart(clips: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out" / "low.mp4"
    info = transcode_lowres(clips["hd"], dst)
    assert (info.width, info.height, info.codec) == (1280, 720, "h264")
    assert info.has_audio
    assert info.duration_s == pytest.approx(2, abs=0.1)
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    streams = ffprobe_json(dst)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert video["pix_fmt"] == "yuv420p"
    assert audio["codec_name"] == "aac"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["low.mp4"]  # no temp left behind


def test_transcode_never_upscales(clips: dict[str, Path], tmp_path: Path) -> None:
    info = transcode_lowres(clips["qhd"], tmp_path / "qhd.mp4")
    assert (info.width, info.height) == (960, 540)
    assert not info.has_audio
    assert not any(s["codec_type"] == "audio" for s in ffprobe_json(tmp_path / "qhd.mp4")["streams"])


def test_transcode_real_garmin_clip(tmp_path: Path) -> None:
    info = transcode_lowres(need(GARMIN / "sample-1.mp4"), tmp_path / "g.mp4", height=720)
    assert (info.width, info.height) == (960, 540)
    assert info.has_audio
    boxes = top_level_boxes(tmp_path / "g.mp4")
    assert boxes.index("moov") < boxes.index("mdat")


def test_transcode_makes_odd_sizes_even(clips: dict[str, Path], tmp_path: Path) -> None:
    info = transcode_lowres(clips["odd"], tmp_path / "odd.mp4")
    assert info.height == 240 and info.width % 2 == 0
    assert ffprobe_json(tmp_path / "odd.mp4")["streams"][0]["pix_fmt"] == "yuv420p"


def test_transcode_replaces_existing_output(clips: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "low.mp4"
    dst.write_bytes(b"old")
    info = transcode_lowres(clips["qhd"], dst, height=360)
    assert (info.width, info.height) == (640, 360)
    assert probe(dst) == info


def test_transcode_bad_source_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaError):
        transcode_lowres(src, dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


# --------------------------------------------------------------------------- iter_frames


def _times(frames: Sequence[tuple[float, np.ndarray]]) -> list[float]:
    return [round(t, 3) for t, _ in frames]


def test_iter_frames_count_times_and_shapes(clips: dict[str, Path]) -> None:
    info = probe(clips["small"])
    frames = list(iter_frames(clips["small"], 0.5, info))
    assert _times(frames) == [0.0, 0.5, 1.0, 1.5]
    for _, frame in frames:
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert not np.array_equal(frames[0][1], frames[1][1])  # testsrc2 moves
    assert _times(list(iter_frames(clips["small"], 1.0, info))) == [0.0, 1.0]
    assert len(list(iter_frames(clips["small"], 0.1, info))) == 20


def test_iter_frames_is_bgr(clips: dict[str, Path]) -> None:
    info = probe(clips["red"])
    _, frame = next(iter(iter_frames(clips["red"], 1.0, info)))
    b, g, r = (float(frame[..., c].mean()) for c in range(3))
    assert r > 200 and b < 40 and g < 40


def test_iter_frames_real_presentation_times() -> None:
    """29.97 fps: the first frame at or after 1 s is at 1.001 s, and the time says so."""
    path = need(VIDEOS / "gopro" / "karma.mp4")
    frames = list(iter_frames(path, 4.0, probe(path)))
    assert _times(frames) == [0.0, 4.004, 8.008, 12.012]
    assert frames[0][1].shape == (480, 854, 3)


def test_iter_frames_real_kaiserbass() -> None:
    path = need(VIDEOS / "kaiserbass_r50" / "DCIM" / "101video" / "20240113175916_10.MP4")
    frames = list(iter_frames(path, 1.0, probe(path)))
    assert _times(frames) == [float(s) for s in range(11)]
    assert frames[0][1].shape == (120, 214, 3)


def test_iter_frames_truncated_file_raises_after_partial_output(clips: dict[str, Path],
                                                               tmp_path: Path) -> None:
    info = probe(clips["small_fast"])  # the intact file's info, as a caller would hold
    half = cut_in_half(clips["small_fast"], tmp_path / "half.mp4")
    got: list[float] = []
    with pytest.raises(MediaError) as err:
        for t, _ in iter_frames(half, 0.5, info):
            got.append(t)
    assert got and got[0] == 0.0  # what could be read was yielded first
    assert err.value.code == "truncated"
    assert_clear(err.value, half)


def test_iter_frames_on_garbage_raises_media_error() -> None:
    path = need(GARMIN / "sample-invalid.mp4")
    fake = VideoInfo(1.0, 30.0, 960, 540, "h264", 30, False, None)
    with pytest.raises(MediaError):
        list(iter_frames(path, 0.5, fake))


def test_iter_frames_can_stop_early(clips: dict[str, Path]) -> None:
    gen = iter_frames(clips["hd"], 0.1, probe(clips["hd"]))
    next(gen)
    gen.close()  # kills ffmpeg; must neither hang nor raise


def test_iter_frames_stall_is_a_media_error(clips: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as err:
        list(iter_frames(clips["hd"], 0.5, probe(clips["hd"]), stall_timeout_s=0.001))
    assert err.value.code == "timeout"


def test_iter_frames_rejects_bad_step(clips: dict[str, Path]) -> None:
    info = probe(clips["small"])
    for step in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            iter_frames(clips["small"], step, info)


# --------------------------------------------------------------------------- sha256


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    payload = bytes(range(256)) * 10_000
    path.write_bytes(payload)
    assert sha256_file(path) == hashlib.sha256(payload).hexdigest()
    (tmp_path / "empty").touch()
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
