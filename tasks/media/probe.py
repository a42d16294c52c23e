"""Read and validate a video's metadata (ffprobe) and prove its first and last frames decode;
judge whether sampled frames reached the end of the video the container indexes."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tasks.media.errors import RECOPY, explain, fail, run, summarise, tool

MAX_DURATION_S = 24 * 3600.0  # no dashcam writes a day-long single file; more = corrupt header
MAX_FPS = 1000.0
MAX_DIMENSION = 16384
MIN_VIDEO_BYTES = 100  # smaller cannot hold an MP4 header plus one frame


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    width: int
    height: int
    codec: str
    frame_count: int | None
    has_audio: bool
    creation_time: datetime | None  # container tag if present, UTC (tz-aware)
    # Where the video stream's frames end, in seconds on the decoding timeline (the first frame
    # at 0, as iter_frames counts), from the container's index. Not duration_s: that can count
    # an initial empty edit (the camera's start delay) or audio that outlasts the video, which
    # ffmpeg's frame times never include. None when unknown (then duration_s stands in).
    video_end_s: float | None = None


def _check_file(path: Path) -> None:
    """Cheap filesystem checks with better messages than ffprobe would give."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise fail(path, "the file does not exist", "check the path", code="missing") from None
    except OSError as exc:
        raise fail(path, f"the file cannot be accessed ({exc.strerror or exc})",
                    "check the disk and the file permissions", code="unreadable") from None
    if not path.is_file():
        raise fail(path, "this is not a regular file", "pass a video file", code="unreadable")
    if st.st_size == 0:
        raise fail(path, "the file is empty (0 bytes) — the copy failed or the camera never "
                    "wrote it", code="empty")
    if st.st_size < MIN_VIDEO_BYTES:
        raise fail(path, f"the file is only {st.st_size} byte{'s' if st.st_size != 1 else ''} long, far too small to be a "
                    "video — the copy was cut off or the camera never finished it",
                    code="too_small")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise fail(path, f"the file cannot be read ({exc.strerror or exc})",
                    "check the disk and the file permissions", code="unreadable") from None


