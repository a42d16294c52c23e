"""Video files through ffprobe/ffmpeg: validate (probe), archive copies, frame sampling, hashing.

Dashcam SD cards are full of damaged files (power cut mid-recording, fuzzed headers, half
copies). Every function here treats a bad file as an *answer*: it raises `MediaError` with a
plain-language reason and what to do about it, never any other exception, and never hangs —
every ffmpeg call runs with `-nostdin` (ffprobe has no such flag; its stdin is /dev/null),
captured stderr and a timeout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tasks.fsio import fsync_dir, fsync_file

__all__ = [
    "FFmpegUnavailableError",
    "MediaError",
    "VideoInfo",
    "iter_frames",
    "probe",
    "sha256_file",
    "transcode_lowres",
]

MAX_DURATION_S = 24 * 3600.0  # no dashcam writes a day-long single file; more = corrupt header
MAX_FPS = 1000.0
MAX_DIMENSION = 16384
MIN_VIDEO_BYTES = 100  # smaller cannot hold an MP4 header plus one frame
_RECOPY = "re-copy it from the SD card"
# Top-level ISO-BMFF/QuickTime box types a real MP4/MOV can start with.
_MP4_FIRST_BOXES = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"pdin", b"styp",
    b"sidx", b"moof", b"junk",
}
_MP4_EXTS = {".mp4", ".mov", ".m4v", ".lrv", ".3gp"}
_X264_PRESETS = {
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo",
}


class MediaError(Exception):
    """A video file is unusable. `str(exc)` says which file, what is wrong and what to do.

    Attributes: `path` (the file, when known) and `code`, a short machine-readable reason
    ("missing", "empty", "too_small", "not_video", "no_moov", "corrupt", "no_video",
    "bad_duration", "bad_stream", "decode_error", "truncated", "timeout", "unreadable",
    "ffmpeg_failed").
    """

    def __init__(self, message: str, *, path: Path | str | None = None, code: str = "unreadable"):
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.code = code


class FFmpegUnavailableError(RuntimeError):
    """ffmpeg/ffprobe is missing or too old. Deliberately *not* a MediaError: no file is to blame."""


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


# --------------------------------------------------------------------------- helpers


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FFmpegUnavailableError(f"{name} not found: run `bash infra/setup.sh` or install ffmpeg")
    return found


def _fail(path: Path, reason: str, hint: str = _RECOPY, *, code: str, detail: str = "") -> MediaError:
    message = f"{path}: {reason}"
    if hint:
        message += f"; {hint}"
    if detail:
        message += f" ({detail})"
    return MediaError(message, path=path, code=code)


_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def _summarise(stderr: str, path: Path | None = None, lines: int = 3, limit: int = 300) -> str:
    """The last few distinct stderr lines, without `[demuxer @ 0x…]` and file-name noise."""
    out: list[str] = []
    for raw in reversed(stderr.splitlines()):
        line = _LOG_PREFIX.sub("", raw.strip())
        if path is not None:
            line = line.replace(f"{path}: ", "").replace(str(path), path.name)
        if line and line not in out:
            out.append(line)
        if len(out) >= lines:
            break
    text = "; ".join(reversed(out))
    return text if len(text) <= limit else "…" + text[-limit:]


def _looks_like_mp4(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] in _MP4_FIRST_BOXES


def _explain(path: Path, stderr: str, tool: str) -> MediaError:
    """Turn ffprobe/ffmpeg stderr into a plain-language MediaError."""
    low = stderr.lower()
    detail = _summarise(stderr, path)
    if "unrecognized option" in low or "option not found" in low:
        raise FFmpegUnavailableError(f"{tool} does not support an option this project needs "
                                     f"({detail}); install ffmpeg >= 5.1 (`bash infra/setup.sh`)")
    if "moov atom not found" in low:
        if path.suffix.lower() in _MP4_EXTS and not _looks_like_mp4(path):
            return _fail(path, "this is not an MP4/MOV video — its first bytes are not an MP4 "
                         "header (the file is corrupted, or is some other kind of file)",
                         code="not_video", detail=detail)
        return _fail(path, "the MP4 index (moov atom) is missing — the file is truncated or was "
                     "not finalised by the camera (e.g. power was cut while recording)",
                     _RECOPY + "; if the card's copy is broken too, only a repair tool "
                     "(e.g. untrunc) can recover it", code="no_moov", detail=detail)
    if "no such file or directory" in low:
        return _fail(path, "the file does not exist", "check the path", code="missing",
                     detail=detail)
    if "permission denied" in low:
        return _fail(path, "the file cannot be read (permission denied)",
                     "fix the file permissions", code="unreadable", detail=detail)
    if any(s in low for s in ("partial file", "end of file", "truncat", "unexpected eof")):
        return _fail(path, "the video data ends early — the file is truncated", code="truncated",
                     detail=detail)
    if any(s in low for s in ("broken header", "missing mandatory atoms", "error reading header",
                              "invalid sample size", "cannot determine format of input stream",
                              "could not find codec parameters")):
        return _fail(path, "the container header is damaged, so the video cannot be read",
                     code="corrupt", detail=detail)
    if "invalid data found when processing input" in low:
        return _fail(path, "the file is not a readable video (corrupt header, or not a video at "
                     "all)", code="corrupt", detail=detail)
    if any(s in low for s in ("error while decoding", "decoding error", "invalid nal",
                              "no frame", "concealing", "corrupt")):
        return _fail(path, "the video frames cannot be decoded — the data is damaged",
                     code="decode_error", detail=detail)
    return _fail(path, f"{tool} could not read the file", code="unreadable",
                 detail=detail or "no error output")


def _run(cmd: Sequence[str], timeout_s: float, path: Path, what: str
         ) -> subprocess.CompletedProcess[bytes]:
    """Run a bounded, non-interactive ffmpeg/ffprobe; a timeout becomes a MediaError."""
    try:
        return subprocess.run(
            list(cmd), stdin=subprocess.DEVNULL, capture_output=True, timeout=max(timeout_s, 0.001),
            check=False,
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed and reaped the child.
        raise _fail(path, f"{what} did not finish within {timeout_s:.3g} s — the file may be "
                    "damaged in a way that stalls the decoder, or the disk is very slow",
                    _RECOPY + " and try again", code="timeout") from None
    except OSError as exc:
        raise _fail(path, f"could not run {cmd[0]} ({exc.strerror or exc})",
                    "check the ffmpeg installation (`bash infra/setup.sh`)",
                    code="unreadable") from None


def _check_file(path: Path) -> None:
    """Cheap filesystem checks with better messages than ffprobe would give."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _fail(path, "the file does not exist", "check the path", code="missing") from None
    except OSError as exc:
        raise _fail(path, f"the file cannot be accessed ({exc.strerror or exc})",
                    "check the disk and the file permissions", code="unreadable") from None
    if not path.is_file():
        raise _fail(path, "this is not a regular file", "pass a video file", code="unreadable")
    if st.st_size == 0:
        raise _fail(path, "the file is empty (0 bytes) — the copy failed or the camera never "
                    "wrote it", code="empty")
    if st.st_size < MIN_VIDEO_BYTES:
        raise _fail(path, f"the file is only {st.st_size} byte{'s' if st.st_size != 1 else ''} long, far too small to be a "
                    "video — the copy was cut off or the camera never finished it",
                    code="too_small")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({exc.strerror or exc})",
                    "check the disk and the file permissions", code="unreadable") from None


