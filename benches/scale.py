"""`dashcam bench scale`: the same batch through the real stack with one and with two workhorses.

Each workhorse stands for a machine of its own, so each gets a fixed CPU budget that does not
change between the rounds: a CPU quota (`--cpu`, default half a core; a cgroup of its own) on
the last core, while the Prefect server and the other devices' workers run on the other cores.
On a 2-core machine: core 0 for the main server and the NAS devices, core 1 split into two
half-core workhorses. Without a writable cgroup (not root) each workhorse is only pinned to a
core of its own and competes with the rest.

Printed per round: the batch's wall time and throughput, then their ratio; and per video the
orchestration overhead, i.e. time in the pipeline not spent inside a stage run:
- pickup: from a heavy run being due (or its workhorse being free again) to it running:
  worker poll, process start, imports, the pull step;
- handoffs: the same for the stages after heavy (main-server, shed-nas, indoor-nas runs).
Time a heavy run waits because every workhorse is busy is queueing, not overhead: it is what a
second workhorse removes, and it shows in the throughput.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benches.handoff import CHAIN, percentile
from dashcam.cli.progress import progress
from dashcam.ops.stack import all_flow_runs
from dashcam.settings import DEVICES, Settings
from flows.config import volumes
from harness.pgserver import PgServer, PostgresMissing


@dataclass
class Round:
    workhorses: int
    clips: int
    wall_s: float
    per_worker: dict[str, int]
    pickup_s: list[float]  # per heavy run
    handoff_s: list[float]  # per video: the stages after heavy
    stage_s: list[float]  # per video: time inside stage runs
    failed: int
    busy: dict[int, float]  # per core, over the round
    span_s: float  # from the first heavy run being due to the last video archived

    @property
    def per_minute(self) -> float:
        return 60 * self.clips / self.wall_s

    @property
    def per_minute_span(self) -> float:
        return 60 * self.clips / self.span_s


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


def _cpu_ticks() -> dict[int, tuple[int, int]]:
    """Per core (busy, total) jiffies from /proc/stat."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(f) for f in fields]
            idle = values[3] + values[4]  # idle + iowait
            ticks[int(name[3:])] = (sum(values) - idle, sum(values))
    return ticks


