"""The `dashcam` command line."""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from dashcam.settings import DEVICES, TELEMETRY_OFF, get_settings

app = typer.Typer(
    help="Dashcam footage to a searchable, map-aware dataset of plate sightings.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="The app database.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _bench(name: str) -> ModuleType:
    """`benches.NAME`, which lives in the source checkout, not in the wheel.

    Looked up at run time by name (import-linter sees no import of `benches` from the wheel):
    first on sys.path (`python -m dashcam.cli` from the checkout's root), then in the checkout
    this package was imported from (an editable install run from elsewhere).
    """
    module = f"benches.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in ("benches", module):
            raise  # a dependency of the bench is missing: say which, as Python does
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "benches" / "__init__.py").is_file():
        sys.path.insert(0, str(checkout))
        return importlib.import_module(module)
    typer.echo(
        f"error: benchmarks run from a source checkout: {module} is not part of the installed "
        f"dashcam package ({checkout}); clone the repository and run `dashcam bench` from there",
        err=True,
    )
    raise typer.Exit(2)


@app.callback()
def _prefect_env() -> None:
    """The CLI talks to Prefect too: set its API URL and telemetry off before Prefect is imported."""
    import os

    settings = get_settings()
    # Prefect makes its home on import without parents; on a fresh clone data/ is not there yet
    # and every command would warn "Failed to create the Prefect home directory".
    import contextlib

    with contextlib.suppress(OSError):  # Prefect's own warning then says where it cannot write
        settings.prefect_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.update(
        {k: v for k, v in settings.child_env().items() if k.startswith("PREFECT_")} | TELEMETRY_OFF
    )


@app.command()
def up(verbose: bool = False) -> None:
    """Start everything on this machine: Prefect server, pools, deployments, one worker per pool."""
    from dashcam.ops.stack import Stack

    _logging(verbose)
    stack = Stack(get_settings())
    _run_until_interrupted(stack, lambda: None)


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option(help="Keep the stack running after the demo (Ctrl-C stops).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the clips.")] = 1800,
) -> None:
    """Run the whole distributed pipeline on sample footage and print the result."""
    from dashcam.ops.samples import demo_gps, make_samples
    from dashcam.ops.stack import Stack
    from dashcam.ops.status import format_plates, format_report, plates_report, wait_for_terminal
    from flows.config import volumes

    _logging()
    settings = get_settings()
    stack = Stack(settings)
    clips = make_samples(volumes(settings).volume_root("raw"))
    logging.info(
        "sample footage: %s (GPS of the rendered clips: %s)",
        ", ".join(volumes(settings).relative("raw", c) for c in clips),
        demo_gps()[1],
    )

    def work() -> None:
        from dashcam.cli.progress import progress

        # plain=False: off a terminal, wait_for_terminal's "progress: ..." log lines do
        with progress(len(clips), "demo", plain=False, transient=True) as bar:
            report = wait_for_terminal(settings, len(clips), timeout, on_progress=bar.update)
        print(format_report(report))
        print()
        print(
            format_plates(
                plates_report(
                    settings.database_url or "", settings.dashboard_url or stack.dashboard_url
                )
            )
        )
        print(
            f"\nPrefect UI: {settings.prefect_api_url.removesuffix('/api')}  archive: {settings.archive_root}"
        )
        if not keep:
            raise KeyboardInterrupt

    _run_until_interrupted(stack, work)