def _num(value: object) -> float | None:
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
        raise _fail(path, f"this is a still image ({fmt_name}), not a video",
                    "only video clips can be processed", code="not_video")
    fmt_duration = _num(fmt.get("duration"))
    stream_duration = _num(video.get("duration")) if video else None
    duration = fmt_duration if fmt_duration is not None else stream_duration

    # An absurd claimed duration means a corrupt header whatever else the file holds.
    if duration is not None and not 0 < duration < MAX_DURATION_S:
        raise _fail(path, f"the container claims an impossible duration of {duration:.6g} s — "
                    "the header is corrupt", code="bad_duration")
    if video is None:
        if not streams:
            raise _fail(path, "the file's index lists no streams at all — the header is damaged",
                        code="no_video")
        kinds = ", ".join(sorted({str(s.get("codec_type")) for s in streams}))
        raise _fail(path, f"the file has no video stream (only: {kinds}) — the header is damaged "
                    "or it is not a camera video", code="no_video")
    width, height = int(_num(video.get("width")) or 0), int(_num(video.get("height")) or 0)
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise _fail(path, f"the video stream has an invalid frame size ({width}x{height}) — "
                    "the header is damaged", code="bad_stream")
    if duration is None:
        raise _fail(path, "the file does not say how long it is — the index is damaged or "
                    "incomplete", code="bad_duration")
    frame_count = _num(video.get("nb_frames"))
    fps = _num(video.get("avg_frame_rate"))
    if not fps or not 0 < fps <= MAX_FPS:
        fps = _num(video.get("r_frame_rate"))
    if (not fps or not 0 < fps <= MAX_FPS) and frame_count and stream_duration:
        fps = frame_count / stream_duration
    if not fps or not 0 < fps <= MAX_FPS:
        raise _fail(path, "the video stream has no usable frame rate — the header is damaged",
                    code="bad_stream")
    codec = str(video.get("codec_name") or "unknown")
    start = _num(video.get("start_time")) or 0.0
    fmt_start = _num(fmt.get("start_time")) or 0.0
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


