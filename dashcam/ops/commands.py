"""The command lines of the processes a device runs: its Prefect worker and the Prefect server.

Written once: `dashcam worker` / `dashcam server` (dashcam.ops.device) run them in the
foreground on a device of their own, and `Stack` (`dashcam up`) spawns the same ones on one
machine, so what the all-in-one stack exercises is what a multi-host install runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dashcam.settings import DEVICES, Settings


def prefect_bin() -> str:
    """The `prefect` console script of this interpreter's environment (Scripts\\ on Windows)."""
    name = "prefect.exe" if os.name == "nt" else "prefect"
    return str(Path(sys.executable).with_name(name))


def worker_args(settings: Settings, device: str, limit: int | None = None) -> list[str]:
    """`prefect worker start` for DEVICE's pool; workhorses run `workhorse_concurrency` at once,
    the other devices `device_concurrency`.

    The worker's name carries the host (`workhorse-gpu1`), so two workhorses on one pool are
    told apart in the UI and in logs.
    """
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; one of {', '.join(DEVICES)}")
    args = [
        prefect_bin(),
        "worker",
        "start",
        "--pool",
        settings.pools[device],
        "--type",
        "process",
        "--name",
        f"{device}-{settings.device_name}",
    ]
    if limit is None:
        limit = settings.workhorse_concurrency if device == "workhorse" else settings.device_concurrency
    args += ["--limit", str(limit)]
    return args


def worker_env(settings: Settings) -> dict[str, str]:
    """The worker's environment (its flow runs inherit it): settings, API, credential, no telemetry."""
    # The stages' own log lines reach their runs' logs through flows/_runlogs.py, not an env var.
    return settings.child_env()


def server_args(settings: Settings) -> list[str]:
    """`prefect server start` on the settings' host and port (its env is `settings.server_env()`)."""
    return [
        prefect_bin(),
        "server",
        "start",
        "--host",
        settings.prefect_host,
        "--port",
        str(settings.prefect_port),
    ]