def _busy(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[int, float]:
    """Fraction of each core that was busy between two `_cpu_ticks` readings."""
    return {
        core: (after[core][0] - b[0]) / max(1, after[core][1] - b[1])
        for core, b in before.items()
        if core in after
    }


def _cpu_cgroup(name: str, cores: float) -> Path | None:
    """A cgroup (v1 cpu controller) capped at `cores` CPUs, or None where we may not make one."""
    group = CGROUP_CPU / name
    try:
        group.mkdir(exist_ok=True)
        period = int((group / "cpu.cfs_period_us").read_text())
        (group / "cpu.cfs_quota_us").write_text(str(int(period * cores)))
    except OSError:
        return None
    return group


def run_round(
    base: Settings,
    workhorses: int,
    clips: list[Path],
    cores: list[int],
    cpu: float,
    keep: Path | None = None,
    pg: PgServer | None = None,
) -> Round:
    from dashcam.ops.device import worker_args, worker_env
    from dashcam.ops.stack import Stack, client
    from dashcam.ops.status import wait_for_terminal
    from models.db import session_scope
    from models.tables import Video

    if keep is not None:
        keep = keep / f"{workhorses}-workhorses"
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
    scratch = (
        contextlib.nullcontext(str(keep))
        if keep
        else tempfile.TemporaryDirectory(prefix="dashcam-bench-scale-")
    )
    dbs: dict[str, object] = {"database_url": None}
    if pg is not None:  # both of the main server's DBs, fresh for each round
        pg.create_db(f"app{workhorses}")
        pg.create_db(f"prefect{workhorses}")
        dbs = {
            "database_url": pg.url("psycopg", f"app{workhorses}"),
            "prefect_database_url": pg.url("asyncpg", f"prefect{workhorses}"),
        }
    with scratch as tmp:
        settings = Settings.model_validate(
            base.model_copy(
                update={
                    "data_dir": Path(tmp),
                    "raw_root": None,
                    "work_root": None,
                    "archive_root": None,
                    "prefect_home": None,
                    "stable_seconds": 1.0,
                    "workhorse_concurrency": 1,
                    **dbs,
                }
            ).model_dump()
        )
        stack = Stack(settings)
        groups: list[Path] = []
        # Stack.up starts one worker per pool; here the workhorses are started by hand.
        stack.start_workers = lambda: [stack.start_worker(d) for d in DEVICES if d != "workhorse"]  # type: ignore[method-assign]
        try:
            os.environ.update(
                {k: v for k, v in settings.child_env().items() if k.startswith("PREFECT_")}
            )
            last = cores[-1]
            os.sched_setaffinity(0, set(cores[:-1]) or {last})  # the server and the rest inherit it
            try:
                stack.up()
            finally:
                os.sched_setaffinity(0, set(cores))
            for i in range(workhorses):
                name = f"bench{i + 1}"
                s = settings.model_copy(update={"device_name": name})
                env = worker_env(s)
                env["DASHCAM_DEVICE_NAME"] = name
                group = _cpu_cgroup(f"dashcam-bench-{name}", cpu)
                if group is not None:
                    groups.append(group)
                    # The shell joins the cgroup, then becomes the worker: its runs inherit both.
                    cmd = f'echo $$ > {group}/cgroup.procs && exec taskset -c {last} "$@"'
                    args = ["sh", "-c", cmd, "sh", *worker_args(s, "workhorse")]
                else:
                    args = [
                        "taskset",
                        "-c",
                        str(cores[i % len(cores)]),
                        *worker_args(s, "workhorse"),
                    ]
                stack.workers[f"workhorse-{name}"] = stack._spawn(
                    f"worker-workhorse-{name}", args, env
                )
            raw = volumes(settings).volume_root("raw") / "batch"
            raw.mkdir(parents=True)
            for clip in clips:
                shutil.copy2(clip, raw / clip.name)
            t0, ticks = time.monotonic(), _cpu_ticks()
            with progress(len(clips), f"bench scale: {workhorses} workhorse(s)", plain=False) as bar:
                wait_for_terminal(settings, len(clips), 1800, on_progress=bar.update)
            wall, busy = time.monotonic() - t0, _busy(ticks, _cpu_ticks())
            with client(settings) as c:
                names = {f.id: f.name for f in c.read_flows()}
                runs = all_flow_runs(c)
            with session_scope(settings.database_url) as session:
                from sqlmodel import select

                videos = {v.video_id: v for v in session.exec(select(Video)).all()}
        finally:
            stack.stop()
            for group in groups:
                with contextlib.suppress(OSError):
                    group.rmdir()
    by_video: dict[str, dict] = {}
    for r in runs:
        vid = (r.parameters or {}).get("video_id")
        if vid and names.get(r.flow_id) in CHAIN and r.start_time and r.end_time:
            by_video.setdefault(vid, {})[names[r.flow_id]] = r
    # pickup of heavy runs: from due (or the same workhorse's previous run ending) to running
    pickup: list[float] = []
    per_worker: dict[str, list] = {}
    for vid, stages in by_video.items():
        if "heavy" in stages and videos.get(vid) and videos[vid].heavy_device:
            per_worker.setdefault(videos[vid].heavy_device, []).append(stages["heavy"])
    for heavy_runs in per_worker.values():
        heavy_runs.sort(key=lambda r: r.start_time)
        free_at = None
        for r in heavy_runs:
            due = r.expected_start_time or r.start_time
            ready = max(due, free_at) if free_at else due
            pickup.append(max(0.0, (r.start_time - ready).total_seconds()))
            free_at = r.end_time
    heavies = [st["heavy"] for st in by_video.values() if "heavy" in st]
    confirms = [st["confirm-archived"] for st in by_video.values() if "confirm-archived" in st]
    span = (
        (
            max(r.end_time for r in confirms)
            - min(r.expected_start_time or r.start_time for r in heavies)
        ).total_seconds()
        if heavies and confirms
        else wall
    )
    handoff, inside = [], []
    for stages in by_video.values():
        after = [stages[s] for s in CHAIN if s in stages]
        handoff.append(
            sum(
                (b.start_time - a.end_time).total_seconds()
                for a, b in zip(after, after[1:], strict=False)
            )
        )
        inside.append(sum((r.end_time - r.start_time).total_seconds() for r in after))
    return Round(
        workhorses,
        len(clips),
        wall,
        {k: len(v) for k, v in per_worker.items()},
        pickup,
        handoff,
        inside,
        sum(1 for v in videos.values() if v.state == "failed"),
        busy,
        span,
    )


def scale(
    base: Settings,
    clips: int,
    seconds: float,
    height: int,
    cpu: float = 0.5,
    keep: Path | None = None,
    prefect_db: str = "postgresql",
) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        raise SystemExit("bench scale needs taskset (util-linux) to pin each workhorse to one core")
    with contextlib.ExitStack() as cleanup:
        pg = None
        if prefect_db == "postgresql":
            pg = PgServer.temporary()
            cleanup.callback(pg.stop)  # also removes its folder when it never started
            os.sched_setaffinity(0, set(cores[:-1]) or set(cores))  # the main server's core
            try:
                pg.start()
            except PostgresMissing as exc:
                raise SystemExit(f"{exc}; or run with --prefect-db sqlite") from exc
            finally:
                os.sched_setaffinity(0, set(cores))
        _scale(base, clips, seconds, height, cpu, keep, pg, cores)


def _scale(
    base: Settings,
    clips: int,
    seconds: float,
    height: int,
    cpu: float,
    keep: Path | None,
    pg: PgServer | None,
    cores: list[int],
) -> None:
    from tasks.synthetic import render_plate_clip

    width = height * 16 // 9
    with tempfile.TemporaryDirectory(prefix="dashcam-bench-clips-") as tmp:
        # One rendered clip under several names: a video_id hashes the name and size, so each
        # copy is a video of its own, and rendering long clips once keeps the benchmark short.
        first = render_plate_clip(
            Path(tmp) / "2024_0601_090000_00000F.MP4",
            text="SC00ALE",
            seconds=seconds,
            width=width,
            height=height,
        )
        batch = [first]
        for i in range(1, clips):
            batch.append(Path(tmp) / f"2024_0601_09{i:02d}00_{i:05d}F.MP4")
            shutil.copyfile(first, batch[-1])
        rounds = [run_round(base, n, batch, cores, cpu, keep, pg) for n in (1, 2)]
    if CGROUP_CPU.is_dir() and os.access(CGROUP_CPU, os.W_OK):
        how = f"each workhorse capped at {cpu:g} core on core {cores[-1]}, the rest on {cores[:-1] or cores}"
    else:
        how = "each workhorse pinned to a core of its own (no writable cgroup for a CPU cap)"
    print(f"scale: {clips} clips of {seconds:g} s at {width}x{height}, {len(cores)} cores; {how}")
    print(
        "main server's DBs (Prefect's and the app's): "
        + ("PostgreSQL" if pg else "SQLite (expect lock stalls; docs/decisions.md)")
    )
    # wall: from the clips landing in raw, so it includes waiting for the next scheduled ingest
    # (the same in both rounds); span: from the first heavy run being due to the last archived.
    print(
        f"{'workhorses':<12}{'wall s':>8}{'videos/min':>12}{'span s':>8}{'videos/min':>12}"
        f"{'per worker':>22}{'failed':>8}"
    )
    for r in rounds:
        share = ", ".join(f"{k}: {v}" for k, v in sorted(r.per_worker.items()))
        print(
            f"{r.workhorses:<12}{r.wall_s:>8.1f}{r.per_minute:>12.2f}{r.span_s:>8.1f}"
            f"{r.per_minute_span:>12.2f}{share:>22}{r.failed:>8}"
        )
    one, two = rounds
    print(
        f"throughput ratio (2 vs 1 workhorse): {two.per_minute_span / one.per_minute_span:.2f}x "
        f"over the span, {two.per_minute / one.per_minute:.2f}x over the wall time"
    )
    print(
        "orchestration overhead per video (s): heavy pickup p50/p95, handoffs after heavy p50/p95, "
        "time inside stage runs p50"
    )
    for r in rounds:
        cores_busy = ", ".join(f"core {c} {b:.0%}" for c, b in sorted(r.busy.items()))
        print(f"  {r.workhorses} workhorse(s): busy {cores_busy}")
        print(
            f"  {r.workhorses} workhorse(s): pickup {statistics.median(r.pickup_s):.2f} / {percentile(r.pickup_s, 0.95):.2f}"
            f", handoffs {statistics.median(r.handoff_s):.2f} / {percentile(r.handoff_s, 0.95):.2f}"
            f", inside stages {statistics.median(r.stage_s):.2f}"
        )