def _video_end(info: VideoInfo) -> float:
    return info.video_end_s if info.video_end_s is not None else info.duration_s


def _check_complete(src: Path, info: VideoInfo, every_s: float, count: int,
                    last_t: float | None, stderr: str) -> None:
    """Raise MediaError("truncated") unless the sampled frames reached the end of the video.

    Judged against the video the container indexes (`video_end_s`), not its nominal duration:
    a valid clip whose video starts late (an empty edit, e.g. 1.3 s on parkpow_cars.mp4) or
    whose audio runs longer ends its frames well before duration_s. Also judged from ffmpeg's
    own word for sample data missing from the file ("partial file").
    """
    if "partial file" in stderr.lower():
        raise _fail(src, f"the video data ends early (after {count} sampled frames) — the "
                    "file is truncated", code="truncated", detail=_summarise(stderr, src))
    # On a whole file the last chosen frame is less than one step before the last frame, which
    # starts a frame before the end; 0.75 s more allows for a variable-frame-rate camera holding
    # its last frame longer than average and for edit lists that round the end.
    end = _video_end(info)
    slack = every_s + 2.0 / info.fps + 0.75
    if last_t is not None and last_t < end - slack:
        raise _fail(src, f"the video data ends at about {last_t + every_s:.1f} s although the "
                    f"file's index holds video up to {end:.1f} s — it is truncated or damaged "
                    "mid-file", code="truncated", detail=_summarise(stderr, src))


def _decode_one(path: Path, seek_s: float, timeout_s: float, which: str) -> None:
    """Decode exactly one video frame at `seek_s`; raise unless a frame really came out."""
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error"]
    if seek_s > 0:
        cmd += ["-ss", f"{seek_s:.3f}"]
    # framecrc prints one line per decoded frame: a cheap way to know a frame was produced.
    cmd += ["-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1",
            "-f", "framecrc", "-"]
    proc = _run(cmd, timeout_s, path, f"decoding the {which} frame")
    stderr = proc.stderr.decode("utf-8", "replace")
    frames = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines()
              if ln.strip() and not ln.startswith("#")]
    if proc.returncode == 0 and frames:
        return
    if not stderr.strip() or "output file is empty" in stderr.lower():
        # ffmpeg ran cleanly but the index points at data that is not there.
        where = "at the start" if which == "first" else f"near the end (at {seek_s:.1f} s)"
        raise _fail(path, f"no video frame could be decoded {where} — the file is truncated or "
                    "its video data is damaged", code="truncated" if which == "last"
                    else "decode_error", detail=_summarise(stderr, path))
    err = _explain(path, stderr, "ffmpeg")
    if err.code == "unreadable":
        err = _fail(path, f"the {which} video frame cannot be decoded — the video data is "
                    "damaged", code="decode_error", detail=_summarise(stderr, path))
    raise err