def _run_until_interrupted(stack, work) -> None:  # noqa: ANN001
    from dashcam.ops.stack import StackError

    def on_signal(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too, explicitly: Python leaves it ignored when the process starts with it ignored
    # (a script's background job, a test runner's worker), and Ctrl-C or `kill -INT` would
    # then never stop the stack.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.up()
        print(
            f"dashcam is up: dashboard {stack.dashboard_url}, Prefect UI "
            f"{stack.settings.prefect_api_url.removesuffix('/api')}, logs in {stack.settings.logs_dir}",
            flush=True,
        )
        work()
        while True:
            time.sleep(1)
            for device, proc in list(stack.workers.items()):
                if proc.poll() is not None:
                    logging.warning(
                        "the %s worker exited (%s); starting it again", device, proc.returncode
                    )
                    stack.start_worker(device)
    except KeyboardInterrupt:
        print("stopping…", file=sys.stderr)
    except StackError as exc:  # a refusal to start says why, without a traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        # A second Ctrl-C must not abandon the children half-stopped; stop() is bounded anyway.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.stop()
        finally:  # a caller in this process (the tests' CLI runner) gets its handlers back
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Videos per state, with the reason for every failure."""
    from dashcam.ops.status import format_report, status_report
    from models.db import DatabaseError, check_current

    settings = get_settings()
    try:
        check_current(settings.database_url)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    report = status_report(settings.database_url)
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@app.command("export")
def export_cmd(
    ref: Annotated[
        str,
        typer.Argument(
            help="A plate text (each plate with it), a plate_id, or a sighting id (123 or S123)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write each sighting's evidence into.")
    ],
    before: Annotated[
        float, typer.Option(min=0, max=60, help="Seconds of clip before the sighting.")
    ] = 5.0,
    after: Annotated[float, typer.Option(min=0, max=60, help="Seconds of clip after it.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Each report as one JSON line.")] = False,
) -> None:
    """Evidence of a sighting: a clip around it from the archival copy, the best crop, the
    trip's GPX and a report (text, other reads, confidence, camera and UTC times, positions)."""
    from flows.config import volumes
    from models.db import DatabaseError, check_current, session_scope
    from tasks.evidence import EvidenceError, export, find_sightings

    settings = get_settings()
    try:
        check_current(settings.database_url)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    failed = 0
    with session_scope(settings.database_url) as session:
        ids = find_sightings(session, ref)
        if not ids:
            typer.echo(
                f"error: no sighting, plate_id or plate text {ref!r} in the app database", err=True
            )
            raise typer.Exit(1)
        for sid in ids:
            try:
                ev = export(session, volumes(settings), sid, out, before, after)
            except EvidenceError as exc:
                typer.echo(f"error: sighting {sid}: {exc}", err=True)
                failed += 1
                continue
            if as_json:
                typer.echo(json.dumps({"folder": str(ev.folder), **ev.report}))
            else:
                c = ev.report["clip"]
                typer.echo(
                    f"{ev.folder}: {ev.report['plate']['text']} at {c['start_s']:.1f}-"
                    f"{c['end_s']:.1f} s ({c['method']}), {', '.join(ev.files)}"
                )
    raise typer.Exit(1 if failed else 0)


@app.command()
def process(
    paths: Annotated[list[Path], typer.Argument(help="Clips or folders of clips.")],
) -> None:
    """Run the whole chain for these clips in this process (no Prefect server needed)."""
    from dashcam.cli.progress import progress
    from dashcam.ops.pipeline import process_paths

    _logging()
    settings = get_settings()
    try:
        # plain=False: off a terminal, the "[i/n] clip" log lines are the progress already
        with progress(None, "process", plain=False, transient=True) as bar:
            outcomes = process_paths(settings, paths, on_progress=bar.update)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for o in outcomes:
        typer.echo(f"{o.state:<9} {o.path} ({o.video_id})" + (f": {o.error}" if o.error else ""))
    if any(o.state == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command()
def sync(
    address: Annotated[
        str | None, typer.Option(help="Camera host[:port]; default DASHCAM_CAMERA_ADDRESS.")
    ] = None,
) -> None:
    """Copy new clips from the dashcam (Novatek Wi-Fi API) into raw/, once, in this process."""
    from dashcam.cli.progress import progress
    from dashcam.ops.pipeline import sync_once
    from flows.config import volumes

    _logging()
    settings = get_settings()
    address = address or settings.camera_address
    if not address:
        typer.echo("error: give --address HOST[:PORT] or set DASHCAM_CAMERA_ADDRESS", err=True)
        raise typer.Exit(2)
    raw = volumes(settings).volume_root("raw")
    raw.mkdir(parents=True, exist_ok=True)
    # plain=False: off a terminal, the sync's own "sync: file i/n ..." log lines are the progress
    with progress(None, "sync", unit="B", plain=False, transient=True) as bar:
        bar.advance(0, note=f"listing the camera at {address}")
        result = sync_once(settings, address, raw, on_progress=bar.update)
    typer.echo(result.summary)
    if not result.reachable or result.failed:
        raise typer.Exit(1)


@app.command()
def gps(
    video: Annotated[
        Path | None, typer.Argument(help="A clip: its embedded GPS, or a sidecar log.")
    ] = None,
    sidecar: Annotated[
        list[Path] | None,
        typer.Option(help="GPS log(s) for the clip (NMEA, GPX, 70mai, Kaiser Bass)."),
    ] = None,
    trip: Annotated[
        str | None, typer.Option(help="A trip_id: its videos' tracks from the app DB instead.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, gpx or json.")] = "json",
) -> None:
    """Print a clip's (or a trip's) GPS track as CSV, GPX or JSON."""
    from tasks.gps import NoGps, find_sidecars, read_track, to_csv, to_gpx, to_json

    if fmt not in ("csv", "gpx", "json"):
        typer.echo(f"error: --format must be csv, gpx or json, not {fmt!r}", err=True)
        raise typer.Exit(2)
    if trip:
        from models.db import session_scope
        from tasks.trip_gps import trip_tracks

        with session_scope(get_settings().database_url) as session:
            tracks = trip_tracks(session, trip)
        if not tracks:
            typer.echo(f"error: trip {trip!r} has no GPS points in the app DB", err=True)
            raise typer.Exit(1)
        name = trip
    elif video is not None:
        if not video.is_file():
            typer.echo(f"error: {video}: no such file", err=True)
            raise typer.Exit(2)
        track = read_track(video, sidecars=sidecar or find_sidecars(video))
        if isinstance(track, NoGps):
            typer.echo(f"error: {video.name}: no GPS: {track.reason}", err=True)
            raise typer.Exit(1)
        tracks, name = [track], video.stem
    else:
        typer.echo("error: give a VIDEO or --trip TRIP_ID", err=True)
        raise typer.Exit(2)
    if fmt == "gpx":
        typer.echo(to_gpx(tracks, name))
    elif fmt == "json":
        typer.echo(json.dumps([p for t in tracks for p in json.loads(to_json(t))], indent=1))
    else:
        typer.echo(
            "".join(
                to_csv(t) if i == 0 else to_csv(t).split("\n", 1)[1] for i, t in enumerate(tracks)
            ),
            nl=False,
        )


def _device(device: str | None) -> str | None:
    if device is not None and device not in DEVICES:
        typer.echo(f"error: unknown device {device!r}; one of {', '.join(DEVICES)}", err=True)
        raise typer.Exit(2)
    return device


@app.command()
def worker(
    device: Annotated[str, typer.Argument(help=f"This device's role: {', '.join(DEVICES)}.")],
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Flow runs at once (default: DASHCAM_WORKHORSE_CONCURRENCY on a workhorse, unlimited elsewhere).",
        ),
    ] = None,
) -> None:
    """Run this device's Prefect worker in the foreground (what systemd, a container or a Windows task runs)."""
    from dashcam.ops.device import run_worker

    raise typer.Exit(run_worker(get_settings(), _device(device), limit))  # type: ignore[arg-type]