def num(value: object) -> float | None:
    """ffprobe's numbers are strings ("1.000000", "N/A", "30000/1001"); None when unusable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            if float(den) == 0:
                return None
            result = float(num) / float(den)
        else:
            result = float(text)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _creation_time(*tag_sets: object) -> datetime | None:
    for tags in tag_sets:
        raw = tags.get("creation_time") if isinstance(tags, dict) else None
        if not raw:
            continue
        try:
            value = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            continue
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # 1904 (the MP4 epoch) or 1970 mean "clock never set" — no information.
        if value.year > 1970:
            return value
    return None


def _parse_probe(path: Path, data: dict) -> VideoInfo:
    fmt = data.get("format") or {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    fmt_name = str(fmt.get("format_name") or "")
    if fmt_name == "image2" or fmt_name.endswith("_pipe"):  # ffprobe opens stills as 1-frame video
        raise fail(path, f"this is a still image ({fmt_name}), not a video",
                    "only video clips can be processed", code="not_video")
    fmt_duration = num(fmt.get("duration"))
    stream_duration = num(video.get("duration")) if video else None
    duration = fmt_duration if fmt_duration is not None else stream_duration

    # An absurd claimed duration means a corrupt header whatever else the file holds.
    if duration is not None and not 0 < duration < MAX_DURATION_S:
        raise fail(path, f"the container claims an impossible duration of {duration:.6g} s — "
                    "the header is corrupt", code="bad_duration")
    if video is None:
        if not streams:
            raise fail(path, "the file's index lists no streams at all — the header is damaged",
                        code="no_video")
        kinds = ", ".join(sorted({str(s.get("codec_type")) for s in streams}))
        raise fail(path, f"the file has no video stream (only: {kinds}) — the header is damaged "
                    "or it is not a camera video", code="no_video")
    width, height = int(num(video.get("width")) or 0), int(num(video.get("height")) or 0)
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise fail(path, f"the video stream has an invalid frame size ({width}x{height}) — "
                    "the header is damaged", code="bad_stream")
    if duration is None:
        raise fail(path, "the file does not say how long it is — the index is damaged or "
                    "incomplete", code="bad_duration")
    frame_count = num(video.get("nb_frames"))
    fps = num(video.get("avg_frame_rate"))
    if not fps or not 0 < fps <= MAX_FPS:
        fps = num(video.get("r_frame_rate"))
    if (not fps or not 0 < fps <= MAX_FPS) and frame_count and stream_duration:
        fps = frame_count / stream_duration
    if not fps or not 0 < fps <= MAX_FPS:
        raise fail(path, "the video stream has no usable frame rate — the header is damaged",
                    code="bad_stream")
    codec = str(video.get("codec_name") or "unknown")
    start = num(video.get("start_time")) or 0.0
    fmt_start = num(fmt.get("start_time")) or 0.0
    # ffmpeg shifts every frame time by the file's start, and -ss counts from it too, so the
    # video's end is expressed on that timeline: its start there plus its indexed duration.
    video_end = (start - fmt_start + stream_duration) if stream_duration else duration
    return VideoInfo(
        duration_s=duration,
        fps=fps,
        width=width,
        height=height,
        codec=codec,
        frame_count=int(frame_count) if frame_count and frame_count > 0 else None,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        creation_time=_creation_time(fmt.get("tags"), video.get("tags")),
        video_end_s=min(max(video_end, 0.0), duration),
    )


def video_end(info: VideoInfo) -> float:
    return info.video_end_s if info.video_end_s is not None else info.duration_s


def check_complete(src: Path, info: VideoInfo, every_s: float, count: int,
                    last_t: float | None, stderr: str) -> None:
    """Raise MediaError("truncated") unless the sampled frames reached the end of the video.

    Judged against the video the container indexes (`video_end_s`), not its nominal duration:
    a valid clip whose video starts late (an empty edit, e.g. 1.3 s on parkpow_cars.mp4) or
    whose audio runs longer ends its frames well before duration_s. Also judged from ffmpeg's
    own word for sample data missing from the file ("partial file").
    """
    if "partial file" in stderr.lower():
        raise fail(src, f"the video data ends early (after {count} sampled frames) — the "
                    "file is truncated", code="truncated", detail=summarise(stderr, src))
    # On a whole file the last chosen frame is less than one step before the last frame, which
    # starts a frame before the end; 0.75 s more allows for a variable-frame-rate camera holding
    # its last frame longer than average and for edit lists that round the end.
    end = video_end(info)
    slack = every_s + 2.0 / info.fps + 0.75
    if last_t is not None and last_t < end - slack:
        raise fail(src, f"the video data ends at about {last_t + every_s:.1f} s although the "
                    f"file's index holds video up to {end:.1f} s — it is truncated or damaged "
                    "mid-file", code="truncated", detail=summarise(stderr, src))


def _decode_one(path: Path, seek_s: float, timeout_s: float, which: str) -> None:
    """Decode exactly one video frame at `seek_s`; raise unless a frame really came out."""
    cmd = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error"]
    if seek_s > 0:
        cmd += ["-ss", f"{seek_s:.3f}"]
    # framecrc prints one line per decoded frame: a cheap way to know a frame was produced.
    cmd += ["-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1",
            "-f", "framecrc", "-"]
    proc = run(cmd, timeout_s, path, f"decoding the {which} frame")
    stderr = proc.stderr.decode("utf-8", "replace")
    frames = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines()
              if ln.strip() and not ln.startswith("#")]
    if proc.returncode == 0 and frames:
        return
    if not stderr.strip() or "output file is empty" in stderr.lower():
        # ffmpeg ran cleanly but the index points at data that is not there.
        where = "at the start" if which == "first" else f"near the end (at {seek_s:.1f} s)"
        raise fail(path, f"no video frame could be decoded {where} — the file is truncated or "
                    "its video data is damaged", code="truncated" if which == "last"
                    else "decode_error", detail=summarise(stderr, path))
    err = explain(path, stderr, "ffmpeg")
    if err.code == "unreadable":
        err = fail(path, f"the {which} video frame cannot be decoded — the video data is "
                    "damaged", code="decode_error", detail=summarise(stderr, path))
    raise err


def probe(path: Path, timeout_s: float = 30) -> VideoInfo:
    """Read and validate a video's metadata, and prove its first and last frames decode.

    Checks, in order: the file exists, is non-empty and readable; ffprobe can open the
    container; the claimed duration is sane (0 < d < 24 h); there is a video stream with a
    real frame size and frame rate; the first frame decodes; a frame ~0.5 s before the end
    decodes (catches truncated files whose index survived). `timeout_s` bounds the whole call.
    Bad files raise MediaError only.
    """
    path = Path(path)
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise fail(path, f"probing did not finish within {timeout_s:.3g} s",
                        RECOPY + " and try again", code="timeout")
        return remaining

    _check_file(path)
    # ffprobe has no -nostdin (it never reads stdin); stdin is /dev/null anyway.
    cmd = [tool("ffprobe"), "-hide_banner", "-v", "error", "-show_format",
           "-show_streams", "-of", "json", str(path)]
    proc = run(cmd, left(), path, "ffprobe")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise explain(path, stderr, "ffprobe")
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        raise fail(path, "ffprobe returned unreadable output for this file", code="unreadable",
                    detail=summarise(stderr, path)) from None
    if not isinstance(data, dict):
        raise fail(path, "ffprobe returned unreadable output for this file", code="unreadable")
    info = _parse_probe(path, data)

    _decode_one(path, 0.0, left(), "first")
    # Seek a little before the last frame: at least 0.5 s, and 2 frames for low-fps files, so
    # the target is never past the final frame (which would decode nothing on a good file).
    end_seek = max(0.0, video_end(info) - max(0.5, 2.0 / info.fps))
    if end_seek > 0:
        _decode_one(path, end_seek, left(), "last")
    return info