# --------------------------------------------------------------------------- public API


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
            raise _fail(path, f"probing did not finish within {timeout_s:.3g} s",
                        _RECOPY + " and try again", code="timeout")
        return remaining

    _check_file(path)
    # ffprobe has no -nostdin (it never reads stdin); stdin is /dev/null anyway.
    cmd = [_tool("ffprobe"), "-hide_banner", "-v", "error", "-show_format",
           "-show_streams", "-of", "json", str(path)]
    proc = _run(cmd, left(), path, "ffprobe")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _explain(path, stderr, "ffprobe")
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        raise _fail(path, "ffprobe returned unreadable output for this file", code="unreadable",
                    detail=_summarise(stderr, path)) from None
    if not isinstance(data, dict):
        raise _fail(path, "ffprobe returned unreadable output for this file", code="unreadable")
    info = _parse_probe(path, data)

    _decode_one(path, 0.0, left(), "first")
    # Seek a little before the last frame: at least 0.5 s, and 2 frames for low-fps files, so
    # the target is never past the final frame (which would decode nothing on a good file).
    end_seek = max(0.0, _video_end(info) - max(0.5, 2.0 / info.fps))
    if end_seek > 0:
        _decode_one(path, end_seek, left(), "last")
    return info


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
    if preset not in _X264_PRESETS:
        raise ValueError(f"unknown x264 preset {preset!r}")
    info = probe(src)
    target_h = min(height, info.height)
    target_h -= target_h % 2  # yuv420p needs even dimensions
    target_h = max(target_h, 2)
    budget = timeout_s if timeout_s is not None else 120.0 + 10.0 * info.duration_s

    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(dst, f"cannot create the output folder ({exc.strerror or exc})",
                    "check the disk and permissions", code="ffmpeg_failed") from None
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(src),
           "-map", "0:v:0"]
    if info.has_audio:
        cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k"]
    else:
        cmd += ["-an"]
    if info.creation_time is not None:
        # ffmpeg drops creation_time when re-encoding; the archive copy should keep it.
        stamp = info.creation_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cmd += ["-metadata", f"creation_time={stamp}"]
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
        proc = _run(cmd, budget, src, "transcoding")
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace")
            raise _fail(src, f"ffmpeg could not transcode it to {target_h}p (exit code "
                        f"{proc.returncode})", "check the source file and free disk space",
                        code="ffmpeg_failed", detail=_summarise(stderr, src) or "no error output")
        try:
            fsync_file(tmp)
        except OSError as exc:
            raise _fail(dst, f"the transcoded file could not be flushed to disk "
                        f"({exc.strerror or exc})", "check the disk", code="ffmpeg_failed") from None
        try:
            result = probe(tmp)
        except MediaError as exc:
            raise _fail(src, "the transcoded copy failed verification", "check the source file",
                        code="ffmpeg_failed", detail=str(exc)) from None
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)
    return result


_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:\s*(\S+)")