@app.command()
def doctor(
    device: Annotated[
        str | None,
        typer.Option(
            help=f"Check what this device needs: {', '.join(DEVICES)}. Without it, device checks are warnings."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='{"device", "ok", "checks": [{"name", "status", "detail", "fix"}]}'
        ),
    ] = False,
) -> None:
    """Check this device: Prefect API and credential, its pool, volumes, ffmpeg, ONNX providers, GPU, app DB."""
    from dashcam.ops.doctor import format_text, report, run_checks

    settings = get_settings()
    checks = run_checks(settings, _device(device))
    result = report(settings, device, checks)
    typer.echo(json.dumps(result, indent=2) if as_json else format_text(device, checks))
    raise typer.Exit(0 if result["ok"] else 1)


@app.command()
def server() -> None:
    """The main server's Prefect server in the foreground; migrates the app DB, creates the pools and the crash automation."""
    from dashcam.ops.device import run_server

    raise typer.Exit(run_server(get_settings()))


@app.command()
def deploy() -> None:
    """From any host (a laptop): create the pools, `prefect deploy --all`, apply the schedules and the crash automation on DASHCAM_PREFECT_API_URL."""
    from dashcam.ops.stack import Stack, StackError

    _logging()
    stack = Stack(get_settings())
    try:
        stack.check_pools_match_yaml()
        stack.create_pools()
        stack.deploy()
        stack.install_automation()
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"deployed every stage to {stack.settings.prefect_api_url}; pools: {', '.join(stack.settings.pools.values())}"
    )


@app.command()
def dashboard() -> None:
    """The dashboard in the foreground (bound to DASHCAM_DASHBOARD_ADDRESS, loopback by default)."""
    from dashboard.auth import LoginConfigError
    from dashcam.ops.device import run_dashboard

    try:
        code = run_dashboard(get_settings())
    except LoginConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command("dashboard-password")
