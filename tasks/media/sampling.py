"""One ffmpeg pass for the heavy stage: sampled full-resolution frames and the archival copy.

Why one process: decoding a 1080p clip is a large share of the stage's cost; running the
archival transcode and the frame sampling as two ffmpeg processes decodes every frame twice.
Measured on a 10 s 1080p30 clip (2 cores): transcode + separate sampling 4.4-4.5 CPU-s, one
process with `split` 3.2-3.4 CPU-s. The frames are read through `FramePipe`, the same reader
as `iter_frames`, which keeps a few frames queued so ffmpeg keeps encoding while the detector
works on a frame (frames are backpressured, not buffered whole).

Frame selection, timing and verdicts are those of `iter_frames`; the archival copy is what
`transcode_lowres` writes (H.264, yuv420p, never upscaled, `+faststart`, AAC audio,
creation_time kept), built under a temporary name and sealed the same way (`seal`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tasks.media.errors import tool
from tasks.media.frames import FramePipe, check_sampling, select_every
from tasks.media.probe import VideoInfo
from tasks.media.transcode import archive_height, audio_and_time_args, seal


class FramesAndArchive:
    """Iterate `frames()` for (seconds, BGR frame); afterwards `lowres` is the archive's probe.

    `queue_frames` bounds memory (a 1080p frame is 6 MB) and how far ffmpeg may run ahead.
    """

    def __init__(
        self,
        src: Path,
        every_s: float,
        info: VideoInfo,
        dst: Path,
        *,
        height: int = 720,
        crf: int = 28,
        preset: str = "veryfast",
        queue_frames: int = 6,
        stall_timeout_s: float = 120.0,
    ) -> None:
        check_sampling(every_s, stall_timeout_s)
        self.src, self.every_s, self.info, self.dst = Path(src), every_s, info, Path(dst)
        self.height, self.crf, self.preset = height, crf, preset
        self.queue_frames, self.stall_timeout_s = queue_frames, stall_timeout_s
        self.lowres: VideoInfo | None = None
        self.ffmpeg_s = 0.0  # ffmpeg's own wall time
        self.tail_wait_s = 0.0  # time spent waiting for ffmpeg after the last frame was handled
        self._ffmpeg = tool("ffmpeg")

    def command(self, archive: Path) -> list[str]:
        """The one ffmpeg pass: the archival copy to `archive`, sampled frames as raw BGR on
        stdout. Public so `dashcam bench heavy` times this very command alone (the floor)."""
        info = self.info
        target_h = archive_height(self.height, info)
        graph = (
            "[0:v:0]split=2[arc][smp];"
            f"[arc]scale=-2:{target_h}:flags=bicubic,format=yuv420p[lo];"
            f"[smp]{select_every(self.every_s)},showinfo,"
            f"scale={info.width}:{info.height},format=bgr24[fr]"
        )
        cmd = [self._ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-y",
               "-noautorotate", "-i", str(self.src), "-filter_complex", graph,
               "-map", "[lo]", *audio_and_time_args(info)]  # fmt: skip
        cmd += [
            "-sn", "-dn", "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-max_muxing_queue_size", "4096",
            # The source's own frame times: a variable-frame-rate clip would otherwise be made
            # constant at its nominal (often 60 fps) rate, 3x the frames to encode (parkpow).
            "-fps_mode:v:0", "passthrough",
            "-f", "mp4", str(archive),
            "-map", "[fr]", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "bgr24",
            "pipe:1",
        ]  # fmt: skip
        return cmd

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.dst.with_name(f".{self.dst.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
        pipe = FramePipe(self.src, self.command(tmp), self.info, self.every_s,
                         what="decoding and transcoding", stall_timeout_s=self.stall_timeout_s,
                         queue_frames=self.queue_frames,
                         exit_timeout_s=120.0 + 10.0 * self.info.duration_s)
        finished = False
        try:
            try:
                yield from pipe
            finally:
                self.ffmpeg_s, self.tail_wait_s = pipe.ffmpeg_s, pipe.tail_wait_s
            self.lowres = seal(tmp, self.dst, self.src)
            finished = True
        finally:
            if not finished:
                tmp.unlink(missing_ok=True)
