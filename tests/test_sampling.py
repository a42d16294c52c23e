"""One ffmpeg pass for heavy: the same frames as iter_frames, plus the archival copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tasks.media import FramesAndArchive, MediaError, iter_frames, probe
from tasks.synthetic import render_plate_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sampling") / "clip.mp4"
    return render_plate_clip(out, seconds=3.0, width=960, height=540, seed=1)


def test_same_frames_as_iter_frames_and_a_sealed_archive(clip: Path, tmp_path: Path) -> None:
    info = probe(clip)
    media = FramesAndArchive(clip, 0.5, info, tmp_path / "low.mp4", height=360)
    got = [(t, f.copy()) for t, f in media.frames()]
    want = list(iter_frames(clip, 0.5, info))
    assert [t for t, _ in got] == [t for t, _ in want] and len(got) == 6
    assert all((a == b).all() for (_, a), (_, b) in zip(got, want, strict=True))
    assert media.lowres is not None and media.lowres.height == 360 and media.lowres.width == 640
    assert abs(media.lowres.duration_s - info.duration_s) < 0.2
    assert [p.name for p in tmp_path.iterdir()] == ["low.mp4"]  # no temp file left
    assert media.ffmpeg_s > 0


def test_never_upscales(clip: Path, tmp_path: Path) -> None:
    media = FramesAndArchive(clip, 1.0, probe(clip), tmp_path / "low.mp4", height=720)
    assert len(list(media.frames())) == 3
    assert media.lowres is not None and media.lowres.height == 540


def test_stopping_early_leaves_nothing(clip: Path, tmp_path: Path) -> None:
    media = FramesAndArchive(clip, 0.5, probe(clip), tmp_path / "low.mp4")
    frames = media.frames()
    next(frames)
    frames.close()  # the consumer failed: ffmpeg is stopped, the partial copy removed
    assert media.lowres is None and list(tmp_path.iterdir()) == []


def test_truncated_clip_is_a_media_error(clip: Path, tmp_path: Path) -> None:
    info = probe(clip)
    cut = tmp_path / "cut.mp4"
    shutil.copyfile(clip, cut)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # moov is in front (+faststart): the data ends early
    media = FramesAndArchive(cut, 0.5, info, tmp_path / "out" / "low.mp4")
    with pytest.raises(MediaError, match="truncated|ends early|ends at"):
        for _ in media.frames():
            pass
    assert list((tmp_path / "out").iterdir()) == []
