"""One ffmpeg pass for the heavy stage: sampled full-resolution frames and the archival copy.

Why one process: decoding a 1080p clip is a large share of the stage's cost; running the
archival transcode and the frame sampling as two ffmpeg processes decodes every frame twice.
Measured on a 10 s 1080p30 clip (2 cores): transcode + separate sampling 4.4-4.5 CPU-s, one
process with `split` 3.2-3.4 CPU-s. A reader thread keeps a few frames queued so ffmpeg keeps
encoding while the detector works on a frame (frames are backpressured, not buffered whole).

Frame selection and timing are those of `tasks.media.iter_frames`; the archival copy is what
`tasks.media.transcode_lowres` writes (H.264, yuv420p, never upscaled, `+faststart`, AAC audio,
creation_time kept), built under a temporary name, verified with `probe`, renamed into place.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tasks.fsio import fsync_dir, fsync_file
from tasks.media import (
    _SHOWINFO,
    MediaError,
    VideoInfo,
    _check_complete,
    _explain,
    _fail,
    _num,
    _summarise,
    _tool,
    probe,
)

_RECOPY = "re-copy it from the SD card"


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
        if not (math.isfinite(every_s) and every_s > 0):
            raise ValueError(f"every_s must be a positive number of seconds, got {every_s}")
        self.src, self.every_s, self.info, self.dst = Path(src), every_s, info, Path(dst)
        self.height, self.crf, self.preset = height, crf, preset
        self.queue_frames, self.stall_timeout_s = queue_frames, stall_timeout_s
        self.lowres: VideoInfo | None = None
        self.ffmpeg_s = 0.0  # ffmpeg's own wall time
        self.tail_wait_s = 0.0  # time spent waiting for ffmpeg after the last frame was handled
        self._ffmpeg = _tool("ffmpeg")

    def command(self, archive: Path) -> list[str]:
        """The one ffmpeg pass: the archival copy to `archive`, sampled frames as raw BGR on
        stdout. Public so `dashcam bench heavy` times this very command alone (the floor)."""
        info = self.info
        target_h = max(2, min(self.height, info.height) // 2 * 2)  # even, never upscaled
        step = f"{self.every_s:.9g}"
        select = (
            f"select='isnan(prev_selected_t)+gte(floor(t/{step}+1e-6)"
            f"-floor(prev_selected_t/{step}+1e-6),1)'"
        )
        graph = (
            "[0:v:0]split=2[arc][smp];"
            f"[arc]scale=-2:{target_h}:flags=bicubic,format=yuv420p[lo];"
            f"[smp]{select},showinfo,scale={info.width}:{info.height},format=bgr24[fr]"
        )
        cmd = [self._ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-y",
               "-noautorotate", "-i", str(self.src), "-filter_complex", graph,
               "-map", "[lo]"]  # fmt: skip
        if info.has_audio:
            cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k"]
        else:
            cmd += ["-an"]
        if info.creation_time is not None:
            stamp = info.creation_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            cmd += ["-metadata", f"creation_time={stamp}"]
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
        src, info, every_s = self.src, self.info, self.every_s
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.dst.with_name(f".{self.dst.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.command(tmp),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise _fail(src, f"could not run ffmpeg ({exc.strerror or exc})",
                        "check the ffmpeg installation (`bash infra/setup.sh`)",
                        code="unreadable") from None  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        frame_bytes = info.width * info.height * 3
        times: dict[int, float] = {}
        times_lock = threading.Condition()
        tail: deque[str] = deque(maxlen=40)
        stalled = threading.Event()
        frames_q: queue.Queue[bytearray | None] = queue.Queue(maxsize=self.queue_frames)
        state = {"partial": False, "stderr_done": False}

        def read_stderr() -> None:
            assert proc.stderr is not None
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if "Parsed_showinfo" in line:
                    if m := _SHOWINFO.search(line):
                        t = _num(m.group(3))
                        with times_lock:
                            times[int(m.group(1))] = t if t is not None else math.nan
                            times_lock.notify_all()
                    continue
                tail.append(line)
            with times_lock:
                state["stderr_done"] = True
                times_lock.notify_all()

        def read_frames() -> None:
            assert proc.stdout is not None
            try:
                while True:
                    buf = bytearray(frame_bytes)
                    view = memoryview(buf)
                    got = 0
                    watchdog = threading.Timer(
                        self.stall_timeout_s, lambda: (stalled.set(), proc.kill())
                    )
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
                        state["partial"] = got > 0
                        break
                    frames_q.put(buf)
            finally:
                frames_q.put(None)

        err_thread = threading.Thread(
            target=read_stderr, name=f"ffmpeg-err-{src.name}", daemon=True
        )
        out_thread = threading.Thread(
            target=read_frames, name=f"ffmpeg-out-{src.name}", daemon=True
        )
        err_thread.start()
        out_thread.start()
        count = 0
        last_t: float | None = None
        finished = False
        try:
            while (buf := frames_q.get()) is not None:
                with times_lock:  # showinfo logs a frame before writing it: normally already here
                    times_lock.wait_for(
                        lambda n=count: (
                            n in times or state["stderr_done"] or any(k > n for k in times)
                        ),  # this frame's line went missing
                        timeout=5.0,
                    )
                    t = times.pop(count, None)
                if t is None or math.isnan(t):
                    t = count * every_s
                last_t = t
                count += 1
                yield t, np.frombuffer(buf, dtype=np.uint8).reshape(info.height, info.width, 3)
            t_tail = time.monotonic()
            budget = 120.0 + 10.0 * info.duration_s
            try:
                rc = proc.wait(timeout=budget)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            self.tail_wait_s = time.monotonic() - t_tail
            self.ffmpeg_s = time.monotonic() - t0
            err_thread.join(timeout=5)
            stderr = "\n".join(tail)
            self._check(rc, count, last_t, stalled.is_set(), state["partial"], stderr)
            self.lowres = self._seal(tmp)
            finished = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            # Unblock and end the reader thread if we stopped early.
            while out_thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    frames_q.get(timeout=0.1)
            proc.stdout.close()
            err_thread.join(timeout=5)
            proc.stderr.close()
            if not finished:
                tmp.unlink(missing_ok=True)

    def _check(
        self, rc: int, count: int, last_t: float | None, stalled: bool, partial: bool, stderr: str
    ) -> None:
        """The same verdicts as `iter_frames` (stall, failure, truncation), plus the archive's."""
        src, every_s, info = self.src, self.every_s, self.info
        if stalled:
            raise _fail(src, f"decoding stalled (no frame for {self.stall_timeout_s:.3g} s) "
                        f"after {count} sampled frames", _RECOPY + " and try again",
                        code="timeout")  # fmt: skip
        if rc != 0:
            err = _explain(src, stderr, "ffmpeg")
            raise _fail(src, f"decoding and transcoding failed after {count} sampled frames "
                        f"(ffmpeg exit code {rc})", _RECOPY,
                        code=err.code if err.code != "unreadable" else "decode_error",
                        detail=_summarise(stderr, src))  # fmt: skip
        if partial:
            raise _fail(src, f"the frame stream stopped mid-frame after {count} frames",
                        code="truncated", detail=_summarise(stderr, src))  # fmt: skip
        if count == 0:
            raise _fail(src, "no video frame could be decoded", code="decode_error",
                        detail=_summarise(stderr, src) or "no error output")  # fmt: skip
        _check_complete(src, info, every_s, count, last_t, stderr)

    def _seal(self, tmp: Path) -> VideoInfo:
        try:
            fsync_file(tmp)
        except OSError as exc:
            raise _fail(self.dst, f"the transcoded file could not be flushed to disk "
                        f"({exc.strerror or exc})", "check the disk", code="ffmpeg_failed") from None  # fmt: skip
        try:
            result = probe(tmp)
        except MediaError as exc:
            raise _fail(self.src, "the transcoded copy failed verification",
                        "check the source file", code="ffmpeg_failed", detail=str(exc)) from None  # fmt: skip
        os.replace(tmp, self.dst)
        fsync_dir(self.dst.parent)
        return result
