"""`dashcam bench handoff`: figures, printed. Benchmarks measure; tests assert behaviour."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from dashcam.cli.progress import progress
from dashcam.ops.stack import all_flow_runs
from dashcam.settings import Settings
from flows.config import volumes
from flows.lifecycle import VIDEO_CHAIN

CHAIN = list(VIDEO_CHAIN)  # one video's flows, in order (flows/lifecycle.py)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def handoff_gaps(api_flow_runs: list, flow_names: dict) -> dict[str, list[float]]:
    """Seconds from a stage run's end to the next stage's run start, per video, per pair."""
    by_video: dict[str, dict[str, object]] = {}
    for r in api_flow_runs:
        vid = (r.parameters or {}).get("video_id")
        name = flow_names.get(r.flow_id)
        if vid and name in CHAIN and r.start_time and r.end_time:
            by_video.setdefault(vid, {})[name] = r
    gaps: dict[str, list[float]] = {}
    for runs in by_video.values():
        for a, b in zip(CHAIN, CHAIN[1:], strict=False):
            if a in runs and b in runs:
                gap = (runs[b].start_time - runs[a].end_time).total_seconds()  # type: ignore[attr-defined]
                gaps.setdefault(f"{a} -> {b}", []).append(gap)
    return gaps


def handoff(base: Settings, clips: int) -> None:
    from dashcam.ops.stack import Stack, client
    from dashcam.ops.status import wait_for_terminal
    from tasks.synthetic import render_plate_clip

    with tempfile.TemporaryDirectory(prefix="dashcam-bench-") as tmp:
        settings = base.model_copy(
            update={
                "data_dir": Path(tmp),
                "raw_root": None,
                "work_root": None,
                "archive_root": None,
                "prefect_home": None,
                "database_url": None,
                "stable_seconds": 1.0,
            }
        )
        settings = Settings.model_validate(settings.model_dump())
        stack = Stack(settings)
        try:
            import os

            os.environ.update(
                {k: v for k, v in settings.child_env().items() if k.startswith("PREFECT_")}
            )
            stack.up()
            raw = volumes(settings).volume_root("raw") / "bench"
            for i in range(clips):
                render_plate_clip(
                    raw / f"bench_{i:02d}.mp4",
                    text="BENCH1",
                    seconds=1.0,
                    width=640,
                    height=360,
                    seed=i,
                )
            t0 = time.monotonic()
            with progress(clips, "bench handoff", plain=False) as bar:  # plain: the log lines
                wait_for_terminal(settings, clips, 900, on_progress=bar.update)
            wall = time.monotonic() - t0
            with client(settings) as c:
                names = {f.id: f.name for f in c.read_flows()}
                runs = all_flow_runs(c)
        finally:
            stack.stop()
    gaps = handoff_gaps(runs, names)
    every = [g for v in gaps.values() for g in v]
    print(
        f"handoff: {clips} clips through the real stack in {wall:.1f} s; worker poll PREFECT_WORKER_QUERY_SECONDS={settings.worker_query_seconds:g}"
    )
    print(f"{'pair':<32}{'n':>4}{'p50 s':>8}{'p95 s':>8}")
    for pair, values in gaps.items():
        print(
            f"{pair:<32}{len(values):>4}{statistics.median(values):>8.2f}{percentile(values, 0.95):>8.2f}"
        )
    if every:
        print(
            f"{'all handoffs':<32}{len(every):>4}{statistics.median(every):>8.2f}{percentile(every, 0.95):>8.2f}"
        )
