"""Video files through ffprobe/ffmpeg: validate (probe), archive copies, frame sampling, hashing.

Dashcam SD cards are full of damaged files (power cut mid-recording, fuzzed headers, half
copies). Every function here treats a bad file as an *answer*: it raises `MediaError` with a
plain-language reason and what to do about it, never any other exception, and never hangs —
every ffmpeg call runs with `-nostdin` (ffprobe has no such flag; its stdin is /dev/null),
captured stderr and a timeout.

Modules: `errors` (MediaError and ffmpeg's stderr in words), `probe` (metadata, first and
last frame, whether frames reached the end), `transcode` (the archival copy alone, and `seal`),
`frames` (the one frame reader, `FramePipe`, and `iter_frames`), `sampling` (heavy's one pass:
frames and the archival copy from one decode).
"""

from tasks.fsio import sha256_file
from tasks.media.errors import FFmpegUnavailableError, MediaError
from tasks.media.frames import FramePipe, iter_frames
from tasks.media.probe import VideoInfo, probe
from tasks.media.sampling import FramesAndArchive
from tasks.media.transcode import transcode_lowres

__all__ = [
    "FFmpegUnavailableError",
    "FramePipe",
    "FramesAndArchive",
    "MediaError",
    "VideoInfo",
    "iter_frames",
    "probe",
    "sha256_file",
    "transcode_lowres",
]
