"""The archival copy on its own (H.264, at most 720p, never upscaled), and the one way an
ffmpeg output is sealed: fsynced, verified with probe, renamed into place."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tasks.fsio import fsync_dir, fsync_file
from tasks.media.errors import MediaError, fail, run, summarise, tool
from tasks.media.probe import VideoInfo, probe

X264_PRESETS = {
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo",
}


def archive_height(height: int, info: VideoInfo) -> int:
    """The archival copy's height: at most `height`, never upscaled, even (yuv420p)."""
    return max(2, min(height, info.height) // 2 * 2)


def audio_and_time_args(info: VideoInfo) -> list[str]:
    """The archival copy's audio (the first stream as AAC 64k, or none) and the source's
    creation_time, which ffmpeg drops when re-encoding."""
    args = ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k"] if info.has_audio else ["-an"]
    if info.creation_time is not None:
        stamp = info.creation_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        args += ["-metadata", f"creation_time={stamp}"]
    return args


def seal(tmp: Path, dst: Path, src: Path) -> VideoInfo:
    """Flush `tmp` to disk, prove it is a whole video, rename it over `dst` and make the rename
    durable. Returns the probe of the result; on failure `tmp` is left for the caller to drop."""
    try:
        fsync_file(tmp)
    except OSError as exc:
        raise fail(dst, f"the transcoded file could not be flushed to disk "
                   f"({exc.strerror or exc})", "check the disk", code="ffmpeg_failed") from None
    try:
        result = probe(tmp)
    except MediaError as exc:
        raise fail(src, "the transcoded copy failed verification", "check the source file",
                   code="ffmpeg_failed", detail=str(exc)) from None
    os.replace(tmp, dst)
    fsync_dir(dst.parent)
    return result


def transcode_lowres(src: Path, dst: Path, height: int = 720, crf: int = 28,
                     preset: str = "veryfast", timeout_s: float | None = None) -> VideoInfo:
    """Write an H.264/yuv420p/faststart MP4 of `src` at most `height` pixels tall to `dst`.

    Never upscales (a 540p source stays 540p); width follows the aspect ratio, rounded to an
    even number as yuv420p needs. The first audio stream becomes AAC 64k; data streams (GPS,
    GPMF, timecode) are dropped, so extract telemetry from the original. Written to a temp
    sibling, verified with probe(), fsynced and renamed over `dst` atomically. `timeout_s`
    defaults to 120 s + 10x the clip duration. Returns the probe of the result.
    """
    src, dst = Path(src), Path(dst)
    if height < 2:
        raise ValueError(f"height must be >= 2, got {height}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be within 0..51, got {crf}")
    if preset not in X264_PRESETS:
        raise ValueError(f"unknown x264 preset {preset!r}")
    info = probe(src)
    target_h = archive_height(height, info)
    budget = timeout_s if timeout_s is not None else 120.0 + 10.0 * info.duration_s

    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(dst, f"cannot create the output folder ({exc.strerror or exc})",
                    "check the disk and permissions", code="ffmpeg_failed") from None
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
    cmd = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(src),
           "-map", "0:v:0", *audio_and_time_args(info)]
    cmd += [
        "-sn", "-dn",
        "-vf", f"scale=-2:{target_h}:flags=bicubic,format=yuv420p",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        # Dashcam audio is often sparse/irregular; a bigger queue avoids spurious failures.
        "-max_muxing_queue_size", "4096",
        "-f", "mp4", str(tmp),
    ]
    try:
        proc = run(cmd, budget, src, "transcoding")
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace")
            raise fail(src, f"ffmpeg could not transcode it to {target_h}p (exit code "
                        f"{proc.returncode})", "check the source file and free disk space",
                        code="ffmpeg_failed", detail=summarise(stderr, src) or "no error output")
        return seal(tmp, dst, src)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
