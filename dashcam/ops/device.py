"""One device of a multi-host install: what it needs, how its worker starts, how to talk safely.

`dashcam worker`, `dashcam doctor` and `dashcam server` run from here; the command lines they
start are in `dashcam.ops.commands`, which `Stack` uses too, so a worker started by systemd on a
NAS runs the same command line as the ones `dashcam up` starts on one machine.
"""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import dataclass
from typing import Literal

from dashcam.ops.commands import server_args, worker_args, worker_env
from dashcam.settings import Settings, Volume
from models.db import redact_url

Access = Literal["read", "write"]

# The volumes each device's stages touch, and how (README's stage table): a device must be able
# to write where it writes, and only read elsewhere, so read-only mounts are fine there.
DEVICE_VOLUMES: dict[str, dict[Volume, Access]] = {
    "indoor-nas": {"raw": "write", "work": "write"},  # sync fills raw; cleanup empties work/raw
    "workhorse": {"raw": "read", "work": "write"},  # heavy reads clips, writes bundles
    "main-server": {"raw": "read", "work": "read"},  # ingest probes, finalize verifies bundles
    "shed-nas": {"work": "read", "archive": "write"},  # archive copies bundles into archive
}

# Devices whose stages run ffmpeg/ffprobe (ingest probes, heavy decodes and transcodes).
NEEDS_FFMPEG = ("main-server", "workhorse")


# --- talking to the API without leaking the credential ---


def scrub(text: str, settings: Settings) -> str:
    """Replace every credential of these settings in TEXT (last line of defence for output)."""
    for secret in sorted(settings.secrets(), key=len, reverse=True):
        if len(secret) >= 3:  # a 1-2 character "secret" would mangle ordinary words
            text = text.replace(secret, "***")
    return text


def auth_headers(settings: Settings) -> dict[str, str]:
    """The header Prefect's client sends for PREFECT_API_AUTH_STRING."""
    if settings.prefect_api_auth is None:
        return {}
    raw = settings.prefect_api_auth.get_secret_value().encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class ApiProblem:
    """Why the Prefect API cannot be used from this device: what happened and what to do."""

    check: str  # "reachable", "credential" or "pool"
    message: str
    fix: str


def refused_message(settings: Settings, status: int = 401) -> ApiProblem:
    api = redact_url(settings.prefect_api_url)
    if settings.prefect_api_auth is None:
        return ApiProblem(
            "credential",
            f"the Prefect API at {api} demands a credential and DASHCAM_PREFECT_API_AUTH is not "
            f"set (HTTP {status})",
            "set DASHCAM_PREFECT_API_AUTH to the server's user:password in this device's env file",
        )
    return ApiProblem(
        "credential",
        f"the Prefect API at {api} refused the credential in DASHCAM_PREFECT_API_AUTH "
        f"(HTTP {status}): set the same user:password as the server",
        "copy DASHCAM_PREFECT_API_AUTH from the main server's env file into this device's",
    )


def api_preflight(
    settings: Settings, pools: list[str], timeout: float = 5.0
) -> tuple[str | None, list[ApiProblem], dict[str, bool]]:
    """Health, credential, pools: (server version or None, problems, {pool: exists}).

    Plain HTTP, not Prefect's client: it must answer in seconds (the client retries a refused
    connection for a long time) and never carry the credential into an exception text.
    """
    import httpx

    api = settings.prefect_api_url.rstrip("/")
    shown = redact_url(api)
    found: dict[str, bool] = {}
    try:
        with httpx.Client(timeout=timeout, headers=auth_headers(settings)) as http:
            try:
                health = http.get(f"{api}/health")
            except httpx.HTTPError as exc:
                return (
                    None,
                    [
                        ApiProblem(
                            "reachable",
                            f"the Prefect API at {shown} did not answer: {type(exc).__name__}: "
                            f"{scrub(str(exc), settings) or 'no reply'}",
                            "start the server on the main server (`systemctl start dashcam-server`) "
                            "and check DASHCAM_PREFECT_API_URL, the name resolution and the firewall "
                            "(port 4200)",
                        )
                    ],
                    found,
                )
            if health.status_code != 200:
                return (
                    None,
                    [
                        ApiProblem(
                            "reachable",
                            f"GET {shown}/health answered HTTP {health.status_code}, not 200: "
                            "this URL is not a healthy Prefect API",
                            "DASHCAM_PREFECT_API_URL must end in /api, e.g. "
                            "http://main-server:4200/api; see the server's log",
                        )
                    ],
                    found,
                )
            version_reply = http.get(f"{api}/admin/version")
            if version_reply.status_code in (401, 403):
                return None, [refused_message(settings, version_reply.status_code)], found
            try:
                version = str(version_reply.json()) if version_reply.status_code == 200 else None
            except ValueError:
                version = None
            problems: list[ApiProblem] = []
            for pool in pools:
                reply = http.get(f"{api}/work_pools/{pool}")
                if reply.status_code in (401, 403):
                    return version, [refused_message(settings, reply.status_code)], found
                found[pool] = reply.status_code == 200
                if reply.status_code not in (200, 404):
                    problems.append(
                        ApiProblem(
                            "pool",
                            f"reading work pool {pool!r} answered HTTP {reply.status_code}",
                            "see the Prefect server's log on the main server",
                        )
                    )
            return version, problems, found
    except httpx.HTTPError as exc:
        return (
            None,
            [
                ApiProblem(
                    "reachable",
                    f"the Prefect API at {shown} stopped answering: {type(exc).__name__}",
                    "check the main server and the network",
                )
            ],
            found,
        )


