"""`dashcam bench heavy`: figures, printed. Benchmarks measure; tests assert behaviour."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dashcam.cli.progress import progress
from dashcam.settings import Settings

if TYPE_CHECKING:
    from tasks.media import VideoInfo


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def heavy_floor(settings: Settings, video: Path, info: VideoInfo) -> tuple[float, float]:
    """Wall and CPU seconds of heavy's own ffmpeg pass alone: FramesAndArchive's command (one
    decode, the sampled frames out on a pipe, the archival encode), the frames thrown away.
    Whatever heavy spends beyond this is detection, OCR and waiting on each other."""
    import subprocess

    from tasks.media import FramesAndArchive

    with tempfile.TemporaryDirectory(prefix="dashcam-bench-floor-") as tmp:
        archive = Path(tmp) / "low.mp4"
        media = FramesAndArchive(
            video,
            settings.sample_every_s,
            info,
            archive,
            height=settings.archive_height,
            crf=settings.archive_crf,
        )
        cpu0, t0 = _children_cpu_s(), time.perf_counter()
        proc = subprocess.run(
            media.command(archive),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        wall, cpu = time.perf_counter() - t0, _children_cpu_s() - cpu0
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(
            f"{video}: heavy's ffmpeg pass failed on its own (exit code {proc.returncode}): "
            f"{' / '.join(tail)}; check the clip with `ffprobe` and the ffmpeg installation "
            "(`dashcam doctor`)"
        )
    return wall, cpu


def heavy(base: Settings, video: Path) -> None:
    """Heavy stage vs its own ffmpeg pass alone (the floor), ffmpeg decode-only and a naive
    every-frame baseline, on the same file."""
    import json
    import shutil
    import subprocess

    from flows.config import heavy_config, volumes
    from tasks import bundle
    from tasks.heavy import models_for, run_heavy
    from tasks.media import iter_frames, probe
    from tasks.plates import crop_plate

    video = video.resolve()
    info = probe(video)
    # The four runs, one after another; the baseline's note counts its frames.
    with progress(4, "bench heavy") as bar:
        ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
        bar.advance(0, note="ffmpeg decode-only")
        t0 = time.perf_counter()
        subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-i", str(video), "-f", "null", "-"], check=True)
        decode_s = time.perf_counter() - t0
        bar.advance(note="ffmpeg decode + archival encode")
        floor_s, floor_cpu_s = heavy_floor(base, video, info)
        bar.advance(note="heavy stage")

        with tempfile.TemporaryDirectory(prefix="dashcam-bench-heavy-") as tmp:
            settings = Settings.model_validate(
                {**base.model_dump(), "data_dir": Path(tmp), "raw_root": video.parent, "work_root": Path(tmp) / "work",
                 "archive_root": Path(tmp) / "archive", "prefect_home": None, "database_url": None}
            )
            detector, reader = models_for(heavy_config(settings))  # loaded once, outside every timing
            t0 = time.perf_counter()
            result = run_heavy(heavy_config(settings), "bench", video.name)
            heavy_s = time.perf_counter() - t0
            det = json.loads((volumes(settings).volume_root("work") / "bench" / bundle.DETECTIONS).read_text())
        heavy_texts = {p["text"] for p in det["plates"]}

        # Naive baseline: every frame through the detector and the reader, no sampling, no grouping.
        bar.advance(note="naive baseline")
        about = round(info.duration_s * info.fps)
        t0 = time.perf_counter()
        baseline_texts: set[str] = set()
        frames = 0
        for _, frame in iter_frames(video, 1.0 / max(info.fps, 1.0), info):
            frames += 1
            bar.advance(0, note=f"naive baseline: frame {frames} of about {about}")
            for d in detector.detect(frame):
                r = reader.read(crop_plate(frame, d.box))
                if r and r.confidence >= settings.ocr_min_confidence and len(r.text) >= settings.min_plate_chars:
                    baseline_texts.add(r.text)
        baseline_s = time.perf_counter() - t0
        bar.advance(note="")

    dur = info.duration_s
    print(f"heavy: {video.name} ({info.width}x{info.height}, {info.fps:.0f} fps, {dur:.1f} s); status {result.status}")
    print(f"{'run':<38}{'wall s':>9}{'x real time':>13}")
    for name, secs in (
        ("ffmpeg decode-only", decode_s),
        ("ffmpeg decode + archival encode", floor_s),
        (f"heavy stage ({settings.sample_every_s:g} s sampling + transcode)", heavy_s),
        (f"naive baseline (all {frames} frames)", baseline_s),
    ):
        print(f"{name:<38}{secs:>9.2f}{dur / secs:>13.2f}")
    t = det["timings"]
    skipped = t.get("frames_skipped", {})
    print(f"heavy parts: detect {t['detect_s']:.2f} s on {t.get('frames_detected', t['frames'])} of {t['frames']} sampled frames"
          f" (skipped: {', '.join(f'{k} {v}' for k, v in skipped.items()) or 'none'}), "
          f"OCR {t['ocr_s']:.2f} s ({t.get('ocr_reads', '?')} reads, {t.get('tracks', '?')} tracks), "
          f"ffmpeg decode + archival transcode {t.get('ffmpeg_s', 0):.2f} s alongside (waited {t.get('transcode_s', 0):.2f} s after the last frame)")
    print(
        f"ffmpeg decode + archival encode alone (the floor CPU work heavy must do): {floor_s:.2f} s"
        f" ({floor_cpu_s:.2f} CPU-s)"
    )
    print(f"heavy / floor = {heavy_s / floor_s:.2f}x (goal 1.25x)")
    print(f"heavy / decode-only = {heavy_s / decode_s:.1f}x (goal 3x); baseline / decode-only = {baseline_s / decode_s:.1f}x")
    found = len(heavy_texts & baseline_texts)
    print(f"plates: baseline read {len(baseline_texts)} distinct texts, heavy found {found} of them "
          f"({100 * found / max(1, len(baseline_texts)):.0f} %); heavy's plates: {sorted(heavy_texts)}")
