"""Start the dashboard as a Streamlit server (used by `dashcam up`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dashboard.auth import check_startup
from dashcam.settings import Settings

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_command(settings: Settings, port: int | None = None, address: str | None = None) -> list[str]:
    """The command line: loopback by default, headless, no telemetry, no file watcher.

    The app reads its settings from the environment the caller passes (`settings.child_env()`).
    Raises LoginConfigError when the address is beyond loopback and there is no login to ask.
    """
    port = port or settings.dashboard_port
    address = address or settings.dashboard_address
    check_startup(settings, address)
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # A watcher would poll the repo on a busy 2-core box for nothing in production.
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",  # no "Deploy" button: this is a household server
        # An unforeseen error shows a short message, never a traceback with server paths (the
        # server's log keeps the traceback).
        "--client.showErrorDetails", "none",
    ]


def run(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    """Start it in the background with the settings' environment; the caller stops it."""
    return subprocess.Popen(streamlit_command(settings, port), env=settings.child_env())