def iter_frames(src: Path, every_s: float, info: VideoInfo, *,
                stall_timeout_s: float = 120.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds from the start of the file, BGR uint8 HxWx3 frame), one every `every_s`.

    Selection: the first decoded frame at or after each multiple of `every_s` (ffmpeg `select`
    filter), so there is no drift on long clips. The times are the real presentation times of
    the chosen frames, read from ffmpeg's `showinfo` filter; only if that line is missing does
    a time fall back to k*every_s. Frames are full resolution (info.width x info.height), with
    no autorotation. If ffmpeg fails, stalls for `stall_timeout_s`, or the frames stop well
    before the end of the video the container indexes (a truncated file), MediaError is raised
    after yielding what could be read. Needs ffmpeg >= 5.1 (`-fps_mode`).
    """
    # Not a generator itself, so bad arguments and a missing ffmpeg fail at the call.
    if not (math.isfinite(every_s) and every_s > 0):
        raise ValueError(f"every_s must be a positive number of seconds, got {every_s}")
    if not (math.isfinite(stall_timeout_s) and stall_timeout_s > 0):
        raise ValueError(f"stall_timeout_s must be positive, got {stall_timeout_s}")
    return _iter_frames(Path(src), every_s, info, _tool("ffmpeg"), stall_timeout_s)


def _iter_frames(src: Path, every_s: float, info: VideoInfo, ffmpeg: str,
                 stall_timeout_s: float) -> Iterator[tuple[float, np.ndarray]]:
    width, height = info.width, info.height
    frame_bytes = width * height * 3
    step = f"{every_s:.9g}"
    # floor(t/step) changes exactly when t crosses a multiple of step; the 1e-6 absorbs
    # float error (0.3/0.1 = 2.9999999999999996).
    select = (f"select='isnan(prev_selected_t)+gte(floor(t/{step}+1e-6)"
              f"-floor(prev_selected_t/{step}+1e-6),1)'")
    cmd = [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info",
        "-noautorotate", "-i", str(src), "-map", "0:v:0", "-an", "-sn", "-dn",
        # showinfo logs each chosen frame's pts_time (at info level, hence -v info);
        # scale pins the output size so a mid-stream size change cannot desync the pipe.
        "-vf", f"{select},showinfo,scale={width}:{height},format=bgr24",
        "-fps_mode", "passthrough",  # rawvideo would otherwise duplicate frames to a CFR
        "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1",
    ]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise _fail(src, f"could not run ffmpeg ({exc.strerror or exc})",
                    "check the ffmpeg installation (`bash infra/setup.sh`)",
                    code="unreadable") from None
    assert proc.stdout is not None and proc.stderr is not None
    times: queue.Queue[tuple[int, float] | None] = queue.Queue()
    known: dict[int, float] = {}  # showinfo frame index -> pts_time
    tail: deque[str] = deque(maxlen=40)
    showinfo_prefix = "Parsed_showinfo"

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if showinfo_prefix in line:
                if m := _SHOWINFO.search(line):
                    t = _num(m.group(3))
                    times.put((int(m.group(1)), t if t is not None else math.nan))
                continue
            tail.append(line)
        times.put(None)

    reader = threading.Thread(target=read_stderr, name=f"ffmpeg-stderr-{src.name}", daemon=True)
    reader.start()
    stalled = threading.Event()

    def on_stall() -> None:
        stalled.set()
        proc.kill()

    count = 0
    last_t: float | None = None
    partial = False
    times_done = False
    try:
        while True:
            buf = bytearray(frame_bytes)
            view = memoryview(buf)
            got = 0
            watchdog = threading.Timer(stall_timeout_s, on_stall)
            watchdog.daemon = True
            watchdog.start()
            try:
                while got < frame_bytes:
                    n = proc.stdout.readinto(view[got:])
                    if not n:
                        break
                    got += n
            finally:
                watchdog.cancel()
                view.release()
            if got < frame_bytes:
                partial = got > 0
                break
            # showinfo logs a frame before it is written, so its line is normally already here.
            while count not in known and not times_done:
                try:
                    item = times.get(timeout=5.0)
                except queue.Empty:
                    break
                if item is None:
                    times_done = True
                else:
                    known[item[0]] = item[1]
                    if item[0] > count:  # this frame's line went missing
                        break
            t = known.pop(count, None)
            if t is None or math.isnan(t):
                t = count * every_s
            last_t = t
            count += 1
            yield t, np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        reader.join(timeout=5)
        stderr = "\n".join(tail)
        if stalled.is_set():
            raise _fail(src, f"decoding stalled (no frame for {stall_timeout_s:.3g} s) after "
                        f"{count} sampled frames", _RECOPY + " and try again", code="timeout")
        if rc != 0:
            err = _explain(src, stderr, "ffmpeg")
            raise _fail(src, f"decoding failed after {count} sampled frames (ffmpeg exit code "
                        f"{rc})", _RECOPY, code=err.code if err.code != "unreadable"
                        else "decode_error", detail=_summarise(stderr, src))
        if partial:
            raise _fail(src, f"the frame stream stopped mid-frame after {count} frames",
                        code="truncated", detail=_summarise(stderr, src))
        if count == 0:
            raise _fail(src, "no video frame could be decoded", code="decode_error",
                        detail=_summarise(stderr, src) or "no error output")
        _check_complete(src, info, every_s, count, last_t, stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        reader.join(timeout=5)
        proc.stderr.close()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed (constant memory for multi-GB clips)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