def dashboard_password(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Make the dashboard's password hash: prints DASHCAM_DASHBOARD_PASSWORD_HASH=... for the
    main server's .env (only the hash is stored; the password is asked twice, never shown)."""
    from dashboard.auth import MAX_PASSWORD, hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Dashboard password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8 or len(password) > MAX_PASSWORD:
        typer.echo(f"error: the password must be 8 to {MAX_PASSWORD} characters long", err=True)
        raise typer.Exit(1)
    typer.echo(f"DASHCAM_DASHBOARD_PASSWORD_HASH={hash_password(password)}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the app database to the newest schema."""
    from models.db import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo("app database is at the newest schema")


@bench_app.command("handoff")
def bench_handoff(
    clips: Annotated[int, typer.Option(help="Clips to push through the stack.")] = 6,
) -> None:
    """Median and p95 time from a stage completing to the next one running, on a real stack."""
    _logging()
    _bench("handoff").handoff(get_settings(), clips)


@bench_app.command("scale")
def bench_scale_cmd(
    clips: Annotated[int, typer.Option(help="Clips in the batch.")] = 8,
    seconds: Annotated[
        float,
        typer.Option(help="Length of each rendered clip (dashcams record 1-3 min segments)."),
    ] = 60.0,
    height: Annotated[int, typer.Option(help="Height of each rendered clip (16:9).")] = 720,
    cpu: Annotated[
        float, typer.Option(help="CPU budget of each workhorse, in cores (a cgroup quota).")
    ] = 0.5,
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Keep each round's data, DB and logs under this folder for a look afterwards."
        ),
    ] = None,
    prefect_db: Annotated[
        str,
        typer.Option(
            help="The main server's DBs: postgresql (a throwaway cluster, as docs/multi-host.md advises) or sqlite (the all-in-one default)."
        ),
    ] = "postgresql",
) -> None:
    """One vs two workhorse workers (each with a fixed CPU budget) on the same batch: throughput ratio and orchestration overhead per video."""
    _logging()
    if prefect_db not in ("postgresql", "sqlite"):
        raise typer.BadParameter("--prefect-db is postgresql or sqlite")
    _bench("scale").scale(get_settings(), clips, seconds, height, cpu, keep, prefect_db)


@app.command("read-plates")
def read_plates(
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per image (the only output format).")
    ] = True,
) -> None:
    """Detect and read the plates in still images: one JSON line per image."""
    from dashcam.cli.read_plates import read_plates_cli
    from flows.config import heavy_config
    from tasks.heavy import models_for, vehicles_for

    settings = get_settings()
    # The pipeline's own models and thresholds, so a photo reads as heavy would read it.
    detector, reader = models_for(heavy_config(settings))
    code = read_plates_cli(
        images,
        detector=detector,
        reader=reader,
        vehicles=vehicles_for(heavy_config(settings)),
        sure_confidence=settings.plate_min_confidence,
    )
    raise typer.Exit(code)


@bench_app.command("heavy")
def bench_heavy_cmd(
    video: Annotated[Path, typer.Argument(help="A clip (e.g. a 1080p30 dashcam file).")],
) -> None:
    """The heavy stage against ffmpeg decode-only and an every-frame baseline, same file, same run."""
    _logging()
    _bench("heavy").heavy(get_settings(), video)


@bench_app.command("plates")
def bench_plates_cmd() -> None:
    """Plate accuracy and speed on the real photos and crops in ../shared/data/plates."""
    _bench("plates").bench_plates()


@bench_app.command("video")
def bench_video_cmd(
    part: Annotated[
        list[str] | None,
        typer.Option(help="tuning, held-out or real (repeatable); default all three."),
    ] = None,
    clip: Annotated[str | None, typer.Option(help="Only clips whose name contains this.")] = None,
    keep: Annotated[
        Path | None, typer.Option(help="Keep each clip's heavy bundle in this folder.")
    ] = None,
    verbose: Annotated[bool, typer.Option(help="The heavy stage's own log lines too.")] = False,
    wide: Annotated[
        bool,
        typer.Option(
            help="Every photo of each part (about 400 plates, ~15 min the first time), each "
            "also read as a still: what the video path loses against the still reader."
        ),
    ] = False,
) -> None:
    """Plates read in video: clips composed from the real photos (tuning and held-out parts)
    and the real videos, through the heavy stage's own code."""
    if verbose:
        _logging()
    parts = tuple(part) if part else ("tuning", "held-out", "real")
    unknown = [p for p in parts if p not in ("tuning", "held-out", "real")]
    if unknown:
        raise typer.BadParameter(f"unknown part {unknown}: tuning, held-out or real")
    _bench("video").bench_video(parts, keep=keep, only=clip, wide=wide)


@bench_app.command("search")
def bench_search_cmd() -> None:
    """Fuzzy search, wildcard search and the Plate page's queries on 1,000,000 generated sightings."""
    _logging()
    _bench("search").bench_search()


@bench_app.command("sync")
def bench_sync_cmd(
    files: Annotated[int, typer.Option(help="Clips on the emulated camera.")] = 5,
    size_mb: Annotated[int, typer.Option(help="Size of each clip in MB.")] = 50,
) -> None:
    """Our Wi-Fi sync against plain curl on an emulated camera (loopback), and a no-op sync's cost."""
    _logging()
    _bench("sync").bench_sync(files, size_mb)

