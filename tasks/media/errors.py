"""What a bad video file is, in words: MediaError, and ffmpeg's stderr turned into a reason.

Shared by every module of the package (probe, transcode, frames, sampling); callers outside
it catch `MediaError` and `FFmpegUnavailableError` from `tasks.media`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

RECOPY = "re-copy it from the SD card"
# Top-level ISO-BMFF/QuickTime box types a real MP4/MOV can start with.
_MP4_FIRST_BOXES = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"pdin", b"styp",
    b"sidx", b"moof", b"junk",
}
_MP4_EXTS = {".mp4", ".mov", ".m4v", ".lrv", ".3gp"}


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


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FFmpegUnavailableError(f"{name} not found: run `bash infra/setup.sh` or install ffmpeg")
    return found


def fail(path: Path, reason: str, hint: str = RECOPY, *, code: str, detail: str = "") -> MediaError:
    message = f"{path}: {reason}"
    if hint:
        message += f"; {hint}"
    if detail:
        message += f" ({detail})"
    return MediaError(message, path=path, code=code)


_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def summarise(stderr: str, path: Path | None = None, lines: int = 3, limit: int = 300) -> str:
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


def explain(path: Path, stderr: str, tool: str) -> MediaError:
    """Turn ffprobe/ffmpeg stderr into a plain-language MediaError."""
    low = stderr.lower()
    detail = summarise(stderr, path)
    if "unrecognized option" in low or "option not found" in low:
        raise FFmpegUnavailableError(f"{tool} does not support an option this project needs "
                                     f"({detail}); install ffmpeg >= 5.1 (`bash infra/setup.sh`)")
    if "moov atom not found" in low:
        if path.suffix.lower() in _MP4_EXTS and not _looks_like_mp4(path):
            return fail(path, "this is not an MP4/MOV video — its first bytes are not an MP4 "
                         "header (the file is corrupted, or is some other kind of file)",
                         code="not_video", detail=detail)
        return fail(path, "the MP4 index (moov atom) is missing — the file is truncated or was "
                     "not finalised by the camera (e.g. power was cut while recording)",
                     RECOPY + "; if the card's copy is broken too, only a repair tool "
                     "(e.g. untrunc) can recover it", code="no_moov", detail=detail)
    if "no such file or directory" in low:
        return fail(path, "the file does not exist", "check the path", code="missing",
                     detail=detail)
    if "permission denied" in low:
        return fail(path, "the file cannot be read (permission denied)",
                     "fix the file permissions", code="unreadable", detail=detail)
    if any(s in low for s in ("partial file", "end of file", "truncat", "unexpected eof")):
        return fail(path, "the video data ends early — the file is truncated", code="truncated",
                     detail=detail)
    if any(s in low for s in ("broken header", "missing mandatory atoms", "error reading header",
                              "invalid sample size", "cannot determine format of input stream",
                              "could not find codec parameters")):
        return fail(path, "the container header is damaged, so the video cannot be read",
                     code="corrupt", detail=detail)
    if "invalid data found when processing input" in low:
        return fail(path, "the file is not a readable video (corrupt header, or not a video at "
                     "all)", code="corrupt", detail=detail)
    if any(s in low for s in ("error while decoding", "decoding error", "invalid nal",
                              "no frame", "concealing", "corrupt")):
        return fail(path, "the video frames cannot be decoded — the data is damaged",
                     code="decode_error", detail=detail)
    return fail(path, f"{tool} could not read the file", code="unreadable",
                 detail=detail or "no error output")


def run(cmd: Sequence[str], timeout_s: float, path: Path, what: str
         ) -> subprocess.CompletedProcess[bytes]:
    """Run a bounded, non-interactive ffmpeg/ffprobe; a timeout becomes a MediaError."""
    try:
        return subprocess.run(
            list(cmd), stdin=subprocess.DEVNULL, capture_output=True, timeout=max(timeout_s, 0.001),
            check=False,
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed and reaped the child.
        raise fail(path, f"{what} did not finish within {timeout_s:.3g} s — the file may be "
                    "damaged in a way that stalls the decoder, or the disk is very slow",
                    RECOPY + " and try again", code="timeout") from None
    except OSError as exc:
        raise fail(path, f"could not run {cmd[0]} ({exc.strerror or exc})",
                    "check the ffmpeg installation (`bash infra/setup.sh`)",
                    code="unreadable") from None
