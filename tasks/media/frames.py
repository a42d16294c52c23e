"""The one frame reader: sampled full-resolution frames from an ffmpeg pipe, with their real
presentation times, and the verdicts that say whether the file was whole.

`FramePipe` runs an ffmpeg command whose `pipe:1` output is raw BGR frames chosen by
`select_every` and logged by `showinfo`; `iter_frames` (frames only) and
`tasks.media.sampling.FramesAndArchive` (frames and the archival copy in one pass) both read
through it, so frame selection, timing and the failure verdicts are the same in both.
"""

from __future__ import annotations

import contextlib
import math
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tasks.media.errors import RECOPY, explain, fail, summarise, tool
from tasks.media.probe import VideoInfo, check_complete, num

SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:\s*(\S+)")


def check_sampling(every_s: float, stall_timeout_s: float) -> None:
    if not (math.isfinite(every_s) and every_s > 0):
        raise ValueError(f"every_s must be a positive number of seconds, got {every_s}")
    if not (math.isfinite(stall_timeout_s) and stall_timeout_s > 0):
        raise ValueError(f"stall_timeout_s must be positive, got {stall_timeout_s}")


def select_every(every_s: float) -> str:
    """ffmpeg's `select` filter for the first decoded frame at or after each multiple of
    `every_s`: no drift on long clips, whatever the frame rate."""
    step = f"{every_s:.9g}"
    # floor(t/step) changes exactly when t crosses a multiple of step; the 1e-6 absorbs
    # float error (0.3/0.1 = 2.9999999999999996).
    return (f"select='isnan(prev_selected_t)+gte(floor(t/{step}+1e-6)"
            f"-floor(prev_selected_t/{step}+1e-6),1)'")


class FramePipe:
    """Iterate for (seconds from the start of the file, BGR uint8 HxWx3 frame).

    `cmd` must write frames of info.width x info.height as raw bgr24 to stdout and log each
    chosen frame through `showinfo` (at info level). A reader thread keeps at most
    `queue_frames` frames ready, so ffmpeg keeps working while the caller handles a frame
    (backpressure, not buffering the clip). When the frames end, the verdicts run: a stall of
    `stall_timeout_s`, a non-zero exit, a frame cut mid-way, no frame at all, or frames that
    stop before the end of the video raise MediaError after what could be read was yielded.
    `what` names the work in the failure message ("decoding", "decoding and transcoding").
    Afterwards `ffmpeg_s` is ffmpeg's wall time and `tail_wait_s` the wait for it after the
    last frame was handled.
    """

    def __init__(self, src: Path, cmd: Sequence[str], info: VideoInfo, every_s: float, *,
                 what: str = "decoding", stall_timeout_s: float = 120.0, queue_frames: int = 2,
                 exit_timeout_s: float = 30.0) -> None:
        self.src, self.cmd, self.info, self.every_s = Path(src), list(cmd), info, every_s
        self.what, self.stall_timeout_s = what, stall_timeout_s
        self.queue_frames, self.exit_timeout_s = queue_frames, exit_timeout_s
        self.count = 0
        self.ffmpeg_s = 0.0
        self.tail_wait_s = 0.0

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        src, info, every_s = self.src, self.info, self.every_s
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise fail(src, f"could not run ffmpeg ({exc.strerror or exc})",
                       "check the ffmpeg installation (`bash infra/setup.sh`)",
                       code="unreadable") from None
        assert proc.stdout is not None and proc.stderr is not None
        frame_bytes = info.width * info.height * 3
        times: dict[int, float] = {}  # showinfo frame index -> pts_time
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
                    if m := SHOWINFO.search(line):
                        t = num(m.group(3))
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

        err_thread = threading.Thread(target=read_stderr, name=f"ffmpeg-err-{src.name}",
                                      daemon=True)
        out_thread = threading.Thread(target=read_frames, name=f"ffmpeg-out-{src.name}",
                                      daemon=True)
        err_thread.start()
        out_thread.start()
        last_t: float | None = None
        try:
            while (buf := frames_q.get()) is not None:
                with times_lock:  # showinfo logs a frame before writing it: normally already here
                    times_lock.wait_for(
                        lambda n=self.count: (
                            n in times or state["stderr_done"] or any(k > n for k in times)
                        ),  # this frame's line went missing
                        timeout=5.0,
                    )
                    t = times.pop(self.count, None)
                if t is None or math.isnan(t):
                    t = self.count * every_s
                last_t = t
                self.count += 1
                yield t, np.frombuffer(buf, dtype=np.uint8).reshape(info.height, info.width, 3)
            t_tail = time.monotonic()
            try:
                rc = proc.wait(timeout=self.exit_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            self.tail_wait_s = time.monotonic() - t_tail
            self.ffmpeg_s = time.monotonic() - t0
            err_thread.join(timeout=5)
            self._verdict(rc, last_t, stalled.is_set(), state["partial"], "\n".join(tail))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            # Unblock and end the reader thread if the caller stopped early.
            while out_thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    frames_q.get(timeout=0.1)
            proc.stdout.close()
            err_thread.join(timeout=5)
            proc.stderr.close()

    def _verdict(self, rc: int, last_t: float | None, stalled: bool, partial: bool,
                 stderr: str) -> None:
        src, count = self.src, self.count
        if stalled:
            raise fail(src, f"decoding stalled (no frame for {self.stall_timeout_s:.3g} s) "
                       f"after {count} sampled frames", RECOPY + " and try again",
                       code="timeout")
        if rc != 0:
            err = explain(src, stderr, "ffmpeg")
            raise fail(src, f"{self.what} failed after {count} sampled frames (ffmpeg exit "
                       f"code {rc})", RECOPY,
                       code=err.code if err.code != "unreadable" else "decode_error",
                       detail=summarise(stderr, src))
        if partial:
            raise fail(src, f"the frame stream stopped mid-frame after {count} frames",
                       code="truncated", detail=summarise(stderr, src))
        if count == 0:
            raise fail(src, "no video frame could be decoded", code="decode_error",
                       detail=summarise(stderr, src) or "no error output")
        check_complete(src, self.info, self.every_s, count, last_t, stderr)


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
    check_sampling(every_s, stall_timeout_s)
    src = Path(src)
    cmd = [
        tool("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-v", "info",
        "-noautorotate", "-i", str(src), "-map", "0:v:0", "-an", "-sn", "-dn",
        # showinfo logs each chosen frame's pts_time (at info level, hence -v info);
        # scale pins the output size so a mid-stream size change cannot desync the pipe.
        "-vf", f"{select_every(every_s)},showinfo,scale={info.width}:{info.height},format=bgr24",
        "-fps_mode", "passthrough",  # rawvideo would otherwise duplicate frames to a CFR
        "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1",
    ]  # fmt: skip
    return iter(FramePipe(src, cmd, info, every_s, stall_timeout_s=stall_timeout_s))