def pool_missing(settings: Settings, device: str) -> ApiProblem:
    pool = settings.pools[device]
    return ApiProblem(
        "pool",
        f"work pool {pool!r} ({device}) does not exist on {redact_url(settings.prefect_api_url)}",
        f"start `dashcam server` on the main server (it creates all four pools) or `prefect "
        f"work-pool create --type process {pool}`; if the name is a typo, fix "
        f"DASHCAM_POOL_{device.upper().replace('-', '_')}",
    )


# --- the foreground processes a service manager runs ---


def run_worker(settings: Settings, device: str, limit: int | None = None) -> int:
    """Preflight, then become `prefect worker start` (exec: signals reach Prefect directly).

    Returns only on a failed preflight (2: fix the configuration, 1: the API is not there yet;
    a service manager restarts either way) or, on Windows, with the worker's exit code.
    """
    pool = settings.pools[device]
    _, problems, found = api_preflight(settings, [pool])
    if not problems and not found.get(pool):
        problems.append(pool_missing(settings, device))
    for p in problems:
        print(
            f"error: {scrub(p.message, settings)}\n  fix: {scrub(p.fix, settings)}", file=sys.stderr
        )
    if problems:
        return 1 if all(p.check == "reachable" for p in problems) else 2
    args = worker_args(settings, device, limit)
    assert settings.prefect_home is not None
    settings.prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect's own state on this device
    print(
        f"dashcam: starting worker {device}-{settings.device_name} on pool {pool!r} at "
        f"{redact_url(settings.prefect_api_url)}",
        file=sys.stderr,
        flush=True,
    )
    env = worker_env(settings)
    if os.name == "posix":
        os.execve(args[0], args, env)
    import subprocess

    # Windows has no exec: os.exec* there starts a new process and exits, which a scheduled
    # task would read as "the worker stopped".
    return subprocess.call(args, env=env)


def run_server(settings: Settings) -> int:
    """The main server's Prefect server in the foreground, made ready for the devices.

    Migrates the app DB, starts the server with its DB and credential (server_env), then creates
    the four pools and the crash-detection automation (idempotent) and waits on the server.
    """
    import signal
    import subprocess

    from dashcam.ops.stack import Stack
    from models.db import upgrade

    try:
        upgrade(settings.database_url or "")
    except Exception as exc:  # noqa: BLE001 (driver errors vary; all end as one scrubbed line)
        print(
            f"error: cannot migrate the app database at {redact_url(settings.database_url)}: "
            f"{scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, settings)}\n"
            "  fix: check DASHCAM_DATABASE_URL and that PostgreSQL is running (see docs/multi-host.md)",
            file=sys.stderr,
        )
        return 2
    assert settings.prefect_home is not None
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(server_args(settings), env=settings.server_env())

    def stop(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stack = Stack(settings, server=proc)
    try:
        stack.wait_healthy()
        stack.check_pools_match_yaml()
        stack.create_pools()
        stack.install_automation()
        print(
            f"dashcam: Prefect server ready on {settings.prefect_host}:{settings.prefect_port}; "
            "pools and crash automation in place",
            file=sys.stderr,
            flush=True,
        )
    except Exception as exc:
        print(f"error: {scrub(str(exc), settings)}", file=sys.stderr)
        proc.terminate()
        proc.wait(30)
        return 1
    return proc.wait()


def run_dashboard(settings: Settings) -> int:
    """The Streamlit dashboard in the foreground (the main server's dashcam-dashboard unit)."""
    from dashboard.launch import streamlit_command

    args = streamlit_command(settings)
    if os.name == "posix":
        os.execve(args[0], args, settings.child_env())
    import subprocess

    return subprocess.call(args, env=settings.child_env())
